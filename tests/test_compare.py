"""graphkit compare: the table (Markdown and CSV) and learning curves of real run directories made by graphkit
train, curves against a hand computation, and errors naming the directory."""

import csv
import json

import pytest

from graphkit.cli import main
from graphkit.compare import collect, compare, learning_curves, read_run, to_markdown
from graphkit.testing import random_link_dataset

TINY = ['--set', 'model.hidden_channels=8', '--set', 'train.batch_size=32']


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('compare')
    root = tmp / 'data'
    random_link_dataset(root, 'ogbl-tiny')
    out = {}
    for name, extra in (
        ('gae-a', ['--runs', '2']),
        ('gae-b', ['--set', 'train.lr=0.05', '--set', 'train.eval_every=2']),
    ):
        out[name] = tmp / name
        argv = ['train', 'gae', '--dataset', 'ogbl-tiny', '--root', str(root), '--out', str(out[name]), '--quiet',
                '--epochs', '4', *TINY, *extra]  # fmt: skip
        assert main(argv) == 0
    return tmp, out


def test_compare_writes_table_csv_and_png(runs, capsys):
    tmp, dirs = runs
    capsys.readouterr()
    assert main(['compare', str(dirs['gae-a']), str(dirs['gae-b']), '--out', str(tmp / 'cmp')]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0] == '| run | model | dataset | metric | valid | test | runs | parameters | s/epoch | differs |'
    assert lines[2].startswith('| gae-a | gae | ogbl-tiny | hits@50 (%) |') and ' ± ' in lines[2]  # 2 runs: a std
    assert 'train.lr=0.01; train.eval_every=1' in lines[2] and 'train.lr=0.05; train.eval_every=2' in lines[3]
    with open(tmp / 'cmp' / 'compare.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['run'] for r in rows] == ['gae-a', 'gae-b'] and rows[0]['runs'] == '2' and rows[1]['runs'] == '1'
    png = tmp / 'cmp' / 'curves-hits_50.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_learning_curves_match_the_metrics_file(runs):
    _, dirs = runs
    info = read_run(dirs['gae-a'])
    curve = learning_curves(info, 'valid')
    records = [json.loads(line) for line in (dirs['gae-a'] / 'metrics.jsonl').read_text().splitlines()]
    assert curve['epoch'] == [1, 2, 3, 4] and curve['n'] == [2, 2, 2, 2]
    for k, epoch in enumerate(curve['epoch']):
        v = [r['valid']['hits@50'] for r in records if r['epoch'] == epoch]
        mean = sum(v) / 2
        assert curve['mean'][k] == pytest.approx(mean)
        assert curve['std'][k] == pytest.approx(((v[0] - mean) ** 2 + (v[1] - mean) ** 2) ** 0.5)  # n - 1 = 1
    assert learning_curves(read_run(dirs['gae-b']), 'valid')['epoch'] == [2, 4]


def test_equal_names_are_labelled_by_path(runs, tmp_path):
    _, dirs = runs
    infos = collect([dirs['gae-a'], dirs['gae-a']])
    assert [i.label for i in infos] == [str(dirs['gae-a'])] * 2
    table = to_markdown([{'run': 'a|b', 'parameters': 1234, 'differs': ''}])
    assert 'a\\|b' in table and '1,234' in table and 'differs' not in table


def test_bad_directories_are_named(tmp_path, capsys):
    assert main(['compare', str(tmp_path / 'nope')]) == 2
    assert 'is not a directory' in capsys.readouterr().err
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='neither a finished run directory'):
        compare([tmp_path / 'empty'], tmp_path / 'out')
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'summary.json').write_text('[1]')
    with pytest.raises(ValueError, match='is not a graphkit run summary'):
        read_run(tmp_path / 'bad')


def test_a_study_folder_adds_its_plots(tmp_path, capsys):
    pytest.importorskip('optuna')
    root = tmp_path / 'data'
    random_link_dataset(root, 'ogbl-tiny')
    space = tmp_path / 'space.yaml'
    space.write_text('train.lr: {log_float: [1.0e-3, 5.0e-2]}\n')
    study = tmp_path / 'study'
    argv = ['tune', 'gae', '--dataset', 'ogbl-tiny', '--root', str(root), '--space', str(space), '--out', str(study),
            '--trials', '2', '--set', 'train.epochs=2', '--set', 'model.hidden_channels=8']  # fmt: skip
    assert main(argv) == 0
    result = compare([study], tmp_path / 'cmp')
    names = sorted(p.split('/')[-1] for p in result['files'])
    assert names == ['compare.csv', 'curves-hits_50.png', 'gae-ogbl-tiny-history.png', 'gae-ogbl-tiny-importance.png']
    assert result['rows'][0]['run'].startswith('study (best: trial-000')
