"""The node-clustering task end to end on tiny data: ``graphkit train pamc``, the pretraining cache, resume after
SIGKILL, the official max-over-epochs numbers, the Python entry point, and bad input failing before anything is
written."""

import json

import pytest
import torch
from torch_geometric.data import Data

from graphkit.cli import format_table, main
from graphkit.io import safe_torch_load
from graphkit.tasks.cluster import MAX_OVER_EPOCHS, cluster
from graphkit.testing import random_node_dataset

TINY = [
    '--set',
    'model.hidden_channels=[8]',
    '--set',
    'model.out_channels=4',
    '--set',
    'train.pretrain_epochs=3',
    '--set',
    'train.pretrain_batch_size=32',
    '--set',
    'train.kmeans_n_init=2',
    '--set',
    'train.lr=0.01',
]


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    path = tmp_path_factory.mktemp('cluster') / 'data'
    random_node_dataset(path)
    return path


def _argv(root, out, *extra):
    return ['train', 'pamc', '--dataset', 'ogbn-tiny', '--root', str(root), '--out', str(out), *TINY, *extra]


def _summary(out):
    return json.loads((out / 'summary.json').read_text())


def test_pamc_clusters_and_reports_the_cluster_metrics(root, tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(_argv(root, out, '--epochs', '6', '--runs', '2')) == 0
    printed = capsys.readouterr()
    assert 'acc *' in printed.out and 'nmi' in printed.out
    assert 'k-means on the pretrained embeddings' in printed.err and 'pretrained 3 epochs' in printed.err
    s = _summary(out)
    assert s['task'] == 'cluster' and s['splits'] == ['test'] and s['select_on'] == 'last'
    assert set(s['test']) == {'acc', 'nmi', 'ari', 'f1'}
    assert all(r['best_epoch'] == r['last_epoch'] == 6 for r in s['runs'])
    assert s['data']['num_clusters'] == 3 and s['data']['labelled'] == 80
    assert 1 / 3 <= s['test']['acc']['mean'] <= 1 and 0 <= s['test']['nmi']['mean'] <= 1
    assert [p['cached'] for p in s['pretrain']] == [False, False] and len(s['kmeans_init']['runs']) == 2
    assert s['positive_pairs'] > 80 and 'max_over_epochs' not in s
    for seed in (0, 1):
        cache = safe_torch_load(out / 'pretrain' / f'seed{seed}.pt')
        assert cache['key']['seed'] == seed and cache['info']['epochs'] == 3
    records = [json.loads(line) for line in (out / 'metrics.jsonl').read_text().splitlines()]
    assert len(records) == 12 and {'loss_kl', 'loss_pos', 'loss_neg', 'clusters_used'} <= set(records[0])
    assert [r['epoch'] for r in records if 'init' in r] == [1, 1]
    torch.load(out / 'checkpoint.pt', weights_only=True)
    # graphkit evaluate rebuilds the task and recomputes the final clusters
    assert main(['evaluate', str(out), '--root', str(root)]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [float(r.split()[2]) for r in rows] == pytest.approx([100 * r['test']['acc'] for r in s['runs']], abs=0.01)


@pytest.mark.parametrize('extra', [['--set', 'model.loss=dense'], ['--set', 'model.encoder=gcn']])
def test_dense_reference_and_gcn_encoder_train(root, tmp_path, extra):
    out = tmp_path / 'run'
    assert main(_argv(root, out, '--epochs', '4', '--quiet', *extra)) == 0
    s = _summary(out)
    assert s['protocol']['loss'] == ('dense' if 'model.loss=dense' in extra else 'pamc')
    assert 0.0 <= s['test']['acc']['mean'] <= 1.0


def test_official_max_over_epochs_is_labelled_and_at_least_the_final_epoch(root, tmp_path):
    out = tmp_path / 'run'
    assert main(_argv(root, out, '--epochs', '8', '--quiet', '--set', 'eval.max_over_epochs=true')) == 0
    s = _summary(out)
    best = s['max_over_epochs']
    assert best['protocol'] == MAX_OVER_EPOCHS and 'optimistic' in best['protocol']
    records = [json.loads(line) for line in (out / 'metrics.jsonl').read_text().splitlines()]
    for key in ('acc', 'nmi', 'ari', 'f1'):
        assert best['runs'][0][key] == max(r['test'][key] for r in records)
        assert best['test'][key]['mean'] >= s['test'][key]['mean']
    table = format_table(s)
    assert 'max over epochs' in table and 'official' in table


def test_select_on_test_reports_the_best_epoch_with_its_own_metrics(root, tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(_argv(root, out, '--epochs', '8', '--set', 'train.select_on=test')) == 0
    assert 'Selection on the TEST set' in capsys.readouterr().err
    s = _summary(out)
    records = [json.loads(line) for line in (out / 'metrics.jsonl').read_text().splitlines()]
    best = max(records, key=lambda r: r['test']['acc'])  # first of the best: later ties do not replace it
    assert s['runs'][0]['best_epoch'] == best['epoch'] and s['runs'][0]['test'] == best['test']


def test_pretraining_is_cached_per_seed_and_reused(root, tmp_path):
    from graphkit.configs import load_config
    from graphkit.tasks.cluster import ClusterTask
    from graphkit.tasks.options import TrainOptions

    overrides = [TINY[i + 1] for i in range(0, len(TINY), 2)]
    cfg = load_config('pamc', 'ogbn-tiny', None, overrides, task='cluster')
    opts = TrainOptions(model='pamc', dataset='ogbn-tiny', root=str(root), out=str(tmp_path / 'run'), quiet=True)
    task = ClusterTask(opts, cfg)
    task.before_runs()
    states, records = [], []
    for _ in range(2):
        torch.manual_seed(5)
        task.prepare(0, 0)
        model, _ = task.build()
        task.init_model(model, 0)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        records.append(task._init_record)
    assert records[0]['pretrain']['cached'] is False and records[1]['pretrain']['cached'] is True
    assert records[0]['kmeans'] == records[1]['kmeans']
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    # a damaged cache file is pretrained again and replaced
    cache = tmp_path / 'run' / 'pretrain' / 'seed0.pt'
    cache.write_bytes(b'not a torch file')
    task.prepare(0, 0)
    model, _ = task.build()
    task.init_model(model, 0)
    assert task._init_record['pretrain']['cached'] is False and safe_torch_load(cache)['key']['seed'] == 0
    # another setting of the pretraining is not served from this cache
    cfg['train']['pretrain_lr'] = 0.5
    task2 = ClusterTask(opts, cfg)
    task2.before_runs()
    task2.prepare(0, 0)
    model, _ = task2.build()
    task2.init_model(model, 0)
    assert task2._init_record['pretrain']['cached'] is False


def test_interrupted_run_resumes_to_the_same_numbers(root, tmp_path, monkeypatch):
    """Stopped mid-run (an interrupt at epoch 4, after epoch 3's checkpoint), then --resume: the same numbers as an
    uninterrupted run. The resumed process loads the pretraining cache; the SIGKILL variant of this check, for the
    other task families, is tests/tasks/test_run.py."""
    from graphkit.tasks.cluster import ClusterTask

    argv = ['pamc', '--dataset', 'ogbn-tiny', '--root', str(root), *TINY, '--epochs', '12', '--quiet']
    assert main(['train', *argv, '--out', str(tmp_path / 'full')]) == 0
    original = ClusterTask.train_epoch

    def interrupted(self, model, optimizer, epoch):
        if epoch == 4:
            raise KeyboardInterrupt
        return original(self, model, optimizer, epoch)

    killed = tmp_path / 'killed'
    with monkeypatch.context() as m:
        m.setattr(ClusterTask, 'train_epoch', interrupted)
        assert main(['train', *argv, '--out', str(killed)]) == 130
    assert safe_torch_load(killed / 'checkpoint.pt')['epoch'] == 3 and not (killed / 'summary.json').exists()
    assert main(['train', *argv, '--out', str(killed), '--resume']) == 0
    full, resumed = _summary(tmp_path / 'full'), _summary(killed)
    assert resumed['runs'][0]['test'] == full['runs'][0]['test']
    untimed = [{k: v for k, v in p.items() if k != 'time_s'} for p in (resumed['pretrain'][0], full['pretrain'][0])]
    assert untimed[0] == untimed[1]
    assert resumed['kmeans_init'] == full['kmeans_init']
    logged = [json.loads(line)['epoch'] for line in (killed / 'metrics.jsonl').read_text().splitlines()]
    assert logged == list(range(1, 13))


def _graph(seed=0, n=60, labels=True, features=True):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=gen)
    x = torch.randn(n, 5, generator=gen)
    x[torch.arange(n), y] += 3.0
    src = torch.randint(0, n, (200,), generator=gen)
    members = [torch.nonzero(y == c).view(-1) for c in range(3)]
    dst = torch.stack([members[int(y[i])][torch.randint(0, len(members[int(y[i])]), (1,), generator=gen)] for i in src])
    data = Data(edge_index=torch.stack([src, dst.view(-1)]), num_nodes=n)
    if features:
        data.x = x
    if labels:
        data.y = y
    return data


FAST = tuple(TINY[i + 1] for i in range(0, len(TINY), 2)) + ('train.epochs=10',)


def test_cluster_a_user_graph_from_python(tmp_path):
    summary, assignment = cluster(_graph(), str(tmp_path / 'run'), overrides=FAST, name='mine')
    assert summary['dataset'] == 'mine' and assignment.shape == (60,) and int(assignment.max()) < 3
    assert summary['test']['acc']['mean'] > 0.9  # the classes are in the features: far above chance
    # without labels: K given, no scores
    summary, assignment = cluster(
        _graph(labels=False), str(tmp_path / 'nolabels'), num_clusters=4, overrides=FAST + ('eval.score=false',)
    )
    assert summary['splits'] == [] and int(assignment.max()) < 4 and summary['data']['num_clusters'] == 4


@pytest.mark.parametrize(
    'data, overrides, message',
    [
        (_graph(features=False), (), "has no node features 'x'"),
        (_graph(labels=False), (), "has no labels 'y', which the clustering metrics need"),
        (_graph(labels=False), ('eval.score=false',), "needs 'num_clusters'"),
        (_graph(), ('model.num_clusters=61',), 'num_clusters=61 for a graph of 60 nodes: K must not exceed'),
    ],
)
def test_bad_python_input_fails_before_anything_is_written(tmp_path, data, overrides, message):
    out = tmp_path / 'run'
    with pytest.raises(ValueError, match=message):
        cluster(data, str(out), overrides=FAST + overrides)
    assert not out.exists()


@pytest.mark.parametrize(
    'extra, message',
    [
        (['--set', 'model.num_clusters=81'], 'num_clusters=81 for a graph of 80 nodes'),
        (['--set', 'train.select_on=valid'], 'the cluster task has no validation split'),
        (['--set', 'eval.metric=hits@20'], "'eval.metric' must be one of acc, nmi, ari, f1"),
        (['--set', 'model.loss=sparse'], "'model.loss' must be pamc | dense"),
        (['--set', 'model.tau=0'], "'model.tau' must be"),
        (['--set', 'train.pretrain_epochs=-1'], "'train.pretrain_epochs' must be an integer >= 0"),
        (['--set', 'eval.score=false', '--set', 'eval.max_over_epochs=true'], 'eval.score=false turns off'),
        (['--set', 'train.num_neg=2'], "Unknown config key 'train.num_neg'"),
    ],
)
def test_bad_cli_input_fails_before_anything_is_written(root, tmp_path, capsys, extra, message):
    out = tmp_path / 'bad'
    assert main(_argv(root, out, '--quiet', *extra)) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def _write_planetoid(root, name, num_nodes=40, num_classes=4, seed=0):
    """A tiny citation graph in the Planetoid raw layout (``ind.<name>.*`` pickles), classes in the features."""
    import collections
    import pickle

    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, num_nodes)
    x = rng.random((num_nodes, 8)).astype(np.float32)
    x[np.arange(num_nodes), y] += 3.0
    onehot = np.eye(num_classes)[y]
    n_train = 30
    graph = collections.defaultdict(list)
    for _ in range(3 * num_nodes):
        i = int(rng.integers(num_nodes))
        j = int(rng.choice(np.flatnonzero(y == y[i])))
        graph[i].append(j)
    folder = root / name / 'raw'
    folder.mkdir(parents=True)
    test_ids = list(range(n_train, num_nodes))
    objects = {
        'x': sp.csr_matrix(x[:10]),
        'allx': sp.csr_matrix(x[:n_train]),
        'tx': sp.csr_matrix(x[n_train:]),
        'y': onehot[:10],
        'ally': onehot[:n_train],
        'ty': onehot[n_train:],
        'graph': graph,
    }
    for key, obj in objects.items():
        with open(folder / f'ind.{name}.{key}', 'wb') as f:
            pickle.dump(obj, f, protocol=2)
    (folder / f'ind.{name}.test.index').write_text(''.join(f'{i}\n' for i in reversed(test_ids)))


def test_a_planetoid_folder_clusters_with_its_preset(tmp_path, capsys):
    _write_planetoid(tmp_path / 'data', 'citeseer')
    out = tmp_path / 'run'
    argv = ['train', 'pamc', '--dataset', 'citeseer', '--root', str(tmp_path / 'data'), '--out', str(out)]
    assert main([*argv, *TINY, '--epochs', '5', '--quiet']) == 0
    s = _summary(out)
    config = (out / 'config.yaml').read_text()
    assert 'order: 3' in config and 'tau: 0.5' in config and 'beta: 2.5' in config  # configs/pamc/citeseer.yaml
    assert s['dataset'] == 'citeseer' and s['data']['num_nodes'] == 40 and s['data']['num_clusters'] == 4


@pytest.mark.dataset
def test_pamc_on_cora_smoke():
    from graphkit.configs import load_config
    from graphkit.tasks.cluster import ClusterTask
    from graphkit.tasks.options import TrainOptions

    cfg = load_config('pamc', 'cora', None, ['train.epochs=2', 'train.pretrain_epochs=1', 'train.kmeans_n_init=1'])
    opts = TrainOptions(model='pamc', dataset='cora', root='../shared/data', out='unused', quiet=True)
    task = ClusterTask(opts, cfg)
    assert task.num_nodes == 2708 and task.x.shape == (2708, 1433)
    model, _ = task.build()
    assert task.positive[0].size(1) == 99_596 and model.num_clusters == 7
