import json

import pytest
import torch

from graphkit.analysis import analyze_clusters, project_2d
from graphkit.cli import main
from graphkit.metrics import clustering_metrics
from graphkit.testing import random_node_dataset


def _blobs(n=45, seed=0):
    gen = torch.Generator().manual_seed(seed)
    classes = torch.arange(3).repeat_interleave(n // 3)
    z = torch.randn(n, 4, generator=gen) + 5 * torch.eye(4)[classes]
    clusters = (classes + 1) % 3
    clusters[:4] = 2  # a few mistakes
    return z, clusters, classes


@pytest.mark.parametrize('method', ['pca', 'tsne'])
def test_analyze_clusters_writes_plots_and_report(tmp_path, method):
    z, clusters, classes = _blobs()
    classes[-2:] = -1  # unlabelled nodes are drawn in grey and not scored
    report = analyze_clusters(z, clusters, str(tmp_path), classes, method=method, info={'run': 3})
    assert report['run'] == 3 and report['method'] == method and report['num_nodes'] == 45
    assert report['metrics'] == pytest.approx(clustering_metrics(clusters[:-2], classes[:-2]))
    assert report['files'] == {'embedding': f'embedding_{method}.png', 'confusion': 'confusion.png'}
    for name in report['files'].values():
        assert (tmp_path / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert json.loads((tmp_path / 'report.json').read_text()) == report
    assert sum(report['cluster_sizes'].values()) == 45


def test_analyze_clusters_without_labels(tmp_path):
    z, clusters, _ = _blobs()
    report = analyze_clusters(z, clusters, str(tmp_path))
    assert 'metrics' not in report and report['files'] == {'embedding': 'embedding_pca.png'}
    assert not (tmp_path / 'confusion.png').exists()


def test_projection_and_errors():
    z, clusters, _ = _blobs()
    assert project_2d(z).shape == (45, 2) and project_2d(z[:, :1]).shape == (45, 2)
    with pytest.raises(ValueError, match="'method' must be one of"):
        project_2d(z, 'umap')
    with pytest.raises(ValueError, match="'clusters' must hold one cluster per row"):
        analyze_clusters(z, clusters[:5], 'unused')


def test_graphkit_analyze_clusters_on_a_run(tmp_path, capsys):
    random_node_dataset(tmp_path / 'data')
    run = tmp_path / 'run'
    tiny = ['--set', 'model.hidden_channels=[8]', '--set', 'model.out_channels=4', '--set', 'train.pretrain_epochs=1']
    argv = ['train', 'pamc', '--dataset', 'ogbn-tiny', '--root', str(tmp_path / 'data'), '--out', str(run)]
    assert main([*argv, *tiny, '--set', 'train.kmeans_n_init=1', '--epochs', '3', '--quiet']) == 0
    capsys.readouterr()
    assert main(['analyze', 'clusters', str(run), '--root', str(tmp_path / 'data')]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((run / 'summary.json').read_text())
    report = json.loads((run / 'clusters' / 'report.json').read_text())
    assert report['metrics'] == pytest.approx(summary['runs'][0]['test'])
    assert f'acc {summary["runs"][0]["test"]["acc"]:.4f}' in printed
    assert (run / 'clusters' / 'embedding_pca.png').exists() and (run / 'clusters' / 'confusion.png').exists()
    assert main(['analyze', 'clusters', str(run), '--run', '4']) == 2
    assert "'run' must be one of [0]" in capsys.readouterr().err
