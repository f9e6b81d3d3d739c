"""The HGB loader on tiny HGB folders and zips written here, and (marked ``dataset``) on the real ACM zip."""

import json
import math
import os
import os.path as osp
import zipfile

import numpy as np
import pytest
import torch

from graphkit.data import DATASETS, dataset_info, load_dataset, load_hgb_dataset, locate_hgb, read_hgb
from tests.data.conftest import SHARED_DATA, cleanup_mode, read_only

NUM = {'paper': 30, 'author': 8, 'term': 5}  # global ids: paper 0-29, author 30-37, term 38-42
OFF = {'paper': 0, 'author': 30, 'term': 38}
TYPE_ID = {'paper': 0, 'author': 1, 'term': 2}
INFO = {
    'node.dat': {'node type': {'0': 'paper', '1': 'author', '2': 'term'}},
    'link.dat': {
        'link type': {
            '0': {'start': 0, 'end': 0, 'meaning': 'paper-cite-paper'},
            '1': {'start': 0, 'end': 1, 'meaning': 'paper-author'},
            '2': {'start': 1, 'end': 0, 'meaning': 'author-paper'},
            '3': {'start': 0, 'end': 2, 'meaning': 'paper-term'},
        }
    },
    'label.dat': {'node type': {'0': {'0': 'db', '1': 'ml', '2': 'theory'}}},
}


def make_hgb(seed=0, multi=False):
    """The lines of a tiny HGB dataset (file -> list of lines) and what they hold."""
    rng = np.random.default_rng(seed)
    x = {'paper': rng.standard_normal((NUM['paper'], 3)).round(3), 'author': rng.standard_normal((NUM['author'], 2))}
    x['author'] = x['author'].round(3)
    nodes = []
    for t, n in NUM.items():
        for i in range(n):
            attrs = '\t' + ','.join(f'{v:g}' for v in x[t][i]) if t in x else ''
            nodes.append(f'{OFF[t] + i}\t{t} {i}\t{TYPE_ID[t]}{attrs}')
    cite = [(0, 1), (1, 0), (2, 3), (4, 4), (5, 9), (7, 2)]  # (0, 1) / (1, 0) and (4, 4) merge when symmetrised
    pa = sorted({(int(rng.integers(30)), int(rng.integers(8))) for _ in range(25)})
    pt = sorted({(int(rng.integers(30)), int(rng.integers(5))) for _ in range(20)})
    links = [f'{s}\t{d}\t0\t1.0' for s, d in cite]
    links += [f'{p}\t{OFF["author"] + a}\t1\t1.0' for p, a in pa]
    links += [f'{OFF["author"] + a}\t{p}\t2\t1.0' for p, a in reversed(pa)]  # the exact reverse of type 1
    links += [f'{p}\t{OFF["term"] + t}\t3\t1.0' for p, t in pt]  # no reverse type in the file
    perm = rng.permutation(NUM['paper'])
    if multi:
        y = (rng.random((NUM['paper'], 3)) < 0.4).astype(np.int64)
        y[np.arange(NUM['paper']), rng.integers(0, 3, NUM['paper'])] = 1  # every node has a label
        lab = {p: ','.join(str(c) for c in np.flatnonzero(y[p])) for p in range(NUM['paper'])}
    else:
        y = np.array([0] * 12 + [1] * 12 + [2] * 6)[rng.permutation(NUM['paper'])]
        lab = {p: str(y[p]) for p in range(NUM['paper'])}
    train, test = sorted(perm[:20].tolist()), sorted(perm[20:].tolist())
    files = {
        'node.dat': nodes,
        'link.dat': links,
        'label.dat': [f'{p}\t\t0\t{lab[p]}' for p in train],
        'label.dat.test': [f'{p}\t\t0\t{lab[p]}' for p in test],
        'info.dat': json.dumps(INFO, indent=4).splitlines(),
    }
    return files, {'x': x, 'cite': cite, 'pa': pa, 'pt': pt, 'y': y, 'train': train, 'test': test}


def write_hgb(folder, files, as_zip=False, subdir=''):
    """Write :obj:`files` (file -> lines or bytes) as ``folder/`` or as ``folder.zip``; returns the path."""
    folder = str(folder)
    blobs = {f: v if isinstance(v, bytes) else ('\n'.join(v) + '\n').encode() for f, v in files.items()}
    if as_zip:
        path = folder + '.zip'
        os.makedirs(osp.dirname(path), exist_ok=True)
        with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as zf:
            for f, b in blobs.items():
                zf.writestr(osp.join(subdir, f) if subdir else f, b)
        return path
    os.makedirs(folder, exist_ok=True)
    for f, b in blobs.items():
        with open(osp.join(folder, f), 'wb') as fh:
            fh.write(b)
    return folder


def edge_set(ei):
    return set(map(tuple, ei.t().tolist()))


@pytest.mark.parametrize('layout', ['folder', 'zip', 'zip_subdir'])
def test_hgb_graph(tmp_path, layout):
    files, w = make_hgb()
    write_hgb(tmp_path / 'Tiny', files, as_zip=layout != 'folder', subdir='Tiny' if layout == 'zip_subdir' else '')
    ds = load_hgb_dataset('tiny', str(tmp_path), feature_dim=7)
    data = ds.data
    assert ds.target == 'paper' and ds.num_classes == 3 and not ds.multi_label and ds.metric == 'micro_f1'
    assert ds.seeded_split and ds.is_hetero and ds.name == 'hgb-tiny'
    assert data.node_types == ['paper', 'author', 'term']
    assert {t: data[t].num_nodes for t in NUM} == NUM
    assert torch.allclose(data['paper'].x, torch.tensor(w['x']['paper'], dtype=torch.float))
    assert torch.allclose(data['author'].x, torch.tensor(w['x']['author'], dtype=torch.float))
    assert data['term'].x.shape == (5, 7) and ds.info['random_features'] == {'term': 7}
    assert sorted(data.edge_types) == sorted(
        [
            ('paper', 'cite', 'paper'),
            ('author', 'to', 'paper'),
            ('paper', 'rev_to', 'author'),
            ('paper', 'to', 'term'),
            ('term', 'rev_to', 'paper'),
        ]
    )
    cite = {(s, d) for s, d in w['cite']} | {(d, s) for s, d in w['cite']}
    assert edge_set(data['paper', 'cite', 'paper'].edge_index) == cite
    assert data['paper', 'cite', 'paper'].num_edges == len(cite)  # duplicates merged
    assert edge_set(data['author', 'to', 'paper'].edge_index) == {(a, p) for p, a in w['pa']}
    assert edge_set(data['paper', 'rev_to', 'author'].edge_index) == set(w['pa'])
    assert edge_set(data['paper', 'to', 'term'].edge_index) == set(w['pt'])
    assert edge_set(data['term', 'rev_to', 'paper'].edge_index) == {(t, p) for p, t in w['pt']}
    dropped = {r['link_type']: r.get('dropped_as_reverse_of') for r in ds.info['relations']}
    assert dropped == {0: None, 1: 2, 2: None, 3: None}  # paper-author is author-paper reversed
    y = data['paper'].y
    assert y[w['train']].tolist() == w['y'][w['train']].tolist()
    assert y[w['test']].tolist() == w['y'][w['test']].tolist()
    assert (y[[p for p in range(30) if p not in w['train'] + w['test']]] == -1).all()
    assert ds.split['test'].tolist() == w['test']
    assert ds.info['test_file'] == 'label.dat.test' and ds.info['num_test'] == 10
    assert ds.info['class_names'] == ['db', 'ml', 'theory']


def test_split_stratified_and_seeded(tmp_path):
    files, w = make_hgb()
    write_hgb(tmp_path / 'tiny', files)
    ds = load_hgb_dataset('tiny', str(tmp_path), seed=3)
    train, valid = ds.split['train'], ds.split['valid']
    assert valid.numel() == math.ceil(0.2 * 20) and train.numel() == 16
    assert sorted(train.tolist() + valid.tolist()) == w['train']
    assert not set(train.tolist()) & set(ds.split['test'].tolist())
    y = ds.data['paper'].y
    for c in range(3):
        n_c = int((y[torch.tensor(w['train'])] == c).sum())
        assert math.floor(0.2 * n_c) <= int((y[valid] == c).sum()) <= math.ceil(0.2 * n_c)
    again = load_hgb_dataset('tiny', str(tmp_path), seed=3)
    assert torch.equal(again.split['valid'], valid) and torch.equal(again.data['term'].x, ds.data['term'].x)
    splits = {tuple(load_hgb_dataset('tiny', str(tmp_path), seed=s).split['valid'].tolist()) for s in range(6)}
    assert len(splits) > 1
    other = load_hgb_dataset('tiny', str(tmp_path), seed=4)
    assert not torch.equal(other.data['term'].x, ds.data['term'].x)
    assert torch.equal(other.data['paper'].x, ds.data['paper'].x)


def test_random_features_scale(tmp_path):
    files, _ = make_hgb()
    write_hgb(tmp_path / 'tiny', files)
    x = load_hgb_dataset('tiny', str(tmp_path), feature_dim=4096).data['term'].x
    assert abs(float(x.var()) - 1 / 4096) < 0.2 / 4096 and abs(float(x.mean())) < 0.01


def test_multi_label(tmp_path):
    files, w = make_hgb(multi=True)
    write_hgb(tmp_path / 'tiny', files, as_zip=True)
    ds = load_hgb_dataset('tiny', str(tmp_path))
    assert ds.multi_label and ds.num_classes == 3 and not ds.info['stratified']
    y = ds.data['paper'].y
    assert y.shape == (30, 3) and y.dtype == torch.float
    labelled = w['train'] + w['test']
    assert y[labelled].long().tolist() == w['y'][labelled].tolist()
    assert ds.split['valid'].numel() == 4 and ds.split['train'].numel() == 16
    assert sorted(ds.split['train'].tolist() + ds.split['valid'].tolist()) == w['train']


def test_without_info_dat(tmp_path):
    files, _ = make_hgb()
    del files['info.dat']
    write_hgb(tmp_path / 'tiny', files)
    ds = load_hgb_dataset('tiny', str(tmp_path))
    assert ds.data.node_types == ['type0', 'type1', 'type2'] and ds.target == 'type0'
    assert ('type0', 'link0', 'type0') in ds.data.edge_types and ('type2', 'rev_link3', 'type0') in ds.data.edge_types
    assert ds.num_classes == 3 and not ds.info['info_parsed']


def test_info_dat_table(tmp_path):
    files, _ = make_hgb()
    files['info.dat'] = ['TYPE\tMEANING', '0\tpaper', '1\tauthor', '2\tterm', '', 'LINK\tSTART\tEND\tMEANING']
    files['info.dat'] += ['0\t0\t0\tpaper-cite-paper', '1\t0\t1\tpaper-author', '2\t1\t0\tauthor-paper']
    files['info.dat'] += ['3\t1\t1\tpaper-term']  # wrong start / end: the table form is trusted for names only
    write_hgb(tmp_path / 'tiny', files)
    ds = load_hgb_dataset('tiny', str(tmp_path))
    assert ds.data.node_types == ['paper', 'author', 'term']
    assert ('paper', 'cite', 'paper') in ds.data.edge_types and ('paper', 'to', 'term') in ds.data.edge_types


@pytest.mark.parametrize('with_test', [True, False])
def test_test_full_is_never_scored(tmp_path, with_test):
    files, w = make_hgb()
    files['label.dat.test_full'] = files['label.dat.test']
    if not with_test:
        del files['label.dat.test']
    write_hgb(tmp_path / 'tiny', files)
    ds = load_hgb_dataset('tiny', str(tmp_path))
    assert 'label.dat.test_full' in ds.info['test_note']
    if with_test:
        assert ds.split['test'].tolist() == w['test'] and ds.info['test_file'] == 'label.dat.test'
    else:
        assert 'test' not in ds.split and ds.info['test_file'] is None and ds.info['num_test'] == 0
        assert (ds.data['paper'].y[w['test']] == -1).all()


def test_registry_and_locate(tmp_path):
    files, _ = make_hgb()
    write_hgb(tmp_path / 'hgb' / 'ACM', files, as_zip=True)
    write_hgb(tmp_path / 'hgb' / 'MyGraph', files)
    for root in (tmp_path, tmp_path / 'hgb'):
        ds = load_dataset('hgb-acm', 'hetero-node', str(root))
        assert ds.root == str(tmp_path / 'hgb' / 'ACM.zip') and ds.split['test'].numel() == 10
    ds = load_dataset('HGB-mygraph', 'hetero-node', str(tmp_path))
    assert ds.root == str(tmp_path / 'hgb' / 'MyGraph') and ds.name == 'hgb-mygraph'
    assert DATASETS.entry('hgb-anything').kinds == ('hetero-node',)
    assert {'hgb-acm', 'hgb-dblp', 'hgb-imdb', 'hgb-freebase'} <= set(DATASETS.names('hetero-node'))
    rows = {r['name']: r for r in dataset_info(str(tmp_path), kinds=('hetero-node',))}
    assert rows['hgb-acm']['found'] and rows['hgb-acm']['metric'] == 'micro_f1'
    assert not rows['hgb-dblp']['found'] and str(tmp_path / 'hgb' / 'dblp.zip') in rows['hgb-dblp']['looks_in']
    assert locate_hgb('mygraph', str(tmp_path))[0] == str(tmp_path / 'hgb' / 'MyGraph')


def test_cache_only_in_writable_folders(tmp_path):
    files, _ = make_hgb()
    folder = write_hgb(tmp_path / 'tiny', files)
    first = load_hgb_dataset('tiny', str(tmp_path))
    cache = osp.join(folder, 'processed', 'hgb_graph.pt')
    assert first.info['cache'] == cache and osp.isfile(cache)
    torch.load(cache, weights_only=True)
    second = load_hgb_dataset('tiny', str(tmp_path))
    assert torch.equal(second.data['paper'].x, first.data['paper'].x)
    assert torch.equal(second.split['valid'], first.split['valid'])
    # a changed file invalidates the cache
    files['label.dat'] = files['label.dat'][:-1]
    write_hgb(tmp_path / 'tiny', files)
    assert load_hgb_dataset('tiny', str(tmp_path)).info['num_labelled'] == 19

    ro = tmp_path / 'ro'
    write_hgb(ro / 'tiny', files)
    write_hgb(ro / 'zipped', files, as_zip=True)
    read_only(ro / 'tiny')
    read_only(ro)
    try:
        assert load_hgb_dataset('tiny', str(ro)).info['cache'] is None
        assert load_hgb_dataset('zipped', str(ro)).info['cache'] is None
        assert sorted(os.listdir(ro)) == ['tiny', 'zipped.zip'] and 'processed' not in os.listdir(ro / 'tiny')
    finally:
        cleanup_mode(ro)
    zroot = tmp_path / 'z'
    write_hgb(zroot / 'tiny', files, as_zip=True)
    load_hgb_dataset('tiny', str(zroot))
    assert os.listdir(zroot) == ['tiny.zip']  # never writes next to a zip


# -- bad input ---------------------------------------------------------------------------------------------
def _load_bad(tmp_path, files, as_zip=False):
    write_hgb(tmp_path / 'bad', files, as_zip=as_zip)
    return load_hgb_dataset('bad', str(tmp_path))


def test_dataset_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere') as e:
        load_hgb_dataset('nothere', str(tmp_path))
    assert str(tmp_path / 'hgb' / 'nothere.zip') in str(e.value)


@pytest.mark.parametrize('as_zip', [False, True])
@pytest.mark.parametrize('missing', ['node.dat', 'link.dat', 'label.dat'])
def test_missing_file(tmp_path, missing, as_zip):
    files, _ = make_hgb()
    del files[missing]
    with pytest.raises(FileNotFoundError, match=missing.replace('.', r'\.')):
        _load_bad(tmp_path, files, as_zip)


def test_link_type_with_unknown_node_type(tmp_path):
    files, _ = make_hgb()
    info = json.loads('\n'.join(files['info.dat']))
    info['link.dat']['link type']['3']['end'] = 7
    files['info.dat'] = json.dumps(info, indent=4).splitlines()
    line = next(i + 1 for i, s in enumerate(files['info.dat']) if '"end": 7' in s)
    with pytest.raises(ValueError, match=rf'info\.dat.* line {line}: link type 3 has end node type 7'):
        _load_bad(tmp_path, files)


def test_link_joining_the_wrong_node_types(tmp_path):
    files, _ = make_hgb()
    line = next(i + 1 for i, s in enumerate(files['link.dat']) if s.split('\t')[2] == '3')
    src, _, lt, wt = files['link.dat'][line - 1].split('\t')
    files['link.dat'][line - 1] = '\t'.join([src, '31', lt, wt])  # 31 is an author, type 3 links paper -> term
    with pytest.raises(ValueError, match=rf'link\.dat.* line {line}: link type 3 joins node types 0 -> 2'):
        _load_bad(tmp_path, files)


@pytest.mark.parametrize('col', [0, 1])
def test_link_node_id_beyond_node_dat(tmp_path, col):
    files, _ = make_hgb()
    parts = files['link.dat'][4].split('\t')
    parts[col] = '43'
    files['link.dat'][4] = '\t'.join(parts)
    with pytest.raises(ValueError, match=r'link\.dat.* line 5: (src|dst)_id 43 is beyond node\.dat \(which has 43'):
        _load_bad(tmp_path, files)


@pytest.mark.parametrize('file', ['label.dat', 'label.dat.test'])
def test_label_out_of_range(tmp_path, file):
    files, _ = make_hgb()
    p = files[file][2].split('\t')[0]
    files[file][2] = f'{p}\t\t0\t3'
    with pytest.raises(ValueError, match=rf'{file.replace(".", "[.]")}.* line 3: label 3 is outside the class range'):
        _load_bad(tmp_path, files)


def test_label_on_wrong_node_type(tmp_path):
    files, _ = make_hgb()
    files['label.dat'][1] = '31\t\t0\t1'  # node 31 is an author
    with pytest.raises(ValueError, match=r'label\.dat.* line 2: node 31 is of type 1 in node\.dat, not 0'):
        _load_bad(tmp_path, files)
    files['label.dat'][1] = '31\t\t1\t1'
    with pytest.raises(ValueError, match=r'label\.dat.* line 2: node type 1, but line 1 labels type 0'):
        _load_bad(tmp_path, files)


def test_label_node_beyond_node_dat(tmp_path):
    files, _ = make_hgb()
    files['label.dat.test'].append('99\t\t0\t1')
    n = len(files['label.dat.test'])
    with pytest.raises(ValueError, match=rf'label\.dat\.test.* line {n}: node_id 99 is beyond node\.dat'):
        _load_bad(tmp_path, files)


@pytest.mark.parametrize(
    'file,line,text,match',
    [
        ('node.dat', 3, '2\tpaper 2\tzero\t1,2,3', "type 'zero' is not an integer"),
        ('node.dat', 4, '3', 'fewer than 3 tab-separated fields'),
        ('node.dat', 5, '4\tp\t0\t1,2,3\t9', 'more than 4 tab-separated fields'),
        ('node.dat', 6, '5\tp\t0\t1,2,3\t9\t9\t9', '7 tab-separated fields, expected at most 4'),
        ('node.dat', 7, '6\tp\t0\t1,x,3', "attributes '1,x,3' are not comma-separated numbers"),
        ('node.dat', 8, '7\tp\t0\t1,2', '2 attributes, but the first node of type 0 \\(line 1\\) has 3'),
        ('node.dat', 9, '8\tp\t0', 'node of type 0 has no attributes, but others of its type have'),
        ('node.dat', 10, '8\tp\t0\t1,2,3', 'node id 8 appears twice'),
        ('node.dat', 40, '39\tt\t1', 'node 38 \\(type 2\\) splits the ids of type 1'),  # reported on line 39
        ('link.dat', 2, '0\t1.5\t0\t1.0', "dst_id '1.5' is not an integer"),
        ('label.dat', 2, '5\t\t0\tb', "label 'b' is not an integer"),
        ('label.dat.test', 1, '5\t\t0\t1', r'node \d+ is also in label\.dat'),
    ],
)
def test_malformed_line(tmp_path, file, line, text, match):
    files, w = make_hgb()
    if file == 'label.dat.test':
        text = f'{w["train"][0]}\t\t0\t1'
    if file == 'label.dat':
        text = f'{w["train"][1]}\t\t0\tb'
    files[file][line - 1] = text
    reported = line - 1 if 'splits the ids' in match else line
    with pytest.raises(ValueError, match=rf"{file.replace('.', '[.]')}' line {reported}: {match}"):
        _load_bad(tmp_path, files)


def test_blank_lines_keep_line_numbers(tmp_path):
    files, w = make_hgb()
    files['label.dat'] = [''] + files['label.dat'][:2] + ['', f'{w["train"][2]}\t\t0\t9'] + files['label.dat'][3:]
    with pytest.raises(ValueError, match=r"label\.dat' line 5: label 9"):
        _load_bad(tmp_path, files)


def test_truncated_files(tmp_path):
    files, _ = make_hgb()
    raw = ('\n'.join(files['node.dat']) + '\n').encode()
    cut = raw.rfind(b',', 0, raw.find(b'\n', raw.find(b'\t0\t', len(raw) // 4)))  # mid-attributes of a paper
    files['node.dat'] = raw[:cut]
    lines = raw[:cut].decode().split('\n')
    with pytest.raises(ValueError, match=rf"node\.dat' line {len(lines)}: 2 attributes"):
        _load_bad(tmp_path / 'a', files)
    files, _ = make_hgb()
    files['link.dat'] = ('\n'.join(files['link.dat']).encode())[:-6]  # the last line loses its link type
    with pytest.raises(ValueError, match=r"link\.dat' line \d+: fewer than 3 tab-separated fields"):
        _load_bad(tmp_path / 'b', files)


def test_corrupted_zip(tmp_path):
    files, _ = make_hgb()
    path = write_hgb(tmp_path / 'bad', files, as_zip=True)
    blob = bytearray(open(path, 'rb').read())
    with open(path, 'wb') as f:
        f.write(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match='not a readable zip'):
        load_hgb_dataset('bad', str(tmp_path))
    with zipfile.ZipFile(path, 'w') as zf:  # a member whose compressed bytes are damaged
        zf.writestr('node.dat', ('\n'.join(files['node.dat']) + '\n').encode(), zipfile.ZIP_DEFLATED)
        for f in ('link.dat', 'label.dat'):
            zf.writestr(f, ('\n'.join(files[f]) + '\n').encode())
    blob = bytearray(open(path, 'rb').read())
    blob[200:260] = bytes(60)
    with open(path, 'wb') as f:
        f.write(blob)
    with pytest.raises(ValueError, match=r"member 'node\.dat' could not be read"):
        load_hgb_dataset('bad', str(tmp_path))


def test_bad_arguments(tmp_path):
    files, _ = make_hgb()
    path = write_hgb(tmp_path / 'tiny', files)
    with pytest.raises(ValueError, match="'val_ratio'"):
        read_hgb(path, val_ratio=1.0)
    with pytest.raises(ValueError, match="'feature_dim'"):
        read_hgb(path, feature_dim=0)


# -- the real data -----------------------------------------------------------------------------------------
@pytest.mark.dataset
def test_hgb_acm_real():
    if not (SHARED_DATA / 'hgb' / 'ACM.zip').is_file():
        pytest.skip('no ../shared/data/hgb/ACM.zip')
    ds = load_dataset('hgb-acm', 'hetero-node', str(SHARED_DATA))
    data = ds.data
    assert sum(data[t].num_nodes for t in data.node_types) == 10942
    assert {t: data[t].num_nodes for t in data.node_types} == {
        'paper': 3025,
        'author': 5959,
        'subject': 56,
        'term': 1902,
    }
    assert ds.target == 'paper' and ds.num_classes == 3 and not ds.multi_label
    assert ds.info['num_labelled'] == 907 and ds.info['test_file'] == 'label.dat.test'
    assert ds.info['num_test'] == 2118 == ds.split['test'].numel()
    assert ds.split['train'].numel() + ds.split['valid'].numel() == 907
    assert data['paper'].x.shape == (3025, 1902) and ds.info['random_features'] == {'term': 256}
    assert data['author', 'to', 'paper'].num_edges == 9949 and data['paper', 'to', 'term'].num_edges == 255619
    assert len(data.edge_types) == 7  # cite (symmetric) + 3 bipartite relations and their reverses
    # label sanity: nearest centroid on paper features, trained on label.dat, scored on the test file
    x, y = data['paper'].x, data['paper'].y
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    labelled = torch.cat([ds.split['train'], ds.split['valid']])
    centroids = torch.stack([x[labelled[y[labelled] == c]].mean(0) for c in range(3)])
    test = ds.split['test']
    acc = float(((x[test] @ centroids.t()).argmax(1) == y[test]).float().mean())
    assert acc > 0.7, acc  # chance is about 1/3 (this gives about 0.78)
