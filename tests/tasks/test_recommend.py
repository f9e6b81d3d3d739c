import json

import pytest
import torch

from graphkit.cli import main
from graphkit.tasks import TASKS


def sets(*pairs):
    """``--set`` arguments: ``sets('a.b=1', 'c.d=2')`` -> ``['--set', 'a.b=1', '--set', 'c.d=2']``."""
    return [arg for pair in pairs for arg in ('--set', pair)]


TINY_MODEL = sets('model.embedding_dim=8', 'model.negative_num=5', 'model.ii_neighbor_num=3')
TINY_ULTRA = [*TINY_MODEL, *sets('train.batch_size=64', 'train.eval_every=1'), '--quiet']


def write_tiny_rec(root):
    """30 users, 40 items, LightGCN format, in ``root/tiny-rec``; returns ``root``."""
    gen = torch.Generator().manual_seed(0)
    folder = root / 'tiny-rec'
    folder.mkdir(parents=True)
    train, test = [], []
    for u in range(30):
        items = torch.randperm(40, generator=gen)[:8].tolist()
        train.append(f'{u} ' + ' '.join(map(str, items[:6])))
        test.append(f'{u} ' + ' '.join(map(str, items[6:] if u % 5 else [])))
    (folder / 'train.txt').write_text('\n'.join(train) + '\n')
    (folder / 'test.txt').write_text('\n'.join(test) + '\n')
    return root


@pytest.fixture
def root(tmp_path):
    return write_tiny_rec(tmp_path / 'data')


def _summary(out):
    return json.loads((out / 'summary.json').read_text())


def _train(model, root, out, *extra):
    """``graphkit train MODEL --dataset tiny-rec --root ROOT --out OUT EXTRA...``; returns the exit code."""
    return main(['train', model, '--dataset', 'tiny-rec', '--root', str(root), '--out', str(out), *extra])


def test_recommend_task_is_registered():
    assert 'recommend' in TASKS


def test_train_ultragcn_one_epoch(root, tmp_path, capsys):
    out = tmp_path / 'run'
    assert _train('ultragcn', root, out, '--epochs', '1', *TINY_ULTRA) == 0
    assert 'recall@20' in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        '.lock',  # the run directory's lock (held while a process trains into it)
        'best_run0.pt',
        'checkpoint.pt',
        'config.yaml',
        'metrics.jsonl',
        'summary.json',
        'train.log',
    ]
    s = _summary(out)
    assert s['task'] == 'recommend' and s['metric'] == 'recall@20' and s['protocol']['select_on'] == 'valid'
    assert s['data']['valid'] > 0 and s['num_parameters'] == 70 * 8
    for split in ('valid', 'test'):
        assert 0.0 <= s[split]['recall@20']['mean'] <= 1.0
    torch.load(out / 'checkpoint.pt', weights_only=True)
    torch.load(out / 'best_run0.pt', weights_only=True)


def test_select_on_test_says_so_and_resume_matches(root, tmp_path):
    args = [
        'train',
        'ultragcn',
        '--dataset',
        'tiny-rec',
        '--root',
        str(root),
        *TINY_ULTRA,
        *sets('train.select_on=test'),
    ]
    assert main([*args, '--out', str(tmp_path / 'a'), '--epochs', '3']) == 0
    s = _summary(tmp_path / 'a')
    assert 'TEST' in s['protocol']['selection'] and s['data']['valid'] == 0
    assert 'valid' not in s and s['splits'] == ['test']  # no validation split: none is invented
    # stop after 2 epochs, resume to 3: same numbers as the uninterrupted run
    assert main([*args, '--out', str(tmp_path / 'b'), '--epochs', '2']) == 0
    (tmp_path / 'b' / 'summary.json').unlink()
    ckpt = torch.load(tmp_path / 'b' / 'checkpoint.pt', weights_only=True)
    ckpt['results'] = []
    torch.save(ckpt, tmp_path / 'b' / 'checkpoint.pt')
    assert main([*args, '--out', str(tmp_path / 'b'), '--epochs', '3', '--resume']) == 0
    a, b = s['runs'][0], _summary(tmp_path / 'b')['runs'][0]
    assert (a['best_epoch'], a['test']) == (b['best_epoch'], b['test'])


def test_train_lightgcn(root, tmp_path):
    out = tmp_path / 'lg'
    lightgcn = sets('model.embedding_dim=8', 'train.batch_size=64', 'train.eval_every=1')
    assert _train('lightgcn', root, out, '--epochs', '2', *lightgcn, '--quiet') == 0
    s = _summary(out)
    assert s['model'] == 'lightgcn' and len(s['runs']) == 1 and s['runs'][0]['best_epoch'] >= 1


def test_link_only_key_fails_before_anything_is_written(root, tmp_path, capsys):
    out = tmp_path / 'x'
    assert _train('ultragcn', root, out, *sets('train.target_link_removal=true'), '--quiet') == 2
    err = capsys.readouterr().err
    assert "Unknown config key 'train.target_link_removal'" in err and 'recommend task' in err
    assert not out.exists()


def test_bad_config(root, tmp_path):
    assert _train('ultragcn', root, tmp_path / 'x', *sets('train.select_on=best'), '--quiet') == 2
    assert _train('ultragcn', root, tmp_path / 'y', *sets('data.val_ratio=0'), '--quiet') == 2
    assert not (tmp_path / 'x').exists()


def test_time_budget_stops_the_run(root, tmp_path):
    out = tmp_path / 'budget'
    assert _train('ultragcn', root, out, '--epochs', '50', *TINY_ULTRA, *sets('train.time_budget_s=0')) == 0
    run = _summary(out)['runs'][0]
    assert run['stopped_early'] and run['last_epoch'] == 1 and run['best_epoch'] == 1
