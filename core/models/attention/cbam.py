"""CBAM (Woo et al. 2018; docs/baselines.md section 9, from Jongchan/attention-module MODELS/cbam.py).

Channel gate: a shared MLP (Linear C -> C/16 + bias, ReLU, Linear -> C + bias) on the average- and max-pooled
vectors, summed, sigmoid: X' = X * gate. Spatial gate on X': [max over channels; mean over channels] (max
first) -> Conv 7x7 (2 -> 1, padding 3, no bias) -> BN(eps 1e-5, momentum 0.01) -> sigmoid; A(X) = X' * gate.
"""

from __future__ import annotations

import torch
from torch import nn


class CBAM(nn.Module):
    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels))
        self.spatial = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.spatial_bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.mlp(x.mean(dim=(2, 3))) + self.mlp(x.amax(dim=(2, 3))))
        x = x * gate[:, :, None, None]
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial_bn(self.spatial(pooled)))


class MuiltNetChannelGate(nn.Module):
    """The channel half of MuiltNet's own CBAM try (commit dcf6180, docs/baselines.md section 9): 1x1 convs without
    bias, r = 8, on the average- and max-pooled maps, summed, sigmoid. (B, C, H, W) -> X * gate."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.ReLU(inplace=True),
                                 nn.Conv2d(hidden, channels, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.mlp(x.mean(dim=(2, 3), keepdim=True)) + self.mlp(x.amax(dim=(2, 3), keepdim=True)))
        return x * gate


class MuiltNetSpatialGate(nn.Module):
    """The spatial half of MuiltNet's CBAM try, ONE module shared by all levels: [mean over channels; max over
    channels] (mean first) -> Conv 7x7 (2 -> 1, padding 3, no bias) -> sigmoid, no BN. X -> X * gate."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))
