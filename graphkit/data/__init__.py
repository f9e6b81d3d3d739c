r"""Local-file dataset loaders (Planetoid, OGB layout, LightGCN format, HGB), safe loading, link splits, and the one
dataset registry (:obj:`DATASETS`) that serves every kind of task."""

from graphkit.data.base import LocalDataset, validate_data
from graphkit.data.hgb import HGB_NAMES, hgb_candidates, load_hgb_dataset, locate_hgb, read_hgb
from graphkit.data.io import load_legacy_split
from graphkit.data.link_split import check_link_split, ncn_link_split, random_link_split
from graphkit.data.ogb import OGBLinkDataset, OGBNodeDataset
from graphkit.data.planetoid import PlanetoidRaw
from graphkit.data.recsys import RecSysDataset, load_recsys_dataset
from graphkit.data.registry import (
    DATASETS,
    KINDS,
    DatasetEntry,
    LinkDataset,
    NodeDataset,
    choose_kind,
    clear_dataset_cache,
    dataset_info,
    default_root,
    load_dataset,
    load_link_dataset,
    load_node_dataset,
    resolve_root,
)
from graphkit.data.synthetic import SYNTHETIC_TASKS, make_synthetic
from graphkit.data.tu import TU_NAMES, GraphDataset, load_tu_dataset, read_tu

__all__ = [
    'GraphDataset',
    'TU_NAMES',
    'load_tu_dataset',
    'read_tu',
    'SYNTHETIC_TASKS',
    'make_synthetic',
    'LocalDataset',
    'clear_dataset_cache',
    'validate_data',
    'load_legacy_split',
    'ncn_link_split',
    'random_link_split',
    'check_link_split',
    'PlanetoidRaw',
    'RecSysDataset',
    'load_recsys_dataset',
    'OGBLinkDataset',
    'OGBNodeDataset',
    'HGB_NAMES',
    'load_hgb_dataset',
    'read_hgb',
    'hgb_candidates',
    'locate_hgb',
    'DATASETS',
    'KINDS',
    'DatasetEntry',
    'LinkDataset',
    'NodeDataset',
    'choose_kind',
    'load_dataset',
    'load_link_dataset',
    'load_node_dataset',
    'dataset_info',
    'default_root',
    'resolve_root',
]
