"""Chance level: the mAP@all that random hash codes score on a split, the number learning has to beat.

Exact, not estimated. Draw every code uniformly at random (any length b): the query's Hamming distances
to the database items are then independent and identically distributed (Binomial(b, 1/2)), so once
ties are put in a uniformly random order every ranking of the database is equally likely, whatever b is.
The expected AP of a query with R relevant items among n under a uniformly random ranking is

    E[AP] = sum_p (1/n) (1 + (p-1)(R-1)/(n-1)) / p = (R-1)/(n-1) + H_n (n-R) / (n (n-1)),

(the item at position p is relevant with probability R/n and then has on average (p-1)(R-1)/(n-1)
relevant items before it; H_n = 1 + 1/2 + ... + 1/n). The chance mAP is its mean over the queries, with
0 for a query whose class has no database item (as core.evaluation.metrics counts it). It is therefore the exact
expectation of the headline, tie-averaged mAP@all (`RetrievalReport.map_all`) of random codes of every
length, and it depends only on the class counts of the two splits.

The ties-by-index mAP of random codes (`RetrievalReport.map_all_index_order`) is not covered by the
formula: database order breaks the ties, and on a database stored class by class (as most datasets are)
relevant items then cluster inside a tie group, which raises the mean, the more the shorter the code
(more ties). Measured on 10 classes x 24 database / 16 query items, 30 draws each: 12.7% at 4 bits,
12.3% at 12, 12.0% at 48, against the exact 11.9% that the tie-averaged mAP of the same draws
reproduces (tests/core/test_chance.py checks both).
"""

from __future__ import annotations

import numpy as np

CHANCE_DESCRIPTION = ("chance = expected mAP@all of random codes (exact: a uniformly random ranking; "
                      "the same for every code length)")


def expected_random_ap(num_relevant: np.ndarray | int, num_database: int) -> np.ndarray:
    """E[AP] of a uniformly random ranking of `num_database` items with `num_relevant` relevant ones.

    num_relevant: int or int array (any shape); returns float64 of the same shape (0 where it is 0).
    """
    r = np.asarray(num_relevant, dtype=np.float64)
    n = int(num_database)
    if n < 1:
        raise ValueError("the database is empty")
    if np.any(r < 0) or np.any(r > n):
        raise ValueError(f"relevant counts must lie in 0..{n}")
    if n == 1:
        return np.where(r > 0, 1.0, 0.0)
    harmonic = float(np.sum(1.0 / np.arange(1, n + 1, dtype=np.float64)))
    ap = (r - 1) / (n - 1) + harmonic * (n - r) / (n * (n - 1))
    return np.where(r > 0, ap, 0.0)


def chance_map(query_labels, database_labels) -> float:
    """Expected mAP@all of random codes (a fraction in [0, 1]) for these query / database class labels.

    query_labels: (q,) ints; database_labels: (n,) ints. Exact (see the module docstring)."""
    ql = np.asarray(query_labels, dtype=np.int64).reshape(-1)
    dl = np.asarray(database_labels, dtype=np.int64).reshape(-1)
    if ql.size == 0:
        return 0.0
    classes, counts = np.unique(dl, return_counts=True)
    slot = np.searchsorted(classes, ql).clip(max=max(classes.size - 1, 0))
    relevant = np.where(classes[slot] == ql, counts[slot], 0) if classes.size else np.zeros_like(ql)
    return float(expected_random_ap(relevant, dl.size).mean())
