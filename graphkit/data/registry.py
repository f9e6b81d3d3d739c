r"""One registry of datasets for every kind of task, root resolution, and the per-kind loaders.

A dataset declares the *kinds* it can serve, and the model's kind picks the view of it:

========================  ==========================================================================
kind                      what a loader returns
========================  ==========================================================================
``link``                  :class:`LinkDataset`: a graph and an OGB-form edge split (``cora``: the NCN
                          70/10/20 split of the seed; ``ogbl-*``: the official split)
``recommend``             :class:`~graphkit.data.recsys.RecSysDataset`: LightGCN-format user-item data
``node``                  :class:`NodeDataset`: a :class:`~torch_geometric.data.Data` with labels and a node
                          split (``cora``: the Planetoid public split, 140 / 500 / 1,000 nodes)
``hetero-node``           :class:`NodeDataset` on a :class:`~torch_geometric.data.HeteroData` with a target
                          node type (``ogbn-mag``)
``graph``                 many graphs with graph labels (TU format, with GSM++)
========================  ==========================================================================

So ``cora`` serves ``link`` and ``node``; clustering models read the ``node`` view. A name outside the registry
still resolves when it follows a known layout: any ``ogbl-*`` folder (``link``), any ``ogbn-*`` folder
(``node`` or ``hetero-node``, by its files), and any folder with ``train.txt`` / ``test.txt`` (``recommend``).
"""

from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData
from torch_geometric.transforms import ToUndirected

from graphkit.data.base import random_features
from graphkit.data.hgb import HGB_NAMES, load_hgb_dataset, locate_hgb
from graphkit.data.io import clear_caches
from graphkit.data.link_split import ncn_link_split
from graphkit.data.ogb import OGB_LINK_INFO, OGBLinkDataset, OGBNodeDataset, ogb_candidates
from graphkit.data.planetoid import PLANETOID_NAMES, PlanetoidRaw, planetoid_candidates, planetoid_files
from graphkit.data.recsys import RecSysDataset, load_recsys_dataset, recsys_candidates
from graphkit.registry import Registry

__all__ = [
    'KINDS',
    'clear_dataset_cache',
    'DatasetEntry',
    'DatasetRegistry',
    'DATASETS',
    'LinkDataset',
    'NodeDataset',
    'default_root',
    'resolve_root',
    'choose_kind',
    'load_dataset',
    'load_link_dataset',
    'load_node_dataset',
    'dataset_info',
]

#: Environment variable naming the data root when ``root`` is not given.
ENV_VAR = 'GRAPHKIT_DATA'

#: The kinds of data a dataset can serve, in the order ``graphkit datasets`` lists them.
KINDS = ('link', 'recommend', 'node', 'hetero-node', 'graph')


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
        seeded_split (bool): Whether the split depends on the seed (Planetoid) or is fixed (OGB).
    """

    name: str
    data: Data
    split_edge: Dict[str, Dict[str, Tensor]]
    metric: str
    eval_name: str
    root: str = ''
    extra: Dict[str, Any] = field(default_factory=dict)
    seeded_split: bool = False

    def __repr__(self) -> str:
        return f"LinkDataset({self.name}, num_nodes={self.data.num_nodes}, metric='{self.metric}')"


@dataclass
class NodeDataset:
    r"""A node-classification dataset (homogeneous or heterogeneous) ready for :mod:`graphkit.tasks`.

    Attributes:
        name (str): Dataset name (lower case).
        data (Data or HeteroData): The graph, with features ``x`` and labels ``y`` (of the
            :obj:`target` node type when heterogeneous).
        split (dict): ``'train'`` / ``'valid'`` / ``'test'`` -> LongTensor of (target) node ids; a split
            may be absent (clustering reads labels only for scoring).
        num_classes (int): Number of classes.
        target (str, optional): The node type that is classified (heterogeneous only).
        multi_label (bool): ``y`` is a ``[N, C]`` 0/1 matrix instead of a class index.
        metric (str): Headline metric (``'acc'``).
        root (str): The folder the data were read from.
    """

    name: str
    data: Union[Data, HeteroData]
    split: Dict[str, Tensor]
    num_classes: int
    target: Optional[str] = None
    multi_label: bool = False
    metric: str = 'acc'
    root: str = ''
    seeded_split: bool = False
    info: Dict[str, Any] = field(default_factory=dict)

    @property
    def is_hetero(self) -> bool:
        return isinstance(self.data, HeteroData)

    @property
    def y(self) -> Tensor:
        """The labels of the (target) nodes."""
        return self.data[self.target].y if self.is_hetero else self.data.y

    def __repr__(self) -> str:
        sizes = ', '.join(f'{k}={v.numel()}' for k, v in self.split.items())
        target = f", target='{self.target}'" if self.target else ''
        return f'NodeDataset({self.name}, num_classes={self.num_classes}{target}, {sizes})'


#: ``load(name, root, seed, **kwargs)`` -> the dataset object of one kind.
Loader = Callable[..., Any]
#: ``(name, root)`` -> (the folder where the files were found or None, the folders searched in order).
Locator = Callable[[str, str], Tuple[Optional[str], List[str]]]


@dataclass
class DatasetEntry:
    r"""What the registry knows of one dataset name: a loader and a headline metric per kind it serves, and
    how to find its files (for ``graphkit datasets``)."""

    name: str
    loaders: Dict[str, Loader]
    metrics: Dict[str, str]
    locate: Locator

    @property
    def kinds(self) -> Tuple[str, ...]:
        return tuple(k for k in KINDS if k in self.loaders)

    def __repr__(self) -> str:
        return f"DatasetEntry('{self.name}', kinds={list(self.kinds)})"


class DatasetRegistry(Registry):
    r"""A :class:`~graphkit.registry.Registry` of :class:`DatasetEntry`, with *families*: name prefixes
    (``ogbl-``, ``ogbn-``) whose unregistered names still resolve to an entry."""

    def __init__(self) -> None:
        super().__init__('dataset')
        self._families: List[Tuple[str, Callable[[str], DatasetEntry]]] = []

    def add(self, entry: DatasetEntry) -> DatasetEntry:
        unknown = set(entry.loaders) - set(KINDS)
        if unknown:
            raise ValueError(f"Dataset '{entry.name}' declares unknown kinds {sorted(unknown)}; kinds: {KINDS}")
        return self.register(entry.name, entry)

    def add_family(self, prefix: str, make: Callable[[str], DatasetEntry]) -> None:
        """Names starting with :obj:`prefix` that are not registered resolve to ``make(name)``."""
        self._families.append((prefix, make))

    def entry(self, name: str) -> Optional[DatasetEntry]:
        """The entry of :obj:`name` (registered, or by family); :obj:`None` if neither."""
        key = name.lower()
        if key in self:
            return self.get(key)
        for prefix, make in self._families:
            if key.startswith(prefix):
                return make(key)
        return None

    def names(self, kind: Optional[str] = None) -> List[str]:  # type: ignore[override]
        """The registered names, sorted; with :obj:`kind`, those that serve it."""
        return [n for n in super().names() if kind is None or kind in self._items[n].loaders]

    def describe(self, kind: str) -> str:
        """The names that serve :obj:`kind` and the layouts that resolve to it, for error messages."""
        known = ', '.join(self.names(kind)) or 'none registered yet'
        extra = {
            'link': '; or any ogbl-* folder in OGB layout; or edges:PATH (an edge list) / pyg:PATH (a saved Data)',
            'node': '; or any ogbn-* folder in OGB layout; or pyg:PATH (a saved Data with y)',
            'hetero-node': '; or any heterogeneous ogbn-* folder in OGB layout, or hgb-NAME for any HGB folder / zip',
            'recommend': '; or any folder with train.txt / test.txt (LightGCN format); or interactions:PATH',
        }.get(kind, '')
        return known + extra


#: Every dataset graphkit can load, whatever its kind.
DATASETS = DatasetRegistry()


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


# Planetoid ------------------------------------------------------------------------------------------------
def _planetoid_link(name: str, root: str, seed: int = 0, **kwargs: Any) -> LinkDataset:
    ds = PlanetoidRaw(root, name, **kwargs)
    data = ds[0]
    split = ncn_link_split(data.edge_index, data.num_nodes, seed=seed)
    return LinkDataset(name, data, split, 'hits@100', 'ogbl-ppa', ds.dataset_dir, seeded_split=True)


def _planetoid_node(name: str, root: str, seed: int = 0, **kwargs: Any) -> NodeDataset:
    ds = PlanetoidRaw(root, name, **kwargs)
    data = ds[0]
    split = {
        s: data[f'{m}_mask'].nonzero().view(-1) for s, m in (('train', 'train'), ('valid', 'val'), ('test', 'test'))
    }
    return NodeDataset(name, data, split, int(data.y.max()) + 1, root=ds.dataset_dir)


def _planetoid_locate(name: str, root: str) -> Tuple[Optional[str], List[str]]:
    dirs = planetoid_candidates(root, name)
    files = planetoid_files(name)
    found = next((d for d in dirs if all(osp.isfile(osp.join(d, f)) for f in files)), None)
    return found, dirs


# OGB ------------------------------------------------------------------------------------------------------
def _ogb_locate(*files: str) -> Locator:
    def locate(name: str, root: str) -> Tuple[Optional[str], List[str]]:
        dirs = ogb_candidates(root, name)
        found = next(
            (
                d
                for d in dirs
                if osp.isdir(osp.join(d, 'split')) and any(osp.exists(osp.join(d, 'raw', f)) for f in files)
            ),
            None,
        )
        return found, dirs

    return locate


def _ogb_link(name: str, root: str, seed: int = 0, **kwargs: Any) -> LinkDataset:
    ds = OGBLinkDataset(root, name, **kwargs)
    split = ds.get_edge_split()
    if name in OGB_LINK_INFO:
        metric, eval_name = OGB_LINK_INFO[name][0], name
    elif 'source_node' in split['valid']:  # an unknown ogbl-* dataset: infer from the split's form
        metric, eval_name = 'mrr', 'ogbl-citation2'
    else:
        metric, eval_name = 'hits@50', 'ogbl-collab'
    return LinkDataset(name, ds[0], split, metric, eval_name, ds.dataset_dir)


def _labels(y: Tensor, where: str) -> Tuple[Tensor, int, bool]:
    """Class indices (``[N]``) or a 0/1 multi-label matrix (``[N, C]``), the number of classes, multi-label."""
    if y.dim() == 2 and y.size(1) == 1:
        y = y.view(-1)
    if y.dim() == 1:
        if y.numel() and int(y.min()) < 0:
            raise ValueError(f'{where}: node labels must be >= 0 (found {int(y.min())})')
        return y.long(), int(y.max()) + 1 if y.numel() else 0, False
    return y.float(), int(y.size(1)), True


#: Width of the random features of featureless types of a heterogeneous OGB graph (RpHGNN's MAG setting).
OGB_HETERO_FEATURE_DIM = 512


def _ogb_hetero_inputs(data: HeteroData, seed: int, feature_dim: int) -> Tuple[HeteroData, Dict[str, Any]]:
    # One direction per relation in the OGB files: add the reverse of every bipartite relation ('rev_' prefix)
    # and symmetrise same-type ones (PyG's ToUndirected), and give featureless types seeded N(0, 1/d) features.
    if feature_dim < 1:
        raise ValueError(f"'feature_dim' must be >= 1 (got {feature_dim})")
    original = [list(e) for e in data.edge_types]
    data = ToUndirected()(data)  # a shallow copy
    gen = torch.Generator().manual_seed(int(seed))
    random_types = {}
    for t in data.node_types:
        if data[t].get('x') is None:
            data[t].x = random_features(data[t].num_nodes, feature_dim, gen)
            random_types[t] = feature_dim
    return data, {
        'relations': {'read': original, 'used': [list(e) for e in data.edge_types]},
        'random_features': random_types,
        'random_features_seed': int(seed),
    }


def _ogb_node(
    name: str, root: str, seed: int = 0, feature_dim: int = OGB_HETERO_FEATURE_DIM, **kwargs: Any
) -> NodeDataset:
    ds = OGBNodeDataset(root, name, **kwargs)
    data, split = ds[0], ds.get_idx_split()
    info: Dict[str, Any] = {}
    if isinstance(data, HeteroData):
        data, info = _ogb_hetero_inputs(data, seed, feature_dim)
        targets = [t for t in split['train'] if 'y' in data[t]]
        if len(targets) != 1:
            raise ValueError(
                f"Dataset '{name}' ({ds.dataset_dir}): expected one labelled node type with a split, found {targets}"
            )
        target = targets[0]
        y, num_classes, multi = _labels(data[target].y, f"Dataset '{name}'")
        data[target].y = y
        split = {s: idx[target] for s, idx in split.items()}
    else:
        if 'y' not in data:
            raise ValueError(f"Dataset '{name}' ({ds.dataset_dir}) has no node labels (raw/node-label.csv.gz)")
        target = None
        data.y, num_classes, multi = _labels(data.y, f"Dataset '{name}'")
    return NodeDataset(name, data, split, num_classes, target, multi, root=ds.dataset_dir, info=info)


def _ogb_link_entry(name: str) -> DatasetEntry:
    metric = OGB_LINK_INFO[name][0] if name in OGB_LINK_INFO else 'hits@50'
    return DatasetEntry(name, {'link': _ogb_link}, {'link': metric}, _ogb_locate('edge.csv.gz'))


def _ogb_node_entry(name: str, kinds: Sequence[str] = ('node', 'hetero-node')) -> DatasetEntry:
    return DatasetEntry(
        name,
        {k: _ogb_node for k in kinds},
        {k: 'acc' for k in kinds},
        _ogb_locate('edge.csv.gz', 'num-node-dict.csv.gz'),
    )


# LightGCN format ------------------------------------------------------------------------------------------
def _recsys(name: str, root: str, seed: int = 0, **kwargs: Any) -> RecSysDataset:
    return load_recsys_dataset(name, root, seed=seed, **kwargs)


def _recsys_locate(name: str, root: str) -> Tuple[Optional[str], List[str]]:
    dirs = recsys_candidates(name, root)
    found = next((d for d in dirs if all(osp.isfile(osp.join(d, f)) for f in ('train.txt', 'test.txt'))), None)
    return found, dirs


def _recsys_entry(name: str) -> DatasetEntry:
    return DatasetEntry(name, {'recommend': _recsys}, {'recommend': 'recall@20'}, _recsys_locate)


# HGB ------------------------------------------------------------------------------------------------------
def _hgb(name: str, root: str, seed: int = 0, **kwargs: Any) -> NodeDataset:
    return load_hgb_dataset(name, root, seed=seed, **kwargs)


def _hgb_entry(name: str) -> DatasetEntry:
    return DatasetEntry(name, {'hetero-node': _hgb}, {'hetero-node': 'micro_f1'}, locate_hgb)


for _n in PLANETOID_NAMES:
    DATASETS.add(
        DatasetEntry(
            _n,
            {'link': _planetoid_link, 'node': _planetoid_node},
            {'link': 'hits@100', 'node': 'acc'},
            _planetoid_locate,
        )
    )
for _n in ('ogbl-ddi', 'ogbl-collab', 'ogbl-ppa', 'ogbl-citation2'):
    DATASETS.add(_ogb_link_entry(_n))
for _n in ('ogbn-arxiv', 'ogbn-products'):
    DATASETS.add(_ogb_node_entry(_n, ('node',)))
DATASETS.add(_ogb_node_entry('ogbn-mag', ('hetero-node',)))
for _n in ('electronics', 'ml-1m', 'gowalla', 'yelp2018', 'amazon-book', 'amazon-cds'):
    DATASETS.add(_recsys_entry(_n))
DATASETS.add_family('ogbl-', _ogb_link_entry)
DATASETS.add_family('ogbn-', _ogb_node_entry)
for _n in HGB_NAMES:
    DATASETS.add(_hgb_entry(f'hgb-{_n}'))
DATASETS.add_family('hgb-', _hgb_entry)


def _custom_entry(name: str) -> Optional[DatasetEntry]:
    # 'edges:PATH' / 'pyg:PATH' / 'interactions:PATH' (graphkit.data.custom): a file, not a name
    from graphkit.data import custom

    spec = custom.split_spec(name)
    if spec is None:
        return None
    loaders = {
        'edges': {'link': custom.load_edges_dataset},
        'pyg': {'link': custom.load_pyg_dataset, 'node': custom.load_pyg_node_dataset},
        'interactions': {'recommend': custom.load_interactions_dataset},
    }[spec[0]]
    metrics = {'link': 'hits@100', 'recommend': 'recall@20', 'node': 'acc'}
    return DatasetEntry(name, loaders, {k: metrics[k] for k in loaders}, lambda n, r: (spec[1], [spec[1]]))


def _entry(name: str, kind: Optional[str] = None) -> Optional[DatasetEntry]:
    custom_entry = _custom_entry(name)
    if custom_entry is not None:
        return custom_entry
    entry = DATASETS.entry(name)
    if entry is None and kind == 'recommend':  # any LightGCN-format folder
        entry = _recsys_entry(name.lower())
    return entry


def choose_kind(name: str, accepted: Sequence[str], model: str = 'the model') -> str:
    r"""The first of the kinds :obj:`accepted` (by a model) that dataset :obj:`name` serves.

    Raises:
        ValueError: naming the model, the kinds it needs, what the dataset serves, and the datasets that would
            do (the CLI turns it into exit code 2).
    """
    for kind in accepted:
        entry = _entry(name, kind)
        if entry is not None and kind in entry.loaders:
            return kind
    needs = ' or '.join(accepted)
    options = '; '.join(f'{k} datasets: {DATASETS.describe(k)}' for k in accepted)
    entry = _entry(name)
    if entry is None:
        raise ValueError(f"Unknown dataset '{name}' for {model} (which needs a {needs} dataset); {options}")
    raise ValueError(f"{model} needs a {needs} dataset, but '{name}' serves {' and '.join(entry.kinds)}; {options}")


def load_dataset(name: str, kind: str, root: Optional[str] = None, seed: int = 0, **kwargs: Any) -> Any:
    r"""Load the :obj:`kind` view of dataset :obj:`name` from local files (nothing is downloaded).

    Args:
        name (str): A name in :obj:`DATASETS` or a folder in a known layout (see the module docstring).
        kind (str): One of :obj:`KINDS`.
        root (str, optional): Data root; else ``$GRAPHKIT_DATA``, else the repository's ``datasets/``.
        seed (int, optional): Seed of seeded splits (the Planetoid link split, the validation split of a
            recommendation dataset); fixed splits ignore it. (default: :obj:`0`)
        **kwargs: Forwarded to the loader (``force_reload``, ``val_ratio``, ...).
    """
    if kind not in KINDS:
        raise ValueError(f"'kind' must be one of {KINDS} (got '{kind}')")
    choose_kind(name, (kind,), f"a '{kind}' task")
    key = name if kind == 'recommend' or _custom_entry(name) else name.lower()  # folders and paths keep their case
    ds = _entry(name, kind).loaders[kind](key, resolve_root(root), seed=seed, **kwargs)
    if kind in ('node', 'hetero-node') and ds.is_hetero != (kind == 'hetero-node'):
        found = 'heterogeneous' if ds.is_hetero else 'homogeneous'
        raise ValueError(
            f"Dataset '{name}' ({ds.root}) is {found}: it serves "
            f'{"hetero-node" if ds.is_hetero else "node"}, not {kind}'
        )
    return ds


def load_link_dataset(name: str, root: Optional[str] = None, seed: int = 0, **kwargs: Any) -> LinkDataset:
    r"""Load a link-prediction dataset: ``load_dataset(name, 'link', ...)``. Planetoid names get the NCN
    70/10/20 split of :func:`~graphkit.data.ncn_link_split` with :obj:`seed`; OGB names the official split
    (an ``ogbl-*`` folder outside the registry is scored with MRR if its split has ``source_node`` /
    ``target_node``, else Hits@50; choose another metric with ``eval.metric``)."""
    return load_dataset(name, 'link', root, seed, **kwargs)


def load_node_dataset(name: str, root: Optional[str] = None, **kwargs: Any) -> NodeDataset:
    r"""Load a node-classification dataset (homogeneous or heterogeneous, by its files): Planetoid names with
    the public split, ``ogbn-*`` with the official split."""
    return load_dataset(name, choose_kind(name, ('node', 'hetero-node')), root, **kwargs)


def dataset_info(root: Optional[str] = None, kinds: Sequence[str] = KINDS) -> List[Dict[str, Any]]:
    r"""One dict per (kind, registered dataset): ``kind``, ``name``, ``metric``, ``root``, ``looks_in``
    (folders searched, in order), ``found`` (bool) and ``path`` (where it was found, or :obj:`None`). Reads
    nothing but directory listings; for ``graphkit datasets``."""
    r = resolve_root(root)
    out = []
    for kind in kinds:
        for name in DATASETS.names(kind):
            entry = DATASETS.get(name)
            path, looks_in = entry.locate(name, r)
            out.append(
                {
                    'kind': kind,
                    'name': name,
                    'metric': entry.metrics[kind],
                    'root': r,
                    'looks_in': looks_in,
                    'found': path is not None,
                    'path': path,
                }
            )
    return out


# TU and synthetic graph datasets (GSM++) ------------------------------------------------------------------
from graphkit.data.synthetic import SYNTHETIC_TASKS, load_synthetic_dataset  # noqa: E402
from graphkit.data.tu import TU_NAMES, load_tu_dataset, locate_tu  # noqa: E402


def _tu_entry(name: str) -> DatasetEntry:
    return DatasetEntry(name, {'graph': load_tu_dataset}, {'graph': 'acc'}, locate_tu)


def _synthetic_entry(name: str) -> DatasetEntry:
    metric = SYNTHETIC_TASKS[name[len('synthetic-') :]][3]
    return DatasetEntry(name, {'graph': load_synthetic_dataset}, {'graph': metric}, lambda n, r: ('in-process', []))


for _n in TU_NAMES:
    DATASETS.add(_tu_entry(_n))
DATASETS.add_family('tu-', _tu_entry)
for _n in SYNTHETIC_TASKS:
    DATASETS.add(_synthetic_entry(f'synthetic-{_n}'))


def clear_dataset_cache(name: str, root: Optional[str] = None) -> List[str]:
    r"""Delete the caches graphkit wrote for dataset :obj:`name` (see :func:`~graphkit.data.io.clear_caches`),
    so that the next load re-reads its raw files; returns the removed paths (none for a zip or a dataset that
    is not found)."""
    entry = _entry(name)
    if entry is None:
        return []
    found = entry.locate(name.lower(), resolve_root(root))[0] or entry.locate(name, resolve_root(root))[0]
    if found is None or not osp.isdir(found):
        return []
    return clear_caches(osp.dirname(found) if osp.basename(found) == 'raw' else found)
