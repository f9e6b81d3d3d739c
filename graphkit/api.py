r"""A small Python entry point: :func:`fit` trains a model on your own graph with the task code of ``graphkit
train``, and :class:`Result` predicts from the run directory it wrote.

.. code-block:: python

    import graphkit
    from torch_geometric.utils import from_networkx

    result = graphkit.fit('ncn', from_networkx(G), epochs=20, **{'model.hidden_channels': 64})
    probs = result.predict([(0, 1), (2, 3)])       # original ids; a (2, B) tensor of indices also works
    result.summary['test']                          # mean ± std of every test metric

:func:`fit` saves the graph next to the run directory (``RUN_DIR.input.pt``, a :class:`~torch_geometric.data.Data`
of tensors, or ``RUN_DIR.interactions.csv`` for a user-item :class:`~torch_geometric.data.HeteroData`) and trains on
it as ``pyg:PATH`` / ``interactions:PATH``, so that ``graphkit predict RUN_DIR`` and ``graphkit evaluate
RUN_DIR`` work on the same run.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from graphkit.io import atomic_torch_save, atomic_write_text

__all__ = ['fit', 'Result']


def _override(key: str, value: Any) -> str:
    key = 'train.epochs' if key == 'epochs' else key.replace('__', '.')
    text = value if isinstance(value, str) else json.dumps(value)
    return f'{key}={text}'


def _save_input(data: Union[Data, HeteroData], out: str) -> str:
    """Write :obj:`data` next to the run directory :obj:`out`; the dataset name to train on."""
    if isinstance(data, HeteroData):
        types = [t for t in data.edge_types if t[0] != t[2]]
        if not types:
            raise ValueError('fit: a HeteroData needs one user-item edge type (source type != target type)')
        src, rel, dst = types[0]
        ei = data[src, rel, dst].edge_index
        path = f'{out}.interactions.csv'
        atomic_write_text(path, 'user,item\n' + ''.join(f'{u},{i}\n' for u, i in ei.t().tolist()))
        return f'interactions:{path}'
    if not isinstance(data, Data):
        raise ValueError(
            f"fit: 'data' must be a torch_geometric Data, a HeteroData or a dataset name such as 'edges:PATH' "
            f'(got {type(data).__name__})'
        )
    if data.edge_index is None:
        raise ValueError("fit: 'data' has no edge_index")
    clean = Data(edge_index=data.edge_index.long(), num_nodes=int(data.num_nodes))
    if data.get('x') is not None:
        clean.x = data.x.float()
    path = f'{out}.input.pt'
    atomic_torch_save(clean, path)
    return f'pyg:{path}'


def fit(
    model_name: str,
    data: Union[Data, HeteroData, str],
    out: Optional[str] = None,
    runs: int = 1,
    seed: int = 0,
    device: str = 'cpu',
    root: Optional[str] = None,
    quiet: bool = True,
    **overrides: Any,
) -> 'Result':
    r"""Train :obj:`model_name` on :obj:`data` with the task code of ``graphkit train`` and return a
    :class:`Result`.

    Args:
        model_name (str): A registered model (``'ncn'``, ``'gae'``, ``'ultragcn'``, ...).
        data (Data or HeteroData or str): A homogeneous graph (a link task; ``x`` optional: without it the model's
            featureless input is used), a user-item :class:`HeteroData` (a recommendation task: its first edge type
            between two node types gives the interactions), or a dataset name (``'cora'``, ``'edges:PATH'``).
        out (str, optional): The run directory (default: ``runs/<model>-fit-<time>``); new or empty.
        runs (int, optional): Number of runs (seeds ``seed..seed+runs-1``). (default: :obj:`1`)
        seed (int, optional): Seed of the first run. (default: :obj:`0`)
        device (str, optional): ``'cpu'`` or ``'cuda'``. (default: :obj:`'cpu'`)
        root (str, optional): Data root of a named dataset.
        quiet (bool, optional): No progress or per-epoch lines. (default: :obj:`True`)
        **overrides: Config values as ``--set`` would take them: ``epochs=20`` (``train.epochs``),
            ``train__lr=0.01`` or ``**{'model.hidden_channels': 64}``.
    """
    from graphkit.configs import load_config
    from graphkit.configs.schema import validate
    from graphkit.models import MODELS
    from graphkit.tasks import TASKS, TrainOptions
    from graphkit.tasks.rundir import RunDir

    model_cls = MODELS.get(model_name)
    task_cls = TASKS.get(model_cls.task)
    if runs < 1:
        raise ValueError(f"fit: 'runs' must be >= 1 (got {runs})")
    out = os.fspath(out) if out is not None else f'runs/{model_name}-fit-{time.strftime("%Y%m%d-%H%M%S")}'
    RunDir(out).check_target(False)
    sets = [_override(k, v) for k, v in overrides.items()]
    name = data if isinstance(data, str) else 'fit'
    cfg = load_config(model_name, name, None, sets, task=model_cls.task)
    validate(cfg, task_cls.schema)
    written = None
    if not isinstance(data, str):
        name = _save_input(data, out)
        written = name.partition(':')[2]
    opts = TrainOptions(model=model_name, dataset=name, out=out, root=root, runs=runs, seed=seed, device=device,
                        quiet=quiet)  # fmt: skip
    try:
        summary = task_cls(opts, cfg).run()
    except BaseException:
        if written is not None and not (Path(out) / 'config.yaml').exists():
            os.unlink(written)  # nothing was trained: leave nothing behind
        raise
    return Result(out, summary, root=root, device=device)


@dataclass
class Result:
    r"""A finished run directory: its :attr:`summary` and, loaded on first use, the best :attr:`model` of run
    :attr:`run` with its task (data and split). :meth:`predict` and :meth:`recommend` use the same code as
    ``graphkit predict`` / ``graphkit recommend``.

    Args:
        run_dir (str): The run directory.
        summary (dict, optional): Its ``summary.json`` (read if not given).
        run (int, optional): Which run's best model. (default: :obj:`0`)
        dataset (str, optional): ``edges:NEW_PATH`` (...) where the data file has moved.
    """

    run_dir: str
    summary: Optional[Dict[str, Any]] = None
    run: int = 0
    dataset: Optional[str] = None
    root: Optional[str] = None
    device: str = 'cpu'
    _loaded: Optional[Tuple[Any, Any]] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.summary is None:
            from graphkit.tasks.predict import _summary

            self.summary = _summary(self.run_dir)

    @classmethod
    def load(cls, run_dir: os.PathLike, run: int = 0, dataset: Optional[str] = None, **kwargs: Any) -> 'Result':
        """The :class:`Result` of an existing run directory (*e.g.* one written by ``graphkit train``)."""
        return cls(os.fspath(run_dir), run=run, dataset=dataset, **kwargs)

    def _task_model(self) -> Tuple[Any, torch.nn.Module]:
        if self._loaded is None:
            from graphkit.tasks.predict import open_run

            _, task, model = open_run(self.run_dir, self.run, self.dataset, self.root, self.device)
            self._loaded = (task, model)
        return self._loaded

    @property
    def model(self) -> torch.nn.Module:
        """The best model of run :attr:`run`, in eval mode."""
        return self._task_model()[1]

    @property
    def task(self) -> Any:
        """The rebuilt task of run :attr:`run` (its data and split)."""
        return self._task_model()[0]

    def _indices(self, values: Any, which: str) -> Tensor:
        from graphkit.tasks.predict import _node_ids

        if isinstance(values, Tensor):
            return values.long()
        ids = _node_ids(self.task, which)
        out = []
        for v in values:
            i = ids.get(str(v.item() if isinstance(v, Tensor) else v))
            if i is None:
                raise ValueError(f"{which} id {v!r} is not in the run's data")
            out.append(i)
        return torch.tensor(out, dtype=torch.long)

    def predict(self, pairs: Union[Tensor, Sequence[Tuple[Any, Any]]], chunk_size: int = 65536) -> Tensor:
        r"""Link probabilities of :obj:`pairs`: a ``(2, B)`` tensor of node indices, or a sequence of
        ``(src, dst)`` pairs in the original ids (those of the edge list; for a :class:`Data`, its indices)."""
        from graphkit.tasks.predict import score_pairs

        if self.summary['task'] != 'link':
            raise ValueError(f"Result.predict needs a link run ('{self.run_dir}' is a {self.summary['task']} run)")
        if not isinstance(pairs, Tensor):
            pairs = list(pairs)
            if any(len(p) != 2 for p in pairs):
                raise ValueError("Result.predict: 'pairs' must be (src, dst) pairs")
            flat = self._indices([v for p in pairs for v in p], 'node')
            pairs = flat.view(-1, 2).t() if flat.numel() else torch.empty(2, 0, dtype=torch.long)
        return score_pairs(self.task, self.model, pairs, chunk_size)

    def recommend(
        self, users: Optional[Union[Tensor, Sequence[Any]]] = None, k: int = 20, exclude_train: bool = True
    ) -> Tuple[Tensor, Tensor]:
        r"""The top-:obj:`k` item indices (``[B, k]``, ``-1`` past the available items) and scores of
        :obj:`users` (a tensor of indices, a sequence of original user ids, or :obj:`None` for all), training
        items masked with :obj:`exclude_train`. Item index ``i`` is line ``i + 2`` of ``RUN_DIR/item_ids.csv``
        for an ``interactions:`` dataset."""
        from graphkit.tasks.predict import top_k

        if self.summary['task'] != 'recommend':
            raise ValueError(
                f"Result.recommend needs a recommend run ('{self.run_dir}' is a {self.summary['task']} run)"
            )
        idx = None if users is None else self._indices(users, 'user')
        return top_k(self.task, self.model, idx, k, exclude_train)
