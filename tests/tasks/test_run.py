import json

import pytest

from graphkit.cli import main
from graphkit.tasks.run import RunDir, mean_std
from graphkit.testing import random_link_dataset


@pytest.fixture
def root(tmp_path):
    random_link_dataset(tmp_path / 'data', 'ogbl-tiny')
    return tmp_path / 'data'


def _summary(root, out, *sets):
    args = ['train', 'gae', '--dataset', 'ogbl-tiny', '--root', str(root), '--out', str(out), '--quiet',
            '--set', 'model.hidden_channels=8', '--set', 'train.batch_size=32']
    for s in sets:
        args += ['--set', s]
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


def test_mean_std():
    assert mean_std([1.0, 3.0]) == {'mean': 2.0, 'std': pytest.approx(2 ** 0.5)}  # unbiased (n - 1)
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
