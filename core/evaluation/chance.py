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

Every other metric has its exact random-codes expectation too (`chance_levels`), by the same argument that
a random ranking is uniformly random (one tie group of all n database items):
- P@k = min(k, n) R / (n k): the top k holds a hypergeometric number of relevant items, of mean min(k, n) R / n.
- the PR curve's precision at every Hamming radius = R / n, the query's class prior, averaged over the
  queries: whichever items fall within the radius are a uniformly random subset of the database (the codes
  are i.i.d.), so their relevant share has mean R / n whatever their number; the curve's recall at radius r
  is P(Binomial(b, 1/2) <= r), so the chance "curve" is a horizontal line at the mean prior.
- mAP@k (AP over the top k normalised by the relevant items within it) is a ratio of random quantities:
  core.evaluation.tie_expectation.expected_at_k sums its exact expectation over the hypergeometric count
  of relevant items in the top k, here for a single tie group of all n items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.evaluation.tie_expectation import expected_at_k, harmonic

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


def relevant_counts(query_labels, database_labels) -> tuple[np.ndarray, int]:
    """(R, n): the database items of each query's class, (q,) int64, and the database size."""
    ql = np.asarray(query_labels, dtype=np.int64).reshape(-1)
    dl = np.asarray(database_labels, dtype=np.int64).reshape(-1)
    classes, counts = np.unique(dl, return_counts=True)
    if ql.size == 0 or classes.size == 0:
        return np.zeros(ql.size, dtype=np.int64), int(dl.size)
    slot = np.searchsorted(classes, ql).clip(max=classes.size - 1)
    return np.where(classes[slot] == ql, counts[slot], 0).astype(np.int64), int(dl.size)


def chance_map(query_labels, database_labels) -> float:
    """Expected mAP@all of random codes (a fraction in [0, 1]) for these query / database class labels.

    query_labels: (q,) ints; database_labels: (n,) ints. Exact (see the module docstring)."""
    relevant, n = relevant_counts(query_labels, database_labels)
    if relevant.size == 0:
        return 0.0
    return float(expected_random_ap(relevant, n).mean())


def chance_precision_at_k(query_labels, database_labels, k: int) -> float:
    """Expected P@k of random codes: min(k, n) R / (n k) averaged over the queries (a fraction)."""
    relevant, n = relevant_counts(query_labels, database_labels)
    if relevant.size == 0 or n == 0:
        return 0.0
    return float((relevant * min(int(k), n) / (n * int(k))).mean())


def chance_pr_precision(query_labels, database_labels) -> float:
    """Expected precision of random codes at every Hamming radius of the PR curve: the class prior R / n
    averaged over the queries (a fraction)."""
    relevant, n = relevant_counts(query_labels, database_labels)
    if relevant.size == 0 or n == 0:
        return 0.0
    return float((relevant / n).mean())


def chance_map_at_k(query_labels, database_labels, k: int) -> float:
    """Expected mAP@k of random codes (a fraction), exact: AP@k over a uniformly random ranking, through
    the hypergeometric sum of core.evaluation.tie_expectation.expected_at_k on one tie group of n items."""
    relevant, n = relevant_counts(query_labels, database_labels)
    if relevant.size == 0 or n == 0:
        return 0.0
    # Queries of equal R have equal expectations: evaluate each distinct R once.
    values, inverse = np.unique(relevant, return_inverse=True)
    hist_all = torch.full((values.size, 1), n, dtype=torch.int64)
    hist_relevant = torch.as_tensor(values, dtype=torch.int64)[:, None]
    ap_k, _ = expected_at_k(hist_all, hist_relevant, harmonic(n, "cpu"), int(k))
    return float(ap_k.numpy()[inverse].mean())


@dataclass(frozen=True)
class ChanceLevels:
    """What random codes score, exactly, on one query / database split (fractions in [0, 1]).

    map_all, map_at_k {k: value}, precision_at_k {k: value}; pr_precision: the PR curve's precision at
    every radius (a horizontal line); dataset: the split's dataset kind, for labels ("chance (cub)")."""

    map_all: float
    map_at_k: dict[int, float]
    precision_at_k: dict[int, float]
    pr_precision: float
    dataset: str = ""

    def below(self, metric: str, value: float, k: int | None = None) -> bool:
        """Whether `value` (a fraction) lies below this chance level for `metric` ("map_all", "map_at_k",
        "precision_at_k" or "pr_precision"; k for the @k ones)."""
        level = getattr(self, metric)
        if isinstance(level, dict):
            level = level[int(k)]
        return value < level - 1e-12


def chance_levels(query_labels, database_labels, ks: Sequence[int] = (), dataset: str = "") -> ChanceLevels:
    """Every metric's exact random-codes expectation for these labels (see ChanceLevels)."""
    ks = tuple(int(k) for k in ks)
    if any(k < 1 for k in ks):
        raise ValueError(f"every k must be >= 1; got {ks}")
    return ChanceLevels(map_all=chance_map(query_labels, database_labels),
                        map_at_k={k: chance_map_at_k(query_labels, database_labels, k) for k in ks},
                        precision_at_k={k: chance_precision_at_k(query_labels, database_labels, k) for k in ks},
                        pr_precision=chance_pr_precision(query_labels, database_labels), dataset=dataset)


def below_chance_note(value: float, level: float) -> str:
    """" (below chance)" when `value` < `level` (fractions), else "": the CLI's and figures' marker."""
    return " (below chance)" if value < level - 1e-12 else ""
