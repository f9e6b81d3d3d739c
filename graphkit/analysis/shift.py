r"""Topological distribution shift (TDS): newly joined neighbours (validation / test edges) are less
concentrated around a node's training neighbourhood than its training neighbours, from the
`"A Topological Perspective on Demystifying GNN-Based Link Prediction Performance"
<https://arxiv.org/abs/2310.04612>`_ paper."""

from __future__ import annotations

import math
from typing import Dict, Optional

import torch
from torch import Tensor

from graphkit.analysis.stats import pearson

__all__ = ['distribution_shift']


def _mean(v: Tensor) -> float:
    return float(v.mean()) if v.numel() else math.nan


def distribution_shift(
    tc_train: Tensor, tc_other: Dict[str, Tensor], has_other: Dict[str, Tensor], perf: Optional[Tensor] = None
) -> Dict[str, Dict[str, float]]:
    r"""Compare :math:`TC^{Train}` with :math:`TC^{Val}` / :math:`TC^{Test}` per node.

    For each split :math:`t` (nodes with at least one :math:`t`-edge and :math:`d^{Train} \geq 2`), reports the
    mean :math:`TC^{Train}` and :math:`TC^t` over the same nodes, the mean gap
    :math:`TC^{Train} - TC^t`, the fraction of nodes with :math:`TC^t < TC^{Train}`, and, if :obj:`perf` is
    given, Pearson's :math:`r` between the gap and the per-node performance.

    Args:
        tc_train (torch.Tensor): :math:`TC^{Train}`, shape :obj:`(N,)`.
        tc_other (dict): ``{'valid': TC^Val, 'test': TC^Test}`` tensors of shape :obj:`(N,)`.
        has_other (dict): Boolean masks, same keys: nodes with at least one edge of that split whose
            :math:`TC^{Train}` is defined.
        perf (torch.Tensor, optional): Per-node performance on the test split. (default: :obj:`None`)
    """
    out: Dict[str, Dict[str, float]] = {}
    tc_train = tc_train.double().cpu()
    for name, tc in tc_other.items():
        mask = has_other[name].cpu()
        tr, te = tc_train[mask], tc.double().cpu()[mask]
        gap = tr - te
        row = {
            'num_nodes': int(mask.sum()),
            'mean_tc_train': _mean(tr),
            f'mean_tc_{name}': _mean(te),
            'mean_gap': _mean(gap),
            'frac_lower': _mean((te < tr).double()),
        }
        if perf is not None:
            full_gap = torch.full_like(tc_train, math.nan)
            full_gap[mask] = gap
            row['pearson_gap_vs_perf'] = pearson(full_gap, perf)
        out[name] = row
    return out
