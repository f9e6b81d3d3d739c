"""graphkit train --log tensorboard: the scalars written under the run directory, read back with TensorBoard's
event reader; purge_step on resume; a clear error when the extra is absent."""

import json

import pytest

from graphkit.cli import main
from graphkit.testing import random_link_dataset


def _argv(root, out, *extra):
    return ['train', 'gae', '--dataset', 'ogbl-tiny', '--root', str(root), '--out', str(out), '--quiet',
            '--set', 'model.hidden_channels=8', '--set', 'train.batch_size=32', *extra]  # fmt: skip


def test_scalars_are_written(tmp_path):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root = tmp_path / 'data'
    random_link_dataset(root, 'ogbl-tiny')
    out = tmp_path / 'run'
    assert main(_argv(root, out, '--epochs', '3', '--set', 'train.eval_every=2', '--log', 'tensorboard')) == 0
    acc = EventAccumulator(str(out / 'tensorboard' / 'run0'))
    acc.Reload()
    tags = set(acc.Tags()['scalars'])
    assert {'train/loss', 'train/lr', 'time/epoch_s', 'valid/hits@50', 'test/hits@20'} <= tags
    assert [e.step for e in acc.Scalars('train/loss')] == [1, 2, 3]
    assert [e.step for e in acc.Scalars('valid/hits@50')] == [2, 3]  # every 2nd epoch and the last
    assert acc.Scalars('train/lr')[0].value == pytest.approx(0.01)
    record = [json.loads(line) for line in (out / 'metrics.jsonl').read_text().splitlines()][0]
    assert acc.Scalars('valid/hits@20')[0].value == pytest.approx(record['valid']['hits@20'])

    # suspended after epoch 1 (--stop-after), then resumed: the events continue without repeating a step
    out = tmp_path / 'suspended'
    assert main(_argv(root, out, '--epochs', '4', '--log', 'tensorboard', '--stop-after', '1e-9')) == 75
    assert main(_argv(root, out, '--epochs', '4', '--log', 'tensorboard', '--resume')) == 0
    acc = EventAccumulator(str(out / 'tensorboard' / 'run0'))
    acc.Reload()
    assert [e.step for e in acc.Scalars('train/loss')] == [1, 2, 3, 4]


def test_off_by_default_and_missing_extra(tmp_path, monkeypatch, capsys):
    root = tmp_path / 'data'
    random_link_dataset(root, 'ogbl-tiny')
    assert main(_argv(root, tmp_path / 'run', '--epochs', '1')) == 0
    assert not (tmp_path / 'run' / 'tensorboard').exists()
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.startswith('torch.utils.tensorboard'):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', fake)
    assert main(_argv(root, tmp_path / 'other', '--epochs', '1', '--log', 'tensorboard')) == 2
    assert "needs TensorBoard, an optional extra: pip install -e '.[tensorboard]'" in capsys.readouterr().err
    assert not (tmp_path / 'other').exists()
