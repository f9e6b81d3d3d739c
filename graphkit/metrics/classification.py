r"""Node- and graph-classification metrics: accuracy, micro- and macro-averaged F1 (single- and multi-label),
and the regression errors MAE / RMSE. Pure torch, any device; the values are plain floats."""

from __future__ import annotations

from typing import Dict

import torch
from torch import Tensor

__all__ = [
    'classification_metrics',
    'classification_states',
    'classification_from_states',
    'f1_scores',
    'ogb_node_accuracy',
    'regression_metrics',
]


def _counts(pred: Tensor, target: Tensor, num_classes: int):
    """Per-class true positives, false positives and false negatives of one-hot / multi-hot 0/1 matrices."""
    pred, target = pred.bool(), target.bool()
    tp = (pred & target).sum(0).double()
    fp = (pred & ~target).sum(0).double()
    fn = (~pred & target).sum(0).double()
    return tp, fp, fn


def f1_scores(pred: Tensor, target: Tensor, num_classes: int) -> Dict[str, float]:
    r"""Micro- and macro-averaged F1.

    .. math::
        F_1^{micro} = \frac{2 \sum_c TP_c}{2 \sum_c TP_c + \sum_c FP_c + \sum_c FN_c}, \qquad
        F_1^{macro} = \frac{1}{C} \sum_c \frac{2\, TP_c}{2\, TP_c + FP_c + FN_c}

    A class with no prediction and no true member has :math:`F_1 = 0` (scikit-learn's ``zero_division=0``) and
    counts in the macro mean, as scikit-learn does for the labels it is given.

    Args:
        pred (torch.Tensor): Predicted classes ``[N]`` (single-label) or a 0/1 matrix ``[N, C]`` (multi-label).
        target (torch.Tensor): True classes ``[N]`` or a 0/1 matrix ``[N, C]``.
        num_classes (int): :math:`C`.
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"'pred' and 'target' must have the same shape (got {tuple(pred.shape)} and {tuple(target.shape)})"
        )
    if pred.dim() == 1:
        eye = torch.eye(num_classes, dtype=torch.bool, device=pred.device)
        pred, target = eye[pred.long()], eye[target.long()]
    return _f1_from_counts(*_counts(pred, target, num_classes))


def _f1_from_counts(tp: Tensor, fp: Tensor, fn: Tensor) -> Dict[str, float]:
    denom = 2 * tp + fp + fn
    per_class = torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(tp))
    micro_denom = float(denom.sum())
    return {
        'micro_f1': float(2 * tp.sum()) / micro_denom if micro_denom > 0 else 0.0,
        'macro_f1': float(per_class.mean()) if per_class.numel() else 0.0,
    }


def classification_metrics(logits: Tensor, target: Tensor, multi_label: bool = False) -> Dict[str, float]:
    r"""``acc``, ``micro_f1``, ``macro_f1`` and ``mean_f1`` :math:`= (F_1^{micro} + F_1^{macro}) / 2` (RpHGNN's
    early-stopping criterion on HGB) of :obj:`logits` (``[N, C]``) against :obj:`target`.

    Single-label: the prediction is the arg-max class and ``acc`` equals ``micro_f1``. Multi-label
    (:obj:`target` a ``[N, C]`` 0/1 matrix): a class is predicted where its logit is > 0 and ``acc`` is the
    subset accuracy (every label of a node right).
    """
    if logits.dim() != 2:
        raise ValueError(f"'logits' must have shape [N, C] (got {tuple(logits.shape)})")
    num_classes = logits.size(1)
    if target.numel() == 0:
        return {'acc': 0.0, 'micro_f1': 0.0, 'macro_f1': 0.0, 'mean_f1': 0.0}
    if multi_label:
        pred = (logits > 0).long()
        acc = float((pred == target.long()).all(dim=1).double().mean())
    else:
        pred = logits.argmax(dim=1)
        acc = float((pred == target).double().mean())
    f1 = f1_scores(pred, target.long(), num_classes)
    return {'acc': acc, **f1, 'mean_f1': (f1['micro_f1'] + f1['macro_f1']) / 2}


def _predict(logits: Tensor, multi_label: bool) -> Tensor:
    return (logits > 0).long() if multi_label else logits.argmax(dim=1)


def classification_states(logits: Tensor, target: Tensor, multi_label: bool = False) -> Tensor:
    r"""The reducible state of :func:`classification_metrics`: ``[correct, count, TP_1..C, FP_1..C, FN_1..C]``
    (float64) of :obj:`logits` against :obj:`target`. States of disjoint node sets add up, and
    :func:`classification_from_states` gives the metrics of their union (sharded evaluation under ``torchrun``)."""
    if logits.dim() != 2:
        raise ValueError(f"'logits' must have shape [N, C] (got {tuple(logits.shape)})")
    num_classes = logits.size(1)
    pred = _predict(logits, multi_label)
    if multi_label:
        correct = (pred == target.long()).all(dim=1).sum()
        p, t = pred, target.long()
    else:
        correct = (pred == target).sum()
        eye = torch.eye(num_classes, dtype=torch.bool, device=logits.device)
        p, t = eye[pred], eye[target.long()]
    tp, fp, fn = _counts(p, t, num_classes)
    count = torch.tensor([float(target.size(0))], dtype=torch.float64, device=logits.device)
    return torch.cat([correct.double().view(1), count, tp, fp, fn])


def classification_from_states(states: Tensor, num_classes: int) -> Dict[str, float]:
    r""":func:`classification_metrics` from (summed) :func:`classification_states`."""
    states = states.double()
    correct, count = float(states[0]), float(states[1])
    if count == 0:
        return {'acc': 0.0, 'micro_f1': 0.0, 'macro_f1': 0.0, 'mean_f1': 0.0}
    tp, fp, fn = states[2:].view(3, num_classes)
    f1 = _f1_from_counts(tp, fp, fn)
    return {'acc': correct / count, **f1, 'mean_f1': (f1['micro_f1'] + f1['macro_f1']) / 2}


def ogb_node_accuracy(y_true: Tensor, y_pred: Tensor) -> float:
    r"""Accuracy with the semantics of :class:`ogb.nodeproppred.Evaluator` (ogb 1.3.6) for the ``acc`` datasets
    (``ogbn-arxiv``, ``ogbn-products``, ``ogbn-mag``): inputs of shape ``[N, T]`` (or ``[N]``), per task column
    the share of equal entries among the rows whose true value is not NaN, averaged over the columns.

    .. math::
        \mathrm{acc} = \frac{1}{T} \sum_{t=1}^{T} \frac{|\{i : y_{it} = \hat y_{it}\}|}{N}
    """
    if y_true.dim() == 1:
        y_true, y_pred = y_true.view(-1, 1), y_pred.view(-1, 1)
    if y_true.shape != y_pred.shape or y_true.dim() != 2:
        raise ValueError(
            f"'y_true' and 'y_pred' must have the same shape [N, T] (got {tuple(y_true.shape)} and "
            f'{tuple(y_pred.shape)})'
        )
    accs = []
    for t in range(y_true.size(1)):
        yt, yp = y_true[:, t], y_pred[:, t]
        labelled = yt == yt  # not NaN
        accs.append(float((yt[labelled] == yp[labelled]).double().mean()))
    return sum(accs) / len(accs)


def regression_metrics(pred: Tensor, target: Tensor) -> Dict[str, float]:
    r"""``mae`` :math:`= \frac1N \sum |\hat y - y|` and ``rmse`` :math:`= \sqrt{\frac1N \sum (\hat y - y)^2}`."""
    if pred.shape != target.shape:
        raise ValueError(
            f"'pred' and 'target' must have the same shape (got {tuple(pred.shape)} and {tuple(target.shape)})"
        )
    err = (pred.double() - target.double()).view(-1)
    return {'mae': float(err.abs().mean()), 'rmse': float(err.pow(2).mean().sqrt())}
