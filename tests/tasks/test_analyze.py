import json

from graphkit.cli import main
from graphkit.testing import random_link_dataset


def test_analyze_tc_cli(tmp_path, capsys):
    root = tmp_path / 'data'
    random_link_dataset(root, 'ogbl-tiny')
    run = tmp_path / 'run'
    assert (
        main(
            [
                'train',
                'gae',
                '--dataset',
                'ogbl-tiny',
                '--root',
                str(root),
                '--out',
                str(run),
                '--epochs',
                '1',
                '--set',
                'model.hidden_channels=8',
                '--quiet',
            ]
        )
        == 0
    )
    capsys.readouterr()

    assert main(['analyze', 'tc', '--dataset', 'ogbl-tiny', '--root', str(root), '--run', str(run)]) == 0
    printed = capsys.readouterr().out
    assert 'tc_test' in printed and 'degree_train' in printed
    report = json.loads((run / 'tc' / 'report.json').read_text())
    assert report['model'] == 'gae' and report['run'] == 0
    assert set(report['claim']) >= {'pearson_tc_test', 'pearson_degree_train', 'holds'}
    assert (run / 'tc' / 'binned.png').stat().st_size > 0

    # Without a run: node statistics and the distribution shift only.
    out = tmp_path / 'stats'
    assert main(['analyze', 'tc', '--dataset', 'ogbl-tiny', '--root', str(root), '--out', str(out)]) == 0
    assert 'no per-node performance' in capsys.readouterr().out
    assert 'correlations' not in json.loads((out / 'report.json').read_text())


def test_analyze_tc_dataset_mismatch(tmp_path, capsys):
    root = tmp_path / 'data'
    random_link_dataset(root, 'ogbl-tiny')
    random_link_dataset(root, 'ogbl-other', seed=1)
    run = tmp_path / 'run'
    assert main(['train', 'cn', '--dataset', 'ogbl-tiny', '--root', str(root), '--out', str(run), '--quiet']) == 0
    assert main(['analyze', 'tc', '--dataset', 'ogbl-other', '--root', str(root), '--run', str(run)]) == 2
    assert "trained on 'ogbl-tiny'" in capsys.readouterr().err


def test_analyze_tc_of_a_run_of_another_task(tmp_path, capsys):
    from graphkit.testing import random_node_dataset

    root = tmp_path / 'data'
    random_node_dataset(root)
    run = tmp_path / 'run'
    argv = ['train', 'gcn', '--dataset', 'ogbn-tiny', '--root', str(root), '--out', str(run), '--quiet']
    assert main(argv + ['--epochs', '1', '--set', 'model.hidden_channels=4']) == 0
    assert main(['analyze', 'tc', '--dataset', 'ogbn-tiny', '--root', str(root), '--run', str(run)]) == 2
    assert 'is a run of the node task; graphkit analyze tc needs a link-prediction run' in capsys.readouterr().err
    (run / 'summary.json').write_text('[1, 2]')
    assert main(['analyze', 'tc', '--dataset', 'ogbn-tiny', '--root', str(root), '--run', str(run)]) == 2
    assert 'is not a graphkit run summary' in capsys.readouterr().err
