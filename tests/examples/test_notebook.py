"""Executes every notebook in examples/ top to bottom in FAST mode (nbclient), as a user would run it.

FAST mode (``GRAPHKIT_NB_FAST=1``; ``GRAPHKIT_NB_EPOCHS=1`` for ``link_prediction_analysis.ipynb``) trains on a tiny
generated graph (or Cora for a single epoch) for a few epochs or seconds, so each notebook takes well under a minute
of CPU. The committed notebooks hold the outputs of a real run instead; their first cell says how it was made.
"""

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip('nbformat')
nbclient = pytest.importorskip('nbclient')
pytest.importorskip('matplotlib')

EXAMPLES = Path(__file__).resolve().parents[2] / 'examples'
NOTEBOOKS = sorted(p.name for p in EXAMPLES.glob('*.ipynb'))

#: Text each notebook's outputs must contain; every notebook in examples/ needs an entry.
EXPECTED = {
    'link_prediction_analysis.ipynb': ['TC analysis of cora', 'alpha=2.0'],
    'compare_link_predictors.ipynb': ['Pearson r', 'NCN − GAE: Hits@100', 'total wall time'],
    'ddi_topology.ipynb': ['per-node mean', 'NCN − GAE: Hits@20', 'total wall time'],
    'topological_shift.ipynb': ['random split: TC^t', 'per-node MRR vs TC^Test', 'total wall time'],
}


def test_every_notebook_is_tested():
    assert sorted(EXPECTED) == NOTEBOOKS


# link_prediction_analysis: about 40 s of CPU (GAE and NCN for one epoch on Cora, then the whole analysis); the
# FAST runs of the others: about 10-40 s each on an idle 2-core box.
@pytest.mark.parametrize('name', NOTEBOOKS)
def test_notebook_runs_in_fast_mode(name, monkeypatch, tmp_path):
    monkeypatch.setenv('GRAPHKIT_NB_FAST', '1')
    monkeypatch.setenv('GRAPHKIT_NB_EPOCHS', '1')
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    monkeypatch.setenv('TMPDIR', str(tmp_path))  # the notebooks' run directories
    monkeypatch.delenv('GRAPHKIT_NB_FIGURES', raising=False)
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': str(tmp_path)}}
    )
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    text = ''.join(
        out.get('text', '') for cell in nb.cells if cell.cell_type == 'code' for out in cell.get('outputs', [])
    )
    for expected in EXPECTED[name]:
        assert expected in text, f'{name}: {expected!r} not in the outputs'
    assert wall < 300, f'{name} took {wall:.0f} s in FAST mode'
