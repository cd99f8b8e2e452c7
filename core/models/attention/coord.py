"""Coordinate attention (Hou et al. 2021; docs/baselines.md section 9, from houqb/CoordAttention coordatt.py).

z_h = mean over W (C x H), z_w = mean over H (C x W), concatenated along the spatial axis -> Conv1x1 C -> mip
(bias), mip = max(8, C // 32) -> BN -> h-swish (x ReLU6(x + 3) / 6) -> split; a_h = sigmoid(Conv1x1 mip -> C,
bias), a_w likewise; A(X) = X * a_h * a_w.
"""

from __future__ import annotations

import torch
from torch import nn


class CoordAttention(nn.Module):
    def __init__(self, channels: int, reduction: int = 32) -> None:
        super().__init__()
        mip = max(8, channels // reduction)
        self.conv1 = nn.Conv2d(channels, mip, 1)
        self.bn1 = nn.BatchNorm2d(mip)
        self.conv_h = nn.Conv2d(mip, channels, 1)
        self.conv_w = nn.Conv2d(mip, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        z_h = x.mean(dim=3, keepdim=True)  # (B, C, H, 1)
        z_w = x.mean(dim=2, keepdim=True).transpose(2, 3)  # (B, C, W, 1)
        y = self.bn1(self.conv1(torch.cat([z_h, z_w], dim=2)))
        y = y * nn.functional.relu6(y + 3) / 6  # h-swish
        y_h, y_w = torch.split(y, [h, w], dim=2)
        a_h = torch.sigmoid(self.conv_h(y_h))  # (B, C, H, 1)
        a_w = torch.sigmoid(self.conv_w(y_w.transpose(2, 3)))  # (B, C, 1, W)
        return x * a_h * a_w
