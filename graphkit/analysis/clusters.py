r"""Cluster analysis of a node clustering: a 2-D projection of the embeddings coloured by cluster and by class,
the confusion matrix after the Hungarian matching, and a report of the scores and cluster sizes.

The projection is scikit-learn's :class:`~sklearn.decomposition.PCA` (default, deterministic) or
:class:`~sklearn.manifold.TSNE` (seeded; slower, about :math:`O(N \log N)` per iteration). Figures are PNG files
written atomically with the non-interactive Agg backend; ``graphkit analyze clusters RUN_DIR`` drives this module
on a finished ``graphkit train pamc`` run (:func:`graphkit.tasks.cluster.analyze_cluster_run`).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

import numpy as np
import torch
from torch import Tensor

from graphkit.analysis.plots import _pyplot, _save
from graphkit.io import atomic_write_text
from graphkit.metrics.clustering import clustering_metrics, match_clusters, matched_confusion

__all__ = ['project_2d', 'plot_embedding', 'plot_confusion', 'analyze_clusters', 'PROJECTIONS']

#: The projections :func:`project_2d` knows.
PROJECTIONS = ('pca', 'tsne')


def project_2d(z: Tensor, method: str = 'pca', seed: int = 0) -> np.ndarray:
    r"""The rows of :obj:`z` (:math:`[N, d]`) in two dimensions: PCA, or t-SNE (PCA-initialised, learning rate
    ``'auto'``, perplexity :math:`\min(30, (N - 1) / 3)`, ``random_state`` :obj:`seed`)."""
    if method not in PROJECTIONS:
        raise ValueError(f"'method' must be one of {PROJECTIONS} (got {method!r})")
    x = torch.as_tensor(z).detach().double().cpu().numpy()
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"'z' must be a matrix of at least 2 rows (got shape {x.shape})")
    if x.shape[1] == 1:
        return np.concatenate([x, np.zeros_like(x)], axis=1)
    if method == 'pca':
        from sklearn.decomposition import PCA

        return PCA(n_components=2).fit_transform(x)
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, (x.shape[0] - 1) / 3))
    tsne = TSNE(n_components=2, init='pca', learning_rate='auto', perplexity=perplexity, random_state=seed)
    return tsne.fit_transform(x)


def _scatter(ax: Any, xy: np.ndarray, labels: np.ndarray, colours: Dict[int, int], names: Dict[int, str], title: str):
    plt = _pyplot()
    cmap = plt.get_cmap('tab20' if max(colours.values(), default=0) >= 10 else 'tab10')
    for v in np.unique(labels):
        mask = labels == v
        colour = cmap(colours[int(v)] % cmap.N)
        ax.scatter(xy[mask, 0], xy[mask, 1], s=4, color=colour, label=names[int(v)], linewidths=0)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    if len(colours) <= 20:
        ax.legend(fontsize=6, markerscale=2.5, loc='best', frameon=False)


def plot_embedding(
    xy: np.ndarray,
    clusters: Tensor,
    path: str,
    classes: Optional[Tensor] = None,
    method: str = 'pca',
    title: Optional[str] = None,
) -> str:
    r"""The projected points :obj:`xy` (:math:`[N, 2]`) coloured by cluster, and beside them by class when
    :obj:`classes` is given (nodes with a class :math:`< 0` in grey). With classes, a cluster takes the colour of
    the class it is matched to (:func:`~graphkit.metrics.clustering.match_clusters`), so the panels compare at a
    glance; unmatched clusters get colours of their own."""
    plt = _pyplot()
    panels = 1 if classes is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.6), squeeze=False)
    pred = torch.as_tensor(clusters).cpu().numpy()
    cluster_ids = [int(v) for v in np.unique(pred)]
    colours = {c: k for k, c in enumerate(cluster_ids)}
    names = {c: f'cluster {c}' for c in cluster_ids}
    if classes is not None:
        y = torch.as_tensor(classes).cpu().numpy()
        known = y >= 0
        class_ids = [int(v) for v in np.unique(y[known])]
        class_colour = {c: k for k, c in enumerate(class_ids)}
        matched = match_clusters(pred[known], y[known]) if known.any() else {}
        spare = iter(range(len(class_ids), len(class_ids) + len(cluster_ids)))
        colours = {c: class_colour[matched[c]] if c in matched else next(spare) for c in cluster_ids}
        names = {c: f'cluster {c} -> class {matched[c]}' if c in matched else f'cluster {c}' for c in cluster_ids}
        if not known.all():
            axes[0][1].scatter(xy[~known, 0], xy[~known, 1], s=3, color='0.8', linewidths=0)
        class_names = {c: f'class {c}' for c in class_ids}
        _scatter(axes[0][1], xy[known], y[known], class_colour, class_names, f'classes, {method.upper()}')
    _scatter(axes[0][0], xy, pred, colours, names, f'clusters ({len(cluster_ids)} non-empty), {method.upper()}')
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def plot_confusion(clusters: Tensor, classes: Tensor, path: str, title: Optional[str] = None) -> str:
    r"""The confusion matrix of :func:`~graphkit.metrics.clustering.matched_confusion` (rows: classes; columns:
    clusters, each under the class it is matched to) with counts in the cells."""
    plt = _pyplot()
    conf, class_ids, cluster_ids = matched_confusion(clusters, classes)
    c = conf.numpy()
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * c.shape[1], 1.0 + 0.5 * c.shape[0]))
    ax.imshow(c, cmap='Blues')
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            colour = 'white' if c[i, j] > c.max() / 2 else 'black'
            ax.text(j, i, str(c[i, j]), ha='center', va='center', fontsize=7, color=colour)
    ax.set_xticks(range(c.shape[1]), [str(int(v)) for v in cluster_ids], fontsize=7)
    ax.set_yticks(range(c.shape[0]), [str(int(v)) for v in class_ids], fontsize=7)
    ax.set_xlabel('cluster (matched order)')
    ax.set_ylabel('class')
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def analyze_clusters(
    z: Tensor,
    clusters: Tensor,
    out: str,
    classes: Optional[Tensor] = None,
    method: str = 'pca',
    seed: int = 0,
    title: Optional[str] = None,
    info: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    r"""Write ``embedding_<method>.png`` (the projection by cluster and by class), ``confusion.png`` (the matched
    confusion matrix, with classes) and ``report.json`` into :obj:`out`; return the report.

    Args:
        z (torch.Tensor): Embeddings :math:`[N, d]`.
        clusters (torch.Tensor): The cluster of every node :math:`[N]`.
        out (str): Output directory.
        classes (torch.Tensor, optional): Classes :math:`[N]` (:math:`< 0`: unlabelled); without them only the
            cluster panel and the sizes are written. (default: :obj:`None`)
        method (str): ``'pca'`` or ``'tsne'``. (default: :obj:`'pca'`)
        seed (int): t-SNE's seed. (default: :obj:`0`)
        title (str, optional): Figure title. (default: :obj:`None`)
        info (dict, optional): Plain values copied into the report (the run, the dataset). (default: :obj:`None`)
    """
    z, pred = torch.as_tensor(z), torch.as_tensor(clusters).long().cpu()
    if pred.dim() != 1 or pred.numel() != z.size(0):
        raise ValueError(f"'clusters' must hold one cluster per row of 'z' ({z.size(0)}; got {tuple(pred.shape)})")
    if classes is not None:
        classes = torch.as_tensor(classes).long().cpu().view(-1)
        if classes.numel() != pred.numel():
            raise ValueError(f"'classes' must hold one class per node ({pred.numel()}; got {classes.numel()})")
    os.makedirs(out, exist_ok=True)
    xy = project_2d(z, method, seed)
    path = os.path.join(out, f'embedding_{method}.png')
    files = {'embedding': plot_embedding(xy, pred, path, classes, method, title)}
    ids, sizes = torch.unique(pred, return_counts=True)
    report: Dict[str, Any] = {
        **(info or {}),
        'num_nodes': int(pred.numel()),
        'method': method,
        'cluster_sizes': {str(int(k)): int(v) for k, v in zip(ids, sizes)},
    }
    if classes is not None:
        known = classes >= 0
        if bool(known.any()):
            report['metrics'] = clustering_metrics(pred[known], classes[known])
            files['confusion'] = plot_confusion(pred[known], classes[known], os.path.join(out, 'confusion.png'), title)
    report['files'] = {k: os.path.basename(v) for k, v in files.items()}
    atomic_write_text(os.path.join(out, 'report.json'), json.dumps(report, indent=2) + '\n')
    return report
