"""engine.query_with_stats: the AP, P@k and distance histogram the Browse tab shows for one query."""

from __future__ import annotations

import numpy as np
import pytest

from core import engine
from core.config.train_config import TrainConfig
from core.runs.catalog import create_run
from core.runs.store import RunStore
from core.search.codes import save_codes

BITS = 12


@pytest.fixture
def coded_run(tmp_path):
    """A run folder with random saved codes (test-split queries need no network: their codes are saved)."""
    rng = np.random.default_rng(3)
    with RunStore() as store:
        paths = create_run(TrainConfig(backbone="resnet18", weights="none", bits=BITS), store=store)
    db_codes = rng.choice([-1, 1], size=(60, BITS))
    db_labels = rng.integers(0, 4, size=60)
    q_codes = rng.choice([-1, 1], size=(8, BITS))
    q_labels = rng.integers(0, 4, size=8)
    save_codes(paths, "database", db_codes, db_labels, [str(tmp_path / f"db{i}.jpg") for i in range(60)])
    save_codes(paths, "query", q_codes, q_labels, [str(tmp_path / f"q{i}.jpg") for i in range(8)])
    return paths.run_id, db_codes, db_labels, q_codes, q_labels


def test_ap_equals_the_evaluators_per_query_ap(coded_run):
    run_id, db_codes, db_labels, q_codes, q_labels = coded_run
    report = engine.evaluate(run_id, ks=(5,), device="cpu")
    expected_p = []
    for row in range(len(q_labels)):
        stats = engine.query_with_stats(row, run_id, k=5)
        assert stats.average_precision == pytest.approx(report.per_query_ap[row], abs=1e-12)
        assert stats.average_precision_index_order == pytest.approx(report.per_query_ap_index_order[row], abs=1e-12)
        correct = [h.label == q_labels[row] for h in stats.result.hits]
        assert stats.precision_at_k_index_order == pytest.approx(sum(correct) / 5)  # the grid as listed
        expected_p.append(stats.precision_at_k)
        distances = (db_codes != q_codes[row]).sum(axis=1)
        same = np.bincount(distances[db_labels == q_labels[row]], minlength=BITS + 1)
        other = np.bincount(distances[db_labels != q_labels[row]], minlength=BITS + 1)
        assert stats.distance_counts_same == tuple(same)
        assert stats.distance_counts_other == tuple(other)
    assert np.mean([engine.query_with_stats(r, run_id, 5).average_precision for r in range(8)]) == pytest.approx(
        report.map_all, abs=1e-12)
    assert np.mean(expected_p) == pytest.approx(report.precision_at_k[5], abs=1e-12)  # tie-averaged P@5
