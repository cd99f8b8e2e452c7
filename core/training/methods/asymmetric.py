"""ADSH's asymmetric pieces (docs/methods.md section 1) without a dense float m x n similarity matrix.

Single-label data: S_ij = [label_i == label_j] = (Y_Omega Y_Gamma^T)_ij. The soft targets are
S_soft = S (1 + r) - r with r = sum S / sum (1 - S) over the m x n 0/1 matrix. Everything the
algorithm needs is computed from labels:

* r from class counts: sum S = sum_i count_db(label_i)                          O(m + n)
* S^T U = Y_Gamma (Y_Omega^T U): per-class sums of U, gathered by database label O((n + m) k)
* a mini-batch's rows of S_soft (B x n) are built on the fly in the loss         O(B n)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from core.search.codes import to_pm1


@dataclass(frozen=True)
class SampledSimilarity:
    """S for one outer iteration: sampled database indices omega (m,), all database labels (n,), scalar r."""

    omega: torch.Tensor  # (m,) int64 database indices of the sampled images
    db_labels: torch.Tensor  # (n,) int64
    r: float  # sum S / sum (1 - S); dissimilar pairs get the target -r

    @classmethod
    def build(cls, omega: torch.Tensor, db_labels: torch.Tensor) -> "SampledSimilarity":
        counts = torch.bincount(db_labels, minlength=int(db_labels.max()) + 1).double()
        similar = float(counts[db_labels[omega]].sum())
        total = float(omega.numel()) * float(db_labels.numel())
        dissimilar = total - similar
        # All pairs similar (one class) leaves no dissimilar target to weigh: r = 0 keeps the loss defined.
        r = similar / dissimilar if dissimilar > 0 else 0.0
        return cls(omega=omega, db_labels=db_labels, r=r)

    @property
    def sample_labels(self) -> torch.Tensor:
        return self.db_labels[self.omega]

    def soft_rows(self, labels: torch.Tensor) -> torch.Tensor:
        """Soft targets for a batch with these labels: (B, n) float, 1 for same class, -r otherwise."""
        db = self.db_labels.to(labels.device)
        same = labels.view(-1, 1) == db.view(1, -1)
        return torch.where(same, torch.ones((), device=labels.device), torch.full((), -self.r, device=labels.device))

    def soft_t_times(self, u: torch.Tensor) -> torch.Tensor:
        """S_soft^T U for U (m, k) in sample order: (n, k) = (1 + r) Y_Gamma (Y_Omega^T U) - r 1 (1^T U)."""
        labels = self.sample_labels.to(u.device)
        db = self.db_labels.to(u.device)
        classes = int(torch.maximum(labels.max(), db.max())) + 1
        per_class = torch.zeros(classes, u.shape[1], dtype=u.dtype, device=u.device).index_add_(0, labels, u)
        return (1 + self.r) * per_class[db] - self.r * u.sum(dim=0, keepdim=True)

    def dense_soft(self) -> torch.Tensor:
        """The full (m, n) soft matrix. Only for tests and tiny data: the algorithm never needs it."""
        return self.soft_rows(self.sample_labels)


def adsh_scale(n: int, batch: int, bits: int, normalization: Literal["semicon", "jiangqy"] = "semicon") -> float:
    """The factor ADSH's batch loss is multiplied by: "jiangqy" 1/(n B), "semicon" 1/(n B) * 12/k."""
    scale = 1.0 / (n * batch)
    if normalization == "semicon":
        return scale * 12.0 / bits
    if normalization != "jiangqy":
        raise ValueError(f"unknown ADSH loss normalisation {normalization!r}")
    return scale


def adsh_terms(
    u: torch.Tensor,
    batch_labels: torch.Tensor,
    batch_db_index: torch.Tensor,
    v: torch.Tensor,
    sim: SampledSimilarity,
    gamma: float,
    normalization: Literal["semicon", "jiangqy"] = "semicon",
) -> dict[str, torch.Tensor]:
    """ADSH objective (Eq. 1.2) on a batch, term by term and normalised (adsh_scale):
    {"adsh_square": sum_j (u_i^T v_j - k S_ij)^2, "adsh_quant": gamma ||v_omega(i) - u_i||^2}.

    u (B, k) network outputs; v (n, k) database codes (fixed). Scalar tensors in u's graph.
    """
    k = u.shape[1]
    scale = adsh_scale(v.shape[0], u.shape[0], k, normalization)
    targets = sim.soft_rows(batch_labels)
    square = ((u @ v.t() - k * targets) ** 2).sum()
    quant = gamma * ((v[batch_db_index] - u) ** 2).sum()
    return {"adsh_square": square * scale, "adsh_quant": quant * scale}


def adsh_loss(
    u: torch.Tensor,
    batch_labels: torch.Tensor,
    batch_db_index: torch.Tensor,
    v: torch.Tensor,
    sim: SampledSimilarity,
    gamma: float,
    normalization: Literal["semicon", "jiangqy"] = "semicon",
) -> tuple[torch.Tensor, dict[str, float]]:
    """The sum of adsh_terms and the terms: (loss, {"adsh_square", "adsh_quant"}), the terms detached 0-dim
    tensors (read lazily by the driver: no device synchronisation here)."""
    terms = adsh_terms(u, batch_labels, batch_db_index, v, sim, gamma, normalization)
    return terms["adsh_square"] + terms["adsh_quant"], {name: t.detach() for name, t in terms.items()}


def dcc_update(
    v: torch.Tensor, u: torch.Tensor, sim: SampledSimilarity, gamma: float, sign_u_in_s_term: bool = False
) -> torch.Tensor:
    """One bit-by-bit sweep of the closed-form database-code update (section 1.4); returns the new V (n, k).

    V_{*b} = sign(k S^T U_{*b} + gamma Ubar_{*b} - Vhat Uhat^T U_{*b}), each column given the others,
    so with the real U (sign_u_in_s_term=False) no sweep can increase J. Ubar is U scattered into the
    rows omega. sign_u_in_s_term: the MATLAB variant, sign(U) inside the S^T U term.
    """
    k = u.shape[1]
    u = u.to(v.dtype)
    s_term = sim.soft_t_times(to_pm1(u) if sign_u_in_s_term else u)
    q = k * s_term
    q.index_add_(0, sim.omega.to(v.device), gamma * u)  # + gamma * Ubar without materialising it
    v = v.clone()
    for b in range(k):
        rest = [c for c in range(k) if c != b]
        # Vhat (Uhat^T U_b): (n, k-1) @ (k-1,) costs O(n k) per bit
        cross = v[:, rest] @ (u[:, rest].t() @ u[:, b])
        v[:, b] = to_pm1(q[:, b] - cross)
    return v


def adsh_objective(u: torch.Tensor, v: torch.Tensor, sim: SampledSimilarity, gamma: float) -> float:
    """Unnormalised J(U, V) with the dense soft S (tests / diagnostics on small data)."""
    s = sim.dense_soft().to(u.dtype)
    k = u.shape[1]
    return float(((u @ v.t() - k * s) ** 2).sum() + gamma * ((v[sim.omega] - u) ** 2).sum())
