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
