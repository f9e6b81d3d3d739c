r"""Dataset names -> loaders, root resolution, and :func:`load_link_dataset`."""

from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from torch import Tensor
from torch_geometric.data import Data

from graphkit.data.link_split import ncn_link_split
from graphkit.data.ogb import OGB_LINK_INFO, OGBLinkDataset, ogb_candidates
from graphkit.data.planetoid import PLANETOID_NAMES, PlanetoidRaw, planetoid_candidates
from graphkit.registry import Registry

__all__ = [
    'LinkDataset',
    'LINK_DATASETS',
    'default_root',
    'resolve_root',
    'load_link_dataset',
    'dataset_info',
]

#: Environment variable naming the data root when ``root`` is not given.
ENV_VAR = 'GRAPHKIT_DATA'

#: name -> loader ``(name, root, seed) -> LinkDataset``; any other ``ogbl-*`` name uses the OGB
#: loader.
LINK_DATASETS = Registry('dataset')


@dataclass
class LinkDataset:
    r"""A link-prediction dataset ready for :mod:`graphkit.tasks`.

    Attributes:
        name (str): Dataset name (lower case).
        data (Data): The graph as loaded (``data.x`` may be :obj:`None`); for Planetoid
            ``data.edge_index`` is the **full** graph: build the message-passing graph from
            ``split_edge['train']['edge']``.
        split_edge (dict): OGB-form split dict of (B, 2) LongTensors.
        metric (str): Headline metric, *e.g.* ``'hits@100'``, ``'hits@20'``, ``'mrr'``.
        eval_name (str): The OGB :class:`Evaluator` name to score with (Planetoid: ``'ogbl-ppa'``
            with ``K`` overwritten).
        root (str): The folder the data were read from.
    """

    name: str
    data: Data
    split_edge: Dict[str, Dict[str, Tensor]]
    metric: str
    eval_name: str
    root: str = ''
    extra: Dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"LinkDataset({self.name}, num_nodes={self.data.num_nodes}, metric='{self.metric}')"


def default_root() -> str:
    r"""The repository's ``datasets/`` folder (next to the ``graphkit`` package)."""
    import graphkit

    return str(Path(graphkit.__file__).resolve().parents[1] / 'datasets')


def resolve_root(root: Optional[str] = None) -> str:
    r"""``root`` if given, else ``$GRAPHKIT_DATA`` if set, else :func:`default_root`."""
    if root is not None:
        return os.fspath(root)
    env = os.environ.get(ENV_VAR)
    return env if env else default_root()


def _planetoid_loader(name: str) -> Callable[..., LinkDataset]:
    def load(root: str, seed: int = 0, **kwargs: Any) -> LinkDataset:
        ds = PlanetoidRaw(root, name, **kwargs)
        data = ds[0]
        split = ncn_link_split(data.edge_index, data.num_nodes, seed=seed)
        return LinkDataset(name, data, split, 'hits@100', 'ogbl-ppa', ds.dataset_dir)

    return load


def _ogb_loader(name: str) -> Callable[..., LinkDataset]:
    def load(root: str, seed: int = 0, **kwargs: Any) -> LinkDataset:
        ds = OGBLinkDataset(root, name, **kwargs)
        split = ds.get_edge_split()
        if name in OGB_LINK_INFO:
            metric, eval_name = OGB_LINK_INFO[name][0], name
        elif 'source_node' in split['valid']:  # an unknown ogbl-* dataset: infer from the split's form
            metric, eval_name = 'mrr', 'ogbl-citation2'
        else:
            metric, eval_name = 'hits@50', 'ogbl-collab'
        return LinkDataset(name, ds[0], split, metric, eval_name, ds.dataset_dir)

    return load


for _n in PLANETOID_NAMES:
    LINK_DATASETS.register(_n, _planetoid_loader(_n))
for _n in ('ogbl-ddi', 'ogbl-collab', 'ogbl-ppa', 'ogbl-citation2'):
    LINK_DATASETS.register(_n, _ogb_loader(_n))


def load_link_dataset(
    name: str, root: Optional[str] = None, seed: int = 0, **kwargs: Any
) -> LinkDataset:
    r"""Load a link-prediction dataset by name from local files.

    Planetoid names (``cora``, ``citeseer``, ``pubmed``) get the NCN 70/10/20 split of
    :func:`~graphkit.data.ncn_link_split` with :obj:`seed`; OGB names get the official split.

    Args:
        name (str): A name from :obj:`LINK_DATASETS`, or any other ``ogbl-*`` folder in OGB's layout
            (scored with MRR if its split has ``source_node`` / ``target_node``, else Hits@50; choose
            another metric with ``eval.metric``).
        root (str, optional): Data root; else ``$GRAPHKIT_DATA``, else the repository's
            ``datasets/``.
        seed (int, optional): Seed of the Planetoid split (ignored for OGB). (default: :obj:`0`)
        **kwargs: Forwarded to the dataset class (``force_reload``, ``transform``, ...).
    """
    key = name.lower()
    loader = (
        LINK_DATASETS.get(key)
        if key in LINK_DATASETS or not key.startswith('ogbl-')
        else _ogb_loader(key)
    )
    return loader(resolve_root(root), seed=seed, **kwargs)


def _candidates(name: str, root: str) -> List[str]:
    if name in PLANETOID_NAMES:
        return planetoid_candidates(root, name)
    return ogb_candidates(root, name)


def _found(name: str, root: str) -> Optional[str]:
    if name in PLANETOID_NAMES:
        files = [
            f'ind.{name}.{k}' for k in ('x', 'tx', 'allx', 'y', 'ty', 'ally', 'graph', 'test.index')
        ]
        for d in planetoid_candidates(root, name):
            if all(osp.isfile(osp.join(d, f)) for f in files):
                return d
        return None
    for d in ogb_candidates(root, name):
        if osp.isfile(osp.join(d, 'raw', 'edge.csv.gz')) and osp.isdir(osp.join(d, 'split')):
            return d
    return None


def dataset_info(root: Optional[str] = None) -> List[Dict[str, Any]]:
    r"""One dict per registered link dataset: ``name``, ``metric``, ``root``, ``looks_in`` (folders
    searched, in order), ``found`` (bool) and ``path`` (where it was found, or :obj:`None`). Reads
    nothing but directory listings; for ``graphkit datasets``."""
    r = resolve_root(root)
    out = []
    for name in LINK_DATASETS.names():
        path = _found(name, r)
        metric = 'hits@100' if name in PLANETOID_NAMES else OGB_LINK_INFO[name][0]
        out.append(
            {
                'name': name,
                'metric': metric,
                'root': r,
                'looks_in': _candidates(name, r),
                'found': path is not None,
                'path': path,
            }
        )
    return out
