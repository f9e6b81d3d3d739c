import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.configs import CONFIG_DIR, TASK_NAMES, load_config, parse_override, task_defaults
from graphkit.configs.schema import Field, model_schema, validate
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
    validate(cfg, model_schema(MODELS.get(path.parent.name)))


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


MODEL_NAMES = sorted(p.name for p in CONFIG_DIR.iterdir() if (p / 'default.yaml').exists())


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_every_model_declares_the_schema_of_its_config(name):
    default = yaml.safe_load((CONFIG_DIR / name / 'default.yaml').read_text())
    declared = set(getattr(MODELS.get(name), 'config_schema', {}))
    assert declared == set(default.get('model', {})), f'{name}: config_schema and default.yaml disagree'


def _bad_values(field):
    """Values the field must refuse: wrong types, out of range, not a choice, null when not nullable."""
    bad = [] if field.nullable else [None]
    if field.type in ('int', 'float'):
        bad += ['abc', True, [1]]
        if field.type == 'int':
            bad.append(1.5)
        else:
            bad += ['nan', float('inf')]
        if field.min is not None:
            bad.append(field.min - 1)
        if field.max is not None:
            bad.append(field.max if field.max_open else field.max + 1)
    elif field.type == 'bool':
        bad += ['yes', 1]
    elif field.type in ('str', 'choice'):
        bad += ['not-a-choice', 3] if field.choices else [3]
    return bad


SCHEMA_FIELDS = sorted((name, key) for name in MODEL_NAMES for key in getattr(MODELS.get(name), 'config_schema', {}))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(SCHEMA_FIELDS), st.data())
def test_model_keys_refuse_bad_values_naming_the_key(name_key, data):
    name, key = name_key
    field = MODELS.get(name).config_schema[key]
    value = data.draw(st.sampled_from(_bad_values(field)))
    cfg = load_config(name)
    cfg['model'][key] = value
    with pytest.raises(ValueError, match=rf"Config key 'model\.{key}' must be"):
        validate(cfg, model_schema(MODELS.get(name)))


def test_a_bad_model_value_fails_before_anything_is_written(tmp_path, capsys):
    from graphkit.cli import main

    out = tmp_path / 'run'
    for bad in ('model.hidden_channels=0', 'model.dropout=1.0', 'model.encoder=transformer'):
        assert main(['train', 'gae', '--dataset', 'cora', '--out', str(out), '--set', bad]) == 2
        assert "Config key 'model." in capsys.readouterr().err and not out.exists()
