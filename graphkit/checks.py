r"""Argument checks of the public tensor entry points (``encode``, ``predict``, ``forward``, ``predict_link``,
``recommend``, the losses and the metrics): dtype, shape, index range and device agreement, with an error that
names the function and the argument instead of an ``IndexError`` deep inside a kernel.

The checks are on by default and cost one reduction per index tensor (``min`` / ``max``); turn them off for
speed, as PyG's :func:`torch_geometric.is_debug_enabled` turns its own on, with ``GRAPHKIT_CHECKS=0`` in the
environment, :func:`set_checks`, or the :class:`no_checks` context manager.

.. code-block:: python

    import graphkit

    with graphkit.checks.no_checks():
        logits = model(x, adj, pairs)  # trusted inputs, no validation
"""

from __future__ import annotations

import os
from typing import Any, Optional, Tuple

import torch
from torch import Tensor

__all__ = ['checks_enabled', 'set_checks', 'no_checks', 'check_tensor', 'check_index']

_ENABLED = os.environ.get('GRAPHKIT_CHECKS', '1').strip().lower() not in ('0', 'false', 'no', 'off')


def checks_enabled() -> bool:
    """Whether the argument checks run."""
    return _ENABLED


def set_checks(enabled: bool) -> None:
    """Turn the argument checks on or off (process-wide)."""
    global _ENABLED
    _ENABLED = bool(enabled)


class no_checks:
    """Context manager that turns the argument checks off inside its block."""

    def __enter__(self) -> 'no_checks':
        self._prev = checks_enabled()
        set_checks(False)
        return self

    def __exit__(self, *args: Any) -> None:
        set_checks(self._prev)


def _shape(t: Any) -> str:
    return str(tuple(t.shape)) if isinstance(t, Tensor) else type(t).__name__


def check_tensor(
    owner: str,
    name: str,
    t: Any,
    *,
    dim: Optional[int] = None,
    floating: Optional[bool] = None,
    size: Optional[Tuple[Tuple[int, int], ...]] = None,
    like: Optional[Tensor] = None,
) -> None:
    r"""Checks argument :obj:`name` of :obj:`owner`: a tensor, with :obj:`dim` dimensions, floating (or integer
    when :obj:`floating` is :obj:`False`), ``t.size(axis) == n`` for every ``(axis, n)`` of :obj:`size`, and on
    the device of :obj:`like`; raises a :class:`ValueError` naming both. No-op when the checks are off."""
    if not _ENABLED:
        return
    if not isinstance(t, Tensor):
        raise ValueError(f"'{owner}' expects '{name}' to be a tensor (got {type(t).__name__})")
    if dim is not None and t.dim() != dim:
        raise ValueError(f"'{owner}' expects '{name}' to have {dim} dimensions (got shape {_shape(t)})")
    if floating is True and not t.is_floating_point():
        raise ValueError(f"'{owner}' expects '{name}' to be a floating tensor (got {t.dtype})")
    if floating is False and (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool):
        raise ValueError(f"'{owner}' expects '{name}' to be an integer tensor (got {t.dtype})")
    for axis, n in size or ():
        if t.size(axis) != n:
            raise ValueError(f"'{owner}' expects '{name}' to have size {n} in dimension {axis} (got {_shape(t)})")
    if like is not None and t.device != like.device:
        raise ValueError(f"'{owner}' expects '{name}' on {like.device}, the model's / graph's device (got {t.device})")


def check_index(owner: str, name: str, index: Any, num: int, *, rows: Optional[int] = None, like: Any = None) -> None:
    r"""Checks an index argument: an integer tensor (of shape ``(rows, B)`` when :obj:`rows` is given), every
    entry in :math:`[0, \text{num})`, on the device of :obj:`like`; raises a :class:`ValueError` naming the
    argument and the first offending value. No-op when the checks are off."""
    if not _ENABLED:
        return
    check_tensor(owner, name, index, floating=False, dim=None if rows is None else 2, like=like)
    if rows is not None and index.size(0) != rows:
        raise ValueError(f"'{owner}' expects '{name}' of shape ({rows}, B) (got {_shape(index)})")
    if index.numel():
        lo, hi = int(index.min()), int(index.max())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise ValueError(f"'{owner}' got '{name}' with id {bad}, outside [0, {num})")
