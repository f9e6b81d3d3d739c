import subprocess
import sys
import textwrap

import pytest

from graphkit.cli import main
from graphkit.runtime import allocator_mode, configure_allocator

# Allocates, touches and frees a 64 MiB tensor 32 times and prints the minor page faults of the last 4
# rounds: about 4 x 16,384 (one per 4 KiB page) when glibc maps the block afresh every time, ~0 once the
# heap has grown enough to reuse freed blocks (7-10 rounds in a probe).
PROBE = textwrap.dedent("""
    import resource, sys, torch
    from graphkit.runtime import configure_allocator
    print(configure_allocator(sys.argv[1]))
    for k in range(32):
        if k == 28:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        x = torch.empty(16 << 20, dtype=torch.float32)
        x.fill_(1.0)
        del x
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def test_mode_from_the_environment(monkeypatch):
    monkeypatch.delenv('GRAPHKIT_MALLOC', raising=False)
    assert allocator_mode() == 'system'
    monkeypatch.setenv('GRAPHKIT_MALLOC', ' Retain ')
    assert allocator_mode() == 'retain'
    monkeypatch.setenv('GRAPHKIT_MALLOC', 'jemalloc')
    with pytest.raises(ValueError, match="GRAPHKIT_MALLOC must be one of retain, system \\(got 'jemalloc'\\)"):
        allocator_mode()
    with pytest.raises(ValueError, match='allocator mode must be one of'):
        configure_allocator('fast')


def test_bad_mode_fails_the_command_before_it_starts(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv('GRAPHKIT_MALLOC', 'jemalloc')
    assert main(['train', 'ncn', '--dataset', 'cora', '--out', str(tmp_path / 'run'), '--quiet']) == 2
    assert 'GRAPHKIT_MALLOC must be one of' in capsys.readouterr().err
    assert not (tmp_path / 'run').exists()


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc mallopt')
def test_retain_reuses_freed_blocks():
    def faults(mode):
        out = subprocess.run([sys.executable, '-c', PROBE, mode], capture_output=True, text=True, check=True)
        applied, count = out.stdout.split()
        return applied, int(count)

    applied, retained = faults('retain')
    if applied != 'retain':
        pytest.skip('no glibc mallopt on this platform')
    _, system = faults('system')
    assert system >= 4 * 8000  # mapped afresh: about one fault per page
    assert retained < system / 4
