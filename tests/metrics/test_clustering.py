import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score, f1_score, normalized_mutual_info_score

from graphkit.metrics import (
    adjusted_rand_index,
    cluster_accuracy,
    clustering_metrics,
    contingency_table,
    match_clusters,
    matched_confusion,
    matched_f1,
    normalized_mutual_info,
)


@st.composite
def labelings(draw, max_n=30, max_k=6):
    n = draw(st.integers(1, max_n))
    kp, kc = draw(st.integers(1, max_k)), draw(st.integers(1, max_k))
    pred = draw(st.lists(st.integers(0, kp - 1), min_size=n, max_size=n))
    target = draw(st.lists(st.integers(0, kc - 1), min_size=n, max_size=n))
    return np.array(pred), np.array(target)


def brute_accuracy(pred, target):
    """Best one-to-one cluster -> class map by trying every injective map (clusters <= classes) or its reverse."""
    clusters, classes = sorted(set(pred)), sorted(set(target))
    best = 0
    if len(clusters) <= len(classes):
        for image in itertools.permutations(classes, len(clusters)):
            m = dict(zip(clusters, image))
            best = max(best, sum(m[p] == t for p, t in zip(pred, target)))
    else:
        for image in itertools.permutations(clusters, len(classes)):
            m = dict(zip(image, classes))
            best = max(best, sum(m.get(p) == t for p, t in zip(pred, target)))
    return best / len(pred)


@settings(max_examples=30, deadline=None)
@given(labelings())
def test_accuracy_matches_brute_force_permutation_search(pair):
    pred, target = pair
    assert cluster_accuracy(pred, target) == pytest.approx(brute_accuracy(pred.tolist(), target.tolist()))


@settings(max_examples=30, deadline=None)
@given(labelings())
def test_nmi_and_ari_equal_scikit_learn(pair):
    pred, target = pair
    assert normalized_mutual_info(pred, target) == pytest.approx(
        normalized_mutual_info_score(target, pred, average_method='arithmetic'), abs=1e-10
    )
    assert adjusted_rand_index(pred, target) == pytest.approx(adjusted_rand_score(target, pred), abs=1e-10)


@settings(max_examples=30, deadline=None)
@given(labelings())
def test_matched_f1_equals_scikit_learn_after_the_matching(pair):
    pred, target = pair
    mapping = match_clusters(pred, target)
    matched = np.array([mapping.get(int(p), -1) for p in pred])  # unmatched clusters: a label of no class
    expected = f1_score(target, matched, labels=np.unique(target), average='macro', zero_division=0)
    assert matched_f1(pred, target) == pytest.approx(expected, abs=1e-12)
    # the bundle agrees with the single metrics
    m = clustering_metrics(torch.as_tensor(pred), torch.as_tensor(target))
    assert m == pytest.approx(
        {
            'acc': cluster_accuracy(pred, target),
            'nmi': normalized_mutual_info(pred, target),
            'ari': adjusted_rand_index(pred, target),
            'f1': matched_f1(pred, target),
        }
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 40), st.integers(0, 10_000))
def test_relabelled_perfect_clustering_scores_one(k, n, seed):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, k, n)
    relabel = rng.permutation(100)[:k] - 20  # arbitrary ids, some negative
    pred = relabel[target]
    assert clustering_metrics(pred, target) == pytest.approx({'acc': 1.0, 'nmi': 1.0, 'ari': 1.0, 'f1': 1.0})


def test_by_hand():
    target = [0, 0, 0, 1, 1, 2]
    pred = [5, 5, 7, 7, 7, 7]  # two clusters for three classes
    assert match_clusters(pred, target) == {5: 0, 7: 1}
    assert cluster_accuracy(pred, target) == pytest.approx(4 / 6)
    # class 0: tp 2, |cluster| 2, |class| 3 -> 0.8; class 1: tp 2, 4, 2 -> 2/3; class 2: unmatched -> 0
    assert matched_f1(pred, target) == pytest.approx((0.8 + 2 / 3 + 0) / 3)
    table, clusters, classes = contingency_table(pred, target)
    assert table.tolist() == [[2, 0, 0], [1, 2, 1]] and clusters.tolist() == [5, 7] and classes.tolist() == [0, 1, 2]


def test_rectangular_case_does_not_touch_its_input():
    pred = torch.tensor([0, 0, 1, 1, 1])
    target = torch.tensor([0, 1, 2, 3, 3])
    before = pred.clone(), target.clone()
    clustering_metrics(pred, target)
    matched_confusion(pred, target)
    assert torch.equal(pred, before[0]) and torch.equal(target, before[1])
    pred_np = np.array([0, 0, 1, 1, 1])
    cluster_accuracy(pred_np, target.numpy())
    assert pred_np.tolist() == [0, 0, 1, 1, 1]


def test_matched_confusion_puts_the_matching_on_the_diagonal():
    target = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    pred = np.array([2, 2, 0, 0, 1, 1, 1, 3])  # cluster 3 is surplus
    conf, classes, clusters = matched_confusion(pred, target)
    assert conf.shape == (3, 4) and classes.tolist() == [0, 1, 2]
    assert clusters.tolist() == [2, 0, 1, 3]
    assert int(conf.trace()) / len(pred) == pytest.approx(cluster_accuracy(pred, target))
    assert int(conf.sum()) == len(pred)


def test_single_cluster_conventions():
    assert normalized_mutual_info([0, 0, 0], [1, 1, 1]) == 1.0
    assert adjusted_rand_index([0, 0, 0], [1, 1, 1]) == 1.0
    assert normalized_mutual_info([0, 0, 0], [0, 1, 2]) == 0.0
    assert adjusted_rand_index([0, 1, 2], [0, 1, 2]) == 1.0


def test_errors():
    with pytest.raises(ValueError, match="'pred' and 'target' must have the same length"):
        cluster_accuracy([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="'pred' must be a 1-D tensor or array of integer labels"):
        clustering_metrics(torch.rand(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="'target' must be a 1-D"):
        clustering_metrics([0, 1], [[0, 1]])
    with pytest.raises(ValueError, match="'pred' must hold at least one node"):
        clustering_metrics([], [])
