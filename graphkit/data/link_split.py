r"""Link-prediction splits in OGB form, with asserted post-conditions.

Both functions return ``{'train': {'edge': (E_tr, 2)}, 'valid': {'edge', 'edge_neg'}, 'test':
{'edge', 'edge_neg'}}`` with every pair stored once as ``i < j``; the message-passing graph is the
undirected version of ``split['train']['edge']``.
"""

from __future__ import annotations

import math
from typing import Dict, Optional

import torch
from torch import Tensor

__all__ = ['ncn_link_split', 'random_link_split', 'undirected_pairs', 'check_link_split', 'sample_non_edges']

SplitDict = Dict[str, Dict[str, Tensor]]


def _check_inputs(edge_index: Tensor, num_nodes: int) -> None:
    if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            f"'edge_index' must be a tensor of shape (2, E) (got "
            f'{tuple(edge_index.shape) if isinstance(edge_index, Tensor) else type(edge_index)})'
        )
    if edge_index.is_floating_point() or edge_index.dtype == torch.bool:
        raise ValueError(f"'edge_index' must hold integer node ids (got {edge_index.dtype})")
    if not isinstance(num_nodes, int) or num_nodes < 2:
        raise ValueError(f"'num_nodes' must be an int >= 2 (got {num_nodes!r})")
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"'edge_index' holds node ids outside [0, {num_nodes})")


def _check_ratio(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"'{name}' must be in [0, 1) (got {value})")


def undirected_pairs(edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""The undirected edge set as a (2, E) LongTensor of pairs ``i < j``, sorted, without
    duplicates or self-loops."""
    ei = edge_index.long().cpu()
    row, col = torch.minimum(ei[0], ei[1]), torch.maximum(ei[0], ei[1])
    keep = row != col
    code = torch.unique(row[keep] * num_nodes + col[keep])
    return torch.stack([code // num_nodes, code % num_nodes])


def _codes(pairs: Tensor, num_nodes: int) -> Tensor:
    """Order-free integer code of each pair (column of a (2, B) tensor)."""
    return torch.minimum(pairs[0], pairs[1]) * num_nodes + torch.maximum(pairs[0], pairs[1])


def sample_non_edges(pos_codes: Tensor, num_nodes: int, count: int, generator: torch.Generator) -> Tensor:
    r"""``count`` distinct pairs ``i < j`` drawn uniformly (without replacement) from the
    non-edges."""
    total = num_nodes * (num_nodes - 1) // 2
    available = total - pos_codes.numel()
    if count > available:
        raise ValueError(f'Cannot draw {count} negative pairs: the graph has only {available} non-edges')
    if count == 0:
        return torch.empty(2, 0, dtype=torch.long)
    pos_sorted = torch.sort(pos_codes).values
    chosen = torch.empty(0, dtype=torch.long)
    while chosen.numel() < count:
        need = count - chosen.numel()
        draw = int(need * (1.0 + 2.0 * pos_codes.numel() / max(total, 1))) + 64
        i = torch.randint(0, num_nodes, (draw,), generator=generator)
        j = torch.randint(0, num_nodes, (draw,), generator=generator)
        ok = i != j  # an unordered pair {i, j}, i != j, has probability 2 / N^2: uniform
        code = torch.minimum(i, j)[ok] * num_nodes + torch.maximum(i, j)[ok]
        code = code[~torch.isin(code, pos_sorted)]
        code = torch.cat([chosen, code])
        uniq, inv = torch.unique(code, return_inverse=True)  # keep first occurrences, in draw order
        first = torch.full((uniq.numel(),), code.numel(), dtype=torch.long)
        first.scatter_reduce_(0, inv, torch.arange(code.numel()), reduce='amin')
        chosen = code[torch.sort(first).values][:count]
    return torch.stack([chosen // num_nodes, chosen % num_nodes])


def check_link_split(split: SplitDict, num_nodes: int, all_pos: Optional[Tensor] = None) -> None:
    r"""Assert a split's post-conditions: no positive pair is in two splits (in either direction),
    no negative hits a positive of any split (nor of :obj:`all_pos`, the full graph, when given),
    and negatives are not self-loops. Raises :class:`AssertionError` naming the violated
    condition."""
    pos = {s: _codes(split[s]['edge'].t(), num_nodes) for s in ('train', 'valid', 'test')}
    names = list(pos)
    for a in range(3):
        for b in range(a + 1, 3):
            both = torch.isin(pos[names[a]], pos[names[b]])
            assert not bool(both.any()), f"{int(both.sum())} positive pairs are in both '{names[a]}' and '{names[b]}'"
    every = torch.cat(list(pos.values()) + ([_codes(all_pos, num_nodes)] if all_pos is not None else []))
    for s in ('valid', 'test'):
        neg = split[s]['edge_neg'].t()
        assert not bool((neg[0] == neg[1]).any()), f"'{s}' negatives contain self-loops"
        hit = torch.isin(_codes(neg, num_nodes), every)
        assert not bool(hit.any()), f"{int(hit.sum())} '{s}' negatives are positive edges"


def _pack(train: Tensor, valid: Tensor, test: Tensor, valid_neg: Tensor, test_neg: Tensor) -> SplitDict:
    return {
        'train': {'edge': train.t().contiguous()},
        'valid': {'edge': valid.t().contiguous(), 'edge_neg': valid_neg.t().contiguous()},
        'test': {'edge': test.t().contiguous(), 'edge_neg': test_neg.t().contiguous()},
    }


def _sorted_pairs(pairs: Tensor, num_nodes: int) -> Tensor:
    code = torch.sort(pairs[0] * num_nodes + pairs[1]).values
    return torch.stack([code // num_nodes, code % num_nodes])


def ncn_link_split(
    edge_index: Tensor,
    num_nodes: int,
    *,
    val_ratio: float = 0.1,
    test_ratio: float = 0.2,
    seed: int = 0,
) -> SplitDict:
    r"""The Planetoid link split of the `"Neural Common Neighbor with Completion for Link
    Prediction" <https://arxiv.org/abs/2302.00890>`_ code (70/10/20 on Cora, CiteSeer, PubMed).

    With :math:`E` undirected edges (``i < j``, self-loops dropped) in a seeded random order, the
    first :math:`n_v = \lfloor r_t E \rfloor` edges form a provisional validation slice and the next
    :math:`n_t = \lfloor r_t E \rfloor` the test positives (the reference code calls PyG's
    ``train_test_split_edges(val_ratio=test_ratio, test_ratio=test_ratio)``); the rest train. The
    provisional slice is reshuffled, its last :math:`\lfloor n_v r_v / r_t \rfloor` edges stay
    validation positives and the others go back to training. Negatives are drawn uniformly, without
    replacement, from the non-edges of the **full** graph (``i < j``, no self-loops): :math:`n_v`
    for validation (about two per validation positive) and :math:`n_t` for test. On Cora (5,278
    edges) this gives train 3,696, valid 527 (1,055 negatives), test 1,055 (1,055 negatives).

    Args:
        edge_index (torch.Tensor): The full graph, (2, E), either or both directions.
        num_nodes (int): Number of nodes.
        val_ratio (float, optional): Final validation ratio :math:`r_v`. (default: :obj:`0.1`)
        test_ratio (float, optional): Test ratio :math:`r_t`, also the provisional validation ratio.
            (default: :obj:`0.2`)
        seed (int, optional): Seed of the permutation and the negatives. (default: :obj:`0`)

    Returns:
        The OGB-form split dict; all pairs are (B, 2) LongTensors with ``i < j``.
    """
    _check_inputs(edge_index, num_nodes)
    _check_ratio('val_ratio', val_ratio)
    _check_ratio('test_ratio', test_ratio)
    if test_ratio == 0.0 or val_ratio > test_ratio or 2 * test_ratio >= 1.0:
        raise ValueError(
            f"'ncn_link_split' expects 0 <= val_ratio <= test_ratio < 0.5 and test_ratio > 0 "
            f'(got val_ratio={val_ratio}, test_ratio={test_ratio})'
        )
    g = torch.Generator().manual_seed(int(seed))
    pos = undirected_pairs(edge_index, num_nodes)
    E = pos.size(1)
    n_v = int(math.floor(test_ratio * E))
    n_t = int(math.floor(test_ratio * E))
    pos = pos[:, torch.randperm(E, generator=g)]
    val_all, test, train = pos[:, :n_v], pos[:, n_v : n_v + n_t], pos[:, n_v + n_t :]
    neg = sample_non_edges(_codes(pos, num_nodes), num_nodes, n_v + n_t, g)
    val_all = val_all[:, torch.randperm(n_v, generator=g)]
    num_val = int(n_v * val_ratio / test_ratio)
    valid, back = val_all[:, n_v - num_val :], val_all[:, : n_v - num_val]
    train = _sorted_pairs(torch.cat([train, back], dim=1), num_nodes)
    split = _pack(train, valid, test, neg[:, :n_v], neg[:, n_v:])
    check_link_split(split, num_nodes, pos)
    return split


def random_link_split(
    edge_index: Tensor,
    num_nodes: int,
    *,
    val_ratio: float = 0.05,
    test_ratio: float = 0.1,
    num_val_neg: Optional[int] = None,
    num_test_neg: Optional[int] = None,
    seed: int = 0,
) -> SplitDict:
    r"""A random link split with configurable fractions (*e.g.* the 85/5/10 HeaRT convention).

    Undirected edges (``i < j``, self-loops dropped) are permuted with :obj:`seed`; the first
    :math:`\lfloor r_v E \rfloor` are validation positives, the next :math:`\lfloor r_t E \rfloor`
    test positives, the rest training. Negatives are distinct non-edges of the **full** graph drawn
    uniformly, and never shared between validation and test.

    Args:
        edge_index (torch.Tensor): The full graph, (2, E).
        num_nodes (int): Number of nodes.
        val_ratio (float, optional): Validation ratio. (default: :obj:`0.05`)
        test_ratio (float, optional): Test ratio. (default: :obj:`0.1`)
        num_val_neg (int, optional): Validation negatives. (default: as many as validation
            positives)
        num_test_neg (int, optional): Test negatives. (default: as many as test positives)
        seed (int, optional): Seed. (default: :obj:`0`)
    """
    _check_inputs(edge_index, num_nodes)
    _check_ratio('val_ratio', val_ratio)
    _check_ratio('test_ratio', test_ratio)
    if val_ratio + test_ratio >= 1.0:
        raise ValueError(f"'val_ratio' + 'test_ratio' must be < 1 (got {val_ratio} + {test_ratio})")
    g = torch.Generator().manual_seed(int(seed))
    pos = undirected_pairs(edge_index, num_nodes)
    E = pos.size(1)
    n_v, n_t = int(math.floor(val_ratio * E)), int(math.floor(test_ratio * E))
    nv_neg = n_v if num_val_neg is None else int(num_val_neg)
    nt_neg = n_t if num_test_neg is None else int(num_test_neg)
    for name, v in (('num_val_neg', nv_neg), ('num_test_neg', nt_neg)):
        if v < 0:
            raise ValueError(f"'{name}' must be >= 0 (got {v})")
    pos = pos[:, torch.randperm(E, generator=g)]
    valid, test = pos[:, :n_v], pos[:, n_v : n_v + n_t]
    train = _sorted_pairs(pos[:, n_v + n_t :], num_nodes)
    neg = sample_non_edges(_codes(pos, num_nodes), num_nodes, nv_neg + nt_neg, g)
    split = _pack(train, valid, test, neg[:, :nv_neg], neg[:, nv_neg:])
    check_link_split(split, num_nodes, pos)
    return split
