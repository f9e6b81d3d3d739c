import json

import pytest
import torch

from graphkit.cli import main
from graphkit.testing import random_link_dataset

TINY = ['--set', 'model.hidden_channels=16', '--set', 'train.batch_size=32', '--quiet']


@pytest.fixture
def root(tmp_path):
    random_link_dataset(tmp_path / 'data', 'ogbl-tiny')
    return tmp_path / 'data'


def _train(root, out, *extra):
    return main(['train', 'gae', '--dataset', 'ogbl-tiny', '--root', str(root), '--out', str(out), *TINY, *extra])


def _numbers(summary):
    return [(r['best_epoch'], r['valid'], r['test']) for r in summary['runs']], summary['test']


def test_train_writes_run_directory(root, tmp_path, capsys):
    out = tmp_path / 'run'
    assert _train(root, out, '--epochs', '3', '--runs', '2') == 0
    printed = capsys.readouterr().out
    assert 'hits@50 *' in printed and 'Run directory' in printed
    assert sorted(p.name for p in out.iterdir()) == [
        '.lock',  # the run directory's lock (held while a process trains into it)
        'best_run0.pt',
        'best_run1.pt',
        'checkpoint.pt',
        'config.yaml',
        'metrics.jsonl',
        'summary.json',
        'train.log',
    ]
    summary = json.loads((out / 'summary.json').read_text())
    assert [r['seed'] for r in summary['runs']] == [0, 1]
    assert summary['metric'] == 'hits@50'  # an unknown ogbl-* name with an edge split
    assert summary['num_parameters'] > 0
    assert summary['versions']['torch'] == torch.__version__
    values = [r['test']['hits@20'] for r in summary['runs']]
    assert summary['test']['hits@20']['mean'] == pytest.approx(sum(values) / 2)
    assert summary['test']['hits@20']['std'] == pytest.approx(torch.tensor(values).std().item())
    lines = [json.loads(line) for line in (out / 'metrics.jsonl').read_text().splitlines()]
    assert [(r['run'], r['epoch']) for r in lines] == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
    # Checkpoints hold only tensors and plain values.
    ckpt = torch.load(out / 'checkpoint.pt', weights_only=True)
    assert ckpt['epoch'] == 3 and len(ckpt['results']) == 2
    torch.load(out / 'best_run1.pt', weights_only=True)


def test_same_seed_same_numbers(root, tmp_path):
    assert _train(root, tmp_path / 'a', '--epochs', '3') == 0
    assert _train(root, tmp_path / 'b', '--epochs', '3') == 0
    a = json.loads((tmp_path / 'a' / 'summary.json').read_text())
    b = json.loads((tmp_path / 'b' / 'summary.json').read_text())
    assert _numbers(a) == _numbers(b)


def test_heuristic_needs_no_training(root, tmp_path):
    out = tmp_path / 'cn'
    assert main(['train', 'cn', '--dataset', 'ogbl-tiny', '--root', str(root), '--out', str(out), '--quiet']) == 0
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['runs'][0]['best_epoch'] == 0 and summary['num_parameters'] == 0


def test_evaluate_recomputes_the_summary(root, tmp_path, capsys):
    out = tmp_path / 'run'
    assert _train(root, out, '--epochs', '2') == 0
    capsys.readouterr()
    assert main(['evaluate', str(out), '--root', str(root)]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    summary = json.loads((out / 'summary.json').read_text())
    assert float(row[2]) == pytest.approx(100 * summary['runs'][0]['test'][summary['metric']], abs=0.01)


@pytest.mark.parametrize(
    'argv, message',
    [
        (['train', 'nope', '--dataset', 'ogbl-tiny'], "Unknown model 'nope'; known models: aa, cn, gae"),
        (['train', 'gae', '--dataset', 'nope'], 'nope'),
        (['train', 'gae', '--dataset', 'ogbl-tiny', '--set', 'train.lrr=1'], "Unknown config key 'train.lrr'"),
        (['train', 'gae', '--dataset', 'ogbl-tiny', '--set', 'train.epochs=-1'], "'train.epochs'"),
        (['train', 'gae', '--dataset', 'ogbl-tiny', '--set', 'oops'], 'section.key=value'),
        (['train', 'gae', '--dataset', 'ogbl-tiny', '--config', 'missing.yaml'], 'missing.yaml'),
        (['train', 'gae', '--dataset', 'ogbl-tiny', '--set', 'train.lr=nan'], "'train.lr' must be a finite number"),
        (
            ['train', 'gae', '--dataset', 'ogbl-tiny', '--set', 'model.encoder=transformer'],
            "'model.encoder' must be gcn | sage",
        ),
        (['train', 'ncn', '--dataset', 'ml-1m'], "model 'ncn' needs a link dataset, but 'ml-1m' serves recommend"),
        (['train', 'gcn', '--dataset', 'ogbl-tiny'], "model 'gcn' needs a node dataset, but 'ogbl-tiny' serves link"),
        (
            [
                'train',
                'gae',
                '--dataset',
                'ogbl-tiny',
                '--set',
                'train.tc_reweight.alpha=1',
                '--set',
                'train.target_link_removal=true',
            ],
            'train.tc_reweight',
        ),
        (
            [
                'train',
                'ncn',
                '--dataset',
                'ogbl-tiny',
                '--set',
                'train.tc_reweight.alpha=1',
                '--set',
                'train.target_link_removal=false',
            ],
            'GCN or SAGE encoder',
        ),
    ],
)
def test_errors_are_named_and_leave_nothing_behind(root, tmp_path, capsys, argv, message):
    out = tmp_path / 'failed'
    assert main([*argv, '--root', str(root), '--out', str(out), '--quiet']) == 2
    err = capsys.readouterr().err
    assert message in err
    assert 'Traceback' not in err
    assert not out.exists()


def test_missing_root_names_the_path(tmp_path, capsys):
    out = tmp_path / 'failed'
    assert main(['train', 'gae', '--dataset', 'ogbl-ddi', '--root', str(tmp_path / 'nowhere'), '--out', str(out)]) == 2
    assert 'nowhere' in capsys.readouterr().err
    assert not out.exists()


def test_nan_features_are_rejected(tmp_path, capsys):
    import numpy as np

    from graphkit.testing import write_ogbl_dataset

    x = np.ones((4, 2), dtype=np.float32)
    x[1, 0] = np.nan
    edges = np.array([[0, 1], [1, 2], [2, 3]])
    split = {
        'train': {'edge': edges},
        'valid': {'edge': edges[:1], 'edge_neg': [[0, 3]]},
        'test': {'edge': edges[1:2], 'edge_neg': [[0, 2]]},
    }
    write_ogbl_dataset(tmp_path, 'ogbl-nan', 4, split, x=x)
    assert main(['train', 'gae', '--dataset', 'ogbl-nan', '--root', str(tmp_path), '--out', str(tmp_path / 'run')]) == 2
    assert 'NaN' in capsys.readouterr().err
    assert not (tmp_path / 'run').exists()


def test_existing_run_directory_is_not_overwritten(root, tmp_path, capsys):
    out = tmp_path / 'run'
    assert _train(root, out, '--epochs', '1') == 0
    assert _train(root, out, '--epochs', '1') == 2
    assert '--resume' in capsys.readouterr().err


def test_tc_reweighting_trains_on_the_shared_loop(root, tmp_path):
    out = tmp_path / 'rw'
    assert _train(root, out, '--epochs', '3', '--set', 'train.tc_reweight.alpha=2') == 0
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['protocol']['tc_reweight'] == {'alpha': 2.0, 'update_interval': 1, 'warm_up': 1}
    lines = [json.loads(line) for line in (out / 'metrics.jsonl').read_text().splitlines()]
    assert len(lines) == 3 and all(0.0 <= r['tc_valid'] <= 1.0 for r in lines)
    ckpt = torch.load(out / 'checkpoint.pt', weights_only=True)
    assert ckpt['task']['num_updates'] == 3 and ckpt['task']['edge_weight'].dim() == 1
    # alpha 0 reweights by nothing: the weighted TC stays that of the normalised graph
    assert _train(root, tmp_path / 'rw0', '--epochs', '2', '--set', 'train.tc_reweight.alpha=0') == 0
    tc0 = [json.loads(line)['tc_valid'] for line in (tmp_path / 'rw0' / 'metrics.jsonl').read_text().splitlines()]
    assert tc0[0] == pytest.approx(tc0[1])


def test_fixed_ogb_split_is_loaded_once(root, tmp_path, monkeypatch):
    import graphkit.tasks.link as link

    calls = []
    real = link.load_link_dataset

    def counting(*args, **kwargs):
        calls.append(kwargs.get('seed'))
        return real(*args, **kwargs)

    monkeypatch.setattr(link, 'load_link_dataset', counting)
    assert _train(root, tmp_path / 'run', '--epochs', '1', '--runs', '3') == 0
    assert calls == [0]  # OGB splits do not depend on the seed: no reload for runs 1 and 2


@pytest.mark.parametrize('backend', ['dense', None])
def test_cn_backend_is_a_model_key_and_in_the_summary(root, tmp_path, backend):
    out = tmp_path / 'ncn'
    key = 'null' if backend is None else backend
    argv = ['train', 'ncn', '--dataset', 'ogbl-tiny', '--root', str(root), '--out', str(out), '--epochs', '1']
    assert main([*argv, *TINY, '--set', f'model.cn_backend={key}']) == 0
    summary = json.loads((out / 'summary.json').read_text())
    # A forced backend is the only one that runs; auto chooses per call (on this tiny graph, by batch size).
    assert summary['cn_backend']['setting'] == (backend or 'auto')
    used = summary['cn_backend']['used']
    assert used == [backend] if backend else set(used) <= {'dense', 'sparse'} and used


def test_unknown_cn_backend_is_refused_before_anything_is_written(root, tmp_path, capsys):
    out = tmp_path / 'bad'
    argv = ['train', 'ncn', '--dataset', 'ogbl-tiny', '--root', str(root), '--out', str(out)]
    assert main([*argv, *TINY, '--set', 'model.cn_backend=gpu']) == 2
    assert 'cn_backend' in capsys.readouterr().err and not out.exists()
