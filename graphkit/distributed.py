r"""Data-parallel training under ``torchrun``: the process group, the per-epoch sampler, sharded evaluation with
reduced metric states, and the DDP wrapper of a training step.

``torchrun --nproc_per_node N -m graphkit train MODEL --dataset D ...`` starts :math:`N` processes; each reads
``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` (or, when ``MASTER_ADDR`` is set but ``WORLD_SIZE`` is not, SLURM's
``SLURM_PROCID`` / ``SLURM_NTASKS`` / ``SLURM_LOCALID``) and joins one process group: ``gloo`` on CPU, ``nccl``
on CUDA (each rank on ``cuda:LOCAL_RANK``). Without these variables nothing here is active:
:class:`Distributed` is a one-process stand-in whose methods return their input, so single-process runs do no
collective call and pay nothing.

What the run loop (:class:`graphkit.tasks.run.Task`) does with it:

* **Data.** Every rank holds the full graph (message passing needs it). Rank 0 loads and caches first, the others
  wait at a barrier and then read the cache (:meth:`Distributed.rank_zero_first`).
* **Training.** Each epoch draws one permutation of the training items (pairs, users, nodes, graphs) from a
  generator seeded by ``(seed, epoch)``, identical on every rank, cuts it into *global* batches of
  ``train.batch_size`` and gives rank :math:`r` the items :math:`r, r + N, r + 2N, \dots` of each batch
  (:meth:`Distributed.batches`, the semantics of :class:`~torch.utils.data.DistributedSampler` with
  ``set_epoch``, without its padding). The step runs inside :class:`~torch.nn.parallel.DistributedDataParallel`
  (:meth:`Distributed.wrap`), which averages the gradients; the loss of a rank is weighted by
  :math:`N n_r / n` so that the averaged gradient is the gradient of the global batch's mean loss, whatever
  :math:`n_r`. Other randomness (dropout, the negatives a model draws) comes from a per-rank stream.
* **Evaluation.** Queries are sharded the same way (:meth:`Distributed.shard`) and the *states* of the metrics
  are summed across ranks (:meth:`Distributed.sum`): hit counts, per-query metric sums and counts, confusion
  counts, error sums. The Hits@K threshold comes from all negatives (every rank's top :math:`K` are gathered,
  :func:`hits_at_k`). The values equal those of one process up to the order of floating-point sums.
* **Writes.** Only rank 0 writes the run directory and prints; the other ranks are quiet.
* **Failures.** A collective that does not complete within ``GRAPHKIT_DIST_TIMEOUT`` seconds (default 1800), or
  whose peer has died, raises :class:`RankFailure` (a clear message, exit status 2) instead of hanging.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import random
import sys
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['Distributed', 'RankFailure', 'launch_env', 'hits_at_k', 'mix_seeds']

#: Seconds a collective may wait for the other ranks before the process group gives up.
DEFAULT_TIMEOUT_S = 1800.0


class RankFailure(ValueError):
    r"""Another rank died or stopped answering: raised instead of hanging (a :class:`ValueError`, so the command
    line prints it as ``graphkit train: error: ...`` and exits with status 2)."""


def launch_env(environ: Optional[Dict[str, str]] = None) -> Optional[Tuple[int, int, int]]:
    r"""``(rank, world_size, local_rank)`` of a process started by ``torchrun`` (``RANK`` / ``WORLD_SIZE`` /
    ``LOCAL_RANK``) or by ``srun`` with ``MASTER_ADDR`` set (``SLURM_PROCID`` / ``SLURM_NTASKS`` /
    ``SLURM_LOCALID``); :obj:`None` for a plain process."""
    env = os.environ if environ is None else environ
    names = None
    if 'WORLD_SIZE' in env and 'RANK' in env:
        names = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK')
    elif 'MASTER_ADDR' in env and 'SLURM_NTASKS' in env and 'SLURM_PROCID' in env:
        names = ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID')
    if names is None:
        return None
    try:
        rank, world, local = (int(env.get(n, '0')) for n in names)
    except ValueError:
        raise ValueError(f'{"/".join(names)} must be integers (got {[env.get(n) for n in names]})') from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(f'{"/".join(names)} = {rank}/{world}/{local} do not describe a rank of a process group')
    return rank, world, local


class _Step(torch.nn.Module):
    """Holds the model; ``forward(fn, *args)`` is ``fn(model, *args)``, so that DDP wraps any training step (models
    are trained through ``encode`` / ``predict`` / ``loss`` methods, not only ``forward``)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, fn: Callable[..., Tensor], *args: Any) -> Tensor:
        return fn(self.model, *args)


#: Words of the errors a collective raises when a peer has died or a timeout expired (gloo, NCCL, the store).
_COMM_FAILURE = ('connection reset', 'connection closed', 'connection refused', 'broken pipe', 'timed out', 'timeout',
                 'gloo', 'nccl', 'socket', 'processgroup', 'tcpstore')  # fmt: skip


def _is_comm_failure(e: BaseException) -> bool:
    """Whether :obj:`e` comes from the process group (a dead peer, a timeout), not from the training code."""
    import torch.distributed as dist

    if isinstance(e, getattr(dist, 'DistError', ())):
        return True
    text = str(e).lower()
    return 'out of memory' not in text and any(word in text for word in _COMM_FAILURE)


def _failure(e: BaseException, rank: int) -> RankFailure:
    text = ' '.join(str(e).split())[:300]
    return RankFailure(
        f'rank {rank}: another rank died or stopped answering ({type(e).__name__}: {text}); the last checkpoint '
        'is intact: continue with torchrun ... --resume'
    )


class Distributed:
    r"""The process group of one ``graphkit train`` call (:meth:`setup`), or a one-process stand-in.

    Args:
        rank (int): This process's rank. (default: :obj:`0`)
        world_size (int): Number of processes. (default: :obj:`1`)
        local_rank (int): The rank on this node (its GPU). (default: :obj:`0`)
        enabled (bool): Whether a process group is in use; :obj:`False` makes every method a no-op returning its
            input. (default: :obj:`False`)
    """

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0, enabled: bool = False) -> None:
        self.rank, self.world_size, self.local_rank, self.enabled = rank, world_size, local_rank, enabled

    def __repr__(self) -> str:
        if not self.enabled:
            return f'{self.__class__.__name__}()'
        return f'{self.__class__.__name__}(rank={self.rank}, world_size={self.world_size})'

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one that writes and prints."""
        return self.rank == 0

    # Setup ------------------------------------------------------------------------------------------------
    @classmethod
    def setup(cls, device: str = 'cpu') -> Tuple['Distributed', torch.device]:
        r"""The process group of this process (created once, on first use) and its device: under ``torchrun``,
        ``--device cuda`` becomes ``cuda:LOCAL_RANK`` with the ``nccl`` backend, ``cpu`` uses ``gloo``. A plain
        process gets ``(Distributed(), torch.device(device))``."""
        import torch.distributed as dist

        launched = launch_env()
        dev = torch.device(device)
        if launched is None:
            return cls(), dev
        rank, world, local = launched
        if dev.type == 'cuda':
            if not torch.cuda.is_available():
                raise ValueError(f"--device '{device}': CUDA is not available in this torch build or on this machine")
            if dev.index is not None and world > 1:
                raise ValueError(
                    f"--device '{device}' under torchrun: pass --device cuda; each rank uses cuda:LOCAL_RANK"
                )
            if local >= torch.cuda.device_count():
                raise ValueError(
                    f'LOCAL_RANK {local} has no GPU: this node has {torch.cuda.device_count()} (start at most that '
                    'many processes per node, --nproc_per_node)'
                )
            dev = torch.device('cuda', local)
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            timeout = float(os.environ.get('GRAPHKIT_DIST_TIMEOUT', DEFAULT_TIMEOUT_S))
            backend = 'nccl' if dev.type == 'cuda' else 'gloo'
            kwargs: Dict[str, Any] = {'device_id': dev} if dev.type == 'cuda' else {}
            if 'WORLD_SIZE' not in os.environ:  # srun: the rendezvous address comes from MASTER_ADDR / MASTER_PORT
                kwargs.update(rank=rank, world_size=world)
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout), **kwargs)
            import atexit

            atexit.register(_destroy)
        return cls(rank, world, local, enabled=True), dev

    def quiet_others(self) -> None:
        """Send the standard output of ranks other than 0 to ``/dev/null`` (errors stay on stderr)."""
        if self.enabled and not self.is_main:
            sys.stdout = open(os.devnull, 'w')

    # Collectives ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Turn a collective that fails because a peer died or timed out into a :class:`RankFailure`."""
        try:
            yield
        except RankFailure:
            raise
        except RuntimeError as e:  # DistBackendError / DistNetworkError are RuntimeErrors
            if not self.enabled or not _is_comm_failure(e):
                raise
            raise _failure(e, self.rank) from None

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            with self.guard():
                dist.barrier()

    @contextlib.contextmanager
    def rank_zero_first(self) -> Iterator[None]:
        """Rank 0 runs the block (loads, pre-computes, writes the cache) while the others wait; then they run it
        (reading the cache). A no-op in one process."""
        if not self.enabled:
            yield
            return
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def sum(self, tensor: Tensor) -> Tensor:
        """The element-wise sum of :obj:`tensor` over the ranks (in float64 for floating inputs); itself in one
        process."""
        if not self.enabled:
            return tensor
        import torch.distributed as dist

        out = tensor.to(self._comm_device(), torch.float64 if tensor.is_floating_point() else tensor.dtype, copy=True)
        with self.guard():
            dist.all_reduce(out)
        return out.to(tensor.device)

    def any(self, flag: bool) -> bool:
        """Whether :obj:`flag` holds on any rank (for decisions every rank must take together: the time budget,
        ``--stop-after``)."""
        if not self.enabled:
            return flag
        return bool(self.sum(torch.tensor([int(flag)], device=self._comm_device())).item())

    def mean(self, value: float) -> float:
        """The mean of :obj:`value` over the ranks (the logged epoch loss)."""
        if not self.enabled:
            return value
        return float(self.sum(torch.tensor([value], dtype=torch.float64, device=self._comm_device())).item()) / (
            self.world_size
        )

    def gather_objects(self, obj: Any) -> List[Any]:
        """Every rank's :obj:`obj` (picklable), in rank order; ``[obj]`` in one process."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: List[Any] = [None] * self.world_size
        with self.guard():
            dist.all_gather_object(out, obj)
        return out

    def gather_cat(self, tensor: Tensor) -> Tensor:
        """The concatenation (along dim 0, in rank order) of every rank's :obj:`tensor`, whose first dimension may
        differ between ranks; itself in one process."""
        if not self.enabled:
            return tensor
        import torch.distributed as dist

        local = tensor.to(self._comm_device())
        sizes = self.gather_sizes(local.size(0))
        pad = local.new_zeros((max(sizes) - local.size(0), *local.shape[1:]))
        parts = [local.new_empty((max(sizes), *local.shape[1:])) for _ in sizes]
        with self.guard():
            dist.all_gather(parts, torch.cat([local, pad]))
        return torch.cat([p[:n] for p, n in zip(parts, sizes)]).to(tensor.device)

    def gather_sizes(self, n: int) -> List[int]:
        sizes = torch.zeros(self.world_size, dtype=torch.long, device=self._comm_device())
        sizes[self.rank] = n
        return [int(s) for s in self.sum(sizes).tolist()]

    def _comm_device(self) -> torch.device:
        import torch.distributed as dist

        if dist.get_backend() == 'nccl':
            return torch.device('cuda', torch.cuda.current_device())
        return torch.device('cpu')

    # Sampling and sharding ------------------------------------------------------------------------------
    def shard(self, index: Tensor, dim: int = -1) -> Tensor:
        """Rank :math:`r`'s share of :obj:`index` along :obj:`dim` (items :math:`r, r + N, \\dots`); all of it in
        one process."""
        if not self.enabled:
            return index
        keep = torch.arange(self.rank, max(index.size(dim), self.rank), self.world_size, device=index.device)
        return index.index_select(dim, keep)

    def reduce_mean(self, values: Tensor) -> float:
        """The mean of per-query :obj:`values` sharded over the ranks, from the sum and count of every rank (in
        one process ``values.float().mean()``)."""
        if not self.enabled:
            return float(values.float().mean())
        count = torch.tensor(float(values.numel()), dtype=torch.float64, device=values.device)
        both = self.sum(torch.stack([values.double().sum(), count]))
        return float(both[0] / both[1]) if both[1] > 0 else float('nan')

    def batches(
        self, n: int, batch_size: int, seed: int, epoch: int, drop_last: bool, device: torch.device
    ) -> List[Tuple[Tensor, float]]:
        r"""This rank's mini-batches of one epoch over :obj:`n` training items, as ``(index, weight)`` pairs.

        One permutation of :math:`0 \dots n-1`, drawn from a generator seeded by ``(seed, epoch)`` and so the
        same on every rank, is cut into global batches of :obj:`batch_size` (with :obj:`drop_last`, the last
        incomplete batch is dropped, but there is always at least one), and each global batch is
        :meth:`shard`-ed. The weight :math:`N n_r / n_b` (:math:`n_r` this rank's items, :math:`n_b` the batch's)
        makes DDP's average of the ranks' mean losses the mean loss of the global batch; a rank left without items
        (a last batch smaller than :math:`N`) gets the batch's first item with weight 0, so that every rank takes
        part in every step.
        """
        gen = torch.Generator().manual_seed(mix_seeds(seed, epoch))
        perm = torch.randperm(n, generator=gen).to(device)
        stops = range(batch_size, max(n // batch_size, 1) * batch_size + 1, batch_size) if drop_last else None
        starts = list(range(0, n, batch_size)) if stops is None else [s - batch_size for s in stops]
        out = []
        for start in starts:
            batch = perm[start : start + batch_size]
            local = self.shard(batch)
            if local.numel() == 0:
                out.append((batch[:1], 0.0))
            else:
                out.append((local, self.world_size * local.numel() / batch.numel()))
        return out

    @contextlib.contextmanager
    def synced_rng(self, seed: int, epoch: int) -> Iterator[None]:
        """Inside the block, Python's, NumPy's and torch's CPU generators are seeded by ``(seed, epoch)``, the same
        on every rank (the training negatives of the link task, drawn once for the global epoch); outside it each
        rank keeps its own stream. A no-op in one process."""
        if not self.enabled:
            yield
            return
        import numpy as np

        state, np_state = random.getstate(), np.random.get_state()
        cuda = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
        with torch.random.fork_rng(devices=cuda):  # the ranks' own CUDA streams are restored too
            s = mix_seeds(seed, epoch, 1)
            random.seed(s)
            np.random.seed(s % 2**32)
            torch.manual_seed(s)
            try:
                yield
            finally:
                random.setstate(state)
                np.random.set_state(np_state)

    # DDP --------------------------------------------------------------------------------------------------
    def wrap(self, model: torch.nn.Module) -> Optional[torch.nn.Module]:
        r"""A :class:`~torch.nn.parallel.DistributedDataParallel` around :obj:`model` whose forward runs a whole
        training step (``ddp(fn, *args) = fn(model, *args)``), or :obj:`None` in one process or for a model
        without trainable parameters. Building it broadcasts rank 0's parameters and buffers. Non-persistent and
        sparse buffers (graph-derived, equal on every rank) are not synchronised; unused parameters are allowed
        (``find_unused_parameters``)."""
        if not self.enabled or not any(p.requires_grad for p in model.parameters()):
            return None
        from torch.nn.parallel import DistributedDataParallel

        step = _Step(model)
        persistent = set(step.state_dict().keys())
        ignore = [name for name, b in step.named_buffers() if name not in persistent or b.layout != torch.strided]
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(step, ignore)
        device_ids = [self.local_rank] if next(model.parameters()).device.type == 'cuda' else None
        with self.guard():
            return DistributedDataParallel(step, device_ids=device_ids, find_unused_parameters=True)

    def sync_buffers(self, model: torch.nn.Module) -> None:
        """Broadcast rank 0's persistent dense buffers (batch-norm statistics) to every rank, so that an evaluation
        sees the model state the checkpoint holds."""
        if not self.enabled:
            return
        import torch.distributed as dist

        persistent = set(model.state_dict().keys())
        with self.guard():
            for name, b in model.named_buffers():
                if name in persistent and b.layout == torch.strided and b.numel():
                    dist.broadcast(b.data, 0)


def mix_seeds(*values: int) -> int:
    """A 63-bit seed from a few integers (a fixed hash: equal on every rank and across runs)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (int(v) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


def _destroy() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def hits_at_k(pos: Tensor, neg: Tensor, ks: Sequence[int], dist: Distributed) -> Dict[str, float]:
    r"""OGB's Hits@K of sharded scores: :obj:`pos` and :obj:`neg` are this rank's shares of the positive and of the
    shared negative scores. The threshold :math:`\tau_K` is the :math:`K`-th largest negative score over **all**
    ranks (from every rank's top :math:`K`, gathered), Hits@K the share of all positives strictly above it (a
    positive tied with :math:`\tau_K` is a miss), 1 when there are fewer than :math:`K` negatives: the value
    :class:`graphkit.metrics.Evaluator` gives on the concatenated scores."""
    kmax = max(ks)
    top = dist.gather_cat(neg.topk(min(kmax, neg.numel())).values)
    total = dist.sum(torch.tensor([pos.numel()], dtype=torch.long, device=pos.device))
    out = {}
    for k in ks:
        if top.numel() < k:
            out[f'hits@{k}'] = 1.0
            continue
        threshold = top.topk(k).values[-1]
        hits = dist.sum(torch.tensor([int((pos > threshold).sum())], device=pos.device))
        out[f'hits@{k}'] = float(hits.item()) / max(int(total.item()), 1)
    return out
