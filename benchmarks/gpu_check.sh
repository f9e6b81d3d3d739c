#!/usr/bin/env bash
# benchmarks/gpu_check.sh: the CUDA check of graphkit, in one short script (within 8 minutes on one GPU).
#
#   bash benchmarks/gpu_check.sh            # from the repository root, with the project's venv active
#
# 1. prints the device (torch's view, nvidia-smi if present) and whether mamba_ssm's fused kernel imports;
# 2. runs the tests marked `gpu` (ops and evaluators on the `device` fixture's CUDA leg, every task family's training
#    and evaluation on --device cuda, nccl under torchrun, the mamba_ssm selective scan against the parallel scan);
# 3. trains each method for a few epochs on --device cuda (Cora ships with the package; the recommendation, HGB and
#    graph-level inputs are generated here) and prints its wall time and metrics, then GAE under torchrun with nccl
#    on every GPU of the machine.
# Without CUDA it says so, runs the `gpu` selection (everything skips) and exits 0: the project never needs a GPU.
# GPU_CHECK_DEVICE=cpu runs steps 1 and 3 on the CPU instead (a dry run of the script itself; torchrun with 2 gloo
# processes).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
WORK=$(mktemp -d /tmp/graphkit-gpu-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FAILED=()
T0=$(date +%s)

$PY - <<'EOF'
import torch
from graphkit.nn.ssm import mamba_kernel_available
print(f'torch {torch.__version__}, CUDA build {torch.version.cuda}, CUDA available: {torch.cuda.is_available()}')
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f'  cuda:{i} {p.name}, {p.total_memory / 2**30:.1f} GiB, compute capability {p.major}.{p.minor}')
print(f'mamba_ssm fused selective scan: {"yes" if mamba_kernel_available() else "no (the parallel scan is used)"}')
EOF
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv

if [[ $DEVICE == cuda ]] && ! $PY -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo 'No CUDA on this machine: the tests marked gpu are skipped (nothing else to check here).'
  $PY -m pytest -q -m gpu -p no:cacheprovider tests/tasks/test_distributed_gpu.py tests/nn/test_ssm.py | tail -1
  exit 0
fi

if [[ $DEVICE == cuda ]]; then
  echo '== tests marked gpu =='
  t=$(date +%s)
  timeout 240 $PY -m pytest -q -m gpu -p no:cacheprovider tests || FAILED+=("pytest -m gpu")
  echo "gpu tests: $(( $(date +%s) - t )) s"
fi

echo '== inputs =='
$PY - "$WORK" <<'EOF'
import sys
from pathlib import Path

import numpy as np

from tests.data.test_hgb import make_hgb, write_hgb

root = Path(sys.argv[1])
rng = np.random.default_rng(0)
folder = root / 'rec-gen'  # 2,000 users x 3,000 items, 20 interactions each (LightGCN format), 80/20 per user
folder.mkdir(parents=True)
train, test = [], []
for u in range(2000):
    items = rng.choice(3000, 20, replace=False)
    train.append(f'{u} ' + ' '.join(map(str, items[:16])))
    test.append(f'{u} ' + ' '.join(map(str, items[16:])))
(folder / 'train.txt').write_text('\n'.join(train) + '\n')
(folder / 'test.txt').write_text('\n'.join(test) + '\n')
write_hgb(root / 'hgb' / 'Tiny', make_hgb()[0])
print(f'generated {folder} and {root / "hgb" / "Tiny"}')
EOF

train() {  # NAME, then graphkit train arguments: one short training on cuda, its time and metrics
  local name=$1; shift
  local out="$WORK/runs/$name" t=$(date +%s)
  timeout 120 $PY -m graphkit train "$@" --device "$DEVICE" --quiet --out "$out" > "$WORK/$name.log" 2>&1
  local rc=$?
  if (( rc == 0 )); then
    $PY - "$out" "$name" "$(( $(date +%s) - t ))" <<'EOF'
import json, sys
s = json.load(open(f'{sys.argv[1]}/summary.json'))
split = 'test' if 'test' in s['splits'] else s['splits'][-1]
shown = ', '.join(f'{k} {v["mean"]:.4f}' for k, v in s[split].items() if v['mean'] is not None)
print(f'{sys.argv[2]:<22} {s["versions"]["device"]:<7} {float(sys.argv[3]):>4.0f} s   {split}: {shown}')
EOF
  else
    if (( rc == 124 )); then echo "$name FAILED: over 120 s"; else echo "$name FAILED (exit $rc):"; fi
    tail -5 "$WORK/$name.log"; FAILED+=("$name")
  fi
}

echo "== short trainings on $DEVICE (name, device, wall s incl. start-up, metrics) =="
train gae-cora gae --dataset cora --epochs 20
train ncn-cora ncn --dataset cora --epochs 5
train ncnc-cora ncnc --dataset cora --epochs 3
train gcn-cora gcn --dataset cora --epochs 50
train pamc-cora pamc --dataset cora --epochs 50
train ultragcn-gen ultragcn --dataset rec-gen --root "$WORK" --epochs 5
train lightgcn-gen lightgcn --dataset rec-gen --root "$WORK" --epochs 5
train rphgnn-hgb-tiny rphgnn --dataset hgb-tiny --root "$WORK" --epochs 10 --set model.hidden_channels=16
train gin-degree gin --dataset synthetic-degree --epochs 5 --set data.num_nodes=200
train gsm-degree gsm --dataset synthetic-degree --epochs 3 --set data.num_nodes=200

NPROC=$($PY -c 'import torch; print(torch.cuda.device_count())')
[[ $DEVICE == cpu ]] && NPROC=2
echo "== GAE on Cora under torchrun, $NPROC process(es) on $DEVICE =="
t=$(date +%s)
if timeout 180 $PY -m torch.distributed.run --standalone --nnodes 1 --nproc_per_node "$NPROC" -m graphkit train gae \
    --dataset cora --epochs 20 --device "$DEVICE" --quiet --out "$WORK/runs/gae-ddp" > "$WORK/ddp.log" 2>&1; then
  $PY -c "import json; s = json.load(open('$WORK/runs/gae-ddp/summary.json')); print('world', s['distributed']['world_size'], s['distributed']['backend'], 'test hits@100', round(s['test']['hits@100']['mean'], 4))"
  echo "torchrun: $(( $(date +%s) - t )) s"
else
  echo 'torchrun FAILED:'; tail -20 "$WORK/ddp.log"; FAILED+=("torchrun")
fi

echo "total: $(( $(date +%s) - T0 )) s"
if (( ${#FAILED[@]} )); then echo "FAILED: ${FAILED[*]}"; exit 1; fi
echo "all checks on $DEVICE passed"
