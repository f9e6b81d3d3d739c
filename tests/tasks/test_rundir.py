"""The run directory's guards: a usable --out before anything is built, nothing to resume is an error, one
process per directory (a lock that dies with its process), and a failed write that keeps the previous file."""

import errno
import json
import os
import subprocess
import sys
import time

import pytest
import torch

from graphkit.cli import main
from graphkit.io import safe_torch_load
from graphkit.tasks.rundir import RunDir
from graphkit.testing import random_node_dataset


@pytest.fixture
def root(tmp_path):
    random_node_dataset(tmp_path / 'data')
    return tmp_path / 'data'


def _argv(root, out, *extra):
    return ['train', 'gcn', '--dataset', 'ogbn-tiny', '--root', str(root), '--out', str(out), '--quiet',
            '--set', 'model.hidden_channels=8', *extra]  # fmt: skip


def test_out_naming_a_file_is_refused(root, tmp_path, capsys):
    target = tmp_path / 'afile'
    target.write_text('mine')
    assert main(_argv(root, target, '--epochs', '1')) == 2
    assert f"--out '{target}' is a file, not a directory" in capsys.readouterr().err
    assert target.read_text() == 'mine'
    assert main(_argv(root, target / 'run', '--epochs', '1')) == 2
    assert 'is a file, so the run directory cannot be created' in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason='root may write anywhere')
def test_out_in_an_unwritable_folder_is_refused(root, tmp_path, capsys):
    locked = tmp_path / 'locked'
    locked.mkdir(mode=0o500)
    assert main(_argv(root, locked / 'run', '--epochs', '1')) == 2
    assert 'is not writable' in capsys.readouterr().err


def test_resume_without_a_run_is_an_error(root, tmp_path, capsys):
    missing = tmp_path / 'missing'
    assert main(_argv(root, missing, '--resume', '--epochs', '1')) == 2
    assert f"--resume: '{missing}' does not exist; drop --resume" in capsys.readouterr().err
    assert not missing.exists()
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'notes.txt').write_text('unrelated')
    assert main(_argv(root, other, '--resume', '--epochs', '1')) == 2
    assert 'holds no graphkit run (no config.yaml)' in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ['notes.txt']


def test_a_second_process_on_the_same_directory_is_refused(root, tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(_argv(root, out, '--epochs', '1')) == 0
    holder = subprocess.Popen(  # another process holding the run directory's lock
        [sys.executable, '-c', 'import sys, time; from graphkit.tasks.rundir import RunDir; '
         f"RunDir({str(out)!r}).lock(); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == 'locked'
        capsys.readouterr()
        assert main(_argv(root, out, '--resume', '--epochs', '2')) == 2
        err = capsys.readouterr().err
        assert 'is in use by another graphkit process' in err and f'pid {holder.pid}' in err
        assert json.loads((out / 'summary.json').read_text())['runs'][0]['last_epoch'] == 1  # untouched
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.05)
    assert main(_argv(root, out, '--resume', '--epochs', '2')) == 2  # a finished run: refused, but not locked
    assert 'in use' not in capsys.readouterr().err


def test_the_lock_is_released_when_the_run_ends(tmp_path):
    d = RunDir(tmp_path / 'run')
    (tmp_path / 'run').mkdir()
    d.lock()
    with pytest.raises(ValueError, match='in use by another graphkit process'):
        RunDir(tmp_path / 'run').lock()
    d.unlock()
    RunDir(tmp_path / 'run').lock()


def test_a_failed_checkpoint_write_keeps_the_previous_one(root, tmp_path, capsys, monkeypatch):
    out = tmp_path / 'run'
    real_save, calls = torch.save, []

    def failing_save(obj, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 3:  # the third write: disk full midway
            with open(path, 'wb') as f:
                f.write(b'half')
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, 'save', failing_save)
    assert main(_argv(root, out, '--epochs', '5')) == 2
    err = capsys.readouterr().err
    assert 'No space left on device' in err and 'the previous version of the file is intact' in err
    ckpt = safe_torch_load(out / 'checkpoint.pt')  # still the last good checkpoint, loadable
    assert ckpt['epoch'] >= 1
    assert not [p for p in os.listdir(out) if p.endswith('.tmp')]  # no half-written file left
    monkeypatch.setattr(torch, 'save', real_save)
    assert main(_argv(root, out, '--epochs', '5', '--resume')) == 0
    assert json.loads((out / 'summary.json').read_text())['runs'][0]['last_epoch'] == 5


def _finished(root, tmp_path, name='run'):
    out = tmp_path / name
    assert main(_argv(root, out, '--epochs', '2', '--set', 'train.eval_every=1')) == 0
    return out


def test_a_checkpoint_with_the_wrong_content_is_refused(root, tmp_path, capsys):
    out = _finished(root, tmp_path)
    ckpt = safe_torch_load(out / 'checkpoint.pt')
    torch.save({'foo': 1}, out / 'checkpoint.pt')  # a valid torch file, not a checkpoint
    assert main(_argv(root, out, '--epochs', '2', '--resume')) == 2
    assert "checkpoint.pt' is not a graphkit checkpoint (missing run, epoch" in capsys.readouterr().err
    torch.save({**ckpt, 'results': [], 'optimizer': {'state': {}}}, out / 'checkpoint.pt')  # unfinished, bad optimiser
    assert main(_argv(root, out, '--epochs', '2', '--resume')) == 2
    err = capsys.readouterr().err
    assert "checkpoint.pt' does not fit the model and optimiser" in err and 'param_groups' in err


def test_a_best_model_of_the_wrong_shape_is_refused(root, tmp_path, capsys):
    out = _finished(root, tmp_path)
    state = safe_torch_load(out / 'best_run0.pt')
    torch.save({k: v[:1] for k, v in state.items()}, out / 'best_run0.pt')
    assert main(['evaluate', str(out), '--root', str(root)]) == 2
    err = capsys.readouterr().err
    assert "best_run0.pt' does not fit the model GCN" in err and 'size mismatch' in err
    torch.save([1, 2], out / 'best_run0.pt')
    assert main(['evaluate', str(out), '--root', str(root)]) == 2
    assert "best_run0.pt' is not a model state dict" in capsys.readouterr().err
