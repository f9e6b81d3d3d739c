r"""Local-file dataset loaders (Planetoid, OGB layout), safe loading, and link splits."""

from graphkit.data.base import LocalDataset, validate_data
from graphkit.data.io import load_legacy_split, safe_torch_load
from graphkit.data.link_split import check_link_split, ncn_link_split, random_link_split
from graphkit.data.ogb import OGBLinkDataset, OGBNodeDataset
from graphkit.data.planetoid import PlanetoidRaw
from graphkit.data.recsys import RecSysDataset, load_recsys_dataset, recsys_dataset_info
from graphkit.data.registry import (
    LINK_DATASETS,
    LinkDataset,
    dataset_info,
    default_root,
    load_link_dataset,
    resolve_root,
)

__all__ = [
    'LocalDataset',
    'validate_data',
    'load_legacy_split',
    'safe_torch_load',
    'ncn_link_split',
    'random_link_split',
    'check_link_split',
    'PlanetoidRaw',
    'RecSysDataset',
    'load_recsys_dataset',
    'recsys_dataset_info',
    'OGBLinkDataset',
    'OGBNodeDataset',
    'LinkDataset',
    'LINK_DATASETS',
    'load_link_dataset',
    'dataset_info',
    'default_root',
    'resolve_root',
]
