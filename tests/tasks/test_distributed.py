"""Data-parallel training under torchrun (graphkit.distributed and the run loop): the sampler's shards, the reduced
metric states against one process (two gloo ranks forked in-process), every task family under
``python -m torch.distributed.run`` (one run directory, the metric equal to a one-process evaluation of the same
checkpoint), GAE on Cora with a fixed global batch (1 against 2 processes), SIGKILL of one rank then ``--resume``,
and a dead peer without torchrun's agent (a clear error, not a hang)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from graphkit.cli import main
from graphkit.distributed import Distributed, hits_at_k, launch_env
from graphkit.io import safe_torch_load
from graphkit.metrics import Evaluator
from graphkit.metrics.classification import classification_from_states, classification_metrics, classification_states
from graphkit.metrics.ranking import mean_over, means_from_sums, ranking_sums
from graphkit.tasks.run import load_run
from graphkit.testing import random_link_dataset, random_node_dataset
from tests.data.test_hgb import make_hgb, write_hgb
from tests.data.test_tu import write_tu

from .test_recommend import write_tiny_rec

ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'GRAPHKIT_DIST_TIMEOUT': '60'}
REPO = Path(__file__).resolve().parents[2]


# The sampler and the stand-in, without a process group --------------------------------------------------------
def test_launch_env():
    assert launch_env({}) is None
    assert launch_env({'RANK': '1', 'WORLD_SIZE': '2', 'LOCAL_RANK': '1'}) == (1, 2, 1)
    slurm = {'MASTER_ADDR': 'node1', 'SLURM_PROCID': '3', 'SLURM_NTASKS': '4', 'SLURM_LOCALID': '1'}
    assert launch_env(slurm) == (3, 4, 1)
    assert launch_env({'SLURM_PROCID': '3', 'SLURM_NTASKS': '4'}) is None  # srun without a rendezvous address
    with pytest.raises(ValueError, match='RANK/WORLD_SIZE/LOCAL_RANK'):
        launch_env({'RANK': '2', 'WORLD_SIZE': '2'})


def test_one_process_stand_in_returns_its_input():
    d, device = Distributed.setup('cpu')
    assert not d.enabled and d.is_main and device == torch.device('cpu') and repr(d) == 'Distributed()'
    t = torch.arange(5)
    assert d.shard(t) is t and d.sum(t) is t and d.gather_cat(t) is t
    assert d.any(True) and not d.any(False) and d.mean(0.5) == 0.5 and d.gather_objects(3) == [3]
    assert d.wrap(torch.nn.Linear(2, 2)) is None
    torch.manual_seed(0)
    with d.rank_zero_first(), d.synced_rng(0, 1):
        a = torch.rand(1)
    torch.manual_seed(0)
    assert torch.equal(a, torch.rand(1))  # the global stream, untouched
    assert d.reduce_mean(torch.tensor([1.0, 2.0])) == 1.5


@pytest.mark.parametrize('world', [1, 2, 3])
@pytest.mark.parametrize('n, bs, drop_last', [(10, 4, True), (10, 4, False), (3, 8, True), (9, 2, False)])
def test_batches_partition_each_global_batch(world, n, bs, drop_last):
    ranks = [Distributed(r, world, r, enabled=True).batches(n, bs, 7, 3, drop_last, torch.device('cpu')) for r in
             range(world)]  # fmt: skip
    assert len({len(b) for b in ranks}) == 1  # every rank takes part in every step
    one = Distributed(0, 1, 0, enabled=True).batches(n, bs, 7, 3, drop_last, torch.device('cpu'))
    assert len(one) == len(ranks[0]) == (max(n // bs, 1) if drop_last else -(-n // bs))
    for step, (batch, weight) in enumerate(one):
        assert weight == 1.0
        parts = [ranks[r][step] for r in range(world)]
        items = torch.cat([idx for idx, w in parts if w > 0])
        assert sorted(items.tolist()) == sorted(batch.tolist())  # the global batch, split without overlap
        assert sum(w for _, w in parts) == pytest.approx(world)  # DDP's average of weighted means = the mean
    other = Distributed(0, 1, 0, enabled=True).batches(n, bs, 7, 4, drop_last, torch.device('cpu'))
    if n > 3:
        assert torch.cat([b for b, _ in other]).tolist() != torch.cat([b for b, _ in one]).tolist()  # per epoch


def test_only_process_group_failures_become_rank_failures():
    from graphkit.distributed import RankFailure

    d = Distributed(0, 2, 0, enabled=True)
    with pytest.raises(RankFailure, match='rank 0: another rank died or stopped answering'):
        with d.guard():
            raise RuntimeError('[gloo/transport/tcp/pair.cc:537] Read error: Connection reset by peer')
    with pytest.raises(RuntimeError, match='mat1 and mat2 shapes'):  # a bug in the training code stays itself
        with d.guard():
            raise RuntimeError('mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)')


def test_no_cuda_calls_in_library_code():
    """Device-agnostic code: tensors go to the task's device (``.to(device)``), never ``.cuda()``."""
    offenders = [str(p.relative_to(REPO)) for p in (REPO / 'graphkit').rglob('*.py') if '.cuda()' in p.read_text()]
    assert offenders == []


def test_device_cuda_without_cuda_is_a_clear_error(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip('CUDA is available')
    random_link_dataset(tmp_path / 'data', 'ogbl-tiny')
    argv = ['train', 'gae', '--dataset', 'ogbl-tiny', '--root', str(tmp_path / 'data'), '--device', 'cuda']
    assert main([*argv, '--out', str(tmp_path / 'run')]) == 2
    assert 'CUDA is not available' in capsys.readouterr().err and not (tmp_path / 'run').exists()


# Reduced metric states on two forked gloo ranks ---------------------------------------------------------------
def _reductions(rank, world, store):
    dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=world)
    try:
        d = Distributed(rank, world, rank, enabled=True)
        gen = torch.Generator().manual_seed(0)  # the same data on every rank; each takes its share
        # Hits@K with ties (scores on a coarse grid), against OGB's semantics on all scores
        pos, neg = torch.randint(0, 6, (37,), generator=gen).float(), torch.randint(0, 6, (53,), generator=gen).float()
        ev = Evaluator('ogbl-collab')
        for ks in ([1, 5, 20], [60]):
            mine = hits_at_k(d.shard(pos), d.shard(neg), ks, d)
            for k in ks:
                ev.K = k
                assert mine[f'hits@{k}'] == ev.eval({'y_pred_pos': pos, 'y_pred_neg': neg})[f'hits@{k}'], k
        # ranking means over users with and without ground truth
        per_query = {'recall@2': torch.rand(11, generator=gen, dtype=torch.float64), 'precision@2': torch.rand(11)}
        per_query['recall@2'][[1, 4, 9]] = float('nan')
        per_query['precision@2'][[1, 4, 9]] = float('nan')
        per_query['f1@2'] = per_query['recall@2'].clone()
        mine_q = {k: d.shard(v) for k, v in per_query.items()}
        for den in ('all', 'with_truth'):
            got = means_from_sums(list(mine_q), d.sum(ranking_sums(mine_q)), den, f1='of_means')
            want = mean_over(per_query, den, f1='of_means')
            assert got == pytest.approx(want, rel=1e-12), den
        # classification: confusion counts, single- and multi-label
        logits, y = torch.randn(29, 4, generator=gen), torch.randint(0, 4, (29,), generator=gen)
        multi = torch.randint(0, 2, (29, 4), generator=gen)
        for target, ml in ((y, False), (multi, True)):
            states = d.sum(classification_states(d.shard(logits, 0), d.shard(target, 0), ml))
            got = classification_from_states(states, 4)
            assert got == pytest.approx(classification_metrics(logits, target, ml), rel=1e-12)
        values = torch.rand(13, generator=gen)
        assert d.reduce_mean(d.shard(values)) == pytest.approx(float(values.double().mean()), rel=1e-12)
        assert torch.equal(d.gather_cat(d.shard(torch.arange(7))), torch.cat([torch.arange(r, 7, world)
                                                                              for r in range(world)]))  # fmt: skip
        assert d.any(rank == 1) and not d.any(False) and d.mean(float(rank)) == pytest.approx((world - 1) / 2)
        assert d.gather_objects({'rank': rank}) == [{'rank': r} for r in range(world)]
    finally:
        dist.destroy_process_group()


def test_reduced_metric_states_equal_one_process(tmp_path):
    torch.multiprocessing.start_processes(
        _reductions, args=(2, str(tmp_path / 'store')), nprocs=2, start_method='fork', join=True
    )


# Every task family under torchrun ---------------------------------------------------------------------------
def torchrun(nproc, argv, **kwargs):
    """``python -m torch.distributed.run --standalone`` (a free rendezvous port) of ``graphkit train ARGV``."""
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nnodes', '1', '--nproc_per_node',
           str(nproc), '-m', 'graphkit', 'train', *argv, '--threads', '1']  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO, **kwargs)


def _sets(*pairs):
    return [arg for pair in pairs for arg in ('--set', pair)]


def _rings(root):
    edges, ind, labels, start = [], [], [], 1  # 20 graphs: paths (label -1) and cycles (label 1) of 3..6 nodes
    for g in range(20):
        nodes = list(range(start, start + 3 + g % 4))
        pairs = list(zip(nodes, nodes[1:])) + ([(nodes[-1], nodes[0])] if g % 2 else [])
        edges += [f'{a}, {b}\n{b}, {a}\n' for a, b in pairs]
        ind += [f'{g + 1}\n'] * len(nodes)
        labels.append(f'{1 if g % 2 else -1}\n')
        start += len(nodes)
    write_tu(root, 'RINGS', {'A': ''.join(edges), 'graph_indicator': ''.join(ind), 'graph_labels': ''.join(labels)})
    return root


FAMILIES = {
    'link': (
        lambda root: random_link_dataset(root, 'ogbl-tiny'),
        ['gae', '--dataset', 'ogbl-tiny', '--epochs', '4', *_sets('model.hidden_channels=8', 'train.batch_size=20')],
    ),
    'recommend': (
        write_tiny_rec,
        ['lightgcn', '--dataset', 'tiny-rec', '--epochs', '3', *_sets('model.embedding_dim=8', 'train.batch_size=50')],
    ),
    'node': (
        random_node_dataset,
        ['gcn', '--dataset', 'ogbn-tiny', '--epochs', '5', *_sets('model.hidden_channels=8')],
    ),
    'node-precomputed': (
        lambda root: write_hgb(root / 'hgb' / 'Tiny', make_hgb()[0]),
        ['rphgnn', '--dataset', 'hgb-tiny', '--epochs', '3', *_sets('model.hidden_channels=8', 'train.batch_size=8')],
    ),
    'cluster': (
        random_node_dataset,
        [
            'pamc',
            '--dataset',
            'ogbn-tiny',
            '--epochs',
            '3',
            *_sets(
                'model.hidden_channels=[8]',
                'model.out_channels=4',
                'train.pretrain_epochs=2',
                'train.pretrain_batch_size=32',
                'train.kmeans_n_init=1',
            ),
        ],
    ),  # fmt: skip
    'graph': (
        _rings,
        [
            'gin',
            '--dataset',
            'tu-rings',
            '--runs',
            '1',
            '--epochs',
            '3',
            *_sets('model.hidden_channels=8', 'train.batch_size=5'),
        ],
    ),  # fmt: skip
}


def _splits(summary):
    return {s: summary['runs'][0][s] for s in ('valid', 'test') if s in summary['runs'][0]}


def test_every_family_trains_data_parallel_under_torchrun(tmp_path):
    procs = {}
    for family, (make, argv) in FAMILIES.items():
        make(tmp_path / family / 'data')
        out = tmp_path / family / 'runs' / 'ddp'
        procs[family] = torchrun(2, [*argv, '--root', str(tmp_path / family / 'data'), '--out', str(out)])
    for family, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, f'{family}: {stderr[-3000:]}'
        assert stdout.count('Run directory:') == 1, family  # only rank 0 prints
        assert stderr.count('Processing ') <= 1, family  # rank 0 parses and caches; the other rank reads the cache
        runs = tmp_path / family / 'runs'
        assert [p.name for p in runs.iterdir() if p.name != '.cache'] == ['ddp'], family  # one run directory
        summary = json.loads((runs / 'ddp' / 'summary.json').read_text())
        assert summary['distributed']['world_size'] == 2 and summary['distributed']['backend'] == 'gloo'
        assert len((runs / 'ddp' / 'metrics.jsonl').read_text().splitlines()) == len(
            {(r['run'], r['epoch']) for r in map(json.loads, (runs / 'ddp' / 'metrics.jsonl').read_text().splitlines())}
        ), family  # one line per evaluation: no second writer
        # the reported metrics equal a one-process evaluation of the same (best) checkpoint
        _, task, model = load_run(runs / 'ddp', str(tmp_path / family / 'data'))
        again = task.evaluate(model)
        for split, metrics in _splits(summary).items():
            for key, value in metrics.items():
                assert again[split][key] == pytest.approx(value, rel=1e-6, abs=1e-9), (family, split, key)


# GAE on Cora with a fixed global batch: 1 against 2 processes ----------------------------------------------
def test_gae_on_cora_same_trajectory_with_one_and_two_processes(tmp_path):
    """With dropout 0 both jobs see the same global batches and negatives (drawn from (seed, epoch)), and DDP's
    average of the two half-batch mean losses is the full batch's: the trajectories agree to float32 rounding.
    (A plain process, without torchrun, shuffles with the global generator: other batches, the same
    distribution.)"""
    sets = _sets('model.hidden_channels=32', 'model.dropout=0', 'train.batch_size=512', 'train.eval_every=1')
    argv = ['gae', '--dataset', 'cora', '--epochs', '4', '--quiet', *sets]
    procs = {n: torchrun(n, [*argv, '--out', str(tmp_path / f'p{n}')]) for n in (1, 2)}
    for n, proc in procs.items():
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
    logs = {n: [json.loads(line) for line in (tmp_path / f'p{n}' / 'metrics.jsonl').read_text().splitlines()]
            for n in (1, 2)}  # fmt: skip
    assert [r['epoch'] for r in logs[1]] == [r['epoch'] for r in logs[2]] == [1, 2, 3, 4]
    assert [r['loss'] for r in logs[2]] == pytest.approx([r['loss'] for r in logs[1]], rel=1e-5)
    assert logs[1][0]['loss'] != logs[1][-1]['loss']  # it trained
    one, two = (safe_torch_load(tmp_path / f'p{n}' / 'checkpoint.pt')['model'] for n in (1, 2))
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5)


# SIGKILL of one rank, then torchrun --resume ------------------------------------------------------------------
def _children(pid):
    try:
        with open(f'/proc/{pid}/task/{pid}/children') as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _worker(pid, rank):
    """The pid of the torchrun worker of :obj:`rank` under the launcher :obj:`pid`, or None."""
    for child in _children(pid):
        try:
            env = Path(f'/proc/{child}/environ').read_bytes().split(b'\0')
        except OSError:
            continue
        if f'RANK={rank}'.encode() in env:
            return child
    return None


def _numbers(summary):
    return [(r['best_epoch'], r.get('valid'), r['test']) for r in summary['runs']], summary['test']


def test_sigkill_of_one_rank_then_resume_matches_uninterrupted(tmp_path):
    random_link_dataset(tmp_path / 'data', 'ogbl-tiny')
    argv = ['gae', '--dataset', 'ogbl-tiny', '--root', str(tmp_path / 'data'), '--epochs', '12', '--quiet',
            *_sets('model.hidden_channels=8', 'train.batch_size=16')]  # fmt: skip
    killed, full = tmp_path / 'killed', tmp_path / 'full'
    victim, reference = torchrun(2, [*argv, '--out', str(killed)]), torchrun(2, [*argv, '--out', str(full)])
    deadline, done = time.time() + 240, False
    while time.time() < deadline and not done:
        assert victim.poll() is None, 'the run ended before a rank was killed'
        try:
            epoch = safe_torch_load(killed / 'checkpoint.pt')['epoch'] if (killed / 'checkpoint.pt').exists() else 0
        except ValueError:  # caught mid-rename
            epoch = 0
        rank1 = _worker(victim.pid, 1)
        if epoch >= 2 and rank1 is not None:
            os.kill(rank1, signal.SIGKILL)
            done = True
        time.sleep(0.01)
    assert done, 'not killed in time'
    victim.communicate(timeout=120)
    assert victim.returncode != 0  # torchrun's agent stops the surviving rank and fails
    assert not (killed / 'summary.json').exists() and safe_torch_load(killed / 'checkpoint.pt')['epoch'] < 12
    assert len(safe_torch_load(killed / 'checkpoint.pt')['rng_ranks']) == 2  # every rank's stream
    _, stderr = reference.communicate(timeout=300)
    assert reference.returncode == 0, stderr[-3000:]
    resumed = torchrun(2, [*argv, '--out', str(killed), '--resume'])
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr[-3000:]
    a, b = (json.loads((p / 'summary.json').read_text()) for p in (killed, full))
    assert _numbers(a) == _numbers(b)
    logged = [json.loads(line)['epoch'] for line in (killed / 'metrics.jsonl').read_text().splitlines()]
    assert logged == list(range(1, 13))


# A dead peer without torchrun's agent: a clear error within the timeout -------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_a_dead_rank_makes_the_other_exit_with_a_clear_message(tmp_path):
    random_link_dataset(tmp_path / 'data', 'ogbl-tiny')
    argv = [sys.executable, '-m', 'graphkit', 'train', 'gae', '--dataset', 'ogbl-tiny', '--root',
            str(tmp_path / 'data'), '--out', str(tmp_path / 'run'), '--epochs', '500', '--quiet', '--threads', '1',
            *_sets('model.hidden_channels=8', 'train.batch_size=16')]  # fmt: skip
    base = {**ENV, 'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': str(_free_port()), 'WORLD_SIZE': '2'}
    base['GRAPHKIT_DIST_TIMEOUT'] = '30'
    procs = [
        subprocess.Popen(argv, env={**base, 'RANK': str(r), 'LOCAL_RANK': str(r)}, cwd=REPO, stderr=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, text=True)
        for r in range(2)
    ]  # fmt: skip
    ckpt, deadline = tmp_path / 'run' / 'checkpoint.pt', time.time() + 240
    while not ckpt.exists() and time.time() < deadline:
        assert procs[0].poll() is None and procs[1].poll() is None
        time.sleep(0.05)
    assert ckpt.exists(), 'training did not start in time'
    procs[1].kill()
    t0 = time.time()
    _, stderr = procs[0].communicate(timeout=120)
    assert procs[0].returncode == 2, stderr[-3000:]
    assert 'another rank died or stopped answering' in stderr and '--resume' in stderr
    assert 'Traceback' not in stderr and time.time() - t0 < 90
    procs[1].wait()
