"""Offline binary proxy codes for Multi-FusNet (METHODS.md section 3.1, paper Eq. 1-7, FISH-style).

Alternating optimisation of

    min  sigma * ||L - U V||_F^2 + delta * ||B - R V||_F^2,   B in {-1,+1}^{k x N},  R^T R = I

(the objective is reconstructed: the paper's Eq. 2 was lost; the updates below are those of the
published code). L in {0,1}^{C x N} holds the one-hot training labels. The result is one +-1 code
per training image; in practice every class collapses to a single code, so the codes double as a
per-class code table. They are the fixed regression targets of the hash head.

Everything runs in float64 on the CPU with its own torch.Generator, so the same seed gives the
same codes on every machine and does not disturb the global RNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from core.errors import ConfigError

Procrustes = Literal["fish_correct", "as_in_muiltnet"]


@dataclass(frozen=True)
class ProxyCodes:
    """Result of generate_proxy_codes.

    image_codes:  (N, k) float32 in {-1,+1}, the target of training image i (dataset order).
    class_codes:  (C, k) float32 in {-1,+1}, the per-class code (majority vote over the class's
                  images, ties -> +1); rows of classes with no training image are 0.
    class_present: (C,) bool, whether the class has at least one training image.
    min_interclass_hamming: smallest Hamming distance between the codes of two different present
                  classes (0 means two classes share a code; None with fewer than two classes).
    images_off_class_code: training images whose own code differs from their class's code
                  (0 when every class collapsed to one code, the usual outcome).
    distinct_class_codes: number of distinct codes among the present classes.
    """

    image_codes: torch.Tensor
    class_codes: torch.Tensor
    class_present: torch.Tensor
    min_interclass_hamming: int | None
    images_off_class_code: int
    distinct_class_codes: int

    def summary(self) -> str:
        present = int(self.class_present.sum())
        dmin = "n/a" if self.min_interclass_hamming is None else str(self.min_interclass_hamming)
        return (
            f"proxy codes: {self.image_codes.shape[1]} bits, {present} classes, "
            f"{self.distinct_class_codes} distinct class codes, min inter-class Hamming distance {dmin}, "
            f"{self.images_off_class_code} images off their class code"
        )


def _sign(x: torch.Tensor) -> torch.Tensor:
    """sign(x) with exact zeros replaced by -1, as the published code does ("0 replaced by -1")."""
    return torch.where(x > 0, 1.0, -1.0).to(x.dtype)


def procrustes_rotation(b: torch.Tensor, v: torch.Tensor, variant: Procrustes = "fish_correct") -> torch.Tensor:
    """R for the R-step: B V^T = P S Q^T.

    "fish_correct": R = P Q^T, the orthogonal Procrustes solution of min ||B - R V||_F (numpy FISH).
    "as_in_muiltnet": R = P Q with torch.svd's Q (not Q^T), as MuiltNet/FG-CHN compute it. Both
    are orthogonal (products of orthogonal matrices); only the first minimises the objective.
    b, v: (k, N). Returns (k, k).
    """
    p, _, qh = torch.linalg.svd(b @ v.T)  # b v^T = p diag(s) qh, qh = Q^T
    if variant == "fish_correct":
        return p @ qh
    if variant == "as_in_muiltnet":
        return p @ qh.T  # torch.svd returns Q itself, and the code multiplies P by it directly
    raise ConfigError(f"procrustes must be fish_correct or as_in_muiltnet; got {variant!r}")


def generate_proxy_codes(
    labels: torch.Tensor | list[int],
    num_classes: int,
    bits: int,
    *,
    sigma: float = 1.0,
    delta: float = 1e-4,
    iterations: int = 15,
    procrustes: Procrustes = "fish_correct",
    seed: int = 0,
) -> ProxyCodes:
    """Proxy codes for training labels (N,) with values in [0, num_classes).

    Deterministic in `seed`. Cost: O(iterations * (k^2 N + C k N)), well under a second for
    N = 100k, k = 64 on a CPU.
    """
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    n = labels.numel()
    if n == 0:
        raise ConfigError("cannot generate proxy codes: the train split is empty")
    if num_classes < 1 or int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise ConfigError(f"proxy-code labels must lie in [0, {num_classes}); got {int(labels.min())}..{int(labels.max())}")
    if bits < 1 or iterations < 0 or sigma <= 0 or delta <= 0:
        raise ConfigError("proxy codes need bits >= 1, iterations >= 0, sigma > 0 and delta > 0")

    gen = torch.Generator().manual_seed(int(seed))
    dt = torch.float64
    lab = torch.zeros(num_classes, n, dtype=dt)
    lab[labels, torch.arange(n)] = 1.0  # L: (C, N) one-hot columns

    v = torch.randn(bits, n, generator=gen, dtype=dt)
    b = _sign(torch.randn(bits, n, generator=gen, dtype=dt))
    r = procrustes_rotation(b, v, procrustes)
    for _ in range(iterations):
        b = _sign(r @ v)  # B-step
        u = sigma * lab @ v.T @ torch.linalg.pinv(sigma * v @ v.T)  # U-step: (C, k)
        # V-step; R^T R = I for both variants, but keep the general form of the update
        v = torch.linalg.pinv(sigma * u.T @ u + delta * r.T @ r) @ (sigma * u.T @ lab + delta * r.T @ b)
        r = procrustes_rotation(b, v, procrustes)  # R-step
    image_codes = _sign(b.T).to(torch.float32)  # (N, k): row i = sign(B^T)_i
    return _class_table(image_codes, labels, num_classes)


def _class_table(image_codes: torch.Tensor, labels: torch.Tensor, num_classes: int) -> ProxyCodes:
    """Per-class majority code and the facts the log reports."""
    bits = image_codes.shape[1]
    sums = torch.zeros(num_classes, bits).index_add_(0, labels, image_codes)
    counts = torch.bincount(labels, minlength=num_classes)
    present = counts > 0
    class_codes = torch.where(sums >= 0, 1.0, -1.0) * present[:, None].float()
    off = int((image_codes != class_codes[labels]).any(dim=1).sum())
    codes = class_codes[present]
    distinct = int(torch.unique(codes, dim=0).shape[0]) if codes.numel() else 0
    dmin: int | None = None
    if codes.shape[0] >= 2:
        ham = 0.5 * (bits - codes @ codes.T)  # d_H = (k - a^T b) / 2
        ham.fill_diagonal_(float("inf"))
        dmin = int(ham.min().round())
    return ProxyCodes(image_codes, class_codes, present, dmin, off, distinct)
