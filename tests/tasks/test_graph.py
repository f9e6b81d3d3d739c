import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from graphkit.cli import main
from graphkit.io import safe_torch_load
from graphkit.tasks.graph import cv_folds
from tests.data.test_tu import write_tu

TINY = ['--set', 'model.hidden_channels=8', '--quiet', '--threads', '1']


@pytest.fixture
def root(tmp_path):
    # 20 graphs: paths of 3..6 nodes (label 0) and cycles of 3..6 nodes (label 1)
    edges, ind, labels, node_labels, start = [], [], [], [], 1
    for g in range(20):
        n = 3 + g % 4
        nodes = list(range(start, start + n))
        pairs = list(zip(nodes, nodes[1:])) + ([(nodes[-1], nodes[0])] if g % 2 else [])
        edges += [f'{a}, {b}\n{b}, {a}\n' for a, b in pairs]
        ind += [f'{g + 1}\n'] * n
        node_labels += [f'{v % 2}\n' for v in nodes]
        labels.append(f'{1 if g % 2 else -1}\n')
        start += n
    files = {'A': ''.join(edges), 'graph_indicator': ''.join(ind), 'graph_labels': ''.join(labels)}
    write_tu(tmp_path / 'data', 'RINGS', {**files, 'node_labels': ''.join(node_labels)})
    return tmp_path / 'data'


def _train(model, root, out, *extra):
    return main(['train', model, '--dataset', 'tu-rings', '--root', str(root), '--out', str(out), *TINY, *extra])


@pytest.mark.parametrize('model', ['gsm', 'gin'])
def test_graph_task_end_to_end_over_folds(model, root, tmp_path, capsys):
    out = tmp_path / 'run'
    extra = ['--set', 'model.d_state=4', '--set', 'model.heads=2'] if model == 'gsm' else []
    assert _train(model, root, out, '--epochs', '3', '--runs', '2', '--set', 'data.folds=4', *extra) == 0
    s = json.loads((out / 'summary.json').read_text())
    assert s['task'] == 'graph' and s['metric'] == 'acc' and s['splits'] == ['valid', 'test']
    assert len(s['runs']) == 2 and s['test']['acc']['std'] is not None
    assert s['data']['label_coding'] == [-1, 1] and '4-fold' in s['protocol']['split']
    if model == 'gsm':
        assert s['time_s']['tokenize'] > 0
    else:  # graphkit evaluate rebuilds each fold's split and best model
        capsys.readouterr()
        assert main(['evaluate', str(out), '--root', str(root)]) == 0
        rows = capsys.readouterr().out.splitlines()[1:]
        assert [float(r.split()[2]) for r in rows] == pytest.approx(
            [100 * r['test']['acc'] for r in s['runs']], abs=0.01
        )


def test_folds_depend_on_the_seed_only_and_are_stratified():
    labels = torch.tensor([0] * 12 + [1] * 8)
    a, b = cv_folds(labels, 4, seed=0), cv_folds(labels, 4, seed=0)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, cv_folds(labels, 4, seed=1)))
    assert sorted(torch.cat(a).tolist()) == list(range(20))
    assert all(torch.bincount(labels[f]).tolist() == [3, 2] for f in a)


@pytest.mark.parametrize('tokenizer', ['hac-bfs', 'mot'])
def test_synthetic_node_and_graph_tasks(tokenizer, tmp_path):
    common = ['--set', 'data.num_graphs=6', '--set', 'data.num_nodes=12', '--set', 'model.d_state=4']
    common += ['--set', 'model.heads=2', '--set', f'model.tokenizer={tokenizer}', '--epochs', '2']
    for name, metric in (('synthetic-degree', 'acc'), ('synthetic-triangles', 'rmse')):
        out = tmp_path / name
        assert main(['train', 'gsm', '--dataset', name, '--out', str(out), *TINY, *common]) == 0
        s = json.loads((out / 'summary.json').read_text())
        assert s['metric'] == metric and s['data']['level'] == 'node'
        assert s['direction'] == ('max' if metric == 'acc' else 'min')


@pytest.mark.parametrize(
    'extra, message',
    [
        (['--set', 'model.tokenizer=metis'], "'model.tokenizer' must be hac-dfs | hac-bfs"),
        (['--runs', '11'], '--runs 11 exceeds the 10 folds'),
        (['--set', 'data.valid_ratio=0'], "'data.valid_ratio' is 0"),
        (['--set', 'eval.metric=rmse'], "'eval.metric' must be one of acc"),
        (['--set', 'data.folds=12'], 'smallest class has 10 graphs'),
        (['--set', 'model.features=x+pagerank'], "unknown 'features'"),
    ],
)
def test_bad_graph_config_leaves_nothing(root, tmp_path, capsys, extra, message):
    out = tmp_path / 'bad'
    assert _train('gsm', root, out, *extra) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_sigkill_then_resume_matches_uninterrupted(root, tmp_path):
    """Killed inside the second fold; --resume finishes it with the numbers of an uninterrupted run."""
    args = ['gsm', '--dataset', 'tu-rings', '--root', str(root), *TINY, '--epochs', '6', '--runs', '2']
    args += ['--set', 'data.folds=4', '--set', 'model.d_state=4', '--set', 'model.heads=2']
    killed = tmp_path / 'killed'
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    proc = subprocess.Popen(
        [sys.executable, '-m', 'graphkit', 'train', *args, '--out', str(killed)], stdout=subprocess.DEVNULL, env=env
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        assert proc.poll() is None, 'the run ended before it was killed'
        try:
            state = safe_torch_load(killed / 'checkpoint.pt') if (killed / 'checkpoint.pt').exists() else None
        except ValueError:  # caught mid-rename
            state = None
        if state is not None and state['run'] == 1 and state['epoch'] >= 2:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        time.sleep(0.01)
    else:
        pytest.fail('not killed in time')
    assert main(['train', *args, '--out', str(killed), '--resume']) == 0
    assert main(['train', *args, '--out', str(tmp_path / 'full')]) == 0
    a, b = (json.loads((d / 'summary.json').read_text()) for d in (tmp_path / 'full', killed))
    assert [(r['best_epoch'], r['valid'], r['test']) for r in a['runs']] == [
        (r['best_epoch'], r['valid'], r['test']) for r in b['runs']
    ]


def test_without_runs_every_fold_runs(root, tmp_path):
    out = tmp_path / 'run'
    assert _train('gin', root, out, '--epochs', '1', '--set', 'data.folds=3') == 0  # no --runs
    s = json.loads((out / 'summary.json').read_text())
    assert len(s['runs']) == 3 and [r['run'] for r in s['runs']] == [0, 1, 2]
