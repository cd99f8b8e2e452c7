"""Efficient Channel Attention (ECA, Wang et al. CVPR 2020) as used by Multi-FusNet (docs/methods.md section 3.2).

ECA(X) = X * sigmoid(Conv1d_k(GAP(X))): one k-tap convolution across the channel axis of the
globally averaged feature, no bias, "same" padding. Multi-FusNet fuses two branches by summation,
F = X + ECA(X) (paper Eq. 8).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def eca_kernel_size(channels: int, gamma: int = 2, b: int = 1) -> int:
    """The ECA paper's adaptive kernel k(C) = |log2(C)/gamma + b/gamma|_odd.

    Implemented as the usual t = int(|(log2 C + b) / gamma|), plus 1 when t is even:
    512 -> 5, 1024 -> 5, 2048 -> 7 (ResNet-50 layer2/3/4).
    """
    if channels < 1:
        raise ValueError(f"channels must be >= 1; got {channels}")
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


class ECA(nn.Module):
    """Channel attention weights applied to the input.

    forward: (B, C, H, W) -> (B, C, H, W), the input rescaled per channel by a weight in (0, 1).
    `weights(x)` returns just the (B, C) weights (for the explanation view).
    """

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"ECA kernel size must be odd and >= 1; got {kernel_size}")
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))  # GAP: (B, C)
        return torch.sigmoid(self.conv(pooled.unsqueeze(1)).squeeze(1))  # (B, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)[:, :, None, None]


def fuse(x: torch.Tensor, eca: ECA) -> torch.Tensor:
    """Two-branch single-level fusion F = X + ECA(X) (a sum, not a concatenation)."""
    return x + eca(x)
