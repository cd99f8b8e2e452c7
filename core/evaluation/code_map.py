"""A 2-D map of a run's database codes: PCA of the ±1 codes, i.e. classical MDS on Hamming distances.

Why this projection. For codes b, b' in {-1, +1}^K, ||b - b'||^2 = 4 * Hamming(b, b'). Classical
(Torgerson) MDS on the dissimilarities sqrt(Hamming) therefore equals PCA of the ±1 codes exactly, so
the first two principal axes are the best 2-D linear account of the Hamming geometry the index
searches. Unlike an MDS that builds the n x n distance matrix (10^10 entries at 100k codes), PCA costs
O(n K^2) for K <= 64 bits; unlike t-SNE or UMAP it is deterministic, has no perplexity to tune, and any
new code (the current query) lands on the same map by the same linear formula. The price: two axes
keep only part of the variance (`explained` says how much), so two points that coincide on the map
may still differ in other bits; the view says this with the explained fraction.

Beyond `max_points` codes a seeded uniform sample is projected (and the view says so). Identical codes
project to one point; `jitter` (in map units, seeded) spreads them so their number stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_POINTS = 100_000


@dataclass(frozen=True, eq=False)
class CodeMap:
    """xy: (m, 2) float32 map positions; indices: (m,) database rows they show (ascending);
    total: database size; mean (K,) and axes (2, K): the projection (x = (code - mean) @ axes.T);
    explained: fraction of the codes' variance the two axes keep."""

    xy: np.ndarray
    indices: np.ndarray
    total: int
    mean: np.ndarray
    axes: np.ndarray
    explained: float

    @property
    def sampled(self) -> bool:
        return len(self.indices) < self.total

    def project(self, codes: np.ndarray) -> np.ndarray:
        """(m, K) or (K,) ±1 codes -> (m, 2) float32 positions on this map (no jitter)."""
        codes = np.atleast_2d(np.asarray(codes, dtype=np.float32))
        return ((codes - self.mean) @ self.axes.T).astype(np.float32)


def code_map(codes: np.ndarray, max_points: int = MAX_POINTS, seed: int = 0, jitter: float = 0.0) -> CodeMap:
    """Project (n, K) ±1 codes to 2-D (see the module docstring). Deterministic for a given seed."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] == 0:
        raise ValueError(f"codes must be a non-empty (n, bits) array; got shape {codes.shape}")
    n = codes.shape[0]
    rng = np.random.default_rng(seed)
    indices = np.sort(rng.choice(n, size=max_points, replace=False)) if n > max_points else np.arange(n)
    x = codes[indices].astype(np.float32)
    mean = x.mean(axis=0)
    centred = x - mean
    covariance = centred.T @ centred / max(len(x) - 1, 1)  # (K, K): cheap for K <= 64
    values, vectors = np.linalg.eigh(covariance.astype(np.float64))
    order = np.argsort(values)[::-1]
    axes = vectors[:, order[:2]].T
    if axes.shape[0] < 2:  # a 1-bit code has one axis: the second is zero
        axes = np.vstack([axes, np.zeros_like(axes)])
    # eigenvector signs are arbitrary: fix them so the same codes always give the same picture
    axes *= np.where(axes[np.arange(2), np.abs(axes).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
    total_variance = float(values.sum())
    explained = float(values[order[:2]].sum() / total_variance) if total_variance > 0 else 1.0
    xy = (centred @ axes.T.astype(np.float32)).astype(np.float32)
    if jitter > 0:
        xy += rng.uniform(-jitter, jitter, size=xy.shape).astype(np.float32)
    return CodeMap(xy=xy, indices=indices, total=n, mean=mean.astype(np.float32), axes=axes.astype(np.float32),
                   explained=explained)
