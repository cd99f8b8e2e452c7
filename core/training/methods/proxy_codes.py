"""Offline binary proxy codes for Multi-FusNet (docs/methods.md section 3.1, paper Eq. 1-7, FISH-style).

Alternating optimisation of

    min  sigma * ||L - U V||_F^2 + delta * ||B - R V||_F^2,   B in {-1,+1}^{k x N},  R^T R = I

(the objective is reconstructed: the paper's Eq. 2 was lost; the updates below are those of the
published code). L in {0,1}^{C x N} holds the one-hot training labels. `_fish` computes FISH's
+-1 code per training image (row i = sign(B^T)_i); `generate_proxy_codes` turns them into the fixed
regression targets of the hash head in one of two ways (MultiFusOptions.proxy_codes):

- "fish" (default, the paper and its published code): every image's target is its own FISH code.
  FISH mostly gives one code per class, but not always: at 12 bits with 200 CUB-sized classes a few
  hundred images end up off their class's majority code and a few classes share one.
- "distinct" (fghash's own repair, not in the paper): one code per class. Each class's code is the
  majority vote of its images' FISH codes (ties -> +1); where classes share a code (and 2^k >= the
  number of classes, so distinct codes exist), the class with the most training images keeps it and
  each other one takes the unused code farthest (largest minimum Hamming distance) from every code
  already taken, nearest its own FISH code on ties; every image's target is its class's code.

Either way the summary says how many classes collide (share their class code with another class) at
the chosen length.

Everything runs in float64 on the CPU with its own torch.Generator, so the same seed gives the
same codes on every machine and does not disturb the global RNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from core.base.errors import ConfigError

Procrustes = Literal["fish_correct", "as_in_muiltnet"]
ProxyTargets = Literal["fish", "distinct"]
PROXY_TARGETS: tuple[str, ...] = ("fish", "distinct")


@dataclass(frozen=True)
class ProxyCodes:
    """Result of generate_proxy_codes.

    targets:      how image_codes were made: "fish" (each image's own FISH code) or "distinct" (its
                  class's repaired code).
    image_codes:  (N, k) float32 in {-1,+1}, the target of training image i (dataset order).
    class_codes:  (C, k) float32 in {-1,+1}, one code per class: the majority vote of its images' FISH
                  codes ("fish"), or that vote made distinct whenever 2^k >= the number of present
                  classes ("distinct", then image_codes = class_codes[labels]); rows of classes with no
                  training image are 0.
    class_present: (C,) bool, whether the class has at least one training image.
    min_interclass_hamming: smallest Hamming distance between the codes of two different present
                  classes (0 means two classes share a code; None with fewer than two classes).
    distinct_class_codes: number of distinct codes among the present classes.
    fish_images_off_class_code: training images whose FISH code differed from their class's majority
                  code (their target is the class code all the same).
    reassigned_classes: classes that shared a FISH majority code with a larger class and were given
                  another code (always 0 for "fish").
    colliding_classes: present classes whose class code equals another present class's code.
    fish_colliding_classes: the same count for the FISH majority codes, before any repair.
    """

    targets: ProxyTargets
    image_codes: torch.Tensor
    class_codes: torch.Tensor
    class_present: torch.Tensor
    min_interclass_hamming: int | None
    distinct_class_codes: int
    fish_images_off_class_code: int
    reassigned_classes: int
    colliding_classes: int
    fish_colliding_classes: int

    def summary(self) -> str:
        """One line for the training log: the targets, distinctness, and any collision with its count."""
        bits = self.image_codes.shape[1]
        present = int(self.class_present.sum())
        dmin = "n/a" if self.min_interclass_hamming is None else str(self.min_interclass_hamming)
        shared = ("" if self.distinct_class_codes == present or 2 ** bits >= present else
                  f" (2^{bits} codes cannot give {present} classes distinct ones)")
        head = (f"proxy codes: {bits} bits, {present} classes, {self.distinct_class_codes} distinct class codes"
                f"{shared}, min inter-class Hamming distance {dmin}; ")
        if self.targets == "fish":
            body = (f"per-image FISH targets (the paper's; {self.fish_images_off_class_code} images' FISH codes "
                    f"differ from their class's majority code)")
        else:
            body = (f"one target per class (--proxy-codes distinct, fghash's repair: {self.reassigned_classes} "
                    f"classes moved off a shared FISH code, {self.fish_images_off_class_code} images' FISH codes "
                    f"differed from their class's)")
        collide = ""
        if self.colliding_classes:
            collide = (f"; {self.colliding_classes} of {present} classes collide at {bits} bits (share their "
                       f"class code with another class)")
            if self.targets == "fish" and 2 ** bits >= present:
                collide += ": --proxy-codes distinct gives every class its own code"
        elif self.fish_colliding_classes:
            collide = f"; FISH alone left {self.fish_colliding_classes} classes colliding at {bits} bits"
        return head + body + collide


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
    targets: ProxyTargets = "fish",
) -> ProxyCodes:
    """Proxy-code targets for training labels (N,) with values in [0, num_classes).

    targets: "fish" (the paper's per-image FISH codes) or "distinct" (one repaired code per class).
    Deterministic in `seed`. Cost: O(iterations * (k^2 N + C k N)), well under a second for
    N = 100k, k = 64 on a CPU.
    """
    if targets not in PROXY_TARGETS:
        raise ConfigError(f"proxy codes must be one of {', '.join(PROXY_TARGETS)}; got {targets!r}")
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    gen = torch.Generator().manual_seed(int(seed))
    codes = _fish(labels, num_classes, bits, sigma, delta, iterations, procrustes, gen)
    return _targets(codes, labels, num_classes, gen, targets)


def _fish(labels: torch.Tensor, num_classes: int, bits: int, sigma: float, delta: float, iterations: int,
          procrustes: Procrustes, gen: torch.Generator) -> torch.Tensor:
    """FISH's binary code of every training image: (N,) labels in [0, num_classes) -> (N, k) float32 in {-1,+1},
    row i = sign(B^T)_i after `iterations` alternating steps, drawn from the caller's generator (the repair of
    generate_proxy_codes draws its random candidates from it afterwards)."""
    n = labels.numel()
    if n == 0:
        raise ConfigError("cannot generate proxy codes: the train split is empty")
    if num_classes < 1 or int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise ConfigError(f"proxy-code labels must lie in [0, {num_classes}); got {int(labels.min())}..{int(labels.max())}")
    if bits < 1 or iterations < 0 or sigma <= 0 or delta <= 0:
        raise ConfigError("proxy codes need bits >= 1, iterations >= 0, sigma > 0 and delta > 0")

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
    return _sign(b.T).to(torch.float32)  # (N, k): row i = sign(B^T)_i


def _targets(fish: torch.Tensor, labels: torch.Tensor, num_classes: int, gen: torch.Generator,
             targets: ProxyTargets) -> ProxyCodes:
    """The chosen targets from FISH's per-image codes (N, k), and the facts the log reports."""
    bits = fish.shape[1]
    sums = torch.zeros(num_classes, bits).index_add_(0, labels, fish)
    counts = torch.bincount(labels, minlength=num_classes)
    present = counts > 0
    majority = torch.where(sums >= 0, 1.0, -1.0) * present[:, None].float()
    off = int((fish != majority[labels]).any(dim=1).sum())
    fish_colliding = colliding_classes(majority[present])
    if targets == "distinct":
        class_codes, reassigned = _make_distinct(majority, counts, gen)
        image_codes = class_codes[labels]
    else:
        class_codes, reassigned, image_codes = majority, 0, fish
    codes = class_codes[present]
    distinct = int(torch.unique(codes, dim=0).shape[0]) if codes.numel() else 0
    dmin: int | None = None
    if codes.shape[0] >= 2:
        ham = 0.5 * (bits - codes @ codes.T)  # d_H = (k - a^T b) / 2
        ham.fill_diagonal_(float("inf"))
        dmin = int(ham.min().round())
    return ProxyCodes(targets, image_codes, class_codes, present, dmin, distinct, off, reassigned,
                      colliding_classes(codes), fish_colliding)


def colliding_classes(codes: torch.Tensor) -> int:
    """How many rows of (C, k) codes equal at least one other row (classes that share a code)."""
    if codes.shape[0] < 2:
        return 0
    _, inverse, counts = torch.unique(codes, dim=0, return_inverse=True, return_counts=True)
    return int((counts[inverse] > 1).sum())


def _make_distinct(codes: torch.Tensor, counts: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, int]:
    """Give classes that share a code distinct ones: (C, k) codes -> (new codes, classes changed).

    The class with the most images (then the lowest id) keeps a shared code; the others, by class id, take
    the free candidate code with the largest minimum Hamming distance to every code already taken, nearest
    to their own code on ties. Left as they are when 2^k is smaller than the number of present classes.
    """
    bits = codes.shape[1]
    present = [c for c in sorted(range(codes.shape[0]), key=lambda c: (-int(counts[c]), c)) if counts[c] > 0]
    if 2 ** bits < len(present):
        return codes, 0
    taken: set[bytes] = set()
    pending: list[int] = []
    for c in present:
        key = _key(codes[c])
        if key in taken:
            pending.append(c)
        else:
            taken.add(key)
    out = codes.clone()
    kept = [c for c in present if c not in set(pending)]
    for c in sorted(pending):
        taken_codes = out[kept]
        while True:
            cands = _candidates(out[c], gen)
            free = torch.tensor([_key(x) not in taken for x in cands])
            if free.any():
                break
        cands = cands[free]
        min_dist = (0.5 * (bits - cands @ taken_codes.T)).min(dim=1).values  # (M,)
        own_dist = 0.5 * (bits - cands @ out[c])
        best = int(torch.argmax(min_dist * (bits + 1) - own_dist))  # first of the best: deterministic
        out[c] = cands[best]
        taken.add(_key(out[c]))
        kept.append(c)
    return out, len(pending)


def _key(code: torch.Tensor) -> bytes:
    return bytes((code > 0).to(torch.uint8).tolist())


ENUMERATE_BITS = 12  # up to 4,096 codes: try every one; longer codes: flips of 1 or 2 bits and random codes
RANDOM_CANDIDATES = 4096


def _candidates(code: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(M, k) +-1 candidate codes for a class whose code `code` (k,) is taken."""
    bits = code.shape[0]
    if bits <= ENUMERATE_BITS:
        every = (torch.arange(2 ** bits)[:, None] >> torch.arange(bits)) & 1
        return every.float() * 2 - 1
    eye = torch.eye(bits)
    one = code * (1 - 2 * eye)  # row i: bit i flipped
    i, j = torch.triu_indices(bits, bits, offset=1)
    two = code * (1 - 2 * (eye[i] + eye[j]))
    rand = torch.where(torch.rand(RANDOM_CANDIDATES, bits, generator=gen) < 0.5, -1.0, 1.0)
    return torch.cat([one, two, rand])
