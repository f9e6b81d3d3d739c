r"""Train UltraGCN on your own user-item interactions and recommend items, from a CSV file.

A synthetic ``user,item,timestamp`` CSV stands in for yours; ``graphkit.fit`` trains UltraGCN on it as the
dataset ``interactions:PATH`` (per user, a seeded 20 % test split and 10 % of the rest for validation; set
``data.temporal_split=True`` for leave-last-out by timestamp), and ``Result.recommend`` returns the top-K items
of each user, training items excluded. The same from the command line:

.. code-block:: bash

    graphkit train ultragcn --dataset interactions:my_interactions.csv --out runs/mine
    graphkit recommend runs/mine --users all --k 20
"""

import argparse
import os
import random

import graphkit


def write_interactions(path: str, users: int, items: int, per_user: int, seed: int = 0) -> None:
    """Users in a few taste groups, each preferring a slice of the items."""
    rng = random.Random(seed)
    groups = 4
    lines = ['user,item,timestamp']
    for u in range(users):
        g = u % groups
        pool = [i for i in range(items) if i % groups == g]
        for t, i in enumerate(rng.sample(pool, min(per_user, len(pool)))):
            lines.append(f'user{u},item{i},{t}')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='runs/own-interactions', help='run directory (new or empty)')
    parser.add_argument('--users', type=int, default=40)
    parser.add_argument('--items', type=int, default=60)
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--k', type=int, default=5)
    args = parser.parse_args(argv)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    csv = os.path.abspath(args.out) + '-interactions.csv'
    write_interactions(csv, args.users, args.items, per_user=8)
    result = graphkit.fit(
        'ultragcn',
        f'interactions:{csv}',
        out=args.out,
        epochs=args.epochs,
        **{
            'model.embedding_dim': 16,
            'model.negative_num': 10,
            'model.ii_neighbor_num': 5,
            'train.lr': 0.01,
            'train.eval_every_from': None,
            'train.eval_every': 5,
        },
    )
    print(f'test recall@20: {result.summary["test"]["recall@20"]["mean"]:.3f}  (run directory: {result.run_dir})')
    items, scores = result.recommend(['user0', 'user1'], k=args.k)
    item_ids = result.task.ds.extra['ids']['item_ids.csv'].ids
    for user, row in zip(['user0', 'user1'], items.tolist()):
        print(f'{user}: ' + ', '.join(item_ids[i] for i in row if i >= 0))


if __name__ == '__main__':
    main()
