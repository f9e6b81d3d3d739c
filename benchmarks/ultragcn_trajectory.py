"""A graphkit UltraGCN run's test Recall@20 / NDCG@20 against the official per-epoch log, by epochs trained.

    python benchmarks/ultragcn_trajectory.py runs/ultragcn-cds-seed0 [--out docs/figures/ultragcn-amazon-cds.png]

The official log (``results/ultragcn_amazoncds_m1.log`` of reczoo/RecZoo, the xue-pai/UltraGCN code on a GPU, config
``ultragcn_amazoncds_m1.ini``) numbers epochs from 0 and tests when ``epoch % 5 == 0`` below epoch 50, then every
epoch: its "epoch e" line is the model after e + 1 epochs. graphkit numbers epochs from 1 (after e epochs). Both are
put on the same axis here, epochs trained. Prints the aligned table and writes the plot.
"""

import argparse
import json
import os
import tempfile
from pathlib import Path

# (epoch as printed, Recall@20, NDCG@20) from the official Amazon-CDs log; best at printed epoch 59.
OFFICIAL_AMAZON_CDS = [
    (0, 0.01084, 0.00676), (5, 0.01126, 0.00684), (10, 0.01059, 0.00670), (15, 0.01095, 0.00679),
    (20, 0.01599, 0.01062), (25, 0.03447, 0.02257), (30, 0.06028, 0.03830), (35, 0.09151, 0.05790),
    (40, 0.11884, 0.07514), (45, 0.13933, 0.08878), (50, 0.15225, 0.09719), (51, 0.15438, 0.09845),
    (52, 0.15603, 0.09969), (53, 0.15772, 0.10091), (54, 0.15871, 0.10171), (55, 0.15914, 0.10211),
    (56, 0.16009, 0.10256), (57, 0.16044, 0.10289), (58, 0.16075, 0.10327), (59, 0.16216, 0.10432),
    (60, 0.16128, 0.10395), (61, 0.16074, 0.10363), (62, 0.16046, 0.10329), (63, 0.16097, 0.10366),
    (64, 0.16028, 0.10336), (65, 0.16058, 0.10343), (66, 0.15977, 0.10311), (67, 0.15958, 0.10310),
    (68, 0.15995, 0.10316), (69, 0.15939, 0.10282), (70, 0.15887, 0.10246), (71, 0.15881, 0.10257),
    (72, 0.15845, 0.10246), (73, 0.15847, 0.10241), (74, 0.15782, 0.10188),
]  # fmt: skip


def read_run(run_dir):
    rows = []
    path = Path(run_dir) / 'metrics.jsonl'
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            rec = json.loads(line)
        except ValueError:
            raise SystemExit(f"'{path}' line {number} is not JSON") from None
        test = rec.get('test') or {}
        if 'recall@20' in test and 'ndcg@20' in test:
            rows.append((int(rec['epoch']), float(test['recall@20']), float(test['ndcg@20'])))
    if not rows:
        raise SystemExit(f"'{path}' has no test recall@20 / ndcg@20 entries")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('run', help='a graphkit train ultragcn run directory on amazon-cds')
    parser.add_argument('--out', default=None, help='PNG to write (default: RUN/trajectory.png)')
    args = parser.parse_args()
    ours = read_run(args.run)
    official = [(e + 1, r, n) for e, r, n in OFFICIAL_AMAZON_CDS]  # epochs trained
    print('| epochs trained | official Recall@20 / NDCG@20 | graphkit Recall@20 / NDCG@20 |')
    print('|---:|---|---|')
    by_epoch = {e: (r, n) for e, r, n in ours}
    off = {e: (r, n) for e, r, n in official}
    for e in sorted(set(by_epoch) | set(off)):
        o = f'{off[e][0]:.5f} / {off[e][1]:.5f}' if e in off else ''
        g = f'{by_epoch[e][0]:.5f} / {by_epoch[e][1]:.5f}' if e in by_epoch else ''
        print(f'| {e} | {o} | {g} |')
    best = max(ours, key=lambda t: t[1])
    print(
        f'graphkit best Recall@20 {best[1]:.5f} (NDCG@20 {best[2]:.5f}) after {best[0]} epochs; official 0.16216 / '
        f'0.10432 after 60; ratios {best[1] / 0.16216:.3f} / {best[2] / 0.10432:.3f}'
    )

    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
    for ax, col, name, target in ((axes[0], 1, 'Recall@20', 0.16216), (axes[1], 2, 'NDCG@20', 0.10432)):
        ax.plot([t[0] for t in official], [t[col] for t in official], 'o-', ms=3, label='official log (GPU)')
        ax.plot([t[0] for t in ours], [t[col] for t in ours], 's-', ms=3, label='graphkit (CPU)')
        ax.axhline(0.98 * target, color='grey', lw=0.8, ls='--', label='0.98 × official best')
        ax.set_xlabel('epochs trained')
        ax.set_ylabel(f'test {name}')
        ax.set_title(f'UltraGCN, Amazon-CDs: {name}')
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc='lower right')
    out = Path(args.out or Path(args.run) / 'trajectory.png')
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix='.png')
    os.close(fd)
    fig.savefig(tmp, dpi=130)
    os.replace(tmp, out)
    print(f'Plot: {out}')


if __name__ == '__main__':
    main()
