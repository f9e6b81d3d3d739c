"""``graphkit analyze tc``: load a dataset (and a finished run's best model), then run the TC analysis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

from graphkit.analysis import analyze_tc
from graphkit.data import load_link_dataset
from graphkit.tasks.run import load_run

__all__ = ['analyze_tc_run']


def analyze_tc_run(
    dataset: str,
    root: Optional[str] = None,
    run_dir: Optional[str] = None,
    out: str = 'tc_report',
    seed: int = 0,
    *,
    run: int = 0,
    device: str = 'cpu',
    **kwargs: Any,
) -> Dict[str, Any]:
    r"""Run :func:`graphkit.analysis.analyze_tc` on :obj:`dataset`; with :obj:`run_dir`, on the split of that
    run's seed and with its best model (run :obj:`run`), scoring test pairs on the run's test-time graph.

    Args:
        dataset (str): Dataset name; must match the run's when :obj:`run_dir` is given.
        root (str, optional): Data root. (default: :obj:`None`)
        run_dir (str, optional): A finished ``graphkit train`` run directory. (default: :obj:`None`)
        out (str): Output directory of ``report.json`` and the plots. (default: :obj:`'tc_report'`)
        seed (int): Split seed without :obj:`run_dir` (the run's seed with it); ATC seed. (default: :obj:`0`)
        run (int): Which run of :obj:`run_dir`. (default: :obj:`0`)
        device (str): Device of the model. (default: :obj:`'cpu'`)
        **kwargs: Forwarded to :func:`~graphkit.analysis.analyze_tc` (``K``, ``atc_dim``, ``metrics``, ...).
    """
    if run_dir is None:
        ds = load_link_dataset(dataset, root, seed=seed)
        return analyze_tc(ds.split_edge, int(ds.data.num_nodes), out, dataset=ds.name, seed=seed, **kwargs)
    summary_path = Path(run_dir) / 'summary.json'
    if summary_path.is_file():  # read the run's task before rebuilding it: TC needs a link-prediction run
        try:
            kind = json.loads(summary_path.read_text()).get('task')
        except (ValueError, AttributeError):
            raise ValueError(f"'{summary_path}' is not a graphkit run summary (not a JSON object)") from None
        if kind != 'link':
            raise ValueError(
                f"'{run_dir}' is a run of the {kind} task; graphkit analyze tc needs a link-prediction run "
                '(graphkit train ncn | gae | ... on a link dataset)'
            )
    summary, task, model = load_run(run_dir, root, run, device)
    if summary['dataset'] != dataset.lower():
        raise ValueError(f"'dataset' is '{dataset}' but run '{run_dir}' was trained on '{summary['dataset']}'")
    return analyze_tc(
        task.split,
        task.num_nodes,
        out,
        dataset=task.name,
        seed=next(r['seed'] for r in summary['runs'] if r['run'] == run),
        model=model,
        x=task.x,
        adj=task.test_adj,
        model_name=summary['model'],
        info={'run_dir': str(run_dir), 'run': run},
        **kwargs,
    )
