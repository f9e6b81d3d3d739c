r"""Process-wide settings of the command line: how freed memory is kept (opt-in).

glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and returns it
with ``munmap`` when freed, and trims the heap top above 128 KiB of free memory; a training step that allocates
the same large tensors as the last one then page-faults all of them in again. An ogbl-ddi NCN batch (49,152 x
224 float activations, 44 MiB each) spent a fifth of its CPU time in the kernel that way.
``GRAPHKIT_MALLOC=retain`` makes the command line call :func:`configure_allocator`: glibc serves large blocks
from the heap and keeps freed memory for reuse (``benchmarks/RESULTS.md``, issue 14, has the gain). The price
is memory: the heap does not shrink, and since an aligned block a little larger than a freed one cannot reuse
it, the heap grows by several times the largest per-step tensors before blocks are reused (a probe allocating
64 MiB in a loop settled after growing by about 0.5 GiB). So it stays off by default. A library user can call
:func:`configure_allocator` (or set ``MALLOC_MMAP_MAX_=0`` and ``MALLOC_TRIM_THRESHOLD_`` in the environment).
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Optional

ENV = 'GRAPHKIT_MALLOC'
MODES = ('retain', 'system')

# mallopt(3) parameters.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
#: Free memory at the top of the heap that is kept rather than returned (mallopt takes an int).
TRIM_THRESHOLD = (1 << 31) - 1

_APPLIED: Optional[str] = None


def allocator_mode() -> str:
    r"""The mode asked for by :obj:`GRAPHKIT_MALLOC` (:obj:`'system'` unless set)."""
    mode = os.environ.get(ENV, 'system').strip().lower() or 'system'
    if mode not in MODES:
        raise ValueError(f'environment variable {ENV} must be one of {", ".join(MODES)} (got {mode!r})')
    return mode


def configure_allocator(mode: Optional[str] = None) -> str:
    r"""Applies :obj:`mode` (default: :func:`allocator_mode`) once per process and returns what is in
    effect: :obj:`'retain'` (glibc: no mmap for large blocks, heap trimmed only above 2 GiB free), or
    :obj:`'system'` (unchanged; also on platforms without glibc's :obj:`mallopt`)."""
    global _APPLIED
    mode = allocator_mode() if mode is None else mode
    if mode not in MODES:
        raise ValueError(f'allocator mode must be one of {", ".join(MODES)} (got {mode!r})')
    if _APPLIED is not None or mode == 'system':
        return _APPLIED or 'system'
    if not sys.platform.startswith('linux'):
        return 'system'
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return 'system'
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    if mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) != 1 or mallopt(_M_MMAP_MAX, 0) != 1:
        return 'system'
    _APPLIED = 'retain'
    return _APPLIED
