"""Runs examples/own_graph.py and examples/own_interactions.py on tiny data."""

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / 'examples'


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_own_graph(tmp_path, capsys):
    load('own_graph').main(['--out', str(tmp_path / 'g'), '--nodes', '30', '--epochs', '2', '--hidden', '8'])
    text = capsys.readouterr().out
    assert 'test hits@100' in text and 'P(edge 0-1)' in text


def test_own_interactions(tmp_path, capsys):
    load('own_interactions').main(['--out', str(tmp_path / 'r'), '--users', '12', '--items', '16', '--epochs', '2'])
    text = capsys.readouterr().out
    assert 'test recall@20' in text and 'user0: item' in text
