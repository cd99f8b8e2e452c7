"""core.class_stats against brute-force loops: per-class AP, worst queries, top-k class confusion."""

from __future__ import annotations

import numpy as np
import pytest

from core.class_stats import class_report, per_class_ap, top_confusions, top_k_class_counts, worst_queries
from core.codes import save_codes
from core.config import TrainConfig
from core.metrics import per_query_ap
from core.runs import create_run


def _codes(rng, count, bits):
    return np.where(rng.random((count, bits)) < 0.5, -1, 1).astype(np.int8)


def _brute_counts(qc, dc, ql, dl, k, num_classes):
    out = np.zeros((num_classes, num_classes), np.int64)
    for q in range(len(qc)):
        distance = (qc[q] != dc).sum(axis=1)
        order = sorted(range(len(dc)), key=lambda j: (distance[j], j))[:k]
        for j in order:
            out[ql[q], dl[j]] += 1
    return out


@pytest.mark.parametrize("k", [1, 7, 60])
def test_top_k_class_counts_equal_a_brute_force_ranking(k, monkeypatch):
    rng = np.random.default_rng(k)
    qc, dc = _codes(rng, 23, 8), _codes(rng, 41, 8)  # 8 bits: many ties, so the index order matters
    ql, dl = rng.integers(0, 4, 23), rng.integers(0, 4, 41)
    monkeypatch.setattr("core.class_stats._CHUNK_PAIRS", 100)  # several chunks
    counts = top_k_class_counts(qc, dc, ql, dl, k, 4)
    np.testing.assert_array_equal(counts, _brute_counts(qc, dc, ql, dl, min(k, 41), 4))
    assert counts.sum() == 23 * min(k, 41)


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
    assert report.confusion.sum(axis=1).tolist() == [100, 100, 100]
    np.testing.assert_allclose(report.own_share, np.diag(report.confusion) / 100)
