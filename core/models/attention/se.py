"""Squeeze-and-excitation (Hu et al. 2018; docs/baselines.md section 9).

A(X) = X * sigmoid(W2 ReLU(W1 GAP(X) + b1) + b2), FC C -> C/r -> C with biases, r = 16.
"""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcitation(nn.Module):
    """(B, C, H, W) -> (B, C, H, W); weights(x) gives the (B, C) gate."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3))))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)[:, :, None, None]
