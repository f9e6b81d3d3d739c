import pytest
import yaml

from graphkit.configs import CONFIG_DIR, load_config, parse_override
from graphkit.models import MODELS


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


@pytest.mark.parametrize('path', sorted(CONFIG_DIR.glob('*/*.yaml')), ids=lambda p: f'{p.parent.name}/{p.name}')
def test_every_preset_resolves(path):
    assert path.parent.name in MODELS, f'{path} configures an unregistered model'
    load_config(path.parent.name, path.stem)
