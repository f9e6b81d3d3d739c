"""The NCN sparse input stage on Cora: ``embedding_bag`` on the transposed ``Linear`` weight (a view) against a
contiguous copy of it, which is what ``MPNNEncoder`` passes since issue 14.

    python benchmarks/input_stage.py [--threads 2] [--repeats 7]

Medians, milliseconds; the features are Cora's 2,708 x 1,433 bag of words as CSR (49,216 stored entries), the
weight the preset's 256 x 1,433.
"""

import argparse
import tempfile

import torch
import torch.nn.functional as F
from ncn import measure

from graphkit import ops
from graphkit.configs import load_config
from graphkit.tasks import TrainOptions
from graphkit.tasks.link import LinkTask


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as out:
        task = LinkTask(TrainOptions(model='ncn', dataset='cora', out=out, quiet=True), load_config('ncn', 'cora'))
        task.prepare(0)
    x = ops.to_sparse_csr(task.x)
    rowptr, col, value = x.crow_indices().long(), x.col_indices().long(), x.values()
    weight = torch.randn(256, x.size(1), requires_grad=True)
    grad = torch.randn(x.size(0), 256)
    for name, table in (('transposed view', lambda: weight.t()), ('contiguous copy', lambda: weight.t().contiguous())):
        res = []
        for backward in (False, True):

            def step():
                weight.grad = None
                out = F.embedding_bag(col, table(), rowptr[:-1], mode='sum', per_sample_weights=value)
                if backward:
                    out.backward(grad)

            res.append(measure(step, args.repeats)[0] * 1e3)  # median wall
        print(f'{name:<18} forward {res[0]:7.2f} ms   forward + backward {res[1]:7.2f} ms')


if __name__ == '__main__':
    main()
