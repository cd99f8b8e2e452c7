"""ResNet + Linear + tanh hashing network (ADSH baseline and FCAENet share it; FCAENet Eq. 1-2)."""

from __future__ import annotations

import torch
from torch import nn

from core.models.backbones import build_backbone


class HashNet(nn.Module):
    """u = tanh(W^T GAP(F(x)) + b).

    encode(x): (B, 3, H, W) -> (B, bits) in (-1, 1); the binary code is sign(u).
    feature_map(x): the last conv map F (B, C, H/32, W/32), e.g. (B, 2048, 7, 7) for ResNet-50 at 224 px.
    forward_with_features(x): (u, F) from one pass (training uses F for the SREM mask).
    """

    def __init__(self, backbone: nn.Module, bits: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.bits = bits
        self.hash_layer = nn.Linear(backbone.out_channels, bits)

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fmap = self.backbone(x)
        pooled = torch.flatten(nn.functional.adaptive_avg_pool2d(fmap, 1), 1)
        return torch.tanh(self.hash_layer(pooled)), fmap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[0]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)


def build_hashnet(backbone: str, weights: str, bits: int) -> HashNet:
    return HashNet(build_backbone(backbone, weights), bits)
