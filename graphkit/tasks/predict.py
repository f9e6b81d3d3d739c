r"""Predictions from a finished run directory: ``graphkit predict`` (link scores of candidate pairs) and
``graphkit recommend`` (top-K items per user).

Both rebuild the run with :func:`~graphkit.tasks.run.load_run` (the task's data and split of that run's seed, the
best model in eval mode); nothing is retrained. For a dataset given by path (``edges:`` / ``pyg:`` /
``interactions:``) the data are re-read from the path recorded in ``summary.json``, or from :obj:`dataset`
where the file has moved, and refused if its content fingerprint differs from the recorded one. Work is
chunked (pairs for predict, users for recommend) with progress on stderr, so memory is bounded by the chunk.
"""

from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from graphkit.data.custom import IdMap, file_fingerprint, read_pairs, read_table, split_spec
from graphkit.io import atomic_write_text
from graphkit.tasks.progress import progress
from graphkit.tasks.run import load_run

__all__ = ['open_run', 'score_pairs', 'top_k', 'predict_file', 'recommend_file', 'id_map']


def _summary(run_dir: os.PathLike) -> Dict[str, Any]:
    path = osp.join(os.fspath(run_dir), 'summary.json')
    if not osp.isfile(path):
        raise FileNotFoundError(f"'{path}' does not exist: '{run_dir}' is not a finished graphkit run")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"'{path}' is not a readable run summary ({e})") from None


def _dataset_name(summary: Dict[str, Any], dataset: Optional[str]) -> Optional[str]:
    """The dataset to rebuild: :obj:`dataset` (a moved file) or the recorded one, its fingerprint checked."""
    source = summary.get('data_source')
    if source is None:
        return dataset
    spec = split_spec(dataset) if dataset else None
    if dataset and spec is None:
        raise ValueError(f"--dataset '{dataset}': the run was trained on a {source['format']}:PATH dataset")
    path = spec[1] if spec else source['path']
    if not osp.isfile(path):
        raise FileNotFoundError(
            f"The run's data file '{path}' does not exist; pass --dataset {source['format']}:NEW_PATH if it has moved"
        )
    if file_fingerprint(path) != source['fingerprint']:
        raise ValueError(
            f"'{path}' differs from the file the run was trained on (fingerprint {file_fingerprint(path)}, "
            f'recorded {source["fingerprint"]}); refusing to predict on other data'
        )
    features = source.get('features')
    if features and (not osp.isfile(features) or file_fingerprint(features) != source.get('features_fingerprint')):
        raise ValueError(f"The run's data.features file '{features}' is missing or differs from the one trained on")
    return f'{source["format"]}:{path}'


def open_run(
    run_dir: os.PathLike,
    run: int = 0,
    dataset: Optional[str] = None,
    root: Optional[str] = None,
    device: str = 'cpu',
    task: Optional[str] = None,
) -> Tuple[Dict[str, Any], Any, torch.nn.Module]:
    r"""``(summary, task, model)`` of run :obj:`run` of :obj:`run_dir` (see :func:`~graphkit.tasks.run.load_run`),
    the data checked against the recorded fingerprint; :obj:`task` (``'link'`` / ``'recommend'``) is required of
    the run."""
    summary = _summary(run_dir)
    if task is not None and summary.get('task') != task:
        raise ValueError(f"'{run_dir}' is a run of the {summary.get('task')} task, not of the {task} task")
    name = _dataset_name(summary, dataset)
    return load_run(run_dir, root, run, device, dataset=name)


def id_map(task: Any, which: str = 'node') -> Optional[IdMap]:
    """The id map of the task's dataset given by path (``node``, ``user`` or ``item``); :obj:`None` otherwise."""
    extra = getattr(task, 'ds_extra', None)
    if extra is None:
        extra = getattr(getattr(task, 'ds', None), 'extra', None) or {}
    return extra.get('ids', {}).get(f'{which}_ids.csv')


@torch.no_grad()
def score_pairs(
    task: Any, model: torch.nn.Module, pairs: Tensor, chunk_size: int = 65536, quiet: bool = True
) -> Tensor:
    r"""Probabilities (sigmoid of the logits) of the ``(2, B)`` node-index :obj:`pairs` under a link run's model,
    with message passing over the run's test-time graph, :obj:`chunk_size` pairs at a time."""
    pairs = torch.as_tensor(pairs, dtype=torch.long)
    if pairs.dim() != 2 or pairs.size(0) != 2:
        raise ValueError(f"'pairs' must have shape (2, B) (got {tuple(pairs.shape)})")
    n = task.num_nodes
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= n):
        raise ValueError(f"'pairs' holds node indices outside [0, {n})")
    if chunk_size < 1:
        raise ValueError(f"'chunk_size' must be >= 1 (got {chunk_size})")
    model.eval()
    pairs = pairs.to(task.device)
    h = model.encode(task.x, task.test_adj)
    chunks = progress(range(0, pairs.size(1), chunk_size), quiet, desc='Scoring', unit='chunk')
    out = [torch.sigmoid(model.predict(h, task.test_adj, pairs[:, i : i + chunk_size]).view(-1)) for i in chunks]
    return torch.cat(out).cpu() if out else torch.empty(0)


@torch.no_grad()
def top_k(
    task: Any,
    model: torch.nn.Module,
    users: Optional[Tensor],
    k: int = 20,
    exclude_train: bool = True,
    chunk_size: int = 1024,
    quiet: bool = True,
) -> Tuple[Tensor, Tensor]:
    r"""The top-:obj:`k` items (``[B, k]`` indices, ``-1`` past the available items) and their dot-product scores
    for :obj:`users` (indices; :obj:`None`: all) of a recommendation run, training items masked with
    :obj:`exclude_train` (ties by lower item index), :obj:`chunk_size` users at a time."""
    from graphkit.ops import pairs_to_csr, topk_full_ranking

    if not isinstance(k, int) or k < 1:
        raise ValueError(f"'k' must be a positive integer (got {k!r})")
    ds = task.ds
    U = ds.num_users
    users = torch.arange(U) if users is None else torch.as_tensor(users, dtype=torch.long).view(-1)
    if users.numel() and (int(users.min()) < 0 or int(users.max()) >= U):
        raise ValueError(f"'users' holds user indices outside [0, {U})")
    model.eval()
    emb = model.get_embedding(task.graph)
    user_emb, item_emb = emb[:U], emb[U:]
    exclude = pairs_to_csr(ds.train.to(task.device), U, ds.num_items) if exclude_train else None
    items, scores = [], []
    for start in progress(range(0, users.numel(), chunk_size), quiet, desc='Ranking', unit='chunk'):
        q = users[start : start + chunk_size].to(task.device)
        top = topk_full_ranking(lambda b: user_emb[b] @ item_emb.t(), U, k, exclude, chunk_size, queries=q)
        s = (user_emb[q].unsqueeze(1) * item_emb[top.clamp(min=0)]).sum(-1)
        items.append(top.cpu())
        scores.append(torch.where(top >= 0, s, torch.full_like(s, float('nan'))).cpu())
    if not items:
        return torch.empty(0, k, dtype=torch.long), torch.empty(0, k)
    return torch.cat(items), torch.cat(scores)


def _node_ids(task: Any, which: str) -> IdMap:
    ids = id_map(task, which)
    if ids is None:  # a named benchmark: ids are the indices
        n = task.num_nodes if which == 'node' else getattr(task.ds, f'num_{which}s')
        ids = IdMap([str(i) for i in range(n)])
    return ids


def predict_file(
    run_dir: os.PathLike,
    pairs_file: str,
    out: Optional[str] = None,
    run: int = 0,
    dataset: Optional[str] = None,
    root: Optional[str] = None,
    device: str = 'cpu',
    chunk_size: int = 65536,
    quiet: bool = False,
) -> str:
    r"""``graphkit predict``: score the pairs of :obj:`pairs_file` (original ids, two columns) with run
    :obj:`run` and write ``src,dst,score`` rows in input order to :obj:`out` (default ``RUN_DIR/scores.csv``);
    returns the path written. Every input is checked (unknown ids name the file and line) before writing."""
    _, task, model = open_run(run_dir, run, dataset, root, device, task='link')
    pairs, raw = read_pairs(pairs_file, _node_ids(task, 'node'))
    probs = score_pairs(task, model, pairs, chunk_size, quiet)
    out = out or osp.join(os.fspath(run_dir), 'scores.csv')
    lines = [f'{_csv(a)},{_csv(b)},{p:.8g}\n' for (a, b), p in zip(raw, probs.tolist())]
    atomic_write_text(out, 'src,dst,score\n' + ''.join(lines))
    return out


def _csv(token: str) -> str:
    return f'"{token}"' if ',' in token or '"' in token else token


def read_users(path: str, ids: IdMap) -> Tuple[Tensor, List[str]]:
    """A one-column file of user ids (optional header ``user``), in the original namespace."""
    rows, lines = read_table(path, 1, 1, 'user id')
    out = []
    for row, n in zip(rows, lines):
        i = ids.get(row[0])
        if i is None:
            raise ValueError(f"'{path}' line {n}: user id {row[0]!r} is not in the run's data")
        out.append(i)
    return torch.tensor(out, dtype=torch.long), [r[0] for r in rows]


def recommend_file(
    run_dir: os.PathLike,
    users: Union[str, Sequence[str]] = 'all',
    k: int = 20,
    out: Optional[str] = None,
    exclude_train: bool = True,
    run: int = 0,
    dataset: Optional[str] = None,
    root: Optional[str] = None,
    device: str = 'cpu',
    chunk_size: int = 1024,
    quiet: bool = False,
) -> str:
    r"""``graphkit recommend``: the top-:obj:`k` items of each user of :obj:`users` (a file of user ids, or
    ``'all'``) under run :obj:`run`, written as ``user,rank,item,score`` rows to :obj:`out` (default
    ``RUN_DIR/recs.csv``); returns the path written."""
    _, task, model = open_run(run_dir, run, dataset, root, device, task='recommend')
    user_ids, item_ids = _node_ids(task, 'user'), _node_ids(task, 'item')
    if users == 'all':
        idx, names = None, user_ids.ids
    else:
        idx, names = read_users(users, user_ids)
    items, scores = top_k(task, model, idx, k, exclude_train, chunk_size, quiet)
    rows = []
    for name, its, ss in zip(names, items.tolist(), scores.tolist()):
        for rank, (i, s) in enumerate(zip(its, ss), start=1):
            if i >= 0:
                rows.append(f'{_csv(name)},{rank},{_csv(item_ids.ids[i])},{s:.8g}\n')
    out = out or osp.join(os.fspath(run_dir), 'recs.csv')
    atomic_write_text(out, 'user,rank,item,score\n' + ''.join(rows))
    return out
