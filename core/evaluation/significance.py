"""Paired significance tests over matched cells (same dataset, bits and seed): is a gain more than chance?

For each compared method: the paired t-test (scipy.stats.ttest_rel) and the Wilcoxon signed-rank test
(scipy.stats.wilcoxon, exact for small n) of the differences reference - other, two-sided, with n, the mean
difference, and the p values Holm-corrected over all the comparisons of one table (Holm 1979: the k-th
smallest of m p values is multiplied by m - k + 1, then made monotone). The Multi-FusNet paper's Tables 4
and 7 use paired t-tests the same way.

A test that cannot mean anything says so in `note` instead of printing a number: n < 2 (no t-test), all
differences zero (no test), and for Wilcoxon n < 6 (its smallest possible two-sided p is 2 / 2^n >= 0.0625,
so it can never reach 0.05).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WILCOXON_MIN_N = 6  # 2 / 2^5 = 0.0625: below six pairs the exact test cannot reach p < 0.05


@dataclass(frozen=True)
class PairedTest:
    """reference vs other over n matched pairs. mean_diff: mean of reference - other (the values' unit);
    t_p / wilcoxon_p: two-sided p values (None: not computable, see note); *_holm: Holm-corrected."""

    other: str
    n: int
    mean_diff: float | None
    t_p: float | None
    wilcoxon_p: float | None
    t_p_holm: float | None = None
    wilcoxon_p_holm: float | None = None
    note: str = ""


def paired_test(other: str, reference_values: Sequence[float], other_values: Sequence[float]) -> PairedTest:
    """Both tests on aligned pairs (reference_values[i] matches other_values[i])."""
    from scipy import stats

    ref = np.asarray(reference_values, dtype=np.float64)
    oth = np.asarray(other_values, dtype=np.float64)
    if ref.shape != oth.shape:
        raise ValueError("reference and other values must be aligned pairs")
    n = int(ref.size)
    if n == 0:
        return PairedTest(other, 0, None, None, None, note="no matched cells")
    diff = ref - oth
    mean_diff = float(diff.mean())
    if n < 2:
        return PairedTest(other, n, mean_diff, None, None, note="n = 1: no test")
    if np.all(diff == 0):
        return PairedTest(other, n, mean_diff, None, None, note="all differences are zero")
    notes = []
    if np.allclose(diff, diff[0], rtol=1e-9, atol=1e-12):
        # equal differences (up to rounding): zero variance, where scipy returns p = 0 or nan from noise
        t_p = None
        notes.append("t-test undefined (the differences do not vary)")
    else:
        t_p = float(stats.ttest_rel(ref, oth).pvalue)
        t_p = t_p if math.isfinite(t_p) else None
    w_p = float(stats.wilcoxon(diff, zero_method="wilcox").pvalue) if np.any(diff != 0) else None
    if n < WILCOXON_MIN_N:
        notes.append(f"n = {n} < {WILCOXON_MIN_N}: Wilcoxon cannot reach p < 0.05")
    if n < 3:
        notes.append(f"n = {n}: too few pairs for the t-test to mean much")
    return PairedTest(other, n, mean_diff, t_p, w_p, note="; ".join(notes))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p values (None stays None and is not counted), in the input order."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - k) * p))
        out[i] = running
    return out


def with_holm(tests: Sequence[PairedTest]) -> list[PairedTest]:
    """The tests with their Holm-corrected p values (each test kind corrected over the list)."""
    import dataclasses

    t_holm = holm([t.t_p for t in tests])
    w_holm = holm([t.wilcoxon_p for t in tests])
    return [dataclasses.replace(t, t_p_holm=a, wilcoxon_p_holm=b) for t, a, b in zip(tests, t_holm, w_holm)]
