"""Shared pytest helpers: extension on/off legs and device legs."""

import pytest
import torch
import torch_geometric.typing

from graphkit.ops import disable_extensions

# The test graphs are tiny: one thread avoids oversubscription on small (and shared) CI machines.
torch.set_num_threads(1)

WITH_EXTENSIONS = bool(torch_geometric.typing.WITH_TORCH_SCATTER and torch_geometric.typing.WITH_TORCH_SPARSE)


@pytest.fixture(
    params=[
        'no_extensions',
        pytest.param(
            'with_extensions',
            marks=pytest.mark.skipif(not WITH_EXTENSIONS, reason='torch-scatter/torch-sparse not installed'),
        ),
    ]
)
def extensions(request):
    """Runs a test twice: plain torch, then with the extensions (if installed)."""
    if request.param == 'no_extensions':
        with disable_extensions():
            yield request.param
    else:
        yield request.param


DEVICES = ['cpu'] + ([pytest.param('cuda', marks=pytest.mark.gpu)] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """CPU always; CUDA (marked ``gpu``, deselected by default) when present."""
    return torch.device(request.param)
