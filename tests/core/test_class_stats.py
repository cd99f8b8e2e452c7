"""core.retrieval.class_stats against brute-force loops: per-class AP, worst queries, top-k class confusion."""

from __future__ import annotations

import numpy as np
import pytest

from core.config.train_config import TrainConfig
from core.evaluation.metrics import per_query_ap
from core.retrieval.class_stats import class_report, per_class_ap, top_confusions, top_k_class_counts, worst_queries
from core.runs.catalog import create_run
from core.search.codes import save_codes


def _codes(rng, count, bits):
    return np.where(rng.random((count, bits)) < 0.5, -1, 1).astype(np.int8)


def _brute_counts(qc, dc, ql, dl, k, num_classes, orders: int):
    """Top-k class counts averaged over `orders` random orders inside the tie groups (a Monte-Carlo
    check of the closed form)."""
    rng = np.random.default_rng(0)
    out = np.zeros((num_classes, num_classes))
    for q in range(len(qc)):
        distance = (qc[q] != dc).sum(axis=1)
        for _ in range(orders):
            order = np.lexsort((rng.random(len(dc)), distance))[:k]  # distance first, random among ties
            np.add.at(out[ql[q]], dl[order], 1.0 / orders)
    return out


@pytest.mark.parametrize("k", [1, 7, 60])
def test_top_k_class_counts_are_the_expectation_over_tie_orders(k, monkeypatch):
    rng = np.random.default_rng(k)
    qc, dc = _codes(rng, 23, 8), _codes(rng, 41, 8)  # 8 bits: many ties, so the order inside them matters
    ql, dl = rng.integers(0, 4, 23), rng.integers(0, 4, 41)
    monkeypatch.setattr("core.retrieval.class_stats._CHUNK_PAIRS", 100)  # several chunks
    counts = top_k_class_counts(qc, dc, ql, dl, k, 4)
    np.testing.assert_allclose(counts, _brute_counts(qc, dc, ql, dl, min(k, 41), 4, orders=400), atol=0.6)
    assert counts.sum() == pytest.approx(23 * min(k, 41))
    for perm in (np.argsort(dl, kind="stable"), np.arange(41)[::-1], rng.permutation(41)):  # database order
        np.testing.assert_allclose(top_k_class_counts(qc, dc[perm], ql, dl[perm], k, 4), counts, atol=1e-9)


def test_own_share_is_the_tie_averaged_precision_at_k():
    from core.evaluation.metrics import summarize

    rng = np.random.default_rng(5)
    qc, dc = _codes(rng, 30, 6), _codes(rng, 80, 6)
    ql, dl = np.arange(30) % 3, np.arange(80) % 3
    counts = top_k_class_counts(qc, dc, ql, dl, 10, 3)
    own = np.diag(counts).sum() / counts.sum()
    assert own == pytest.approx(summarize(qc, dc, ql, dl, ks=(10,)).precision_at_k[10], abs=1e-9)


def test_per_class_ap_worst_queries_and_confusions():
    ap = np.array([0.5, 0.1, 0.9, 0.3, 0.3])
    labels = np.array([0, 0, 2, 0, 2])
    means, counts = per_class_ap(ap, labels, 3)
    assert means[0] == pytest.approx(0.3) and np.isnan(means[1]) and means[2] == pytest.approx(0.6)
    assert counts.tolist() == [3, 0, 2]
    assert worst_queries(ap, labels, 0).tolist() == [1, 3, 0]
    confusion = np.array([[6, 3, 1], [0, 0, 0], [2, 2, 6]])
    assert top_confusions(confusion, 0) == [(1, 0.3), (2, 0.1)]
    assert top_confusions(confusion, 2, n=1) == [(0, 0.2)]  # tie broken by the lower class
    assert top_confusions(confusion, 1) == []


def test_class_report_of_a_run_agrees_with_the_metrics(fghash_home):
    rng = np.random.default_rng(3)
    paths = create_run(TrainConfig(backbone="resnet18", weights="none", bits=12))
    qc, dc = _codes(rng, 30, 12), _codes(rng, 50, 12)
    ql, dl = np.arange(30) % 3, np.arange(50) % 3
    save_codes(paths, "query", qc, ql, [f"/q/{i}.png" for i in range(30)])
    save_codes(paths, "database", dc, dl, [f"/d/{i}.png" for i in range(50)])
    report = class_report(paths, k=10, class_names=("heron", "finch", "owl"))
    expected_ap = per_query_ap(qc, dc, ql, dl)
    np.testing.assert_allclose(report.per_query_ap, expected_ap)
    for c in range(3):
        assert report.ap[c] == pytest.approx(expected_ap[ql == c].mean())
    assert report.example_paths == ("/q/0.png", "/q/1.png", "/q/2.png")
    np.testing.assert_allclose(report.confusion.sum(axis=1), [100, 100, 100])
    np.testing.assert_allclose(report.own_share, np.diag(report.confusion) / 100)
