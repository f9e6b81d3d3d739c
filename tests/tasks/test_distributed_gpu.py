"""CUDA legs of the run loop (marked ``gpu``: deselected by default, skipped without CUDA; run by
``benchmarks/gpu_check.sh``): a short training of every task family on ``--device cuda``, and torchrun with the
nccl backend on one GPU and, where there are two, on two."""

import json

import pytest
import torch

from graphkit.cli import main
from graphkit.tasks.run import load_run

from .test_distributed import FAMILIES, torchrun

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason='CUDA is not available'),
]


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_every_family_trains_on_cuda(family, tmp_path):
    make, argv = FAMILIES[family]
    make(tmp_path / 'data')
    out = tmp_path / 'run'
    where = ['--root', str(tmp_path / 'data'), '--out', str(out)]
    assert main(['train', *argv, *where, '--device', 'cuda', '--quiet']) == 0
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['versions']['device'].startswith('cuda')
    _, task, model = load_run(out, str(tmp_path / 'data'), device='cuda')
    assert next(model.parameters()).is_cuda
    again = task.evaluate(model)  # the evaluation on the GPU gives the summary's numbers again
    for split, metrics in again.items():
        for key, value in summary['runs'][0].get(split, {}).items():
            assert metrics[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (family, split, key)


@pytest.mark.parametrize('nproc', [1, 2])
def test_nccl_under_torchrun(nproc, tmp_path):
    if torch.cuda.device_count() < nproc:
        pytest.skip(f'needs {nproc} GPUs')
    make, argv = FAMILIES['link']
    make(tmp_path / 'data')
    out = tmp_path / 'run'
    proc = torchrun(nproc, [*argv, '--root', str(tmp_path / 'data'), '--out', str(out), '--device', 'cuda'])
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['distributed'] == {**summary['distributed'], 'world_size': nproc, 'backend': 'nccl'}
