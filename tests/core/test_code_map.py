"""core.evaluation.code_map: PCA of ±1 codes is classical MDS on Hamming distances; sampling and query projection."""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluation.code_map import code_map


def _codes(rng, n, bits):
    return np.where(rng.random((n, bits)) < 0.5, -1, 1).astype(np.int8)


def test_projection_equals_classical_mds_on_hamming_distances():
    rng = np.random.default_rng(0)
    # two clusters of codes: a structure MDS must find
    centres = _codes(rng, 2, 24)
    codes = np.vstack([np.where(rng.random((40, 24)) < 0.1, -c, c) for c in centres]).astype(np.int8)
    m = code_map(codes)
    hamming = (codes[:, None, :] != codes[None, :, :]).sum(axis=2).astype(float)
    d2 = 4 * hamming  # squared Euclidean distance between ±1 codes
    j = np.eye(len(codes)) - 1 / len(codes)
    b = -0.5 * j @ d2 @ j
    values, vectors = np.linalg.eigh(b)
    mds = vectors[:, -2:][:, ::-1] * np.sqrt(values[-2:][::-1])
    for axis in range(2):  # equal up to the sign of each axis
        assert abs(np.corrcoef(m.xy[:, axis], mds[:, axis])[0, 1]) == pytest.approx(1.0, abs=1e-4)
    assert 0 < m.explained <= 1 and not m.sampled
    np.testing.assert_allclose(m.project(codes), m.xy, atol=1e-4)  # a query lands where its code is


def test_sampling_beyond_the_limit_is_seeded_and_said():
    rng = np.random.default_rng(1)
    codes = _codes(rng, 500, 12)
    a, b = code_map(codes, max_points=100, seed=7), code_map(codes, max_points=100, seed=7)
    assert a.sampled and a.total == 500 and len(a.indices) == 100
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.xy, b.xy)
    assert np.all(np.diff(a.indices) > 0)


def test_jitter_spreads_identical_codes_only_slightly():
    codes = np.ones((10, 16), np.int8)
    m = code_map(codes, jitter=0.2)
    assert np.ptp(m.xy[:, 0]) > 0 and np.abs(m.xy).max() <= 0.2
