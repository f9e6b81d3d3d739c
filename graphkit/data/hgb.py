r"""Heterogeneous Graph Benchmark (HGB) node-classification datasets, read from the HGB files.

The `"Are we really making much progress? Revisiting, benchmarking, and refining heterogeneous graph neural
networks" <https://arxiv.org/abs/2112.14936>`_ paper ships each dataset (ACM, DBLP, IMDB, Freebase) as a folder
(or a zip of it) holding:

==================  ===================================================================================
file                one line per
==================  ===================================================================================
``node.dat``        node: ``id \t name \t type [\t f1,f2,...]``; global ids, contiguous per type
``link.dat``        edge: ``src \t dst \t link_type [\t weight]`` (weights are ignored)
``label.dat``       labelled node of the train + valid part: ``id \t name \t type \t label[,label,...]``
``label.dat.test``  test node, same format
``info.dat``        the names of node types, link types and classes (JSON in ACM / DBLP / IMDB)
==================  ===================================================================================

.. note::
    **Test labels.** HGB's original release replaced the test labels with random ones, and PyG's
    :class:`~torch_geometric.datasets.HGBDataset` reads ``label.dat`` only, so a PyG pipeline cannot score the
    test set. Later mirrors ship ``label.dat.test`` with true labels (the public half of the test set, or all of
    it) and some also a ``label.dat.test_full`` whose labels are **randomised**. This loader scores on
    ``label.dat.test`` only and never reads ``label.dat.test_full``; :attr:`NodeDataset.info` records which test
    file was used and how many test nodes it holds. Check label sanity once (a trivial classifier trained on
    ``label.dat`` must score well above chance on the test file) before trusting a new mirror.

The graph is prepared as RpHGNN's official loader does, in PyG terms:

* **Relations.** A link type whose edges are exactly the reverse of another's (HGB stores each undirected
  relation in both directions) is dropped, keeping the direction whose source type name sorts first. Same-type
  relations are then symmetrised in place (duplicates merged), and every bipartite relation ``(A, r, B)`` gets
  an explicit reverse ``(B, rev_r, A)``, as :class:`~torch_geometric.transforms.ToUndirected` does.
* **Features.** ``x`` of a type is its attribute matrix; a type without attributes gets a random matrix with
  i.i.d. :math:`\mathcal{N}(0, 1/d)` entries drawn from a :class:`torch.Generator` seeded with ``seed``.
* **Labels and split.** ``y`` of the target type is a class index (``-1`` where unlabelled) or, for
  multi-label data (IMDB), a ``[N, C]`` 0/1 matrix. ``label.dat`` is split 80 / 20 into train / valid with the
  seed (stratified by class when single-label); test is ``label.dat.test``.

**STATS** (from the HGB files; Freebase from the HGB paper):

.. list-table::
    :widths: 10 10 10 10 10 20
    :header-rows: 1

    * - Name
      - #nodes
      - #edges (both directions)
      - target
      - #classes
      - label.dat / label.dat.test
    * - ACM
      - 10,942
      - 547,872
      - paper
      - 3
      - 907 / 1,059 (public half) or 2,118 (full)
    * - DBLP
      - 26,128
      - 239,566
      - author
      - 4
      - 1,217 / 1,420
    * - IMDB
      - 21,420
      - 86,642
      - movie
      - 5 (multi-label)
      - 1,371 / 1,601
    * - Freebase
      - 180,098
      - 1,057,688
      - book
      - 7
      - n/a

Every malformed input is a :class:`ValueError` (a missing file a :class:`FileNotFoundError`) naming the file and
the line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import os.path as osp
import sys
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphkit.data.base import random_features
from graphkit.data.io import file_signature, is_writable_dir, missing_files_error
from graphkit.io import atomic_torch_save, safe_torch_load

__all__ = [
    'HGB_NAMES',
    'HGB_FEATURE_DIM',
    'hgb_candidates',
    'locate_hgb',
    'read_hgb',
    'load_hgb_dataset',
]

#: The HGB node-classification datasets (folder or zip names, matched case-insensitively).
HGB_NAMES = ('acm', 'dblp', 'imdb', 'freebase')
#: Width of the random features of featureless node types per dataset (RpHGNN's ``embedding_size``).
HGB_FEATURE_DIM: Dict[str, int] = {'acm': 256, 'dblp': 1024, 'imdb': 1024, 'freebase': 512}
#: The width for any other HGB-format folder.
DEFAULT_FEATURE_DIM = 512

REQUIRED_FILES = ('node.dat', 'link.dat', 'label.dat')
TEST_FILE = 'label.dat.test'
RANDOM_TEST_FILE = 'label.dat.test_full'
CACHE_FILE = 'hgb_graph.pt'
CACHE_FORMAT = 'graphkit-hgb-cache-v2'  # v2: files keyed by size, mtime and a content hash


# ----------------------------------------------------------------------------------------------------------
# finding the files
# ----------------------------------------------------------------------------------------------------------
def _match(folder: str, name: str, want_dir: bool) -> Optional[str]:
    """The entry of :obj:`folder` named :obj:`name` (a folder) or ``name.zip`` (a file), case-insensitively."""
    target = name.lower() if want_dir else f'{name.lower()}.zip'
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return None
    exact = name if want_dir else f'{name}.zip'
    ordered = ([exact] if exact in entries else []) + [e for e in entries if e != exact]
    for e in ordered:
        p = osp.join(folder, e)
        if e.lower() == target and (osp.isdir(p) if want_dir else osp.isfile(p)):
            return p
    return None


def hgb_candidates(root: str, name: str) -> List[str]:
    r"""The paths searched for HGB dataset :obj:`name`, in order: ``root/<name>/``, ``root/<name>.zip``,
    ``root/hgb/<name>/``, ``root/hgb/<name>.zip`` (each matched case-insensitively), and ``root`` itself when
    its own name is :obj:`name`."""
    root = os.fspath(root)
    out = []
    for base in (root, osp.join(root, 'hgb')):
        for want_dir in (True, False):
            found = _match(base, name, want_dir)
            out.append(found or osp.join(base, name if want_dir else f'{name}.zip'))
    if osp.basename(osp.normpath(root)).lower() == name.lower():
        out.append(root)
    return out


def _has_files(path: str) -> bool:
    if osp.isdir(path):
        return osp.isfile(osp.join(path, 'node.dat'))
    return osp.isfile(path) and path.lower().endswith('.zip')


def locate_hgb(name: str, root: str) -> Tuple[Optional[str], List[str]]:
    r"""``(the folder or zip holding HGB dataset name, or None; the paths searched)``. :obj:`name` may carry the
    registry's ``hgb-`` prefix."""
    name = _strip(name)
    cands = hgb_candidates(root, name)
    return next((c for c in cands if _has_files(c)), None), cands


def _strip(name: str) -> str:
    return name[4:] if name.lower().startswith('hgb-') else name


class _Source:
    """Reads the HGB files of a folder or (without extracting) of a zip."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.is_zip = osp.isfile(path)
        self.members: Dict[str, str] = {}
        if self.is_zip:
            try:
                with zipfile.ZipFile(path) as zf:
                    names = [n for n in zf.namelist() if not n.endswith('/') and '__MACOSX' not in n]
            except (zipfile.BadZipFile, OSError) as e:
                raise ValueError(f"'{path}' is not a readable zip file ({e})") from None
            for n in sorted(names, key=lambda n: (n.count('/'), n)):  # the shallowest copy of each file
                self.members.setdefault(n.rsplit('/', 1)[-1], n)
        else:
            self.members = {f: f for f in os.listdir(path) if osp.isfile(osp.join(path, f))}

    def has(self, file: str) -> bool:
        return file in self.members

    def where(self, file: str) -> str:
        """How error messages name :obj:`file`."""
        if self.is_zip:
            return f"'{self.path}' member '{self.members.get(file, file)}'"
        return f"'{osp.join(self.path, file)}'"

    def read(self, file: str) -> bytes:
        if self.is_zip:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    return zf.read(self.members[file])
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
                raise ValueError(f'{self.where(file)} could not be read from the zip ({e})') from None
        with open(osp.join(self.path, file), 'rb') as f:
            return f.read()

    def signature(self) -> List[List[Any]]:
        """(file, size, mtime, head / tail hash) of each file, to key the cache of an extracted folder."""
        return [file_signature(osp.join(self.path, f), self.path) for f in sorted(self.members)]


# ----------------------------------------------------------------------------------------------------------
# parsing: each file in one place
# ----------------------------------------------------------------------------------------------------------
class _Table:
    """A tab-separated HGB file as string columns; row ``i`` is line ``i + 1`` (blank lines are dropped)."""

    def __init__(self, raw: bytes, where: str, columns: Sequence[str], required: int) -> None:
        import pandas as pd

        self.where = where
        ncols = len(columns)
        try:
            df = pd.read_csv(
                io.BytesIO(raw),
                sep='\t',
                header=None,
                names=list(range(ncols + 1)),  # one spare column catches lines with one field too many
                dtype=str,
                quoting=csv.QUOTE_NONE,
                na_filter=False,
                skip_blank_lines=False,
                index_col=False,
                engine='c',
                encoding='utf-8',
                encoding_errors='replace',
            )
        except pd.errors.EmptyDataError:
            df = pd.DataFrame({i: pd.Series([], dtype=str) for i in range(ncols + 1)})
        except pd.errors.ParserError:
            line, n = self._too_many_fields(raw, ncols)
            self.fail(line, f'{n} tab-separated fields, expected at most {ncols} ({", ".join(columns)})')
        blank = (df == '').all(axis=1).to_numpy()
        if blank.any():
            df = df[~blank]
        self.lines = df.index.to_numpy() + 1
        extra = (df[ncols] != '').to_numpy()
        if extra.any():
            self.fail(self.lines[extra.argmax()], f'more than {ncols} tab-separated fields ({", ".join(columns)})')
        short = (df[required - 1] == '').to_numpy()
        if short.any():
            self.fail(
                self.lines[short.argmax()],
                f'fewer than {required} tab-separated fields (expected {", ".join(columns[:required])})',
            )
        self.cols = {c: df[i] for i, c in enumerate(columns)}
        self.columns = columns

    def __len__(self) -> int:
        return len(self.lines)

    @staticmethod
    def _too_many_fields(raw: bytes, ncols: int) -> Tuple[int, int]:
        for i, line in enumerate(raw.decode('utf-8', 'replace').splitlines()):
            n = line.count('\t') + 1
            if n > ncols:
                return i + 1, n
        return 0, 0  # pragma: no cover - pandas found one

    def fail(self, line: int, msg: str) -> None:
        raise ValueError(f'{self.where} line {int(line)}: {msg}')

    def ints(self, col: str) -> np.ndarray:
        """Column :obj:`col` as int64; a non-integer value is an error naming its line."""
        s = self.cols[col]
        try:
            return s.to_numpy().astype(np.int64)
        except (ValueError, OverflowError):  # the error path: find the line
            bad = ~s.str.fullmatch(r'\s*[-+]?\d{1,18}\s*').to_numpy()
            i = bad.argmax()
            self.fail(self.lines[i], f'{col} {s.iloc[i]!r} is not an integer')
            raise  # pragma: no cover

    def check_range(self, values: np.ndarray, col: str, hi: int, what: str) -> None:
        bad = (values < 0) | (values >= hi)
        if bad.any():
            i = bad.argmax()
            self.fail(self.lines[i], f'{col} {values[i]} is {what}')


def _floats(table: _Table, rows: np.ndarray, ntype: int) -> Optional[Tensor]:
    """The attribute matrix of the nodes at :obj:`rows` of ``node.dat`` (all of type :obj:`ntype`), or
    :obj:`None` if they have none."""
    import pandas as pd

    s = table.cols['attributes'].iloc[rows]
    empty = (s == '').to_numpy()
    if empty.all():
        return None
    lines = table.lines[rows]
    if empty.any():
        i = empty.argmax()
        table.fail(lines[i], f'node of type {ntype} has no attributes, but others of its type have')
    try:  # the fast path; every check below runs only when it fails
        x = pd.read_csv(
            io.StringIO('\n'.join(s.tolist())), sep=',', header=None, dtype=np.float32, engine='c', na_filter=False
        ).to_numpy()
    except (ValueError, pd.errors.ParserError):
        x = None
    if x is None or x.shape[0] != len(rows) or not np.isfinite(x).all():
        commas = s.str.count(',').to_numpy()
        if (commas != commas[0]).any():
            i = (commas != commas[0]).argmax()
            table.fail(
                lines[i],
                f'{commas[i] + 1} attributes, but the first node of type {ntype} (line {lines[0]}) has {commas[0] + 1}',
            )
        for i, v in enumerate(s.tolist()):
            try:
                row = np.asarray(v.split(','), dtype=np.float32)
            except ValueError:
                shown = repr(v) if len(v) <= 40 else repr(v[:40]) + '...'
                table.fail(lines[i], f'attributes {shown} are not comma-separated numbers')
            if not np.isfinite(row).all():
                table.fail(lines[i], 'attributes hold NaN or infinite values')
        table.fail(lines[0], 'attributes could not be parsed')  # pragma: no cover
    return torch.from_numpy(np.ascontiguousarray(x))


@dataclass
class _Info:
    node_names: Dict[int, str]
    links: Dict[int, Dict[str, Any]]  # link type -> {'start', 'end', 'meaning'}
    classes: Dict[int, Dict[int, str]]  # node type -> class id -> class name
    parsed: bool
    text: str = ''
    json: bool = False  # the JSON form: its link start / end types are checked against the files


def _json_line(text: str, *keys: str) -> int:
    """The line of the last of the nested :obj:`keys` in a JSON text (best effort, for error messages)."""
    pos = 0
    for k in keys:
        found = text.find(f'"{k}"', pos)
        if found < 0:
            break
        pos = found
    return text.count('\n', 0, pos) + 1


def _read_info(source: _Source) -> _Info:
    """Names from ``info.dat`` when it parses (JSON in ACM / DBLP / IMDB, or a table of ``TYPE`` / ``LINK``
    rows); empty otherwise."""
    empty = _Info({}, {}, {}, False)
    if not source.has('info.dat'):
        return empty
    text = source.read('info.dat').decode('utf-8', 'replace')
    try:
        obj = json.loads(text)
    except ValueError:
        return _read_info_table(text)
    try:
        node_names = {int(k): str(v) for k, v in obj.get('node.dat', {}).get('node type', {}).items()}
        links = {}
        for k, v in obj.get('link.dat', {}).get('link type', {}).items():
            links[int(k)] = {'start': int(v['start']), 'end': int(v['end']), 'meaning': str(v.get('meaning', ''))}
        classes = {}
        for t, cl in obj.get('label.dat', {}).get('node type', {}).items():
            classes[int(t)] = {int(c): str(n) for c, n in cl.items()} if isinstance(cl, dict) else {}
    except (AttributeError, KeyError, TypeError, ValueError):
        return _Info({}, {}, {}, False, text)
    return _Info(node_names, links, classes, True, text, json=True)


def _read_info_table(text: str) -> _Info:
    """The table form of ``info.dat``: a ``TYPE`` header followed by ``id name`` rows, and a ``LINK`` header
    followed by ``id start end meaning`` rows (whitespace-separated)."""
    node_names: Dict[int, str] = {}
    links: Dict[int, Dict[str, Any]] = {}
    section = None
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            section = None
            continue
        head = parts[0].upper()
        if head in ('TYPE', 'LINK', 'LABEL'):
            section = head
            continue
        if section == 'TYPE' and len(parts) >= 2 and parts[0].isdigit():
            node_names[int(parts[0])] = parts[1]
        elif section == 'LINK' and len(parts) >= 3 and all(p.isdigit() for p in parts[:3]):
            links[int(parts[0])] = {
                'start': int(parts[1]),
                'end': int(parts[2]),
                'meaning': parts[3] if len(parts) > 3 else '',
            }
    return _Info(node_names, links, {}, bool(node_names or links), text)


def _read_nodes(source: _Source) -> Dict[str, Any]:
    """``node.dat`` -> node types, per-type offsets and counts, and attribute matrices."""
    where = source.where('node.dat')
    t = _Table(source.read('node.dat'), where, ('node_id', 'name', 'type', 'attributes'), 3)
    if len(t) == 0:
        raise ValueError(f'{where} holds no nodes')
    ids, types = t.ints('node_id'), t.ints('type')
    if (types < 0).any():
        i = (types < 0).argmax()
        t.fail(t.lines[i], f'node type {types[i]} is negative')
    n = len(ids)
    order = np.argsort(ids, kind='stable')
    sid = ids[order]
    if sid[0] != 0 or (np.diff(sid) != 1).any():
        dup = np.flatnonzero(np.diff(sid) == 0)
        if dup.size:
            j = order[dup[0] + 1]
            t.fail(t.lines[j], f'node id {ids[j]} appears twice (also on line {t.lines[order[dup[0]]]})')
        t.fail(t.lines[order[-1]], f'node ids must be 0..{n - 1} (the file has {n} nodes), found {ids[order[-1]]}')
    type_of = types[order]  # by global id
    offsets, counts, rows = {}, {}, {}
    for ty in np.unique(type_of).tolist():
        at = np.flatnonzero(type_of == ty)
        if at[-1] - at[0] + 1 != at.size:  # HGB ids are contiguous per type: local id = global id - offset
            gap = at[np.flatnonzero(np.diff(at) != 1)[0]] + 1
            t.fail(
                t.lines[order[gap]],
                f'node {gap} (type {int(type_of[gap])}) splits the ids of type {ty}: HGB ids must be contiguous '
                'per type',
            )
        offsets[ty], counts[ty], rows[ty] = int(at[0]), int(at.size), order[at]
    x = {ty: _floats(t, rows[ty], ty) for ty in offsets}
    return {'type_of': type_of, 'offsets': offsets, 'counts': counts, 'x': x, 'num_nodes': n}


def _read_links(source: _Source, nodes: Dict[str, Any], info: _Info) -> Dict[int, Dict[str, Any]]:
    """``link.dat`` -> per link type: source and destination node types and the (global-id) edges."""
    where = source.where('link.dat')
    t = _Table(source.read('link.dat'), where, ('src_id', 'dst_id', 'link_type', 'weight'), 3)
    src, dst, lt = t.ints('src_id'), t.ints('dst_id'), t.ints('link_type')
    n, type_of = nodes['num_nodes'], nodes['type_of']
    t.check_range(src, 'src_id', n, f'beyond node.dat (which has {n} nodes, ids 0..{n - 1})')
    t.check_range(dst, 'dst_id', n, f'beyond node.dat (which has {n} nodes, ids 0..{n - 1})')
    known = set(nodes['offsets'])
    info_line = lambda k, key: _json_line(info.text, 'link type', str(k), key)  # noqa: E731
    typed = info.links if info.json else {}  # the table form is parsed loosely: its names only are used
    for k, v in typed.items():
        for key in ('start', 'end'):
            if v[key] not in known:
                raise ValueError(
                    f'{source.where("info.dat")} line {info_line(k, key)}: link type {k} has {key} node type '
                    f'{v[key]}, which node.dat does not have (types {sorted(known)})'
                )
    out: Dict[int, Dict[str, Any]] = {}
    st, dt = type_of[src], type_of[dst]
    for k in np.unique(lt).tolist():
        idx = np.flatnonzero(lt == k)
        if k in typed:
            s, e = typed[k]['start'], typed[k]['end']
        else:
            s, e = int(st[idx[0]]), int(dt[idx[0]])
        for ends, want, col in ((st, s, 'src_id'), (dt, e, 'dst_id')):
            bad = ends[idx] != want
            if bad.any():
                i = idx[bad.argmax()]
                ids = src if col == 'src_id' else dst
                origin = 'info.dat' if k in typed else f'the first edge of the type (line {t.lines[idx[0]]})'
                t.fail(
                    t.lines[i],
                    f'link type {k} joins node types {s} -> {e} (by {origin}), but {col} {ids[i]} is of type '
                    f'{int(ends[i])}',
                )
        out[k] = {'start': s, 'end': e, 'edges': np.stack([src[idx], dst[idx]])}
    return out


def _read_labels(source: _Source, file: str, nodes: Dict[str, Any]) -> Dict[str, Any]:
    """A label file -> target node type, global ids, labels (a list of class ids per node) and lines."""
    import pandas as pd

    where = source.where(file)
    t = _Table(source.read(file), where, ('node_id', 'name', 'type', 'label'), 4)
    ids, types = t.ints('node_id'), t.ints('type')
    n = nodes['num_nodes']
    t.check_range(ids, 'node_id', n, f'beyond node.dat (which has {n} nodes, ids 0..{n - 1})')
    if len(t) and (types != types[0]).any():
        i = (types != types[0]).argmax()
        t.fail(t.lines[i], f'node type {types[i]}, but line {t.lines[0]} labels type {types[0]}: one target type')
    real = nodes['type_of'][ids]
    if (real != types).any():
        i = (real != types).argmax()
        t.fail(t.lines[i], f'node {ids[i]} is of type {real[i]} in node.dat, not {types[i]}')
    order = np.argsort(ids, kind='stable')
    dup = np.flatnonzero(np.diff(ids[order]) == 0)
    if dup.size:
        t.fail(t.lines[order[dup[0] + 1]], f'node {ids[order[dup[0]]]} is labelled twice')
    lab = t.cols['label'].str.split(',').explode()
    row = lab.index.to_numpy()  # the line index of each label
    num = pd.to_numeric(lab.str.strip(), errors='coerce')
    bad = num.isna().to_numpy() | (num.to_numpy() % 1 != 0)
    if bad.any():
        i = bad.argmax()
        raise ValueError(f'{where} line {row[i] + 1}: label {lab.iloc[i]!r} is not an integer class id')
    values = num.to_numpy().astype(np.int64)
    if (values < 0).any():
        i = (values < 0).argmax()
        raise ValueError(f'{where} line {row[i] + 1}: label {values[i]} is negative')
    return {
        'file': file,
        'where': where,
        'type': int(types[0]) if len(t) else None,
        'ids': ids,
        'lines': t.lines,
        'label_values': values,
        'label_line': row + 1,
        'label_ids': ids[np.searchsorted(t.lines, row + 1)],
        'multi': bool(t.cols['label'].str.contains(',').any()),
    }


# ----------------------------------------------------------------------------------------------------------
# building the graph
# ----------------------------------------------------------------------------------------------------------
def _type_names(nodes: Dict[str, Any], info: _Info) -> Dict[int, str]:
    types = sorted(nodes['offsets'])
    names = {t: info.node_names.get(t, '').strip() for t in types}
    if any(not v for v in names.values()) or len(set(names.values())) != len(names):
        return {t: f'type{t}' for t in types}
    return names


def _rel_name(meaning: str, src: str, dst: str) -> str:
    parts = meaning.split('-') if meaning else []
    if len(parts) >= 3 and parts[0].lower() == src.lower() and parts[-1].lower() == dst.lower():
        return '-'.join(parts[1:-1])
    if len(parts) == 2 and parts[0].lower() == src.lower() and parts[1].lower() == dst.lower():
        return 'to'
    return meaning or 'to'


def _edge_keys(e: np.ndarray, n: int) -> np.ndarray:
    return np.sort(e[0] * n + e[1])


def _build_relations(
    links: Dict[int, Dict[str, Any]], nodes: Dict[str, Any], names: Dict[int, str], info: _Info
) -> Tuple[Dict[Tuple[str, str, str], Tensor], List[Dict[str, Any]]]:
    """Drop link types that are the exact reverse of another, symmetrise same-type relations, add reverses."""
    n, off = nodes['num_nodes'], nodes['offsets']
    reverse_of: Dict[int, int] = {}
    paired = set()
    for a in sorted(links):
        for b in sorted(links):
            if b <= a or a in paired or b in paired:
                continue
            la, lb = links[a], links[b]
            if (la['start'], la['end']) != (lb['end'], lb['start']) or la['edges'].shape != lb['edges'].shape:
                continue
            if np.array_equal(_edge_keys(la['edges'], n), _edge_keys(lb['edges'][::-1], n)):
                sa, ea = names[la['start']], names[la['end']]
                keep, drop = (a, b) if (sa, a) <= (ea, b) or la['start'] == la['end'] else (b, a)
                reverse_of[drop] = keep
                paired.update((a, b))
    edges: Dict[Tuple[str, str, str], Tensor] = {}
    report = []
    for k in sorted(links):
        lk = links[k]
        s, e = names[lk['start']], names[lk['end']]
        meaning = info.links.get(k, {}).get('meaning', '')
        entry: Dict[str, Any] = {'link_type': k, 'meaning': meaning, 'num_edges': int(lk['edges'].shape[1])}
        report.append(entry)
        if k in reverse_of:
            entry['dropped_as_reverse_of'] = reverse_of[k]
            continue
        local = torch.from_numpy(np.stack([lk['edges'][0] - off[lk['start']], lk['edges'][1] - off[lk['end']]]))
        rel = _rel_name(meaning, s, e) if meaning else f'link{k}'
        if (s, rel, e) in edges or (e, f'rev_{rel}', s) in edges:
            rel = f'link{k}'
        if lk['start'] == lk['end']:  # symmetrise in place, merging duplicates
            both = torch.cat([local, local.flip(0)], 1)
            local = torch.unique(both[0] * nodes['counts'][lk['start']] + both[1])
            local = torch.stack([local // nodes['counts'][lk['start']], local % nodes['counts'][lk['start']]])
            edges[(s, rel, e)] = local
            entry['edge_types'] = [[s, rel, e]]
        else:
            edges[(s, rel, e)] = local
            edges[(e, f'rev_{rel}', s)] = local.flip(0)
            entry['edge_types'] = [[s, rel, e], [e, f'rev_{rel}', s]]
    return edges, report


# ----------------------------------------------------------------------------------------------------------
# the processed (seed-independent) graph, with an optional cache
# ----------------------------------------------------------------------------------------------------------
def _process(source: _Source) -> Dict[str, Any]:
    missing = [f for f in REQUIRED_FILES if not source.has(f)]
    if missing:
        looked = [source.path]
        if source.is_zip:
            tree = '\n'.join(f'{osp.basename(source.path)}: {f}' for f in REQUIRED_FILES + (TEST_FILE, 'info.dat'))
            paths = [f"'{source.path}' member {f}" for f in missing]
        else:
            tree = '\n'.join(f'{osp.basename(source.path)}/{f}' for f in REQUIRED_FILES + (TEST_FILE, 'info.dat'))
            paths = [osp.join(source.path, f) for f in missing]
        raise missing_files_error(f'HGB dataset {source.path}', paths, looked, tree)
    info = _read_info(source)
    nodes = _read_nodes(source)
    names = _type_names(nodes, info)
    links = _read_links(source, nodes, info)
    edges, relations = _build_relations(links, nodes, names, info)
    labels = _read_labels(source, 'label.dat', nodes)
    if labels['type'] is None:
        raise ValueError(f'{labels["where"]} holds no labelled nodes')
    test_file = TEST_FILE if source.has(TEST_FILE) else None
    test = _read_labels(source, test_file, nodes) if test_file else None
    target = labels['type']
    if test is not None and test['type'] not in (None, target):
        raise ValueError(
            f'{test["where"]} line {test["lines"][0]}: labels node type {test["type"]}, but label.dat labels '
            f'type {target}'
        )
    multi = labels['multi'] or bool(test and test['multi'])
    classes = info.classes.get(target, {})
    top = max(
        [int(labels['label_values'].max())] + ([int(test['label_values'].max())] if test and len(test['ids']) else [])
    )
    num_classes = len(classes) if classes else top + 1
    for lab in (labels, test):
        if lab is None or not len(lab['ids']):
            continue
        bad = lab['label_values'] >= num_classes
        if bad.any():
            i = bad.argmax()
            raise ValueError(
                f'{lab["where"]} line {lab["label_line"][i]}: label {lab["label_values"][i]} is outside the class '
                f'range [0, {num_classes}) (info.dat lists {num_classes} classes of node type {target})'
            )
    if test is not None:
        both = np.intersect1d(labels['ids'], test['ids'])
        if both.size:
            line = test['lines'][np.flatnonzero(test['ids'] == both[0])[0]]
            raise ValueError(f'{test["where"]} line {line}: node {both[0]} is also in label.dat (train / valid)')
    shift, count = nodes['offsets'][target], nodes['counts'][target]
    if multi:
        y = torch.zeros(count, num_classes)
    else:
        y = torch.full((count,), -1, dtype=torch.long)
    idx = {}
    for key, lab in (('labelled', labels), ('test', test)):
        if lab is None:
            continue
        local = lab['ids'] - shift
        rows = lab['label_ids'] - shift
        if multi:
            y[torch.from_numpy(rows), torch.from_numpy(lab['label_values'])] = 1.0
        else:
            y[torch.from_numpy(rows)] = torch.from_numpy(lab['label_values'])
        idx[key] = torch.from_numpy(local)
    return {
        'format': CACHE_FORMAT,
        'node_types': [names[t] for t in sorted(names)],
        'num_nodes': {names[t]: nodes['counts'][t] for t in names},
        'offsets': {names[t]: nodes['offsets'][t] for t in names},
        'x': {names[t]: x for t, x in nodes['x'].items() if x is not None},
        'edges': {'__'.join(k): v for k, v in edges.items()},
        'relations': relations,
        'target': names[target],
        'y': y,
        'multi_label': multi,
        'num_classes': num_classes,
        'class_names': [classes[c] for c in sorted(classes)] if classes else [],
        'labelled': idx['labelled'],
        'test': idx.get('test'),
        'test_file': test_file,
        'has_random_test': source.has(RANDOM_TEST_FILE),
        'info_parsed': info.parsed,
    }


def _processed(source: _Source, force_reload: bool) -> Tuple[Dict[str, Any], Optional[str]]:
    """The processed graph, read from (or written to) ``<folder>/processed/`` when the folder is writable."""
    cache = None if source.is_zip else osp.join(source.path, 'processed', CACHE_FILE)
    if cache is not None and not is_writable_dir(osp.dirname(cache)):
        cache = None
    sig = source.signature() if cache else None
    if cache and not force_reload and osp.isfile(cache):
        try:
            out = safe_torch_load(cache)
            if isinstance(out, dict) and out.get('format') == CACHE_FORMAT and out.get('signature') == sig:
                return out, cache
        except ValueError as e:
            print(f'graphkit: ignoring the HGB cache {cache} ({e}); re-processing', file=sys.stderr)
    out = _process(source)
    if cache:
        out['signature'] = sig
        try:
            atomic_torch_save(out, cache)
        except OSError as e:  # pragma: no cover - e.g. disk full: continue in memory
            print(f'graphkit: could not write {cache} ({e}); continuing in memory', file=sys.stderr)
            cache = None
    return out, cache


# ----------------------------------------------------------------------------------------------------------
# the seeded parts: random features and the train / valid split
# ----------------------------------------------------------------------------------------------------------
def _split(labelled: Tensor, y: Tensor, multi: bool, val_ratio: float, gen: torch.Generator) -> Dict[str, Tensor]:
    """Train / valid of the labelled nodes: ``ceil(val_ratio * n)`` to valid, spread over the classes in
    proportion (largest remainders first) when single-label, at random otherwise."""
    n = labelled.numel()
    n_valid = min(n, math.ceil(val_ratio * n - 1e-9))
    perm = labelled[torch.randperm(n, generator=gen)]
    if multi:
        return {'train': perm[n_valid:].sort().values, 'valid': perm[:n_valid].sort().values}
    cls = y[perm]
    classes, counts = torch.unique(cls, return_counts=True)
    quota = counts.double() * n_valid / n
    take = quota.floor().long()
    rest = n_valid - int(take.sum())
    if rest > 0:  # largest remainder, ties in random order
        frac = quota - take.double()
        order = torch.randperm(classes.numel(), generator=gen)
        ranked = order[torch.argsort(frac[order], descending=True, stable=True)]
        take[ranked[:rest]] += 1
    valid, train = [], []
    for c, k in zip(classes.tolist(), take.tolist()):
        members = perm[cls == c]
        valid.append(members[:k])
        train.append(members[k:])
    return {'train': torch.cat(train).sort().values, 'valid': torch.cat(valid).sort().values}


def read_hgb(
    path: str,
    seed: int = 0,
    feature_dim: int = DEFAULT_FEATURE_DIM,
    val_ratio: float = 0.2,
    force_reload: bool = False,
) -> Tuple[HeteroData, Dict[str, Tensor], Dict[str, Any]]:
    r"""Read the HGB dataset in folder or zip :obj:`path`.

    Args:
        path (str): A folder holding the ``.dat`` files, or a zip of them (read without extracting).
        seed (int, optional): Seeds the random features of featureless types and the train / valid split.
            (default: :obj:`0`)
        feature_dim (int, optional): Width :math:`d` of the :math:`\mathcal{N}(0, 1/d)` features of featureless
            node types. (default: :obj:`512`)
        val_ratio (float, optional): Share of ``label.dat`` that goes to valid. (default: :obj:`0.2`)
        force_reload (bool, optional): Re-parse the files even if a cache exists. (default: :obj:`False`)

    Returns:
        ``(data, split, info)``: the graph, ``{'train', 'valid'[, 'test']}`` (local ids of the target type), and
        a dict of plain values (target, classes, which test file, relations kept and dropped, ...).
    """
    if feature_dim < 1:
        raise ValueError(f"'feature_dim' must be >= 1 (got {feature_dim})")
    if not 0.0 <= val_ratio < 1.0:
        raise ValueError(f"'val_ratio' must be in [0, 1) (got {val_ratio})")
    path = os.fspath(path)
    if not osp.exists(path):
        raise FileNotFoundError(f"No HGB dataset at '{path}'")
    p, cache = _processed(_Source(path), force_reload)
    gen = torch.Generator().manual_seed(int(seed))
    data = HeteroData()
    random_types = []
    for t in p['node_types']:
        if t in p['x']:
            data[t].x = p['x'][t]
        else:
            data[t].x = random_features(p['num_nodes'][t], feature_dim, gen)
            random_types.append(t)
        data[t].num_nodes = p['num_nodes'][t]
    for key, ei in p['edges'].items():
        data[tuple(key.split('__'))].edge_index = ei
    data[p['target']].y = p['y']
    split = _split(p['labelled'], p['y'], p['multi_label'], val_ratio, gen)
    if p['test'] is not None:
        split['test'] = p['test'].sort().values
        note = f'test labels from {p["test_file"]} ({p["test"].numel()} nodes)'
    elif p['has_random_test']:
        note = (
            f'no {TEST_FILE}: only {RANDOM_TEST_FILE}, whose labels are randomised in the HGB mirrors, so there is '
            'no test split (it is never scored)'
        )
    else:
        note = f'no {TEST_FILE}: there is no test split'
    if p['has_random_test'] and p['test'] is not None:
        note += f'; {RANDOM_TEST_FILE} (randomised labels) is ignored'
    info = {
        'source': path,
        'cache': cache,
        'target': p['target'],
        'multi_label': p['multi_label'],
        'num_classes': p['num_classes'],
        'class_names': p['class_names'],
        'num_labelled': int(p['labelled'].numel()),
        'test_file': p['test_file'],
        'num_test': int(p['test'].numel()) if p['test'] is not None else 0,
        'test_note': note,
        'random_features': {t: feature_dim for t in random_types},
        'val_ratio': val_ratio,
        'stratified': not p['multi_label'],
        'relations': p['relations'],
        'info_parsed': p['info_parsed'],
    }
    return data, split, info


def load_hgb_dataset(
    name: str,
    root: str,
    seed: int = 0,
    feature_dim: Optional[int] = None,
    val_ratio: float = 0.2,
    force_reload: bool = False,
) -> Any:
    r"""Load HGB dataset :obj:`name` (``'acm'``, ``'dblp'``, ``'imdb'``, ``'freebase'`` or a folder of your own
    in the HGB format; an ``hgb-`` prefix is dropped) from ``root/<name>/``, ``root/<name>.zip`` or the same
    under ``root/hgb/``, names matched case-insensitively.

    Args:
        name (str): The dataset (its folder or zip name).
        root (str): The data root.
        seed (int, optional): Seeds the random features and the train / valid split. (default: :obj:`0`)
        feature_dim (int, optional): Width of the random features of featureless types; by default RpHGNN's
            per-dataset value (ACM 256, DBLP and IMDB 1024, Freebase 512, else 512). (default: :obj:`None`)
        val_ratio (float, optional): Share of ``label.dat`` that goes to valid. (default: :obj:`0.2`)
        force_reload (bool, optional): Ignore the cache of an extracted folder. (default: :obj:`False`)

    Returns:
        A :class:`~graphkit.data.NodeDataset` with ``metric='micro_f1'`` and ``seeded_split=True``; its ``info``
        records the test file used (``test_file``, ``num_test``, ``test_note``).

    Raises:
        FileNotFoundError: If no folder or zip is found (listing where it looked) or a required file is missing.
        ValueError: On a malformed file, naming the file and the line.
    """
    from graphkit.data.registry import NodeDataset

    base = _strip(name).lower()
    found, looked = locate_hgb(base, os.fspath(root))
    if found is None:
        raise missing_files_error(
            f"HGB dataset '{base}'",
            [looked[0], looked[1]],
            looked,
            f'{base}/node.dat\n{base}/link.dat\n{base}/label.dat\n{base}/label.dat.test\n{base}/info.dat\n'
            f'(or {base}.zip holding them; also under hgb/)',
        )
    d = feature_dim if feature_dim is not None else HGB_FEATURE_DIM.get(base, DEFAULT_FEATURE_DIM)
    data, split, info = read_hgb(found, seed=seed, feature_dim=d, val_ratio=val_ratio, force_reload=force_reload)
    return NodeDataset(
        f'hgb-{base}',
        data,
        split,
        info['num_classes'],
        info['target'],
        info['multi_label'],
        metric='micro_f1',
        root=found,
        seeded_split=True,
        info=info,
    )
