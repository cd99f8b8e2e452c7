"""core.evaluation.chance: the exact chance level (expected mAP@all of random codes) that eval, train, the GUI and
the exported tables print."""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluation.chance import chance_map, expected_random_ap
from core.evaluation.metrics import map_all

DB = np.repeat(np.arange(10), 24)
QUERIES = np.repeat(np.arange(10), 16)


def test_equals_the_tie_averaged_map_of_one_tie_group():
    # Equal codes everywhere: one tie group, whose tie-averaged AP is exactly a uniformly random ranking's.
    uneven_db = np.concatenate([np.repeat(np.arange(5), [1, 3, 7, 20, 40]), [9]])
    queries = np.array([0, 1, 2, 3, 4, 4, 9, 7])  # class 7 has no database item: AP 0
    same = np.ones((len(queries), 4)), np.ones((len(uneven_db), 4))
    assert chance_map(queries, uneven_db) == pytest.approx(map_all(*same, queries, uneven_db, tie_mode="average"),
                                                           abs=1e-12)


@pytest.mark.parametrize("bits", [4, 48])
def test_is_the_mean_tie_averaged_map_of_random_codes_of_any_length(bits):
    rng = np.random.default_rng(bits)
    draws = [map_all(rng.choice([-1.0, 1.0], (len(QUERIES), bits)), rng.choice([-1.0, 1.0], (len(DB), bits)),
                     QUERIES, DB, tie_mode="average") for _ in range(30)]
    standard_error = np.std(draws) / np.sqrt(len(draws))
    assert abs(np.mean(draws) - chance_map(QUERIES, DB)) < 4 * standard_error


def test_ties_by_index_score_above_it_on_a_database_stored_class_by_class():
    # Database order breaks ties: relevant items sit together inside a tie group, which raises AP.
    rng = np.random.default_rng(1)
    draws = [map_all(rng.choice([-1.0, 1.0], (len(QUERIES), 4)), rng.choice([-1.0, 1.0], (len(DB), 4)),
                     QUERIES, DB, tie_mode="stable") for _ in range(30)]
    assert np.mean(draws) - chance_map(QUERIES, DB) > 4 * np.std(draws) / np.sqrt(len(draws))


def test_known_values():
    assert chance_map(QUERIES, DB) == pytest.approx(0.11905415, abs=1e-7)  # the demo split's class counts
    assert expected_random_ap(5, 5) == 1.0  # every item relevant
    assert expected_random_ap(1, 1) == 1.0 and expected_random_ap(0, 7) == 0.0
    # one relevant among n: E[1/position] = H_n / n
    assert expected_random_ap(1, 4) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    assert chance_map([], DB) == 0.0


def test_depends_only_on_class_counts():
    rng = np.random.default_rng(0)
    assert chance_map(rng.permutation(QUERIES), rng.permutation(DB)) == pytest.approx(chance_map(QUERIES, DB))
    relabel = np.array([3, 1, 4, 0, 5, 9, 2, 6, 8, 7])
    assert chance_map(relabel[QUERIES], relabel[DB]) == pytest.approx(chance_map(QUERIES, DB))


# --- every metric's chance level (issue 23 item 2) ---------------------------------------------------------

from itertools import permutations  # noqa: E402

from core.evaluation.chance import (  # noqa: E402
    chance_levels,
    chance_map_at_k,
    chance_pr_precision,
    chance_precision_at_k,
)
from core.evaluation.metrics import summarize  # noqa: E402


def _enumerated(relevant: int, n: int, k: int) -> tuple[float, float]:
    """(E[AP@k], E[P@k]) over all n! rankings of n items of which `relevant` are relevant, by the metrics'
    definitions: AP@k normalised by the relevant items in the top k (0 without any), P@k = hits / k."""
    aps, ps = [], []
    for order in permutations(range(n)):
        rel = [1 if i < relevant else 0 for i in order][:k]
        hits, precisions = 0, []
        for position, r in enumerate(rel, 1):
            if r:
                hits += 1
                precisions.append(hits / position)
        aps.append(sum(precisions) / hits if hits else 0.0)
        ps.append(hits / k)
    return float(np.mean(aps)), float(np.mean(ps))


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
def test_at_k_levels_equal_the_enumeration_of_every_ranking(k):
    db = np.array([0, 0, 1, 1, 1, 2])  # n = 6: 720 rankings per query class
    queries = np.array([0, 1, 2, 2, 3])  # class 3 has no database item: 0 for every metric
    expected = [_enumerated(r, len(db), k) for r in (2, 3, 1, 1, 0)]
    assert chance_map_at_k(queries, db, k) == pytest.approx(np.mean([e[0] for e in expected]), abs=1e-12)
    assert chance_precision_at_k(queries, db, k) == pytest.approx(np.mean([e[1] for e in expected]), abs=1e-12)


def test_levels_equal_the_metrics_on_one_tie_group():
    # All codes equal: the metrics' tie-averaged figures are those of a uniformly random ranking.
    db = np.concatenate([np.repeat(np.arange(4), [2, 5, 9, 30]), [7]])
    queries = np.array([0, 1, 2, 3, 3, 7, 5])
    ks = (1, 4, 10, 47, 100)
    got = summarize(np.ones((len(queries), 8)), np.ones((len(db), 8)), queries, db, ks)
    levels = chance_levels(queries, db, ks, dataset="toy")
    assert levels.map_all == pytest.approx(got.map_all, abs=1e-12)
    for k in ks:
        assert levels.map_at_k[k] == pytest.approx(got.map_at_k[k], abs=1e-12)
        assert levels.precision_at_k[k] == pytest.approx(got.precision_at_k[k], abs=1e-12)
    assert levels.pr_precision == pytest.approx(got.pr_curve[-1][1], abs=1e-12)  # one group: every radius the same
    assert levels.dataset == "toy"
    assert levels.below("precision_at_k", levels.precision_at_k[4] - 1e-6, 4)
    assert not levels.below("map_all", levels.map_all)


def test_levels_are_the_mean_metrics_of_random_codes():
    rng = np.random.default_rng(5)
    ks = (5, 20)
    draws = [summarize(rng.choice([-1.0, 1.0], (len(QUERIES), 6)), rng.choice([-1.0, 1.0], (len(DB), 6)),
                       QUERIES, DB, ks) for _ in range(40)]
    levels = chance_levels(QUERIES, DB, ks)

    def close(values, level):
        values = np.asarray(values)
        assert abs(values.mean() - level) < 4 * values.std() / np.sqrt(len(values)) + 1e-9

    for k in ks:
        close([d.map_at_k[k] for d in draws], levels.map_at_k[k])
        close([d.precision_at_k[k] for d in draws], levels.precision_at_k[k])
    for radius in (1, 3, 6):  # radii within which (almost) every query retrieves something
        close([d.pr_curve[radius][1] for d in draws], levels.pr_precision)


def test_precision_level_is_the_mean_class_prior():
    assert chance_pr_precision(QUERIES, DB) == pytest.approx(0.1)
    assert chance_precision_at_k(QUERIES, DB, 10) == pytest.approx(0.1)
    assert chance_precision_at_k(QUERIES, DB, 1000) == pytest.approx(240 * 24 / 240 / 1000)  # k > n: hits / k
    with pytest.raises(ValueError):
        chance_levels(QUERIES, DB, (0,))
