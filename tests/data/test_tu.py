import pytest
import torch

from graphkit.data import load_dataset
from graphkit.data.tu import locate_tu, read_tu

# two graphs: a triangle (nodes 1-3) and an edge (nodes 4-5)
FILES = {
    'A': '1, 2\n2, 1\n2, 3\n3, 2\n1, 3\n3, 1\n4, 5\n5, 4\n',
    'graph_indicator': '1\n1\n1\n2\n2\n',
    'graph_labels': '-1\n1\n',
    'node_labels': '0\n2\n2\n0\n1\n',
}


def write_tu(root, name='TOY', files=None, folder=None):
    d = root / (folder or name) / 'raw'
    d.mkdir(parents=True, exist_ok=True)
    for suffix, text in (FILES if files is None else files).items():
        (d / f'{name}_{suffix}.txt').write_text(text)
    return d


def test_reads_graphs_labels_and_one_hot_node_labels(tmp_path):
    write_tu(tmp_path)
    ds = load_dataset('tu-toy', 'graph', str(tmp_path))
    assert len(ds) == 2 and ds.num_classes == 2 and ds.info['label_coding'] == [-1, 1]
    a, b = ds.graphs
    assert a.num_nodes == 3 and b.num_nodes == 2 and a.edge_index.size(1) == 6
    assert a.y.tolist() == [0] and b.y.tolist() == [1]
    assert a.x.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
    assert b.edge_index.tolist() == [[0, 1], [1, 0]]


def test_case_insensitive_names_attributes_and_degree_inputs(tmp_path):
    files = {k: v for k, v in FILES.items() if k != 'node_labels'}
    write_tu(tmp_path, 'PROTO', files)
    ds = load_dataset('tu-proto', 'graph', str(tmp_path), degree_cap=1)
    assert ds.info['features'] == 'one-hot degree capped at 1'
    assert ds.graphs[0].x.tolist() == [[0, 1]] * 3  # degree 2 capped at 1
    files['node_attributes'] = '0.5, 1\n1, 1\n2, 1\n3, 1\n4, 1\n'
    files['graph_labels'] = '1\n2\n'
    write_tu(tmp_path, 'ATTR', files, folder='tu/attr')
    ds = load_dataset('tu-attr', 'graph', str(tmp_path))
    assert ds.graphs[0].x[0].tolist() == [0.5, 1.0] and ds.info['label_coding'] == [1, 2]


def test_missing_graph_indicator_is_named(tmp_path):
    write_tu(tmp_path, files={k: v for k, v in FILES.items() if k != 'graph_indicator'})
    with pytest.raises(FileNotFoundError, match='TOY_graph_indicator.txt'):
        load_dataset('tu-toy', 'graph', str(tmp_path))
    with pytest.raises(FileNotFoundError, match="TU dataset 'nothere'"):
        load_dataset('tu-nothere', 'graph', str(tmp_path))


@pytest.mark.parametrize(
    'suffix, text, message',
    [
        ('graph_indicator', '1\n1\n3\n3\n3\n', r'TOY_graph_indicator.txt\' line 3: graph ids must be contiguous'),
        ('graph_indicator', '1\n2\n2\n1\n2\n', r'line 4: graph ids must be contiguous and non-decreasing'),
        ('graph_indicator', '2\n2\n2\n3\n3\n', r'line 1: graph ids must start at 1'),
        ('graph_indicator', '1\n1\nx\n2\n2\n', r'TOY_graph_indicator.txt\' line 3: expected int values'),
        ('graph_indicator', '1\n\n1\n2\n2\n', r'line 2: blank line'),
        ('A', '1, 2\n2, 1\n2, 3\n3, 2\n1, 3\n3, 1\n4, 5\n5\n', r"TOY_A.txt' line 8: expected 2 comma-separated values"),
        ('A', '1, 2\n2, 1\n2, 9\n', r"TOY_A.txt' line 3: node id \[2, 9\] outside 1..5"),
        ('A', '1, 4\n', r"TOY_A.txt' line 1: the edge \[1, 4\] joins two graphs"),
        ('graph_labels', '-1\n', r'TOY_graph_labels.txt\' has 1 lines, expected 2'),
        ('node_labels', '0\n2\n2\n0\n', r"TOY_node_labels.txt' has 4 lines, expected 5"),
        ('node_labels', '0\n2\n2.5\n0\n1\n', r'line 3: expected int values'),
    ],
)
def test_corrupt_and_truncated_files_name_the_file_and_line(tmp_path, suffix, text, message):
    write_tu(tmp_path, files={**FILES, suffix: text})
    with pytest.raises(ValueError, match=message):
        load_dataset('tu-toy', 'graph', str(tmp_path))


def test_truncated_mid_file_is_caught(tmp_path):
    full = FILES['A']
    write_tu(tmp_path, files={**FILES, 'A': full[: full.index('4, 5') + 2]})  # cut inside a line: '4,'
    with pytest.raises(ValueError, match='TOY_A.txt'):
        load_dataset('tu-toy', 'graph', str(tmp_path))


def test_locate_lists_the_folders_searched(tmp_path):
    found, looked = locate_tu('toy', str(tmp_path))
    assert found is None and looked[0].endswith('TOY')
    d = write_tu(tmp_path)
    assert locate_tu('TOY', str(tmp_path))[0] == str(d)
    graphs, info = read_tu(str(d), 'toy')
    assert info['num_nodes'] == 5 and info['num_edges'] == 8


@pytest.mark.dataset
def test_real_mutag():
    ds = load_dataset('mutag', 'graph', '../shared/data/tu')
    assert len(ds) == 188 and ds.num_classes == 2 and ds.num_features == 7
    assert sum(g.num_nodes for g in ds.graphs) == 3371 and sum(g.edge_index.size(1) for g in ds.graphs) == 7442
    assert torch.bincount(ds.labels()).tolist() == [63, 125]
