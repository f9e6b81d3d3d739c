import pytest
import yaml

from graphkit.configs import CONFIG_DIR, TASK_NAMES, load_config, parse_override, task_defaults
from graphkit.configs.schema import Field, validate
from graphkit.models import MODELS
from graphkit.tasks import TASKS


def test_precedence(tmp_path):
    base = load_config('gae')
    assert base['train']['epochs'] == 100 and base['model']['encoder'] == 'gcn'
    user = tmp_path / 'user.yaml'
    user.write_text(yaml.safe_dump({'train': {'lr': 0.5, 'epochs': 7}}))
    cfg = load_config('gae', 'cora', str(user), ['train.lr=0.25', 'model.encoder=sage'])
    assert cfg['train']['lr'] == 0.25  # --set beats --config
    assert cfg['train']['epochs'] == 7  # --config beats the preset and defaults
    assert cfg['model']['encoder'] == 'sage'


def test_parse_override():
    assert parse_override('train.ks=[1, 2]') == {'train': {'ks': [1, 2]}}
    assert parse_override('eval.metric=null') == {'eval': {'metric': None}}
    with pytest.raises(ValueError, match='section.key=value'):
        parse_override('lr=1')


def test_unknown_keys_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="Unknown config key 'model.hiden_channels'"):
        load_config('gae', overrides=['model.hiden_channels=3'])
    bad = tmp_path / 'bad.yaml'
    bad.write_text('- not a mapping\n')
    with pytest.raises(ValueError, match='bad.yaml'):
        load_config('gae', config_file=str(bad))
    with pytest.raises(ValueError, match="No configuration for model 'nope'"):
        load_config('nope')


PRESETS = sorted(p for p in CONFIG_DIR.glob('*/*.yaml') if p.parent.name != 'tasks')


@pytest.mark.parametrize('path', PRESETS, ids=lambda p: f'{p.parent.name}/{p.name}')
def test_every_preset_resolves_and_validates(path):
    assert path.parent.name in MODELS, f'{path} configures an unregistered model'
    task = MODELS.get(path.parent.name).task
    cfg = load_config(path.parent.name, path.stem)
    validate(cfg, TASKS.get(task).schema)  # every value has its declared type and range


def test_link_only_keys_are_rejected_for_recommendation():
    with pytest.raises(
        ValueError,
        match=r"Unknown config key 'train.target_link_removal' in --set .*; keys the "
        r'recommend task and model ultragcn knows: .*train.eval_every_from',
    ):
        load_config('ultragcn', overrides=['train.target_link_removal=true'])
    assert 'use_valedges_as_input' not in load_config('lightgcn')['data']
    assert load_config('ncn', overrides=['train.target_link_removal=false'])['train']['target_link_removal'] is False


@pytest.mark.parametrize('task', TASK_NAMES)
def test_task_defaults_declare_the_schema(task):
    cfg = task_defaults(task)
    for key in ('epochs', 'lr', 'weight_decay', 'eval_every', 'early_stop', 'time_budget_s', 'select_on'):
        assert key in cfg['train']
    if task in TASKS:  # tasks that exist declare exactly the keys of their defaults file
        flat = {f'{s}.{k}' for s, sec in cfg.items() if s != 'model' for k in sec}
        declared = {k if k.count('.') == 1 else k.rsplit('.', 1)[0] for k in TASKS.get(task).schema}
        assert flat == declared


def test_schema_checks_types_ranges_and_choices():
    schema = {
        'train.lr': Field('float', min=0),
        'train.select_on': Field('str', choices=('valid', 'test')),
        'train.early_stop': Field('int', nullable=True, min=1),
        'eval.ks': Field('list[int]', min=1),
    }
    cfg = {'train': {'lr': '1e-3', 'select_on': 'valid', 'early_stop': None}, 'eval': {'ks': [20]}}
    assert validate(cfg, schema)['train']['lr'] == 0.001  # YAML reads 1e-3 as a string
    for key, value, message in [
        ('lr', 'nan', "'train.lr' must be a finite number >= 0"),
        ('lr', 'abc', "'train.lr'"),
        ('lr', -1.0, "'train.lr'"),
        ('lr', True, "'train.lr'"),
        ('select_on', 'best', "'train.select_on' must be valid | test"),
        ('early_stop', 0, "'train.early_stop' must be an integer >= 1 or null"),
    ]:
        bad = {'train': {**cfg['train'], key: value}, 'eval': {'ks': [20]}}
        with pytest.raises(ValueError, match=message):
            validate(bad, schema)
    with pytest.raises(ValueError, match="'eval.ks'"):
        validate({'train': cfg['train'], 'eval': {'ks': [0]}}, schema)
