r"""Recommendation datasets in the LightGCN / UltraGCN text format.

``train.txt`` and ``test.txt`` hold one line per user, ``user_id item_id item_id ...`` (space separated,
0-based ids), as written by the LightGCN, NGCF and UltraGCN preprocessing (Gowalla, Yelp2018, Amazon-Book,
MovieLens-1M, Amazon-CDs, Amazon-Electronics).

Behaviour on unusual input (each case is tested):

* a line with a user id and no items (or an empty line) is a user without interactions in that file;
* a non-integer token, a negative id, or an id above ``num_users`` / ``num_items`` when those are given, raises
  :class:`ValueError` naming the file and the line;
* duplicate ``(user, item)`` pairs inside a file are dropped (the file is a set of interactions);
* an empty ``test.txt`` (no interaction at all) raises :class:`ValueError`;
* a user with test items but no training item is **kept** and counted in ``cold_test_users``: it is ranked
  like any other user (with an untrained embedding) and reported in the run summary;
* ``num_users`` / ``num_items`` default to ``1 + max id`` over both files.

The loader returns PyG objects indexed the way :class:`torch_geometric.nn.models.LightGCN` expects: one
homogeneous node index with users in :math:`[0, U)` and items in :math:`[U, U + I)`, plus a bipartite
:class:`~torch_geometric.data.HeteroData` view with ``'user'`` and ``'item'`` node types.
"""

from __future__ import annotations

import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from graphkit.ops import pairs_to_csr

__all__ = ['RecSysDataset', 'read_interactions', 'recsys_candidates', 'find_recsys_root', 'load_recsys_dataset']


#: Largest user or item id a file may hold (2^31 - 1): beyond it, ids are not counts of users / items.
MAX_ID = 2**31 - 1
#: Ids may leave gaps, but not so many that the implied table is mostly empty: the implied count 1 + max id may
#: exceed the number of distinct ids by at most this factor, or by at most :obj:`MAX_GAP` ids.
GAP_FACTOR, MAX_GAP = 2, 100_000


def _first_line_with(path: str, value: int, column: str) -> int:
    # The first line of a LightGCN file whose user id (column 'user') or one of whose items is value.
    with open(path, 'rb') as f:
        for lineno, line in enumerate(f.read().decode('utf-8').split('\n'), start=1):
            toks = line.split()
            if toks and ((column == 'user' and int(toks[0]) == value) or (column == 'item' and str(value) in toks[1:])):
                return lineno
    return 0


def _check_dense_ids(folder: str, train: Tensor, test: Tensor, kinds: Sequence[str]) -> None:
    # A few huge ids in a small file would silently build a huge, mostly empty model: refuse, naming the line.
    for row, kind in ((0, 'user'), (1, 'item')):
        if kind not in kinds:
            continue
        ids = torch.cat([train[row], test[row]])
        distinct, top = int(torch.unique(ids).numel()), int(ids.max())
        if top + 1 > max(GAP_FACTOR * distinct, distinct + MAX_GAP):
            file = next(
                osp.join(folder, f)
                for f, pairs in (('train.txt', train), ('test.txt', test))
                if (pairs[row] == top).any()
            )
            raise ValueError(
                f"'{file}' line {_first_line_with(file, top, kind)}: {kind} id {top:,} implies {top + 1:,} {kind}s, "
                f'but train.txt and test.txt hold only {distinct:,} distinct {kind} ids. Ids must count {kind}s '
                f'0..N-1 (compact them, e.g. with numpy.unique(ids, return_inverse=True)), or pass num_{kind}s '
                'explicitly if the gaps are meant'
            )


def read_interactions(
    path: str, num_users: Optional[int] = None, num_items: Optional[int] = None
) -> Tuple[Tensor, int]:
    r"""Read one LightGCN-format file into a ``(2, E)`` LongTensor of ``(user, item)`` pairs (deduplicated,
    sorted by user then item) and the number of user lines.

    Raises:
        FileNotFoundError: if :obj:`path` does not exist.
        ValueError: on a malformed line or an id out of range, naming the file and the line number.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f"Recommendation file '{path}' does not exist")
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        line = raw.count(b'\n', 0, e.start) + 1
        raise ValueError(
            f"'{path}' line {line}: not text (byte {raw[e.start]:#04x}); expected 'user item item ...' with integer ids"
        ) from None
    lines = [line.split() for line in text.split('\n')]
    counts = np.array([len(t) for t in lines], dtype=np.int64)
    flat = [tok for toks in lines for tok in toks]
    try:
        ids = np.array(list(map(int, flat)), dtype=np.int64)
    except (ValueError, OverflowError):
        for lineno, toks in enumerate(lines, 1):
            for tok in toks:
                try:
                    int(tok)
                except ValueError:
                    raise ValueError(
                        f"'{path}' line {lineno}: expected 'user item item ...' with integer ids (got {tok!r})"
                    ) from None
        raise
    if ids.size == 0:
        return torch.empty(2, 0, dtype=torch.long), 0
    nonempty = counts > 0
    line_of = np.repeat(np.arange(1, len(lines) + 1), counts)  # 1-based line number of every token
    first = np.zeros(ids.size, dtype=bool)
    first[(np.cumsum(counts) - counts)[nonempty]] = True  # the user id of each line
    user_ids = ids[first]
    users = np.repeat(user_ids, counts[nonempty] - 1)
    items = ids[~first]
    item_line = line_of[~first]

    def fail(mask: np.ndarray, what: str, values: np.ndarray, lines_: np.ndarray) -> None:
        pos = int(np.argmax(mask))
        raise ValueError(f"'{path}' line {int(lines_[pos])}: {what} (got {int(values[pos])})")

    user_line = line_of[first]
    if (user_ids > MAX_ID).any():
        fail(user_ids > MAX_ID, f'id beyond {MAX_ID:,} (ids must count users 0..U-1)', user_ids, user_line)
    if (items > MAX_ID).any():
        fail(items > MAX_ID, f'id beyond {MAX_ID:,} (ids must count items 0..I-1)', items, item_line)
    if (user_ids < 0).any():
        fail(user_ids < 0, 'ids must be non-negative', user_ids, user_line)
    if (items < 0).any():
        fail(items < 0, 'ids must be non-negative', items, item_line)
    if num_users is not None and (user_ids >= num_users).any():
        fail(user_ids >= num_users, f'user id out of range [0, {num_users})', user_ids, user_line)
    if num_items is not None and (items >= num_items).any():
        fail(items >= num_items, f'item id out of range [0, {num_items})', items, item_line)
    num_lines = int(nonempty.sum())
    if items.size == 0:
        return torch.empty(2, 0, dtype=torch.long), num_lines
    width = int(items.max()) + 1
    key = torch.from_numpy(users * width + items).sort().values
    key = torch.unique_consecutive(key)
    return torch.stack([key // width, key % width]), num_lines


@dataclass
class RecSysDataset:
    r"""A user-item recommendation dataset with train / (valid) / test interactions.

    Attributes:
        name (str): Dataset name.
        num_users (int): :math:`U`.
        num_items (int): :math:`I`.
        train (LongTensor): ``(2, E)`` training ``(user, item)`` pairs in **bipartite** ids.
        valid (LongTensor or None): validation pairs carved from ``train.txt`` (see :func:`load_recsys_dataset`).
        test (LongTensor): test pairs.
        root (str): The folder holding ``train.txt`` / ``test.txt``.
        cold_test_users (int): users with test items but no training item.
    """

    name: str
    num_users: int
    num_items: int
    train: Tensor
    test: Tensor
    valid: Optional[Tensor] = None
    root: str = ''
    cold_test_users: int = 0
    extra: Dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f'RecSysDataset({self.name}, num_users={self.num_users}, num_items={self.num_items}, '
            f'train={self.train.size(1)}, valid={0 if self.valid is None else self.valid.size(1)}, '
            f'test={self.test.size(1)})'
        )

    def to_homogeneous(self, pairs: Tensor) -> Tensor:
        """``(user, item)`` pairs -> ``(user, num_users + item)``: the homogeneous index."""
        return torch.stack([pairs[0], pairs[1] + self.num_users])

    @property
    def data(self) -> Data:
        r"""The homogeneous view (users first): ``edge_index`` is the symmetric training graph (both
        directions, the message-passing input of :class:`~torch_geometric.nn.models.LightGCN`);
        ``edge_label_index`` the training user→item pairs; ``val_edge_label_index`` /
        ``test_edge_label_index`` the held-out pairs; ``num_users`` / ``num_items`` are kept."""
        train = self.to_homogeneous(self.train)
        data = Data(
            edge_index=torch.cat([train, train.flip(0)], dim=1),
            edge_label_index=train,
            test_edge_label_index=self.to_homogeneous(self.test),
            num_nodes=self.num_users + self.num_items,
        )
        if self.valid is not None:
            data.val_edge_label_index = self.to_homogeneous(self.valid)
        data.num_users, data.num_items = self.num_users, self.num_items
        return data

    @property
    def hetero(self) -> HeteroData:
        r"""The bipartite view: node types ``'user'`` and ``'item'``, edge types ``('user', 'rates', 'item')``
        (training pairs, plus ``val_edge_label_index`` / ``test_edge_label_index``) and its reverse
        ``('item', 'rated_by', 'user')``."""
        data = HeteroData()
        data['user'].num_nodes = self.num_users
        data['item'].num_nodes = self.num_items
        store = data['user', 'rates', 'item']
        store.edge_index = self.train
        store.test_edge_label_index = self.test
        if self.valid is not None:
            store.val_edge_label_index = self.valid
        data['item', 'rated_by', 'user'].edge_index = self.train.flip(0)
        return data

    def csr(self, split: str) -> Tensor:
        r"""The ``(U, I)`` binary interaction matrix of :obj:`split` (``'train'``, ``'valid'``, ``'test'``) as
        a torch sparse CSR tensor (rows sorted)."""
        pairs = {'train': self.train, 'valid': self.valid, 'test': self.test}[split]
        if pairs is None:
            raise ValueError(f"Dataset '{self.name}' has no '{split}' split")
        return pairs_to_csr(pairs, self.num_users, self.num_items)


def recsys_candidates(name: str, root: str) -> List[str]:
    r"""The folders searched for ``train.txt`` / ``test.txt`` of :obj:`name`, in order: ``root/<name>``
    (as given, then lower case), then ``root`` itself."""
    return list(dict.fromkeys([osp.join(root, name), osp.join(root, name.lower()), root]))


def find_recsys_root(name: str, root: Optional[str] = None) -> str:
    r"""The folder holding ``train.txt`` / ``test.txt`` for :obj:`name`: ``root/<name>/`` if it has them,
    else ``root`` itself. ``root`` defaults to ``$GRAPHKIT_DATA``, then the repository's ``datasets/``."""
    from graphkit.data.registry import resolve_root

    base = resolve_root(root)
    folder = name
    candidates = recsys_candidates(name, base)
    for cand in candidates:
        if osp.isfile(osp.join(cand, 'train.txt')) and osp.isfile(osp.join(cand, 'test.txt')):
            return cand
    looked = ', '.join(f"'{osp.join(c, 'train.txt')}'" for c in candidates)
    raise FileNotFoundError(
        f"Dataset '{name}': no train.txt/test.txt found (looked for {looked}); pass "
        f'--root DIR with DIR/{folder}/train.txt or DIR/train.txt'
    )


def _carve_valid(train: Tensor, num_users: int, ratio: float, seed: int) -> Tuple[Tensor, Tensor]:
    """Move round(ratio * d_u) of each user's training items (at least 1 if d_u >= 2, keeping >= 1) to valid."""
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(train.size(1), generator=gen)
    # Rank of each interaction within its user, in a random order.
    order = perm[torch.argsort(train[0, perm], stable=True)]
    user = train[0, order]
    deg = torch.bincount(user, minlength=num_users)
    start = deg.cumsum(0) - deg
    rank = torch.arange(order.numel()) - start[user]
    n_val = torch.round(deg.double() * ratio).long()
    n_val = torch.where(deg >= 2, n_val.clamp(min=1), torch.zeros_like(n_val)).clamp(max=(deg - 1).clamp(min=0))
    to_val = rank < n_val[user]
    val, keep = train[:, order[to_val]], train[:, order[~to_val]]
    return _sort_pairs(keep), _sort_pairs(val)


def _sort_pairs(pairs: Tensor) -> Tensor:
    """Sort ``(user, item)`` pairs by user, then item."""
    if pairs.numel() == 0:
        return pairs
    return pairs[:, torch.argsort(pairs[0] * (int(pairs[1].max()) + 1) + pairs[1])]


def load_recsys_dataset(
    name: str,
    root: Optional[str] = None,
    val_ratio: float = 0.0,
    seed: int = 0,
    num_users: Optional[int] = None,
    num_items: Optional[int] = None,
) -> RecSysDataset:
    r"""Load a LightGCN-format dataset.

    Args:
        name (str): A recommendation dataset of :obj:`graphkit.data.DATASETS` (``electronics``, ``ml-1m``,
            ``gowalla``, ``yelp2018``, ``amazon-book``, ``amazon-cds``) or any folder name under :obj:`root`.
        root (str, optional): A folder holding ``<name>/train.txt`` or ``train.txt`` directly.
        val_ratio (float, optional): Share of each user's training items moved to a validation split
            (seeded by :obj:`seed`; users with one training item keep it). ``0`` = no validation split.
            (default: :obj:`0.0`)
        seed (int, optional): Seed of the validation split. (default: :obj:`0`)
        num_users (int, optional): Number of users (default: ``1 + max`` user id over both files).
        num_items (int, optional): Number of items (default: ``1 + max`` item id over both files).
    """
    if not 0.0 <= val_ratio < 1.0:
        raise ValueError(f"'val_ratio' must be in [0, 1) (got {val_ratio})")
    folder = find_recsys_root(name, root)
    train, train_lines = read_interactions(osp.join(folder, 'train.txt'), num_users, num_items)
    test, _ = read_interactions(osp.join(folder, 'test.txt'), num_users, num_items)
    if test.size(1) == 0:
        raise ValueError(f"'{osp.join(folder, 'test.txt')}' holds no interaction: nothing to evaluate on")
    if train.size(1) == 0:
        raise ValueError(f"'{osp.join(folder, 'train.txt')}' holds no interaction: nothing to train on")
    _check_dense_ids(folder, train, test, [k for k, n in (('user', num_users), ('item', num_items)) if n is None])
    if num_users is None:
        num_users = int(max(train[0].max(), test[0].max())) + 1
    if num_items is None:
        num_items = int(max(train[1].max(), test[1].max())) + 1
    train_deg = torch.bincount(train[0], minlength=num_users)
    cold = int((torch.bincount(test[0], minlength=num_users)[train_deg == 0] > 0).sum())
    valid = None
    if val_ratio > 0:
        train, valid = _carve_valid(train, num_users, val_ratio, seed)
    return RecSysDataset(
        name=name.lower(),
        num_users=num_users,
        num_items=num_items,
        train=train,
        test=test,
        valid=valid,
        root=folder,
        cold_test_users=cold,
        extra={'train_lines': train_lines},
    )
