r"""Process-wide settings of the command line: how freed memory is kept.

glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and returns it
with ``munmap`` when freed, so a training step that allocates the same large tensors as the last one
page-faults all of them in again: an ogbl-ddi NCN batch (49,152 x 224 float activations, 44 MiB each) spent
a fifth of its time in the kernel that way. :func:`configure_allocator` makes glibc serve large blocks from
the heap and keep freed memory for reuse, which ends those faults (``benchmarks/RESULTS.md``, issue 14). The
command line calls it; a library user who wants it calls it (or sets ``MALLOC_MMAP_MAX_=0`` and
``MALLOC_TRIM_THRESHOLD_`` in the environment). Peak memory use is unchanged, but freed memory stays with
the process until it exits.

``GRAPHKIT_MALLOC=system`` in the environment leaves the allocator as it is.
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
    r"""The mode asked for by :obj:`GRAPHKIT_MALLOC` (:obj:`'retain'` unless set)."""
    mode = os.environ.get(ENV, 'retain').strip().lower() or 'retain'
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
