r"""Progress on stderr: a tqdm bar on a terminal; off a terminal (nohup, SLURM, CI logs) a plain line at most
every 30 s, so a long epoch is never silent."""

from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Iterator, Optional

__all__ = ['is_tty', 'progress', 'format_seconds']


def is_tty() -> bool:
    """Whether stderr is a terminal (progress bars there; plain lines otherwise)."""
    return sys.stderr.isatty()


_PLURALS = {'batch': 'batches', 'pass': 'passes', 'query': 'queries'}


def _plural(unit: str) -> str:
    return _PLURALS.get(unit, unit + 's')


class _PlainProgress:
    r"""An iterable that prints a plain progress line to stderr at most every :obj:`every` seconds: what a
    log file, ``nohup``, SLURM or CI shows instead of a progress bar."""

    def __init__(
        self, iterable: Iterable, desc: str = '', unit: str = 'it', total: Optional[int] = None, every: float = 30.0
    ) -> None:
        self.iterable, self.desc, self.unit, self.every = iterable, desc, unit, every
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, '__len__') else None)

    def __iter__(self) -> Iterator:
        t0 = last = time.perf_counter()
        for i, item in enumerate(self.iterable):
            now = time.perf_counter()
            if now - last >= self.every and i:
                last = now
                done = f'{i}/{self.total}' if self.total else str(i)
                eta = f', ETA {format_seconds((now - t0) / i * (self.total - i))}' if self.total else ''
                print(
                    f'{self.desc}: {done} {_plural(self.unit)}, elapsed {format_seconds(now - t0)}{eta}',
                    file=sys.stderr,
                    flush=True,
                )
            yield item

    def __len__(self) -> int:
        return self.total or 0


def progress(iterable: Iterable, quiet: bool = False, **kwargs: Any) -> Iterable:
    r"""Progress over :obj:`iterable` on stderr: a tqdm bar on a terminal, a plain line at most every 30 s
    otherwise (``desc``, ``unit``, ``total`` are read by both), nothing under :obj:`quiet`."""
    if quiet:
        return iterable
    if not is_tty():
        return _PlainProgress(iterable, kwargs.get('desc', ''), kwargs.get('unit', 'it'), kwargs.get('total'))
    from tqdm import tqdm

    return tqdm(iterable, file=sys.stderr, leave=False, dynamic_ncols=True, **kwargs)


def format_seconds(seconds: float) -> str:
    """``'42.0 s'``, ``'3.5 min'`` or ``'2.1 h'``."""
    if seconds < 120:
        return f'{seconds:.1f} s'
    if seconds < 7200:
        return f'{seconds / 60:.1f} min'
    return f'{seconds / 3600:.1f} h'
