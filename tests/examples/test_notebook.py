"""Executes examples/link_prediction_analysis.ipynb top to bottom with one training epoch."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip('nbformat')
nbclient = pytest.importorskip('nbclient')

NOTEBOOK = Path(__file__).resolve().parents[2] / 'examples' / 'link_prediction_analysis.ipynb'


# About 40 s of CPU: the notebook trains GAE and NCN for one epoch each, then runs the whole analysis.
def test_link_prediction_analysis_notebook_runs(monkeypatch, tmp_path):
    monkeypatch.setenv('GRAPHKIT_NB_EPOCHS', '1')
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': str(tmp_path)}}
    )
    client.execute()
    text = ''.join(
        out.get('text', '') for cell in nb.cells if cell.cell_type == 'code' for out in cell.get('outputs', [])
    )
    assert 'TC analysis of cora' in text
    assert 'alpha=2.0' in text
