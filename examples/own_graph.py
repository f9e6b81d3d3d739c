r"""Train NCN on your own graph and score candidate links, in Python.

A networkx graph becomes a PyG ``Data`` (featureless: NCN learns a per-node embedding, as on ogbl-ddi),
``graphkit.fit`` trains it with the same task code as ``graphkit train`` (the seeded NCN 70/10/20 link split),
and ``Result.predict`` scores pairs with the best model. The run directory also works from the command line:
``graphkit predict RUN_DIR --pairs pairs.csv``.

.. code-block:: bash

    python examples/own_graph.py --out runs/own-graph            # a few seconds on a CPU
"""

import argparse

import networkx as nx
from torch_geometric.utils import from_networkx

import graphkit


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='runs/own-graph', help='run directory (new or empty)')
    parser.add_argument('--nodes', type=int, default=60)
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--hidden', type=int, default=32)
    args = parser.parse_args(argv)

    G = nx.connected_watts_strogatz_graph(args.nodes, 4, 0.2, seed=0)  # your graph here
    data = from_networkx(G)
    result = graphkit.fit(
        'ncn',
        data,
        out=args.out,
        epochs=args.epochs,
        **{'model.hidden_channels': args.hidden, 'train.batch_size': 32},
    )
    print(f'test hits@100: {result.summary["test"]["hits@100"]["mean"]:.3f}  (run directory: {result.run_dir})')
    pairs = [(0, 1), (0, args.nodes // 2), (3, 4)]
    for (u, v), p in zip(pairs, result.predict(pairs).tolist()):
        print(f'P(edge {u}-{v}) = {p:.3f}')


if __name__ == '__main__':
    main()
