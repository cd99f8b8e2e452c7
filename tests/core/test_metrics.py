"""Retrieval metrics against straightforward loop implementations, hand-computed cases, and the exact
average over tie permutations."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import torch

import core.evaluation.metrics as metrics
from core.evaluation.metrics import map_all, per_query_ap, summarize


def _loop_ap(q_codes, d_codes, q_labels, d_labels, k=None):
    """Per query: Hamming via dot product, stable argsort, AP (truncated at k if given)."""
    bits = q_codes.shape[1]
    out = []
    for i in range(len(q_codes)):
        dist = 0.5 * (bits - d_codes @ q_codes[i])
        order = np.argsort(dist, kind="stable")
        rel = (d_labels[order] == q_labels[i]).astype(np.float64)
        if k is not None:
            rel = rel[:k]
        hits = np.cumsum(rel)
        pos = np.arange(1, len(rel) + 1)
        out.append(float((hits / pos * rel).sum() / rel.sum()) if rel.sum() else 0.0)
    return np.array(out)


def _random_case(q, n, bits, classes, seed):
    rng = np.random.default_rng(seed)
    return (rng.choice([-1.0, 1.0], (q, bits)), rng.choice([-1.0, 1.0], (n, bits)),
            rng.integers(0, classes + 1, q), rng.integers(0, classes, n))  # label `classes`: no relevant items


@pytest.mark.parametrize("q,n,bits,classes,seed", [(60, 700, 12, 9, 0), (40, 2000, 8, 3, 1), (30, 333, 48, 20, 2),
                                                   (25, 4100, 12, 150, 3), (3, 5, 4, 2, 4)])
def test_stable_ap_equals_loop(q, n, bits, classes, seed):
    qc, dc, ql, dl = _random_case(q, n, bits, classes, seed)
    ours = per_query_ap(torch.as_tensor(qc), torch.as_tensor(dc), torch.as_tensor(ql), torch.as_tensor(dl),
                        tie_mode="stable").numpy()
    np.testing.assert_allclose(ours, _loop_ap(qc, dc, ql, dl), rtol=0, atol=1e-12)


def test_chunking_does_not_change_results(monkeypatch):
    qc, dc, ql, dl = _random_case(50, 900, 12, 6, 5)
    whole = {mode: per_query_ap(qc, dc, ql, dl, tie_mode=mode).numpy() for mode in metrics.TIE_MODES}
    monkeypatch.setattr(metrics, "_CHUNK_ELEMENTS", 1000)  # forces one query per chunk
    for mode in metrics.TIE_MODES:
        np.testing.assert_array_equal(per_query_ap(qc, dc, ql, dl, tie_mode=mode).numpy(), whole[mode])


def test_map_at_k_and_precision_equal_loop():
    qc, dc, ql, dl = _random_case(40, 800, 12, 10, 6)
    s = summarize(qc, dc, ql, dl, ks=(1, 10, 100, 5000))
    for k in (1, 10, 100, 5000):
        assert s.map_at_k_index_order[k] == pytest.approx(_loop_ap(qc, dc, ql, dl, k).mean(), abs=1e-12)
        hits = []
        for i in range(len(qc)):
            order = np.argsort(0.5 * (12 - dc @ qc[i]), kind="stable")[:k]
            hits.append((dl[order] == ql[i]).sum() / k)
        assert s.precision_at_k_index_order[k] == pytest.approx(np.mean(hits), abs=1e-12)
    assert s.map_all_index_order == pytest.approx(_loop_ap(qc, dc, ql, dl).mean(), abs=1e-12)


# Hand-made case. Query 1111 (label 0). Database distances 1,0,1,2,0 with labels 0,1,0,1,0.
# Stable order (distance, index): 1(d0,-) 4(d0,+) 0(d1,+) 2(d1,+) 3(d2,-): relevance 0 1 1 1 0.
HAND_Q = np.array([[1, 1, 1, 1]])
HAND_D = np.array([[1, 1, 1, -1], [1, 1, 1, 1], [-1, 1, 1, 1], [-1, -1, 1, 1], [1, 1, 1, 1]])
HAND_QL, HAND_DL = np.array([0]), np.array([0, 1, 0, 1, 0])


def test_hand_case_stable():
    # AP = (1/2 + 2/3 + 3/4) / 3 = 23/36
    assert map_all(HAND_Q, HAND_D, HAND_QL, HAND_DL, tie_mode="stable") == pytest.approx(23 / 36, abs=1e-15)
    s = summarize(HAND_Q, HAND_D, HAND_QL, HAND_DL, ks=(3, 1))
    assert s.map_at_k_index_order[3] == pytest.approx((1 / 2 + 2 / 3) / 2, abs=1e-15)  # 2 relevant in the top 3
    assert s.map_at_k_index_order[1] == 0.0
    assert s.precision_at_k_index_order[3] == pytest.approx(2 / 3, abs=1e-15)
    # PR at radius 0: 1 of 2 retrieved relevant, recall 1/3; radius 1: 3/4, 1; radius 2: 3/5, 1.
    flat = [x for point in s.pr_curve[:3] for x in point]
    assert flat == pytest.approx([0, 1 / 2, 1 / 3, 1, 3 / 4, 1.0, 2, 3 / 5, 1.0], abs=1e-15)
    assert len(s.pr_curve) == 5  # radii 0..bits


def test_hand_case_tie_averaged():
    # The tie group at distance 0 puts the relevant item first (AP 29/36) or second (23/36): mean 13/18.
    assert map_all(HAND_Q, HAND_D, HAND_QL, HAND_DL) == pytest.approx(13 / 18, abs=1e-15)  # the default
    s = summarize(HAND_Q, HAND_D, HAND_QL, HAND_DL, ks=(1, 3))
    # top 1: the distance-0 pair {-, +} puts + first half the time; top 3: the pair and one of the two
    # relevant items at distance 1, so 2 relevant, ranked (+,-,+) or (-,+,+): AP@3 (1 + 2/3)/2 or (1/2 + 2/3)/2
    assert s.precision_at_k[1] == pytest.approx(1 / 2, abs=1e-15) and s.map_at_k[1] == pytest.approx(1 / 2)
    assert s.precision_at_k[3] == pytest.approx(2 / 3, abs=1e-15)
    assert s.map_at_k[3] == pytest.approx(((1 + 2 / 3) / 2 + (1 / 2 + 2 / 3) / 2) / 2, abs=1e-15)


def _exact_tie_average(qc, dc, ql, dl):
    """Mean AP over every database order that is sorted by distance (all tie permutations), in fractions."""
    bits = qc.shape[1]
    out = []
    for i in range(len(qc)):
        dist = (0.5 * (bits - dc @ qc[i])).astype(int)
        total, count = Fraction(0), 0
        for perm in itertools.permutations(range(len(dc))):
            if any(dist[perm[j]] > dist[perm[j + 1]] for j in range(len(perm) - 1)):
                continue
            rel = [int(dl[p] == ql[i]) for p in perm]
            hits, ap = 0, Fraction(0)
            for pos, r in enumerate(rel, 1):
                hits += r
                ap += Fraction(hits, pos) * r
            total += ap / hits if hits else 0
            count += 1
        out.append(total / count)
    return np.array([float(x) for x in out])


@pytest.mark.parametrize("seed", range(4))
def test_tie_average_equals_permutation_average(seed):
    qc, dc, ql, dl = _random_case(4, 7, 3, 2, seed)
    ours = per_query_ap(qc, dc, ql, dl, tie_mode="average").numpy()
    np.testing.assert_allclose(ours, _exact_tie_average(qc, dc, ql, dl), rtol=0, atol=1e-12)


def test_tie_average_equals_stable_without_ties():
    # 64-bit codes for 30 items: distinct distances are likely but not guaranteed, so build them:
    # item j differs from the query in exactly j bits.
    bits = 64
    q = np.ones((1, bits))
    d = np.ones((30, bits))
    for j in range(30):
        d[j, :j] = -1
    labels = np.arange(30) % 3
    assert map_all(q, d, [0], labels) == pytest.approx(map_all(q, d, [0], labels, tie_mode="stable"), abs=1e-15)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="-1 and \\+1"):
        map_all(np.zeros((2, 8)), np.ones((3, 8)), [0, 1], [0, 1, 0])
    with pytest.raises(ValueError, match="bits"):
        map_all(np.ones((2, 8)), np.ones((3, 12)), [0, 1], [0, 1, 0])
    with pytest.raises(ValueError, match="labels"):
        map_all(np.ones((2, 8)), np.ones((3, 8)), [0], [0, 1, 0])


def test_matrix_product_distances_equal_popcounts(monkeypatch):
    # A GPU takes the distances from a matrix product, the CPU from faiss popcounts: force the product here.
    qc, dc, ql, dl = _random_case(30, 1500, 12, 8, 7)
    fast = summarize(qc, dc, ql, dl)
    monkeypatch.setattr(metrics, "_POPCOUNT_DEVICES", ())
    assert summarize(qc, dc, ql, dl) == fast
    np.testing.assert_allclose(fast.per_query_ap_index_order, _loop_ap(qc, dc, ql, dl), rtol=0, atol=1e-12)


@pytest.mark.parametrize("database_labels", [[0] * 40, [1] * 39 + [0], [0] + [1] * 39, [0, 1] * 20])
def test_relevant_items_at_the_ends_of_the_database(monkeypatch, database_labels):
    # The segments between relevant items: the first or last database item relevant, every item relevant,
    # and (one query per chunk) the row offsets of groups split into several chunks.
    rng = np.random.default_rng(11)
    dl = np.array(database_labels)
    dc = rng.choice([-1.0, 1.0], (len(dl), 6))
    qc = rng.choice([-1.0, 1.0], (7, 6))
    ql = np.array([0, 1, 0, 2, 1, 0, 0])
    expected = _loop_ap(qc, dc, ql, dl)
    np.testing.assert_allclose(per_query_ap(qc, dc, ql, dl, tie_mode="stable").numpy(), expected, rtol=0, atol=1e-12)
    monkeypatch.setattr(metrics, "_CHUNK_ELEMENTS", 1)
    np.testing.assert_allclose(per_query_ap(qc, dc, ql, dl, tie_mode="stable").numpy(), expected, rtol=0, atol=1e-12)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to torch on this machine")
def test_cuda_equals_cpu():
    qc, dc, ql, dl = _random_case(300, 5000, 12, 30, 9)
    cpu = summarize(qc, dc, ql, dl, device="cpu")
    gpu = summarize(qc, dc, ql, dl, device="cuda")
    assert gpu.per_query_ap == pytest.approx(cpu.per_query_ap, abs=1e-12)
    assert gpu.per_query_ap_index_order == pytest.approx(cpu.per_query_ap_index_order, abs=1e-12)
    assert gpu.map_at_k == pytest.approx(cpu.map_at_k, abs=1e-12)
