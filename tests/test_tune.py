"""graphkit tune: the search-space file and its checks, a study that resumes after SIGKILL with best.yaml
reproducing its best trial, two processes sharing one SQLite study, and errors before anything is written."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from graphkit.cli import main
from graphkit.configs import CONFIG_DIR, load_config
from graphkit.configs.schema import model_schema
from graphkit.models import MODELS
from graphkit.tasks import TASKS
from graphkit.testing import random_link_dataset
from graphkit.tune import Param, check_space, load_space, space_path

optuna = pytest.importorskip('optuna')

#: Tiny trials: a few epochs of a small GAE; hits@20 varies between trials on ogbl-tiny (hits@50 is always 1).
TINY = ['--set', 'model.hidden_channels=8', '--set', 'train.batch_size=32', '--set', 'eval.metric=hits@20']
SPACE = {
    'train.lr': {'log_float': [1.0e-3, 5.0e-2]},
    'model.dropout': {'float': [0.0, 0.6], 'step': 0.1},
    'model.num_layers': {'int': [1, 2]},
}


@pytest.fixture
def setup(tmp_path):
    root = tmp_path / 'data'
    random_link_dataset(root, 'ogbl-tiny', num_nodes=80, num_edges=300)
    space = tmp_path / 'space.yaml'
    space.write_text(yaml.safe_dump(SPACE))
    return root, space


def _argv(root, space, out, trials, *extra):
    return ['tune', 'gae', '--dataset', 'ogbl-tiny', '--root', str(root), '--space', str(space), '--out', str(out),
            '--trials', str(trials), *TINY, *extra]  # fmt: skip


def _spawn(argv):
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    return subprocess.Popen(
        [sys.executable, '-m', 'graphkit', *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )


def _study(out):
    return optuna.load_study(study_name='gae-ogbl-tiny', storage=f'sqlite:///{out / "study.db"}')


def _states(out):
    return sorted(t.state.name for t in _study(out).trials)


def test_load_space_forms_and_errors(tmp_path):
    path = tmp_path / 's.yaml'
    path.write_text('train:\n  lr: {log_float: [1e-4, 1e-2]}\nmodel.conv: {choice: [gcn, sage]}\n')
    space = load_space(path)
    assert space['train.lr'] == Param('train.lr', 'log_float', (1e-4, 1e-2))  # '1e-4' (YAML 1.1 str) read as float
    assert space['model.conv'].values == ('gcn', 'sage')
    for text, match in [
        ('a.b: {uniform: [0, 1]}', "'a.b.uniform' must be one of"),
        ('a.b: {float: [0, 1], log: true}', "'a.b' must be one of"),
        ('a.b: {float: [1, 0]}', 'low must be < high'),
        ('a.b: {log_float: [0, 1]}', 'low > 0'),
        ('a.b: {int: [0.5, 3]}', 'integer bounds'),
        ('a.b: {choice: [1, 1]}', 'repeat'),
        ('a.b: {float: [0, 1], step: -1}', 'step must be > 0'),
        ('[1, 2]', 'non-empty mapping'),
    ]:
        path.write_text(text)
        with pytest.raises(ValueError, match=match):
            load_space(path)


def test_space_keys_are_checked_against_the_schemas():
    cfg = load_config('gae', 'cora')
    model_cls = MODELS.get('gae')
    schema = {**TASKS.get('link').schema, **model_schema(model_cls)}
    check_space({'train.lr': Param('train.lr', 'log_float', (1e-4, 1e-2))}, cfg, schema)
    with pytest.raises(ValueError, match="'model.nope' is not a config key"):
        check_space({'model.nope': Param('model.nope', 'float', (0, 1))}, cfg, schema)
    with pytest.raises(ValueError, match="Search space: Config key 'model.dropout' must be"):
        check_space({'model.dropout': Param('model.dropout', 'float', (0.0, 1.5))}, cfg, schema)
    with pytest.raises(ValueError, match="'model.hidden_channels' is an integer"):
        check_space({'model.hidden_channels': Param('model.hidden_channels', 'float', (8, 64))}, cfg, schema)
    with pytest.raises(ValueError, match='also fixed by --set'):
        check_space({'train.lr': Param('train.lr', 'float', (0.1, 0.2))}, cfg, schema, fixed=['train.lr'])


@pytest.mark.parametrize('name', ['ncn/cora', 'ultragcn/ml-1m'])
def test_shipped_spaces_validate(name):
    model, dataset = name.split('/')
    assert space_path(None, model, dataset) == CONFIG_DIR / 'spaces' / f'{name}.yaml'
    model_cls = MODELS.get(model)
    schema = {**TASKS.get(model_cls.task).schema, **model_schema(model_cls)}
    check_space(load_space(space_path(name, model, dataset)), load_config(model, dataset), schema)


def test_bad_input_fails_before_anything_is_written(setup, tmp_path, capsys):
    root, space = setup
    bad = tmp_path / 'bad.yaml'
    bad.write_text('model.dropout: {float: [0.0, 2.0]}\n')
    out = tmp_path / 'study'
    assert main(_argv(root, bad, out, 2)) == 2
    assert "'model.dropout' must be a finite number in [0.0, 1.0)" in capsys.readouterr().err
    assert main(_argv(root, space, out, 2, '--set', 'train.lr=0.1')) == 2
    assert 'also fixed by --set' in capsys.readouterr().err
    assert main(['tune', 'gae', '--dataset', 'ogbl-nope', '--root', str(root), '--space', str(space),
                 '--out', str(out), '--trials', '1']) == 2  # fmt: skip
    assert not out.exists()


def test_killed_study_resumes_and_best_yaml_reproduces(setup, tmp_path, capsys):
    root, space = setup
    out = tmp_path / 'study'
    argv = _argv(root, space, out, 3, '--set', 'train.epochs=12', '--pruner', 'none', '--threads', '1')
    proc = _spawn(argv)
    deadline = time.monotonic() + 120
    while not (out / 'trial-0001').exists():  # trial 0 is told COMPLETE before trial 1 starts
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0].decode()[-2000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _states(out)
    assert 1 <= before.count('COMPLETE') < 3
    assert not (out / 'best.yaml').exists()

    assert main(argv) == 0  # the same command: the study continues
    printed = capsys.readouterr().out
    study = _study(out)
    complete = [t for t in study.trials if t.state.name == 'COMPLETE']
    assert len(complete) == 3 and 'RUNNING' not in _states(out)
    if 'RUNNING' in before:  # the killed trial: marked FAIL at once (its process is gone), its place re-taken
        assert 'its process is gone' in printed
    for t in complete:
        assert (out / f'trial-{t.number:04d}' / 'summary.json').is_file()

    best = study.best_trial
    cfg = yaml.safe_load((out / 'best.yaml').read_text())
    assert cfg['train']['epochs'] == 12 and cfg['eval']['metric'] == 'hits@20'  # --set values included
    for key, value in best.params.items():
        section, name = key.split('.')
        assert cfg[section][name] == value
    again = tmp_path / 'again'
    argv = ['train', 'gae', '--dataset', 'ogbl-tiny', '--root', str(root), '--config', str(out / 'best.yaml'),
            '--out', str(again), '--quiet', '--threads', '1']  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((again / 'summary.json').read_text())
    assert summary['valid']['hits@20']['mean'] == best.value
    assert summary['test']['hits@20']['mean'] == best.user_attrs['test']['mean']
    rows = (out / 'trials.csv').read_text().splitlines()
    assert rows[0].startswith('number,state,value,test,seconds,run_dir') and len(rows) == 1 + len(study.trials)

    # a rerun of a finished study trains nothing; another space on the same study is refused
    assert main(_argv(root, space, out, 3, '--set', 'train.epochs=12', '--pruner', 'none')) == 0
    assert len(study.trials) == len(_study(out).trials)
    assert main(_argv(root, space, out, 3, '--set', 'train.epochs=13', '--pruner', 'none')) == 2
    assert 'was made with other settings' in capsys.readouterr().err


def test_two_processes_share_one_study(setup, tmp_path):
    root, space = setup
    out = tmp_path / 'study'
    argv = _argv(root, space, out, 4, '--set', 'train.epochs=6', '--threads', '1')
    first = _spawn(argv)
    time.sleep(0.5)  # both create-or-load the study; the second must find the first's
    second = _spawn(argv)
    logs = [p.communicate(timeout=300)[0].decode() for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], '\n'.join(log[-2000:] for log in logs)
    study = _study(out)
    complete = [t for t in study.trials if t.state.name == 'COMPLETE']
    assert len(complete) == 4  # together exactly --trials, none lost ...
    assert all(t.state.name in ('COMPLETE', 'PRUNED', 'FAIL') for t in study.trials)
    dirs = sorted(p.name for p in out.glob('trial-*'))
    assert len(dirs) == len(set(dirs))  # ... and none run twice: one directory per trial number
    for t in complete:
        assert (out / f'trial-{t.number:04d}' / 'summary.json').is_file()
    ran = [line for log in logs for line in log.splitlines() if line.startswith('Trial ') and 'complete]' in line]
    numbers = [int(line.split()[1]) for line in ran]
    assert len(numbers) == len(set(numbers))  # each trial reported by one process only
    assert all('surplus' in t.user_attrs.get('error', '') for t in study.trials if t.state.name == 'FAIL')
    assert (out / 'best.yaml').is_file()


def test_reporter_prunes_before_the_last_epoch_only():
    from types import SimpleNamespace

    from graphkit.tune import _Reporter

    reported = []
    trial = SimpleNamespace(number=0, report=lambda v, step: reported.append((step, v)), should_prune=lambda: True)
    task = SimpleNamespace(metric='hits@20', cfg={'train': {'epochs': 4}})
    reporter = _Reporter(trial, 'valid')
    reporter.on_eval(task, 1, 2, None, {'valid': {'hits@20': 0.5}})  # run 1: not reported
    assert reported == []
    with pytest.raises(optuna.TrialPruned, match='pruned after epoch 2'):
        reporter.on_eval(task, 0, 2, None, {'valid': {'hits@20': 0.5}})
    reporter.on_eval(task, 0, 4, None, {'valid': {'hits@20': 0.75}})  # the last epoch: completes
    assert reported == [(2, 0.5), (4, 0.75)]
    assert repr(reporter) == "_Reporter(trial=0, split='valid')"


def test_a_stale_trial_of_another_host_is_replaced(setup, tmp_path, monkeypatch):
    import graphkit.tune as tune_module

    root, space = setup
    out = tmp_path / 'study'
    monkeypatch.setattr(tune_module, 'HEARTBEAT_S', 1)
    monkeypatch.setattr(tune_module, 'GRACE_S', 1)
    argv = _argv(root, space, out, 1, '--set', 'train.epochs=2', '--pruner', 'none')
    assert main([*argv, '--timeout', '0.001']) == 1  # makes the study, starts no trial
    study = _study(out)
    ghost = study.ask()  # a trial of a process on another machine that died: its heartbeat stops
    ghost.set_user_attr('host', 'another-host')
    ghost.set_user_attr('pid', 1)
    study._storage.record_heartbeat(ghost._trial_id)
    time.sleep(2.5)
    assert main(argv) == 0
    states = {t.number: t.state.name for t in _study(out).trials}
    assert states == {0: 'FAIL', 1: 'COMPLETE'}


def test_storage_creation_race_is_retried(monkeypatch, tmp_path):
    from graphkit import tune as tune_module

    class IntegrityError(Exception):  # what SQLAlchemy raises when two processes create the tables at once
        pass

    real, calls = optuna.storages.RDBStorage, []

    def flaky(url, **kwargs):
        calls.append(url)
        if len(calls) < 3:
            raise IntegrityError('(sqlite3.IntegrityError) UNIQUE constraint failed: alembic_version.version_num')
        return real(url, **kwargs)

    monkeypatch.setattr(optuna.storages, 'RDBStorage', flaky)
    monkeypatch.setattr(tune_module.time, 'sleep', lambda s: None)
    url = f'sqlite:///{tmp_path / "race.db"}'
    assert tune_module._storage(url) is not None and len(calls) == 3
    calls.clear()
    monkeypatch.setattr(tune_module, 'STORAGE_ATTEMPTS', 2)
    with pytest.raises(ValueError, match='could not be opened .*UNIQUE constraint failed'):
        tune_module._storage(url)
    assert len(calls) == 2
    calls[:] = ['done'] * 3  # from now on the real storage
    with pytest.raises(ValueError, match="--storage 'nosuchdriver://x' could not be opened"):
        tune_module._storage('nosuchdriver://x')
    assert len(calls) == 4  # a bad URL fails at once
