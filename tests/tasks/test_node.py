import json
import os

import pytest
import torch
import yaml

from graphkit.cli import main
from graphkit.testing import random_node_dataset

TINY = ['--set', 'model.hidden_channels=8', '--set', 'data.normalize_features=false', '--quiet']


@pytest.fixture
def root(tmp_path):
    random_node_dataset(tmp_path / 'data')
    return tmp_path / 'data'


def _train(root, out, *extra):
    return main(['train', 'gcn', '--dataset', 'ogbn-tiny', '--root', str(root), '--out', str(out), *TINY, *extra])


def test_gcn_learns_and_reports_the_node_metrics(root, tmp_path, capsys):
    out = tmp_path / 'run'
    assert _train(root, out, '--epochs', '40', '--runs', '2', '--set', 'train.scheduler=cosine') == 0
    assert 'acc *' in capsys.readouterr().out
    s = json.loads((out / 'summary.json').read_text())
    assert s['task'] == 'node' and s['metric'] == 'acc' and s['splits'] == ['valid', 'test']
    assert set(s['test']) == {'acc', 'micro_f1', 'macro_f1', 'mean_f1', 'loss'}
    assert s['data'] == {
        'num_classes': 3,
        'multi_label': False,
        'target': None,
        'root': s['data']['root'],
        'train': 40,
        'valid': 20,
        'test': 20,
    }
    assert s['protocol']['scheduler'] == 'cosine'
    # labels are the arg-max of three features: far above chance (1/3) after 40 epochs
    assert s['test']['acc']['mean'] > 0.6
    for r in s['runs']:
        assert r['test']['acc'] == pytest.approx(r['test']['micro_f1'])  # single-label
    ckpt = torch.load(out / 'checkpoint.pt', weights_only=True)
    assert ckpt['optimizer']['schedulers'][0]['T_max'] == 40


def test_evaluate_recomputes_node_runs(root, tmp_path, capsys):
    out = tmp_path / 'run'
    assert _train(root, out, '--epochs', '5') == 0
    capsys.readouterr()
    assert main(['evaluate', str(out), '--root', str(root)]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    summary = json.loads((out / 'summary.json').read_text())
    assert float(row[2]) == pytest.approx(100 * summary['runs'][0]['test']['acc'], abs=0.01)


@pytest.mark.parametrize(
    'extra, message',
    [
        (['--set', 'train.scheduler=linear'], "'train.scheduler' must be step | cosine or null"),
        (['--set', 'eval.metric=hits@20'], "'eval.metric' must be one of acc, micro_f1, macro_f1"),
        (['--set', 'train.num_neg=2'], "Unknown config key 'train.num_neg'"),
        (['--set', 'model.dropout=1.5'], "'model.dropout' must be a finite number in [0.0, 1.0)"),
    ],
)
def test_bad_node_config_leaves_nothing(root, tmp_path, capsys, extra, message):
    out = tmp_path / 'bad'
    assert _train(root, out, *extra) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_heterogeneous_dataset_needs_a_hetero_model(tmp_path, capsys):
    from tests.data.conftest import make_ogbn_mag

    make_ogbn_mag(tmp_path)
    assert (
        main(
            [
                'train',
                'gcn',
                '--dataset',
                'ogbn-mag',
                '--root',
                str(tmp_path),
                '--out',
                str(tmp_path / 'run'),
                '--quiet',
            ]
        )
        == 2
    )
    assert "model 'gcn' needs a node dataset, but 'ogbn-mag' serves hetero-node" in capsys.readouterr().err


def test_kind_and_layout_must_agree(root):
    from graphkit.data import load_dataset

    with pytest.raises(ValueError, match='is homogeneous: it serves node, not hetero-node'):
        load_dataset('ogbn-tiny', 'hetero-node', root)


class ToyBare(torch.nn.Module):
    """A pre-computed model with only ``precompute`` (no layout / settings): trained, never cached."""

    task, kinds, trainable = 'node', ('hetero-node',), True

    def __init__(self, in_channels, out_channels, precompute_seed=None):
        super().__init__()
        self.lin = torch.nn.Linear(in_channels, out_channels)
        self.precompute_seed = precompute_seed

    @classmethod
    def from_config(cls, cfg, dataset):
        return cls(dataset.data[dataset.target].x.size(-1), dataset.num_classes, **cfg)

    def reset_parameters(self):
        self.lin.reset_parameters()

    def precompute(self, data, generator):
        return [data['paper'].x.clone()]

    def forward(self, groups):
        return self.lin(groups[0])


class ToyPrecomputed(ToyBare):
    """A cacheable pre-computed node model: one group (the target's own features plus seeded noise), then a Linear
    layer; it records the seed of every computation."""

    calls: list = []

    def precompute_settings(self):
        return {'method': 'toy'}

    def precompute_layout(self, data):
        return [(tuple(data['paper'].x.shape), torch.float32)]

    def precompute(self, data, generator, out=None):
        ToyPrecomputed.calls.append(int(generator.initial_seed()))
        x = data['paper'].x
        group = x + 0.01 * torch.randn(x.shape, generator=generator)
        if out is None:
            return [group]
        out[0].copy_(group)
        return out


@pytest.mark.parametrize('pinned', [None, 7])
def test_precomputed_model_trains_on_mini_batches(tmp_path, pinned):
    from graphkit.configs import task_defaults
    from graphkit.models import MODELS
    from graphkit.tasks.node import NodeTask
    from graphkit.tasks.options import TrainOptions
    from tests.data.conftest import make_ogbn_mag

    if 'toy-precomputed' not in MODELS:
        MODELS.register('toy-precomputed', ToyPrecomputed)
    make_ogbn_mag(tmp_path)
    cfg = task_defaults('node')
    cfg['train'].update(epochs=3, batch_size=2)
    cfg['model'] = {'precompute_seed': pinned}
    opts = TrainOptions(
        model='toy-precomputed', dataset='ogbn-mag', root=str(tmp_path), out=str(tmp_path / 'run'), runs=2, quiet=True
    )
    ToyPrecomputed.calls = []
    summary = NodeTask(opts, cfg).run()
    # once per projection seed: the run's seed (0, 1), or the pinned one for every run
    assert ToyPrecomputed.calls == ([0, 1] if pinned is None else [7])
    assert [e['seed'] for e in summary['precompute']] == ToyPrecomputed.calls
    assert all(e['cache'] == 'miss' for e in summary['precompute'])
    assert summary['protocol']['batch_size'] == 2 and summary['data']['target'] == 'paper'
    assert summary['splits'] == ['valid', 'test'] and len(summary['runs']) == 2


@pytest.mark.parametrize('multi', [False, True])
def test_rphgnn_trains_on_an_hgb_folder(tmp_path, capsys, multi):
    from tests.data.test_hgb import make_hgb, write_hgb

    files, _ = make_hgb(multi=multi)
    write_hgb(tmp_path / 'hgb' / 'Tiny', files)
    out = tmp_path / 'run'
    argv = [
        'train',
        'rphgnn',
        '--dataset',
        'hgb-tiny',
        '--root',
        str(tmp_path),
        '--out',
        str(out),
        '--epochs',
        '4',
        '--runs',
        '2',
        '--set',
        'model.hidden_channels=8',
        '--set',
        'train.batch_size=8',
        '--set',
        'train.eval_every=1',
        '--quiet',
    ]
    assert main(argv) == 0
    s = json.loads((out / 'summary.json').read_text())
    assert s['model'] == 'rphgnn' and s['metric'] == 'micro_f1' and s['data']['target'] == 'paper'
    assert s['data']['multi_label'] is multi and s['data']['test_file'] == 'label.dat.test'
    assert [e['seed'] for e in s['precompute']] == [0, 1]  # precompute_seed null: the run's seed, once per run
    assert s['time_s']['total'] == pytest.approx(s['time_s']['precompute'] + s['time_s']['train'])
    assert all(0.0 <= s['test'][k]['mean'] <= 1.0 for k in ('acc', 'micro_f1', 'macro_f1'))
    assert 'micro_f1 *' in capsys.readouterr().out


def _toy_task(tmp_path, out, **data):
    from graphkit.configs import task_defaults
    from graphkit.models import MODELS
    from graphkit.tasks.node import NodeTask
    from graphkit.tasks.options import TrainOptions

    if 'toy-precomputed' not in MODELS:
        MODELS.register('toy-precomputed', ToyPrecomputed)
    cfg = task_defaults('node')
    cfg['train'].update(epochs=2, batch_size=4)
    cfg['data'].update(data)
    cfg['model'] = {'precompute_seed': 3}
    opts = TrainOptions(model='toy-precomputed', dataset='ogbn-mag', root=str(tmp_path), out=str(out), quiet=True)
    return NodeTask(opts, cfg)


def test_precomputed_tensors_are_cached_across_calls(tmp_path):
    from tests.data.conftest import make_ogbn_mag

    make_ogbn_mag(tmp_path)
    ToyPrecomputed.calls = []
    first = _toy_task(tmp_path, tmp_path / 'runs' / 'a').run()
    second = _toy_task(tmp_path, tmp_path / 'runs' / 'b').run()
    assert ToyPrecomputed.calls == [3]  # the second call read the cache
    assert [e['cache'] for e in first['precompute'] + second['precompute']] == ['miss', 'hit']
    entry = first['precompute'][0]['path']
    assert entry == second['precompute'][0]['path'] and entry.startswith(str(tmp_path / 'runs' / '.cache'))
    assert first['test'] == second['test']  # the same tensors, the same seeds: the same numbers
    # a damaged entry is recomputed; the cache can be switched off or moved
    os.remove(os.path.join(entry, '0.npy'))
    third = _toy_task(tmp_path, tmp_path / 'runs' / 'c').run()
    assert ToyPrecomputed.calls == [3, 3] and third['precompute'][0]['cache'] == 'miss'
    off = _toy_task(tmp_path, tmp_path / 'runs' / 'd', precompute_cache=False).run()
    assert ToyPrecomputed.calls == [3, 3, 3] and off['precompute'][0]['cache'] == 'off'
    moved = _toy_task(tmp_path, tmp_path / 'runs' / 'e', cache_dir=str(tmp_path / 'elsewhere')).run()
    assert moved['precompute'][0]['path'].startswith(str(tmp_path / 'elsewhere'))
    assert first['test'] == third['test'] == off['test'] == moved['test']


def test_rphgnn_on_ogbn_mag_with_its_preset(tmp_path):
    from tests.data.conftest import make_ogbn_mag

    make_ogbn_mag(tmp_path)
    out = tmp_path / 'run'
    argv = ['train', 'rphgnn', '--dataset', 'ogbn-mag', '--root', str(tmp_path), '--out', str(out), '--quiet']
    argv += ['--epochs', '3', '--set', 'model.hidden_channels=8', '--set', 'train.eval_every=1']
    assert main(argv) == 0
    s = json.loads((out / 'summary.json').read_text())
    cfg = yaml.safe_load((out / 'config.yaml').read_text())
    assert cfg['model']['num_iterations'] == 5 and cfg['model']['precompute_seed'] == 2  # the ogbn-mag preset
    assert s['metric'] == 'acc' and s['data']['target'] == 'paper' and s['data']['test'] == 1
    assert s['data']['random_features'] == {'author': 512, 'field_of_study': 512, 'institution': 512}
    used = {tuple(e) for e in s['data']['relations']['used']}
    assert ('paper', 'rev_writes', 'author') in used and ('paper', 'cites', 'paper') in used
    assert [e['seed'] for e in s['precompute']] == [2]


@pytest.mark.parametrize('metric, pick', [('loss', min), ('mean_f1', max)])
def test_selection_on_valid_loss_or_mean_f1(root, tmp_path, metric, pick):
    out = tmp_path / 'run'
    assert _train(root, out, '--epochs', '6', '--set', f'eval.metric={metric}', '--set', 'train.eval_every=1') == 0
    s = json.loads((out / 'summary.json').read_text())
    assert s['metric'] == metric and s['direction'] == ('min' if metric == 'loss' else 'max')
    rows = [json.loads(line) for line in (out / 'metrics.jsonl').read_text().splitlines()]
    rows = [r for r in rows if 'valid' in r]
    best = pick(rows, key=lambda r: r['valid'][metric])  # first of ties, as the run loop keeps the first
    assert s['runs'][0]['best_epoch'] == best['epoch']
    assert s['runs'][0]['valid'][metric] == pytest.approx(best['valid'][metric])


def test_a_precomputed_model_without_a_layout_is_not_cached(tmp_path):
    from graphkit.configs import task_defaults
    from graphkit.models import MODELS
    from graphkit.tasks.node import NodeTask
    from graphkit.tasks.options import TrainOptions
    from tests.data.conftest import make_ogbn_mag

    if 'toy-bare' not in MODELS:
        MODELS.register('toy-bare', ToyBare)
    make_ogbn_mag(tmp_path)
    cfg = task_defaults('node')
    cfg['train'].update(epochs=2, batch_size=4)
    cfg['model'] = {}
    out = tmp_path / 'runs' / 'bare'
    opts = TrainOptions(model='toy-bare', dataset='ogbn-mag', root=str(tmp_path), out=str(out), quiet=True)
    s = NodeTask(opts, cfg).run()
    assert [e['cache'] for e in s['precompute']] == ['off'] and not (tmp_path / 'runs' / '.cache').exists()
