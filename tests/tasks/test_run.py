"""The shared run loop: budget, early stopping, selection direction and split, optimisers and schedulers in the
checkpoint, SIGKILL then --resume for every task family, and the contract for clustering and graph-level tasks
(toy Task subclasses)."""

import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

from graphkit.cli import main
from graphkit.configs import task_defaults
from graphkit.io import safe_torch_load
from graphkit.tasks.optim import Optimizers, make_scheduler
from graphkit.tasks.options import TrainOptions
from graphkit.tasks.run import Task, mean_std
from graphkit.tasks.rundir import RunDir
from graphkit.testing import random_link_dataset, random_node_dataset

from .test_recommend import TINY_ULTRA, sets, write_tiny_rec


@pytest.fixture
def root(tmp_path):
    random_link_dataset(tmp_path / 'data', 'ogbl-tiny')
    return tmp_path / 'data'


def _tiny(model, root, out, *extra):
    """The argv of ``graphkit train MODEL`` on ogbl-tiny into :obj:`out`."""
    return ['train', model, '--dataset', 'ogbl-tiny', '--root', str(root), '--out', str(out), *extra]


def _summary(root, out, *pairs):
    args = _tiny('gae', root, out, '--quiet', *sets('model.hidden_channels=8', 'train.batch_size=32', *pairs))
    assert main(args) == 0
    return json.loads((out / 'summary.json').read_text())


def test_time_budget_stops_the_run(root, tmp_path):
    summary = _summary(root, tmp_path / 'run', 'train.epochs=50', 'train.time_budget_s=0.000001')
    run = summary['runs'][0]
    assert run['last_epoch'] == 1 and run['stopped_early']
    assert run['best_epoch'] == 1


def test_early_stopping(root, tmp_path):
    summary = _summary(root, tmp_path / 'run', 'train.epochs=200', 'train.early_stop=2', 'train.lr=0')
    run = summary['runs'][0]  # lr 0: the selection metric never improves after the first evaluation
    assert run['stopped_early'] and run['best_epoch'] == 1 and run['last_epoch'] == 3
    lines = (tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()
    assert [json.loads(line)['epoch'] for line in lines] == [1, 2, 3]
    assert summary['direction'] == 'max' and summary['splits'] == ['valid', 'test']


def test_progress_without_a_terminal(root, tmp_path, capsys):
    out = tmp_path / 'run'
    argv = _tiny('gae', root, out, '--epochs', '2', *sets('model.hidden_channels=8', 'train.eval_every=2'))
    assert main(argv) == 0
    printed = capsys.readouterr()  # pytest's stderr is no terminal: plain lines instead of bars
    assert 'Run 01 | epoch 1/2 | loss' in printed.err and 'ETA' in printed.err  # an epoch without evaluation
    assert 'Epoch: 002' in printed.out and 's/epoch' in printed.out  # the evaluation line carries the timing
    log = (out / 'train.log').read_text()
    assert 'epoch 1/2' in log and 'epoch 2/2' in log and 'Epoch: 002' in log


def test_mean_std():
    assert mean_std([1.0, 3.0]) == {'mean': 2.0, 'std': pytest.approx(2**0.5)}  # unbiased (n - 1)
    assert mean_std([0.5]) == {'mean': 0.5, 'std': None}
    assert mean_std([]) == {'mean': None, 'std': None}


def test_rundir_refuses_to_overwrite(tmp_path):
    rundir = RunDir(tmp_path / 'run')
    rundir.create({'a': 1}, resume=False)
    rundir.log_metrics({'run': 0, 'epoch': 1})
    with pytest.raises(FileExistsError, match='--resume'):
        rundir.create({'a': 1}, resume=False)
    rundir.create({'a': 1}, resume=True)
    assert rundir.read_config() == {'a': 1}


def test_optimizers_state_round_trip():
    params = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))]
    a, b = torch.optim.Adam([params[0]], lr=0.1), torch.optim.SGD([params[1]], lr=0.2)
    opt = Optimizers([a, b], make_scheduler(a, 'step', 10, step_size=1, gamma=0.5))
    for _ in range(3):
        opt.zero_grad()
        (params[0].sum() + params[1].sum()).backward()
        opt.step()
        opt.epoch_end()
    assert opt.lr == pytest.approx(0.1 * 0.5**3) and repr(opt) == 'Optimizers(Adam, SGD, StepLR)'
    a2, b2 = torch.optim.Adam([params[0]], lr=0.1), torch.optim.SGD([params[1]], lr=0.2)
    again = Optimizers([a2, b2], make_scheduler(a2, 'step', 10, step_size=1, gamma=0.5))
    again.load_state_dict(opt.state_dict())
    assert again.lr == opt.lr and again.schedulers[0].last_epoch == 3
    with pytest.raises(ValueError, match='another config'):
        Optimizers([a2]).load_state_dict(opt.state_dict())
    assert make_scheduler(a, None, 10) == []
    with pytest.raises(ValueError, match="'scheduler'"):
        make_scheduler(a, 'linear', 10)


# SIGKILL, then --resume: the same numbers as an uninterrupted run, for every task family --------------------
def _gcn_args(root):
    return [
        'gcn',
        '--dataset',
        'ogbn-tiny',
        '--root',
        str(root),
        '--epochs',
        '30',
        '--set',
        'train.scheduler=step',
        '--set',
        'train.step_size=3',
        '--set',
        'model.hidden_channels=8',
        '--set',
        'data.normalize_features=false',
        '--quiet',
    ]


FAMILIES = {
    'link': (
        lambda tmp: random_link_dataset(tmp / 'data', 'ogbl-tiny'),
        lambda root: [
            'gae',
            '--dataset',
            'ogbl-tiny',
            '--root',
            str(root),
            '--epochs',
            '20',
            '--set',
            'model.hidden_channels=16',
            '--set',
            'train.batch_size=16',
            '--quiet',
        ],
    ),
    'recommend': (
        lambda tmp: write_tiny_rec(tmp / 'data'),
        lambda root: [
            'ultragcn',
            '--dataset',
            'tiny-rec',
            '--root',
            str(root),
            '--epochs',
            '20',
            *TINY_ULTRA,
            '--set',
            'train.batch_size=8',
        ],
    ),
    'node': (lambda tmp: random_node_dataset(tmp / 'data'), _gcn_args),
}


def _numbers(summary):
    return [(r['best_epoch'], r.get('valid'), r['test']) for r in summary['runs']], summary['test']


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    """One killed subprocess per task family, started together (their interpreter start-ups overlap)."""
    args, procs = {}, {}
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    for family, (make, argv) in FAMILIES.items():
        make(tmp_path / family)
        args[family] = argv(tmp_path / family / 'data')
        cmd = [sys.executable, '-m', 'graphkit', 'train', *args[family], '--out', str(tmp_path / family / 'killed')]
        procs[family] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline, alive = time.time() + 90, set(FAMILIES)
    while alive and time.time() < deadline:
        for family in sorted(alive):
            ckpt = tmp_path / family / 'killed' / 'checkpoint.pt'
            assert procs[family].poll() is None, f'{family}: the run ended before it was killed'
            try:
                epoch = safe_torch_load(ckpt)['epoch'] if ckpt.exists() else 0
            except ValueError:  # caught mid-rename; try again
                epoch = 0
            if epoch >= 2:
                os.kill(procs[family].pid, signal.SIGKILL)
                procs[family].wait()
                alive.discard(family)
        time.sleep(0.01)
    assert not alive, f'not killed in time: {sorted(alive)}'
    for family in FAMILIES:  # the uninterrupted runs, in this process
        assert main(['train', *args[family], '--out', str(tmp_path / family / 'full')]) == 0

    for family in FAMILIES:
        out = tmp_path / family / 'killed'
        epochs = int(args[family][args[family].index('--epochs') + 1])
        assert not (out / 'summary.json').exists()
        assert safe_torch_load(out / 'checkpoint.pt')['epoch'] < epochs, family
        assert main(['train', *args[family], '--out', str(out), '--resume']) == 0
        full = json.loads((tmp_path / family / 'full' / 'summary.json').read_text())
        resumed = json.loads((out / 'summary.json').read_text())
        assert _numbers(resumed) == _numbers(full), family
        logged = [json.loads(line)['epoch'] for line in (out / 'metrics.jsonl').read_text().splitlines()]
        assert logged == sorted(set(logged)) and logged[-1] == full['runs'][0]['last_epoch'], family


# The contract for the clustering and graph-level families, on toy tasks -----------------------------------
class ToyClusterTask(Task):
    """Clustering: no held-out split, only test metrics, the last epoch reported."""

    task = 'cluster'

    def __init__(self, opts, cfg):
        super().__init__(opts, cfg)
        self.name, self.metric = 'toy', 'acc'

    def build(self):
        model = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.zeros_(model.weight)
        return model, torch.optim.SGD(model.parameters(), lr=self.cfg['train']['lr'])

    def train_epoch(self, model, optimizer, epoch):
        optimizer.zero_grad()
        loss = (model.weight - 1.0).pow(2).sum()  # the weight walks from 0 towards 1
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def evaluate(self, model):
        w = float(model.weight.clamp(0, 1))
        return {'test': {'acc': w, 'nmi': w, 'ari': w, 'f1': w}}


class ToyGraphTask(ToyClusterTask):
    """Graph regression, one fold per run: MAE is minimised; valid selects."""

    task = 'graph'

    def __init__(self, opts, cfg):
        super().__init__(opts, cfg)
        self.metric, self.folds = 'mae', []

    def prepare(self, seed, run=0):
        self.folds.append(run)
        self.target = 0.5 + 0.1 * run  # each fold has its own target

    def evaluate(self, model):
        err = abs(float(model.weight) - self.target)
        return {'valid': {'mae': err, 'rmse': err}, 'test': {'acc': 1.0, 'mae': err, 'rmse': err}}


def _toy(cls, task, tmp_path, runs=1, **train):
    cfg = task_defaults(task)
    cfg['train'].update(epochs=6, lr=0.25, **train)
    opts = TrainOptions(model='toy', dataset='toy', out=str(tmp_path / task), runs=runs, quiet=True)
    return cls(opts, cfg)


def test_cluster_contract_reports_the_last_epoch_on_test_only(tmp_path):
    summary = _toy(ToyClusterTask, 'cluster', tmp_path).run()
    assert summary['select_on'] == 'last' and 'last evaluation' in summary['selection']
    assert summary['splits'] == ['test'] and 'valid' not in summary
    run = summary['runs'][0]
    assert run['best_epoch'] == run['last_epoch'] == 6 and 'valid' not in run
    assert summary['test']['acc']['mean'] == pytest.approx(1 - 0.5**6)  # w_t = 1 - (1 - 2 lr)^t, lr 0.25
    assert set(summary['test']) == {'acc', 'nmi', 'ari', 'f1'}
    with pytest.raises(ValueError, match="'train.early_stop' needs train.select_on"):
        _toy(ToyClusterTask, 'cluster', tmp_path, early_stop=2)
    with pytest.raises(ValueError, match='has no valid acc'):
        _toy(ToyClusterTask, 'cluster', tmp_path / 'v', select_on='valid').run()


def test_graph_contract_minimises_per_fold(tmp_path):
    from graphkit.cli import format_table

    task = _toy(ToyGraphTask, 'graph', tmp_path, runs=3)
    summary = task.run()
    assert 'mae *' in format_table(summary) and '0.0500 ± 0.0500' in format_table(summary)  # errors: not in %
    assert task.folds[-3:] == [0, 1, 2] and summary['direction'] == 'min'
    # w is 0.5, 0.75, 0.875, ...: the epoch closest to each fold's target is selected, not the last one
    assert [r['best_epoch'] for r in summary['runs']] == [1, 1, 2]
    assert summary['splits'] == ['valid', 'test']
    assert summary['test']['mae']['mean'] == pytest.approx((0.0 + 0.1 + 0.05) / 3)


def test_select_on_is_validated_for_every_task(root, tmp_path, capsys):
    assert main(_tiny('gae', root, tmp_path / 'x', *sets('train.select_on=best'), '--quiet')) == 2
    assert "'train.select_on' must be valid | test | last" in capsys.readouterr().err
    assert not (tmp_path / 'x').exists()


def test_direction_follows_the_metric():
    task = SimpleNamespace(metric='rmse')
    assert Task.direction.fget(task) == 'min'


def test_resume_refuses_a_changed_config(root, tmp_path, capsys):
    out = tmp_path / 'run'
    _summary(root, out, 'train.epochs=2')
    before = (out / 'config.yaml').read_text()
    tiny = sets('model.hidden_channels=8', 'train.batch_size=32', 'train.epochs=2')
    args = _tiny('gae', root, out, '--quiet', '--resume', *tiny)
    assert main([*args, '--set', 'train.lr=0.5']) == 2
    err = capsys.readouterr().err
    assert '--resume: the config differs from' in err and 'train.lr: 0.01 -> 0.5' in err
    assert (out / 'config.yaml').read_text() == before  # nothing rewritten
    assert main([*args[:-1], 'train.epochs=3']) == 2  # a finished run trains no further: its config must match
    assert 'train.epochs: 2 -> 3' in capsys.readouterr().err
    assert main(args) == 0  # resuming a finished run with its own config rewrites the same summary


@pytest.mark.parametrize(
    'extra, message',
    [
        (['--set', 'eval.metric=mrr'], "'eval.metric' must be hits@K"),
        (['--set', 'eval.metric=hits@abc'], "'eval.metric' must be hits@K"),
        (['--set', 'model.hidden_channels=abc'], "'model.hidden_channels' must be an integer in [1, 1048576]"),
        (['--set', 'model.hidden_channels=1048576'], "Model 'gae' does not fit in memory"),  # a 4 TB predictor
        (['--set', 'model.num_layers=100000'], "'model.num_layers' must be an integer in [1, 1000]"),
        (['--device', 'foo'], "--device must be 'cpu', 'cuda' or 'cuda:N'"),
        (['--set', 'train.epochs=0'], "'train.epochs' must be an integer >= 1"),
        (['--init-from', '.'], 'holds no best_run*.pt'),
    ],
)
def test_bad_input_fails_before_anything_is_written(root, tmp_path, capsys, extra, message):
    out = tmp_path / 'failed'
    assert main(_tiny('gae', root, out, '--quiet', *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and 'Traceback' not in err
    assert not out.exists()


def test_tc_reweight_needs_a_trained_model(root, tmp_path, capsys):
    assert main(_tiny('cn', root, tmp_path / 'x', *sets('train.tc_reweight.alpha=2'), '--quiet')) == 2
    assert 'not trained' in capsys.readouterr().err


def test_stop_after_suspends_and_resume_matches_an_uninterrupted_run(root, tmp_path, capsys):
    pairs = sets('model.hidden_channels=8', 'train.batch_size=32', 'train.epochs=4', 'train.eval_every=2')
    full = tmp_path / 'full'
    assert main(_tiny('gae', root, full, '--quiet', *pairs)) == 0
    part = tmp_path / 'part'
    assert main(_tiny('gae', root, part, '--quiet', '--stop-after', '1e-9', *pairs)) == 75
    assert 'suspended after run 1, epoch 1' in capsys.readouterr().err
    assert not (part / 'summary.json').exists() and (part / 'checkpoint.pt').exists()
    assert main(_tiny('gae', root, part, '--quiet', '--resume', *pairs)) == 0
    a, b = (json.loads((d / 'summary.json').read_text()) for d in (full, part))
    assert a['valid'] == b['valid'] and a['test'] == b['test']
    assert main(_tiny('gae', root, tmp_path / 'bad', '--stop-after', '0', *pairs)) == 2
    assert not (tmp_path / 'bad').exists()


def test_callbacks_see_every_epoch_and_evaluation(root, tmp_path):
    from graphkit.tasks import TASKS, Callback
    from graphkit.tasks.options import TrainOptions

    calls = []

    class Recorder(Callback):
        def on_run_start(self, task, run, rundir):
            calls.append(('start', run))

        def on_epoch_end(self, task, run, epoch, loss, lr, epoch_time):
            calls.append(('epoch', epoch))
            assert loss > 0 and lr > 0 and epoch_time >= 0

        def on_eval(self, task, run, epoch, loss, res):
            calls.append(('eval', epoch, task.metric in res['valid']))

        def on_run_end(self, task, run, result):
            calls.append(('end', result['best_epoch'] >= 1))

        def close(self):
            calls.append(('close',))

    from graphkit.configs import load_config

    overrides = ['model.hidden_channels=8', 'train.epochs=3', 'train.eval_every=2']
    cfg = load_config('gae', 'ogbl-tiny', None, overrides, task='link')
    opts = TrainOptions(
        model='gae', dataset='ogbl-tiny', root=str(root), out=str(tmp_path / 'r'), quiet=True, callbacks=[Recorder()]
    )
    TASKS.get('link')(opts, cfg).run()
    assert calls == [
        ('start', 0),
        ('epoch', 1),
        ('epoch', 2),
        ('eval', 2, True),
        ('epoch', 3),
        ('eval', 3, True),
        ('end', True),
        ('close',),
    ]


def test_a_run_made_before_a_config_key_existed_still_loads(root, tmp_path):
    import yaml

    from graphkit.tasks.run import load_run

    out = tmp_path / 'old'
    assert main(_tiny('gae', root, out, '--quiet', '--epochs', '1', *sets('model.hidden_channels=8'))) == 0
    cfg = yaml.safe_load((out / 'config.yaml').read_text())
    dropped = sorted(cfg['model'])[0]
    del cfg['model'][dropped]  # as if the key had been added to graphkit after the run was made
    (out / 'config.yaml').write_text(yaml.safe_dump(cfg))
    summary, task, model = load_run(out, str(root))
    assert dropped in task.cfg['model'] and summary['model'] == 'gae'
    assert main(['evaluate', str(out), '--root', str(root)]) == 0


def test_under_torchrun_only_rank_zero_prints_a_config_error(root, tmp_path, capsys, monkeypatch):
    argv = _tiny('gae', root, tmp_path / 'r', *sets('train.lr=-1'))
    monkeypatch.setenv('RANK', '1')
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('LOCAL_RANK', '1')
    assert main(argv) == 2 and capsys.readouterr().err == ''
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('LOCAL_RANK', '0')
    assert main(argv) == 2 and "Config key 'train.lr'" in capsys.readouterr().err
    assert not (tmp_path / 'r').exists()
