"""Multi-FusNet losses (docs/methods.md section 3.4; paper Eq. 12-16).

* hash (proxy) loss: mean over batch and bits of (h - b)^2, b the image's fixed proxy code;
* classification: label-smoothed cross-entropy on the averaged logits (y_orig + y_zoom) / 2, with
  q = 1 - eps on the true class and eps / (C - 1) on every other class (eps = 0.1: q = 0.9);
* adaptive balance: L = L_hash / a1^2 + L_cls / a2^2 + ln(1 + a1) + ln(1 + a2), a1 and a2 learnable.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class MultiFusLoss(NamedTuple):
    """total (scalar, differentiable) and its parts as detached 0-dim tensors for logging (read lazily:
    converting them here would wait for the GPU every batch)."""

    total: torch.Tensor
    hash: torch.Tensor
    cls: torch.Tensor
    alpha1: torch.Tensor
    alpha2: torch.Tensor

    def terms(self) -> dict[str, torch.Tensor]:
        return {"hash": self.hash, "cls": self.cls, "alpha1": self.alpha1, "alpha2": self.alpha2}


def proxy_hash_loss(h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """MSE between real codes h (B, k) and +-1 targets (B, k), averaged over batch and bits."""
    return F.mse_loss(h.float(), targets.float())


def smoothed_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    """-mean_b sum_c q_c log softmax(logits)_c with q = 1 - smoothing on the label, smoothing/(C-1) elsewhere.

    (Not torch's label_smoothing, which spreads eps over all C classes including the true one.)
    """
    num_classes = logits.shape[1]
    logp = F.log_softmax(logits.float(), dim=1)
    off = smoothing / (num_classes - 1) if num_classes > 1 else 0.0
    q = torch.full_like(logp, off)
    q.scatter_(1, labels.long()[:, None], 1.0 - smoothing if num_classes > 1 else 1.0)
    return -(q * logp).sum(dim=1).mean()


def balanced_total(l_hash: torch.Tensor, l_cls: torch.Tensor, alpha1: torch.Tensor,
                   alpha2: torch.Tensor) -> torch.Tensor:
    """Adaptive multi-task balance (paper Eq. 12)."""
    return l_hash / alpha1**2 + l_cls / alpha2**2 + torch.log1p(alpha1) + torch.log1p(alpha2)


def multifus_loss(h: torch.Tensor, targets: torch.Tensor, logits: torch.Tensor, logits_zoom: torch.Tensor | None,
                  labels: torch.Tensor, alpha1: torch.Tensor, alpha2: torch.Tensor,
                  smoothing: float = 0.1) -> MultiFusLoss:
    """Full training loss. logits_zoom None (zoom disabled) classifies the original logits alone."""
    l_hash = proxy_hash_loss(h, targets)
    avg = logits if logits_zoom is None else (logits + logits_zoom) / 2
    l_cls = smoothed_cross_entropy(avg, labels, smoothing)
    total = balanced_total(l_hash, l_cls, alpha1, alpha2)
    return MultiFusLoss(total, l_hash.detach(), l_cls.detach(), alpha1.detach().clone(), alpha2.detach().clone())
