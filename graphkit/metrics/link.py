r"""Link-prediction metrics with OGB's exact semantics, and a drop-in OGB ``Evaluator``.

The numbers are those of :obj:`ogb.linkproppred.Evaluator` in ogb 1.3.6 (the tie-averaged MRR
rank introduced in ogb 1.3.4); :obj:`EVALUATOR_SEMANTICS` names that version and is written into
every run summary.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from typing import Any, Dict, List, Tuple, Union

import numpy as np
import torch
from torch import Tensor

__all__ = [
    'EVALUATOR_SEMANTICS',
    'OGB_EVAL_METRICS',
    'Evaluator',
    'hits_at_k',
    'mrr',
    'roc_auc',
]

#: The evaluation semantics implemented here (recorded in ``summary.json``).
EVALUATOR_SEMANTICS = 'ogb-1.3.6'

#: The metric OGB uses for each link-property-prediction dataset (``master.csv`` of ogb 1.3.6).
OGB_EVAL_METRICS: Dict[str, str] = {
    'ogbl-ppa': 'hits@100',
    'ogbl-collab': 'hits@50',
    'ogbl-ddi': 'hits@20',
    'ogbl-citation2': 'mrr',
    'ogbl-wikikg2': 'mrr',
    'ogbl-biokg': 'mrr',
    'ogbl-vessel': 'rocauc',
}

Array = Union[Tensor, np.ndarray]

# ---------------------------------------------------------------------------------------------
# Input checking
# ---------------------------------------------------------------------------------------------


_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def _check_array(x: Any, name: str, ndim: int) -> None:
    if isinstance(x, Tensor):
        if not (x.is_floating_point() or x.dtype in _INT_DTYPES):
            raise ValueError(f"'{name}' must hold real scores (a floating or integer dtype), got dtype {x.dtype}")
    elif isinstance(x, np.ndarray):
        if x.dtype.kind not in 'iuf':
            raise ValueError(f"'{name}' must hold real scores (a floating or integer dtype), got dtype {x.dtype}")
    else:
        raise ValueError(f"'{name}' must be a numpy ndarray or a torch Tensor, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"'{name}' must be {ndim}-dimensional, got shape {tuple(x.shape)}")


def _to_common(y_pred_pos: Array, y_pred_neg: Array, neg_ndim: int) -> Tuple[Array, Array, str]:
    r"""Validates both arrays and brings them to one kind, as OGB does: if either is a
    :class:`torch.Tensor` both become tensors on :obj:`y_pred_neg`'s device (``'torch'``),
    otherwise both stay numpy arrays (``'numpy'``)."""
    _check_array(y_pred_pos, 'y_pred_pos', 1)
    _check_array(y_pred_neg, 'y_pred_neg', neg_ndim)
    if isinstance(y_pred_pos, Tensor) or isinstance(y_pred_neg, Tensor):
        if isinstance(y_pred_pos, np.ndarray):
            y_pred_pos = torch.from_numpy(y_pred_pos)
        if isinstance(y_pred_neg, np.ndarray):
            y_pred_neg = torch.from_numpy(y_pred_neg)
        return y_pred_pos.to(y_pred_neg.device), y_pred_neg, 'torch'
    return y_pred_pos, y_pred_neg, 'numpy'


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"'K' must be a positive integer, got {k!r}")
    return int(k)


# ---------------------------------------------------------------------------------------------
# Functional metrics
# ---------------------------------------------------------------------------------------------


def hits_at_k(y_pred_pos: Array, y_pred_neg: Array, k: int) -> float:
    r"""Hits@:math:`K` against one negative pool shared by every positive, as in OGB.

    With :math:`\tau_K` the :math:`K`-th largest negative score,

    .. math::
        \mathrm{Hits@}K = \frac{1}{|P|} \sum_{i \in P}
        \mathbb{1}\left[ s^{+}_i > \tau_K \right],

    so a positive *tied* with :math:`\tau_K` counts as a miss. With fewer than :math:`K`
    negatives the result is :obj:`1.0` (by convention, also for an empty :obj:`y_pred_pos`).

    Args:
        y_pred_pos (torch.Tensor or numpy.ndarray): Positive scores, shape :math:`(P,)`.
        y_pred_neg (torch.Tensor or numpy.ndarray): Negative scores, shape :math:`(N,)`.
        k (int): The cut-off :math:`K \geq 1`.
    """
    k = _check_k(k)
    y_pred_pos, y_pred_neg, kind = _to_common(y_pred_pos, y_pred_neg, 1)
    if len(y_pred_neg) < k:
        return 1.0
    if len(y_pred_pos) == 0:
        raise ValueError(
            "'y_pred_pos' is empty: Hits@K over zero positives is undefined (ogb raises ZeroDivisionError)"
        )
    if kind == 'torch':
        threshold = torch.topk(y_pred_neg, k)[0][-1]  # 0-dim, as in ogb (same type promotion)
        num_hits = int((y_pred_pos > threshold).sum())
    else:
        threshold = np.partition(y_pred_neg, len(y_pred_neg) - k)[len(y_pred_neg) - k]
        num_hits = int(np.sum(y_pred_pos > threshold))
    return float(num_hits) / len(y_pred_pos)


def _ranks(y_pred_pos: Array, y_pred_neg: Array, kind: str) -> Array:
    # 1 + #(neg > pos) + 0.5 * #(neg == pos), written as the mean of optimistic and pessimistic
    # ranks; float32, exact for fewer than 2**23 negatives per row.
    if kind == 'torch':
        pos = y_pred_pos.view(-1, 1)
        count = (y_pred_neg > pos).sum(dim=1) + (y_pred_neg >= pos).sum(dim=1)
        return (0.5 * count.to(torch.float32) + 1.0).to(torch.float32)
    pos = y_pred_pos.reshape(-1, 1)
    count = (y_pred_neg > pos).sum(axis=1) + (y_pred_neg >= pos).sum(axis=1)
    return (0.5 * count + 1.0).astype(np.float32)


def _check_rows(y_pred_pos: Array, y_pred_neg: Array) -> None:
    if y_pred_neg.shape[0] not in (y_pred_pos.shape[0], 1):
        raise ValueError(
            f"'y_pred_neg' must have shape (num_edges, num_neg) with num_edges = "
            f'len(y_pred_pos) = {y_pred_pos.shape[0]} (or one shared row), got '
            f'shape {tuple(y_pred_neg.shape)}'
        )


def mrr(y_pred_pos: Array, y_pred_neg: Array) -> Tensor:
    r"""Per-edge reciprocal ranks with OGB's tie-averaged rank (ogb :math:`\geq` 1.3.4).

    Positive :math:`i` is ranked among its own negatives :math:`s^{-}_{i1}, \ldots, s^{-}_{iN}`:

    .. math::
        r_i = 1 + \sum_{j=1}^{N} \mathbb{1}\left[s^{-}_{ij} > s^{+}_i\right]
        + \frac{1}{2} \sum_{j=1}^{N} \mathbb{1}\left[s^{-}_{ij} = s^{+}_i\right],

    the mean of the optimistic and the pessimistic rank; the result is :math:`1 / r_i`, so one
    tied negative gives :math:`r_i = 1.5`. Average it over all edges to obtain the MRR.

    Args:
        y_pred_pos (torch.Tensor or numpy.ndarray): Positive scores, shape :math:`(P,)`.
        y_pred_neg (torch.Tensor or numpy.ndarray): Negative scores, shape :math:`(P, N)`
            (a single row :math:`(1, N)` is shared by all positives).

    Returns:
        torch.Tensor: :math:`1 / r_i` as :obj:`torch.float32`, shape :math:`(P,)`.
    """
    y_pred_pos, y_pred_neg, kind = _to_common(y_pred_pos, y_pred_neg, 2)
    _check_rows(y_pred_pos, y_pred_neg)
    out = 1.0 / _ranks(y_pred_pos, y_pred_neg, kind)
    return out if kind == 'torch' else torch.from_numpy(out)


def _roc_auc_torch(y_pred_pos: Tensor, y_pred_neg: Tensor) -> float:
    # Exact pairwise count: 2 * AUC * P * N = sum_i (#(neg < pos_i) + #(neg <= pos_i)).
    if torch.isnan(y_pred_pos).any() or torch.isnan(y_pred_neg).any():
        raise ValueError("'y_pred_pos' and 'y_pred_neg' must not contain NaN for ROC-AUC")
    num_pos, num_neg = y_pred_pos.numel(), y_pred_neg.numel()
    if num_pos == 0 or num_neg == 0:
        warnings.warn('ROC-AUC is undefined with only one class present; returning nan')
        return math.nan
    dtype = torch.promote_types(y_pred_pos.dtype, y_pred_neg.dtype)
    neg = y_pred_neg.to(dtype).sort()[0]
    pos = y_pred_pos.to(dtype)
    lower = torch.searchsorted(neg, pos, side='left')
    upper = torch.searchsorted(neg, pos, side='right')
    return int((lower + upper).sum()) / (2 * num_pos * num_neg)


def _has_sklearn() -> bool:
    return importlib.util.find_spec('sklearn') is not None


def roc_auc(y_pred_pos: Array, y_pred_neg: Array) -> float:
    r"""The area under the ROC curve of positives :math:`P` against negatives :math:`N`,

    .. math::
        \mathrm{AUC} = \frac{1}{|P|\,|N|} \sum_{i \in P} \sum_{j \in N}
        \left( \mathbb{1}\left[s^{+}_i > s^{-}_j\right]
        + \frac{1}{2} \mathbb{1}\left[s^{+}_i = s^{-}_j\right] \right).

    Uses :func:`sklearn.metrics.roc_auc_score` exactly as OGB does when scikit-learn is installed,
    otherwise an exact pure-PyTorch pair count (sorting plus :func:`torch.searchsorted`).

    Args:
        y_pred_pos (torch.Tensor or numpy.ndarray): Positive scores, shape :math:`(P,)`.
        y_pred_neg (torch.Tensor or numpy.ndarray): Negative scores, shape :math:`(N,)`.
    """
    y_pred_pos, y_pred_neg, kind = _to_common(y_pred_pos, y_pred_neg, 1)
    if not _has_sklearn():
        if kind == 'numpy':
            y_pred_pos, y_pred_neg = torch.from_numpy(y_pred_pos), torch.from_numpy(y_pred_neg)
        return _roc_auc_torch(y_pred_pos, y_pred_neg)

    from sklearn.metrics import roc_auc_score

    if kind == 'torch':
        y_pred_pos, y_pred_neg = _to_numpy(y_pred_pos), _to_numpy(y_pred_neg)
    y_true = np.concatenate([np.ones(len(y_pred_pos)), np.zeros(len(y_pred_neg))]).astype(np.int32)
    y_pred = np.concatenate([y_pred_pos, y_pred_neg])
    return float(roc_auc_score(y_true, y_pred))


def _to_numpy(x: Tensor) -> np.ndarray:
    x = x.detach().cpu()
    if x.dtype == torch.bfloat16:  # no numpy counterpart; float32 holds it exactly
        x = x.to(torch.float32)
    return x.numpy()


# ---------------------------------------------------------------------------------------------
# The OGB face
# ---------------------------------------------------------------------------------------------


class Evaluator:
    r"""A drop-in replacement for :class:`ogb.linkproppred.Evaluator` (ogb 1.3.6 semantics),
    without pandas, ``print`` or ``RuntimeError``\ s.

    The metric is chosen by dataset name (:obj:`OGB_EVAL_METRICS`):

    * **Hits@K** (``ogbl-ddi`` K=20, ``ogbl-collab`` K=50, ``ogbl-ppa`` K=100): see
      :func:`hits_at_k`. :obj:`y_pred_pos` is :math:`(P,)`, :obj:`y_pred_neg` is :math:`(N,)`
      and shared by every positive. Callers may reassign :obj:`evaluator.K`; the result is
      ``{'hits@K': float}``.
    * **MRR** (``ogbl-citation2``, ``ogbl-wikikg2``, ``ogbl-biokg``): see :func:`mrr`.
      :obj:`y_pred_neg` is :math:`(P, N)`; row :math:`i` ranks positive :math:`i`. The result
      holds the per-edge lists ``'mrr_list'``, ``'hits@1_list'``, ``'hits@3_list'`` and
      ``'hits@10_list'`` (:math:`r_i \leq k`) as :obj:`float32` tensors for tensor input and
      :obj:`float32` numpy arrays for numpy input; average them to report.
    * **ROC-AUC** (``ogbl-vessel``): see :func:`roc_auc`; the result is ``{'rocauc': float}``.

    Inputs may be numpy arrays or tensors; if either is a tensor, both are used as tensors on
    :obj:`y_pred_neg`'s device, and the MRR lists live there too.

    .. note::
        Where ogb fails on well-formed input, this class returns what ogb meant: ogb 1.3.6
        raises :class:`TypeError` for MRR on two numpy arrays (it calls ``.sum(dim=1)``
        on an ndarray); here the numpy result equals ogb's tensor result. Bad keys, shapes and
        dtypes raise :class:`ValueError` naming the key (ogb raises :class:`RuntimeError`).

    Args:
        name (str): The OGB dataset name, *e.g.*, :obj:`'ogbl-collab'`.
    """

    def __init__(self, name: str) -> None:
        if name not in OGB_EVAL_METRICS:
            raise ValueError(
                f"Unknown dataset name '{name}' for 'Evaluator'; known names: {', '.join(OGB_EVAL_METRICS)}"
            )
        self.name = name
        self.eval_metric = OGB_EVAL_METRICS[name]
        if self.eval_metric.startswith('hits@'):
            self.K = int(self.eval_metric.split('@')[1])

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(name='{self.name}')"

    @staticmethod
    def _get(input_dict: Dict[str, Any]) -> Tuple[Any, Any]:
        if not isinstance(input_dict, dict):
            raise ValueError(
                f"'input_dict' must be a dict with keys 'y_pred_pos' and 'y_pred_neg', got {type(input_dict).__name__}"
            )
        for key in ('y_pred_pos', 'y_pred_neg'):
            if key not in input_dict:
                raise ValueError(f"'input_dict' is missing the key '{key}' (got keys {sorted(map(str, input_dict))})")
        return input_dict['y_pred_pos'], input_dict['y_pred_neg']

    def eval(self, input_dict: Dict[str, Array]) -> Dict[str, Any]:
        r"""Evaluates ``{'y_pred_pos': ..., 'y_pred_neg': ...}`` (see the class docstring)."""
        y_pred_pos, y_pred_neg = self._get(input_dict)
        if self.eval_metric.startswith('hits@'):
            k = _check_k(getattr(self, 'K', None))
            return {f'hits@{k}': hits_at_k(y_pred_pos, y_pred_neg, k)}
        if self.eval_metric == 'rocauc':
            return {'rocauc': roc_auc(y_pred_pos, y_pred_neg)}
        # mrr
        y_pred_pos, y_pred_neg, kind = _to_common(y_pred_pos, y_pred_neg, 2)
        _check_rows(y_pred_pos, y_pred_neg)
        ranks = _ranks(y_pred_pos, y_pred_neg, kind)
        if kind == 'torch':
            out = {f'hits@{k}_list': (ranks <= k).to(torch.float32) for k in (1, 3, 10)}
        else:
            out = {f'hits@{k}_list': (ranks <= k).astype(np.float32) for k in (1, 3, 10)}
        out['mrr_list'] = 1.0 / ranks
        return out

    @property
    def expected_input_format(self) -> str:
        r"""A description of what :meth:`eval` expects."""
        lines: List[str] = [
            f'==== Expected input format of Evaluator for {self.name}',
            "{'y_pred_pos': y_pred_pos, 'y_pred_neg': y_pred_neg}",
            '- y_pred_pos: numpy ndarray or torch tensor of shape (num_edges, ).',
        ]
        if self.eval_metric == 'mrr':
            lines += [
                '- y_pred_neg: numpy ndarray or torch tensor of shape (num_edges, num_nodes_neg).',
                'y_pred_pos[i] is ranked among y_pred_neg[i]; ties count half '
                '(rank = 1 + #(neg > pos) + 0.5 * #(neg == pos)).',
            ]
        else:
            lines += ['- y_pred_neg: numpy ndarray or torch tensor of shape (num_edges_neg, ).']
        lines += ['y_pred_pos holds the scores of positive edges, y_pred_neg those of negative edges.']
        if self.eval_metric.startswith('hits@'):
            lines += ['Every positive is compared with the K-th largest negative score; a tie with it is a miss.']
        return '\n'.join(lines) + '\n'

    @property
    def expected_output_format(self) -> str:
        r"""A description of what :meth:`eval` returns."""
        lines: List[str] = [f'==== Expected output format of Evaluator for {self.name}']
        if self.eval_metric.startswith('hits@'):
            k = getattr(self, 'K', None)
            lines += [f"{{'hits@{k}': hits@{k}}}", f'- hits@{k} (float): Hits@{k} score']
        elif self.eval_metric == 'mrr':
            lines += [
                "{'hits@1_list': hits@1_list, 'hits@3_list': hits@3_list, "
                "'hits@10_list': hits@10_list, 'mrr_list': mrr_list}",
                '- mrr_list (float32 array/tensor, (num_edges, )): reciprocal ranks',
                '- hits@k_list (float32 array/tensor, (num_edges, )): 1.0 where rank <= k',
                'Note: the i-th element belongs to the i-th edge; concatenate the lists '
                'over batches and take the mean to obtain the final score.',
            ]
        else:
            lines += ["{'rocauc': rocauc}", '- rocauc (float): ROC-AUC score']
        return '\n'.join(lines) + '\n'
