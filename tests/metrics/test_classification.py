"""Classification metrics against numpy loops over nodes and classes, on random (hypothesis) inputs."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.metrics.classification import classification_metrics, f1_scores, regression_metrics
from graphkit.metrics.names import is_better, metric_direction


def _f1_reference(pred, target, num_classes):
    """Per-class counts by a loop over nodes (0/1 matrices), then the two averages."""
    tp, fp, fn = np.zeros(num_classes), np.zeros(num_classes), np.zeros(num_classes)
    for p_row, t_row in zip(pred, target):
        for c in range(num_classes):
            tp[c] += p_row[c] and t_row[c]
            fp[c] += p_row[c] and not t_row[c]
            fn[c] += (not p_row[c]) and t_row[c]
    per = [2 * tp[c] / (2 * tp[c] + fp[c] + fn[c]) if 2 * tp[c] + fp[c] + fn[c] else 0.0 for c in range(num_classes)]
    denom = 2 * tp.sum() + fp.sum() + fn.sum()
    return (2 * tp.sum() / denom if denom else 0.0), float(np.mean(per))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), c=st.integers(1, 6), seed=st.integers(0, 10**6))
def test_single_label_matches_reference(n, c, seed):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=gen)
    y = torch.randint(0, c, (n,), generator=gen)
    out = classification_metrics(logits, y)
    pred = logits.argmax(1)
    eye = np.eye(c, dtype=bool)
    micro, macro = _f1_reference(eye[pred.numpy()], eye[y.numpy()], c)
    assert out['acc'] == pytest.approx(float((pred == y).float().mean()))
    assert out['micro_f1'] == pytest.approx(micro) and out['micro_f1'] == pytest.approx(out['acc'])
    assert out['macro_f1'] == pytest.approx(macro)
    assert all(0.0 <= v <= 1.0 for v in out.values())


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), c=st.integers(1, 6), seed=st.integers(0, 10**6))
def test_multi_label_matches_reference(n, c, seed):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=gen)
    y = torch.randint(0, 2, (n, c), generator=gen)
    out = classification_metrics(logits, y, multi_label=True)
    pred = (logits > 0).numpy()
    micro, macro = _f1_reference(pred, y.numpy().astype(bool), c)
    assert out['acc'] == pytest.approx(float(np.mean([(p == t).all() for p, t in zip(pred, y.numpy())])))
    assert (out['micro_f1'], out['macro_f1']) == (pytest.approx(micro), pytest.approx(macro))


def test_edge_cases():
    assert f1_scores(torch.tensor([0, 0]), torch.tensor([0, 0]), 3) == {'micro_f1': 1.0, 'macro_f1': 1 / 3}
    assert classification_metrics(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))['acc'] == 0.0
    with pytest.raises(ValueError, match='same shape'):
        f1_scores(torch.tensor([0]), torch.tensor([0, 1]), 2)
    with pytest.raises(ValueError, match=r'\[N, C\]'):
        classification_metrics(torch.zeros(3), torch.zeros(3))


def test_regression_metrics():
    out = regression_metrics(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 2.0]))
    assert out['mae'] == pytest.approx(1.0) and out['rmse'] == pytest.approx((5 / 3) ** 0.5)


@pytest.mark.parametrize(
    'name, direction',
    [
        ('acc', 'max'),
        ('hits@50', 'max'),
        ('recall@20', 'max'),
        ('nmi', 'max'),
        ('mrr', 'max'),
        ('mae', 'min'),
        ('rmse', 'min'),
        ('loss', 'min'),
        ('valid_loss', 'min'),
    ],
)
def test_metric_direction(name, direction):
    assert metric_direction(name) == direction


def test_is_better():
    nan = float('nan')
    assert is_better(0.5, 0.4, 'max') and not is_better(0.5, 0.4, 'min')
    assert not is_better(nan, 0.4, 'max') and is_better(0.1, nan, 'min')


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), c=st.integers(1, 6), multi=st.booleans(), seed=st.integers(0, 10**6))
def test_f1_matches_scikit_learn(n, c, multi, seed):
    skm = pytest.importorskip('sklearn.metrics')
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=gen)
    if multi:  # a class is predicted where its logit is > 0 (scikit-learn reads one column as binary: c >= 2)
        c = max(c, 2)
        logits = torch.randn(n, c, generator=gen)
        target = (torch.rand(n, c, generator=gen) < 0.4).long()
        pred = (logits > 0).long().numpy()
    else:
        target = torch.randint(0, c, (n,), generator=gen)
        pred = logits.argmax(1).numpy()
    got = classification_metrics(logits, target, multi_label=multi)
    labels = None if multi else list(range(c))  # every class counts in the macro mean, as in f1_scores
    for avg in ('micro', 'macro'):
        ref = skm.f1_score(target.numpy(), pred, average=avg, labels=labels, zero_division=0)
        assert got[f'{avg}_f1'] == pytest.approx(ref, abs=1e-12)
    assert got['mean_f1'] == pytest.approx((got['micro_f1'] + got['macro_f1']) / 2)
    if multi:
        assert got['acc'] == pytest.approx(skm.accuracy_score(target.numpy(), pred))  # subset accuracy


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 40), tasks=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_ogb_node_accuracy_matches_ogbs_evaluator(n, tasks, seed):
    from graphkit.metrics.classification import ogb_node_accuracy

    ogb_np = pytest.importorskip('ogb.nodeproppred')
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 4, (n, tasks))
    y_pred = rng.integers(0, 4, (n, tasks))
    evaluator = ogb_np.Evaluator('ogbn-mag')
    evaluator.num_tasks = tasks  # ogbn-mag has one task; the semantics for T tasks are the same code path
    ref = evaluator.eval({'y_true': y_true, 'y_pred': y_pred})['acc']
    assert ogb_node_accuracy(torch.from_numpy(y_true), torch.from_numpy(y_pred)) == pytest.approx(ref)
    if tasks == 1:
        assert ogb_node_accuracy(torch.from_numpy(y_true[:, 0]), torch.from_numpy(y_pred[:, 0])) == pytest.approx(ref)
    with pytest.raises(ValueError, match='same shape'):
        ogb_node_accuracy(torch.zeros(3, 1), torch.zeros(2, 1))
