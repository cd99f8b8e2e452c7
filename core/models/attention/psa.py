"""The two readings of Multi-FusNet's "PSA" (docs/baselines.md section 9).

PyramidSqueezeAttention (EPSANet, Zhang et al. 2021; murufeng/EPSANet PSAModule(C, C)); the default, since the
paper's description ("feature pyramid grouping ... various scales") is EPSANet's (reconstructed):
  four convs X -> C/4 (kernels 3/5/7/9, groups 1/4/8/16, padding k//2, no bias); ONE SE module shared by the four
  branches (GAP -> 1x1 C/4 -> C/64 + bias -> ReLU -> 1x1 -> C/4 + bias -> sigmoid); softmax over the 4 branches per
  channel; the weighted branches concatenated in reverse order [4, 3, 2, 1].

PolarizedSelfAttention (Liu et al. 2021, DeLightCMU/PSA PSA_p, parallel layout; 1x1 convs without bias):
  channel: X * sigmoid(conv_{C/2 -> C}(v softmax_HW(q)^T)), v = conv C -> C/2, q = conv C -> 1;
  spatial: X * sigmoid(softmax_HW(g^T theta)), g = GAP(conv C -> C/2) (no softmax, as the code), theta = conv C -> C/2;
  A(X) = channel + spatial.
"""

from __future__ import annotations

import torch
from torch import nn

PYRAMID_KERNELS = (3, 5, 7, 9)
PYRAMID_GROUPS = (1, 4, 8, 16)


class PyramidSqueezeAttention(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels % 64:
            raise ValueError(f"EPSANet's pyramid squeeze attention needs channels divisible by 64; got {channels}")
        split = channels // 4
        self.convs = nn.ModuleList(nn.Conv2d(channels, split, k, padding=k // 2, groups=g, bias=False)
                                   for k, g in zip(PYRAMID_KERNELS, PYRAMID_GROUPS))
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(split, channels // 64, 1), nn.ReLU(inplace=True),
                                nn.Conv2d(channels // 64, split, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = torch.stack([conv(x) for conv in self.convs], dim=1)  # (B, 4, C/4, H, W)
        weights = torch.stack([self.se(feats[:, i]) for i in range(4)], dim=1).softmax(dim=1)  # (B, 4, C/4, 1, 1)
        weighted = feats * weights
        return torch.cat([weighted[:, i] for i in reversed(range(4))], dim=1)


class PolarizedSelfAttention(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        half = max(1, channels // 2)
        self.ch_v = nn.Conv2d(channels, half, 1, bias=False)
        self.ch_q = nn.Conv2d(channels, 1, 1, bias=False)
        self.ch_up = nn.Conv2d(half, channels, 1, bias=False)
        self.sp_g = nn.Conv2d(channels, half, 1, bias=False)
        self.sp_theta = nn.Conv2d(channels, half, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        v = self.ch_v(x).flatten(2)  # (B, C/2, HW)
        q = self.ch_q(x).flatten(2).softmax(dim=2)  # (B, 1, HW)
        context = (v @ q.transpose(1, 2)).unsqueeze(-1)  # (B, C/2, 1, 1)
        channel = x * torch.sigmoid(self.ch_up(context))
        g = self.sp_g(x).mean(dim=(2, 3)).unsqueeze(1)  # (B, 1, C/2)
        theta = self.sp_theta(x).flatten(2)  # (B, C/2, HW)
        spatial = x * torch.sigmoid((g @ theta).softmax(dim=2).view(b, 1, h, w))
        return channel + spatial
