import pytest
import torch

from graphkit.ops import topk_full_ranking
from tests.ops._ops_graphs import csr_from_rows, naive_rank, ranking_problem


@pytest.mark.parametrize('chunk_size', [1, 4, 1024])
@pytest.mark.parametrize('k', [1, 3, 9, 20])  # 20 > number of candidates
def test_topk_matches_naive_loop(chunk_size, k):
    scores, train, _ = ranking_problem()
    top = topk_full_ranking(
        lambda q: scores[q], scores.size(0), k, exclude=csr_from_rows(train, 13, 9), chunk_size=chunk_size
    )
    assert top.shape == (13, k)
    for u in range(13):
        ranked = naive_rank(scores[u], set(train[u]))[:k]
        assert top[u].tolist() == ranked + [-1] * (k - len(ranked))


def test_queries_and_tuple_exclude():
    scores, train, _ = ranking_problem()
    ex = csr_from_rows(train, 13, 9)
    q = torch.tensor([5, 2, 7])
    full = topk_full_ranking(lambda i: scores[i], 13, 4, exclude=ex)
    sub = topk_full_ranking(
        lambda i: scores[i], 13, 4, exclude=(ex.crow_indices(), ex.col_indices()), queries=q, chunk_size=2
    )
    assert torch.equal(sub, full[q])
    assert topk_full_ranking(lambda i: scores[i], 13, 4, queries=q[:0]).shape == (0, 4)


def test_metrics_reexport():
    from graphkit.metrics import topk_full_ranking as reexported

    assert reexported is topk_full_ranking


def test_errors():
    with pytest.raises(ValueError, match='score_fn'):
        topk_full_ranking(lambda q: torch.zeros(3), 2, 1)
    with pytest.raises(ValueError, match='chunk_size'):
        topk_full_ranking(lambda q: torch.zeros(q.numel(), 3), 2, 1, chunk_size=0)
    with pytest.raises(ValueError, match="'k'"):
        topk_full_ranking(lambda q: torch.zeros(q.numel(), 3), 2, -1)
    with pytest.raises(ValueError, match='exclude'):
        topk_full_ranking(lambda q: torch.zeros(q.numel(), 3), 2, 1, exclude=torch.zeros(2, 3))
    with pytest.raises(ValueError, match='queries'):
        topk_full_ranking(lambda q: torch.zeros(q.numel(), 3), 2, 1, queries=torch.tensor([2]))
