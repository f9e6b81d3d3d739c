from graphkit.tasks.progress import _PlainProgress, _plural


def test_plain_progress_lines(capsys):
    assert [_plural(u) for u in ('batch', 'epoch', 'it', 'pass')] == ['batches', 'epochs', 'its', 'passes']
    assert list(_PlainProgress(range(5), 'Epoch 001', 'batch', total=5, every=0.0)) == [0, 1, 2, 3, 4]
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith('Epoch 001: 1/5 batches, elapsed ') and 'ETA' in lines[0]
    assert len(lines) == 4  # after items 1-4; none before the first
