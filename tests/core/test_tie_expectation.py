"""The tie-averaged headline: exact against enumeration of every tie order, close to a Monte-Carlo average,
equal to a plain per-query reference, and unchanged by any reordering of the database."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from core.base.events import COLLAPSE_SHARE, is_collapsed
from core.evaluation.metrics import collapse_note, largest_code_share, summarize

KS = (1, 3, 5, 10, 50, 100, 1000)


def _distances(qc, dc):
    return (0.5 * (qc.shape[1] - dc @ qc.T)).astype(int).T  # (q, n)


def _measures(relevance, k_values):
    """AP, {k: AP@k}, {k: P@k} of one ranked 0/1 relevance list, in Fractions (fghash's conventions)."""
    def ap(rel):
        hits, total = 0, Fraction(0)
        for pos, r in enumerate(rel, 1):
            hits += r
            total += Fraction(hits, pos) * r
        return total / hits if hits else Fraction(0)
    return ap(relevance), {k: ap(relevance[:k]) for k in k_values}, \
        {k: Fraction(sum(relevance[:k]), k) for k in k_values}


def _tie_orders(dist):
    """Every order of the items that is sorted by distance (all permutations inside each tie group)."""
    groups = [np.flatnonzero(dist == d).tolist() for d in sorted(set(dist.tolist()))]
    for parts in itertools.product(*(itertools.permutations(g) for g in groups)):
        yield [i for part in parts for i in part]


def _enumerated(qc, dc, ql, dl, ks):
    """Per query: the exact mean of AP, AP@k and P@k over every tie order (Fractions -> float)."""
    out = []
    for dist, label in zip(_distances(qc, dc), ql):
        aps, apk, pk, count = Fraction(0), dict.fromkeys(ks, Fraction(0)), dict.fromkeys(ks, Fraction(0)), 0
        for order in _tie_orders(dist):
            a, ak, p = _measures([int(dl[i] == label) for i in order], ks)
            aps, count = aps + a, count + 1
            for k in ks:
                apk[k] += ak[k]
                pk[k] += p[k]
        out.append((float(aps / count), {k: float(apk[k] / count) for k in ks}, {k: float(pk[k] / count) for k in ks}))
    return out


def _heavy_ties(q, n, bits, classes, distinct_codes, seed):
    """Codes drawn from a few class codes (several classes share one), so tie groups are large and mixed."""
    rng = np.random.default_rng(seed)
    pool = rng.choice([-1.0, 1.0], (distinct_codes, bits))
    class_code = rng.integers(0, distinct_codes, classes)
    dl = np.sort(rng.integers(0, classes, n))  # stored class by class, as the loaders do
    ql = rng.integers(0, classes, q)
    dc, qc = pool[class_code[dl]].copy(), pool[class_code[ql]].copy()
    for codes in (dc, qc):  # a little noise: some items leave their class code
        flip = rng.random(codes.shape) < 0.03
        codes[flip] *= -1
    return qc, dc, ql, dl


@pytest.mark.parametrize("seed", range(3))
def test_closed_forms_equal_enumeration_of_every_tie_order(seed):
    rng = np.random.default_rng(seed)
    n = 8
    dc = rng.choice([-1.0, 1.0], (n, 3))  # 3 bits: 4 distances, big groups
    qc = rng.choice([-1.0, 1.0], (4, 3))
    dl, ql = rng.integers(0, 3, n), rng.integers(0, 4, 4)  # label 3: no relevant item
    ks = (1, 2, 3, 5, 8, 12)
    s = summarize(qc, dc, ql, dl, ks=ks)
    exact = _enumerated(qc, dc, ql, dl, ks)
    assert s.per_query_ap == pytest.approx([e[0] for e in exact], abs=1e-12)
    for k in ks:
        assert s.map_at_k[k] == pytest.approx(np.mean([e[1][k] for e in exact]), abs=1e-12)
        assert s.precision_at_k[k] == pytest.approx(np.mean([e[2][k] for e in exact]), abs=1e-12)


def _reference(qc, dc, ql, dl, ks):
    """A plain per-query reference: hypergeometric sum over the boundary group, no vectorisation."""
    from math import comb

    rows = []
    for dist, label in zip(_distances(qc, dc), ql):
        rel = dl == label
        values = sorted(set(dist.tolist()))
        groups = [(int((dist == d).sum()), int((rel & (dist == d)).sum())) for d in values]

        def group_sum(m, r, a, big_r):  # expected sum of precisions of the relevant items of a full group
            return sum(Fraction(r, m) * (big_r + 1 + Fraction((p - 1) * (r - 1), max(1, m - 1))) / (a + p)
                       for p in range(1, m + 1)) if r else Fraction(0)
        total = int(rel.sum())
        a = big_r = 0
        full = []
        for m, r in groups:
            full.append((m, r, a, big_r))
            a, big_r = a + m, big_r + r
        ap = sum((group_sum(*g) for g in full), Fraction(0)) / total if total else Fraction(0)
        apk, pk = {}, {}
        for k in ks:
            s_full, chosen = Fraction(0), None
            for m, r, a, big_r in full:
                if a + m <= k and not (a < k <= a + m):
                    s_full += group_sum(m, r, a, big_r)
                elif a < k:
                    chosen = (m, r, a, big_r)
            if chosen is None:  # k > n: the last group is the boundary, taken whole
                chosen = full[-1]
                s_full -= group_sum(*chosen)
            m, r, a, big_r = chosen
            taken = min(k - a, m)
            value = Fraction(0)
            for x in range(0, min(r, taken) + 1):
                weight = Fraction(comb(r, x) * comb(m - r, taken - x), comb(m, taken))
                if weight and big_r + x:
                    value += weight * (s_full + group_sum(taken, x, a, big_r)) / (big_r + x)
            apk[k] = value
            pk[k] = (big_r + Fraction(taken * r, m)) / k
        rows.append((ap, apk, pk))
    return rows


def test_vectorised_equals_per_query_reference():
    qc, dc, ql, dl = _heavy_ties(25, 300, 12, 20, 6, seed=3)
    ks = (1, 10, 100, 299, 300, 1000)
    s = summarize(qc, dc, ql, dl, ks=ks)
    ref = _reference(qc, dc, ql, dl, ks)
    assert s.per_query_ap == pytest.approx([float(r[0]) for r in ref], abs=1e-12)
    for k in ks:
        assert s.map_at_k[k] == pytest.approx(float(np.mean([float(r[1][k]) for r in ref])), abs=1e-12)
        assert s.precision_at_k[k] == pytest.approx(float(np.mean([float(r[2][k]) for r in ref])), abs=1e-12)


def _ranked_ap(relevance, k=None):
    """AP (truncated at k, normalised by the relevant items kept) of each row of a (trials, n) 0/1 array."""
    rel = relevance[:, :k] if k is not None else relevance
    hits = np.cumsum(rel, axis=1)
    kept = rel.sum(axis=1)
    total = (hits / np.arange(1, rel.shape[1] + 1) * rel).sum(axis=1)
    return np.where(kept > 0, total / np.maximum(kept, 1), 0.0)


def test_closed_forms_match_a_random_permutation_average():
    qc, dc, ql, dl = _heavy_ties(10, 120, 12, 12, 4, seed=4)
    ks = (5, 20, 60)
    s = summarize(qc, dc, ql, dl, ks=ks)
    rng = np.random.default_rng(0)
    trials = 4000
    dist = _distances(qc, dc)
    ap = np.zeros(trials)
    apk = {k: np.zeros(trials) for k in ks}
    pk = {k: np.zeros(trials) for k in ks}
    for i in range(len(qc)):  # random order inside each tie group: sort by distance, then a random key
        order = np.argsort(dist[i][None, :] + rng.random((trials, len(dc))), axis=1)
        relevance = (dl[order] == ql[i]).astype(float)
        ap += _ranked_ap(relevance) / len(qc)
        for k in ks:
            apk[k] += _ranked_ap(relevance, k) / len(qc)
            pk[k] += relevance[:, :k].sum(axis=1) / k / len(qc)
    # each closed form lies within 5 standard errors of its Monte-Carlo mean
    for sampled, exact in [(ap, s.map_all)] + [(apk[k], s.map_at_k[k]) for k in ks] + \
            [(pk[k], s.precision_at_k[k]) for k in ks]:
        assert abs(sampled.mean() - exact) < 5 * sampled.std() / np.sqrt(trials) + 1e-12


def test_headline_is_invariant_to_database_order_but_index_order_is_not():
    qc, dc, ql, dl = _heavy_ties(60, 600, 12, 20, 5, seed=5)  # 20 classes on 5 distinct codes
    rng = np.random.default_rng(1)
    orders = {"class-sorted": np.argsort(dl, kind="stable"), "reversed": np.arange(len(dl))[::-1],
              "shuffled": rng.permutation(len(dl))}
    base = summarize(qc, dc, ql, dl, ks=KS)
    index_order = []
    for order in orders.values():
        s = summarize(qc, dc[order], ql, dl[order], ks=KS)
        assert s.map_all == pytest.approx(base.map_all, abs=1e-9)
        assert s.per_query_ap == pytest.approx(base.per_query_ap, abs=1e-9)
        for k in KS:
            assert s.map_at_k[k] == pytest.approx(base.map_at_k[k], abs=1e-9)
            assert s.precision_at_k[k] == pytest.approx(base.precision_at_k[k], abs=1e-9)
        index_order.append(s.map_all_index_order)
    # the reason for the headline: ties by index move with the order (class-sorted vs shuffled)
    assert max(index_order) - min(index_order) > 0.05


def test_collapse_rule():
    codes = np.ones((10, 12))
    codes[:4, 0] = -1  # 6 of 10 share one code
    assert largest_code_share(codes) == pytest.approx(0.6)
    assert is_collapsed(0.6) and not is_collapsed(COLLAPSE_SHARE)
    assert collapse_note(0.6) == "codes collapsed: 60% of the database shares one code"
    assert collapse_note(0.5) == ""
    assert largest_code_share(np.eye(4) * 2 - 1) == 0.25
