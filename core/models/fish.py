"""FISH's network (docs/baselines.md section 7; the only code is aassxun/DSH_Analysis models/fish.py).

For a ResNet-50 and a 224 input:
    F = layer4 (B, 2048, 7, 7);  A = sum_c F (detached) (B, 1, 7, 7)
    F' = F * M, M = 1 where A > mean A, below_mean_weight (0.5) where A < mean A, 0 where equal
    logits = Linear(2048 -> C)(GAP(F'))                        (B, C)
    b = Linear(C -> bits)(logits * mask), mask = class_mask_rate (0.7) except 1 at the arg-max   (B, bits)
The code is sign(b). The training loss (core/training/methods/fish.py) uses F's channel sum again to hide the
most attended pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from core.config.train_config import TrainConfig
from core.models.backbones import build_backbone


class FishOutput(NamedTuple):
    feature_map: torch.Tensor  # (B, C4, h, w) layer4 output (with gradient)
    logits: torch.Tensor  # (B, num_classes)
    codes: torch.Tensor  # (B, bits) real; the code is sign


class FishNet(nn.Module):
    def __init__(self, backbone: nn.Module, bits: int, num_classes: int, class_mask_rate: float = 0.7,
                 below_mean_weight: float = 0.5) -> None:
        super().__init__()
        self.backbone = backbone
        self.bits = bits
        self.class_mask_rate = float(class_mask_rate)
        self.below_mean_weight = float(below_mean_weight)
        self.fc = nn.Linear(backbone.out_channels, num_classes)
        self.hash_layer = nn.Linear(num_classes, bits)

    def forward(self, x: torch.Tensor) -> FishOutput:
        fmap = self.backbone(x)
        a = fmap.detach().sum(dim=1, keepdim=True)
        mean = a.mean(dim=(2, 3), keepdim=True)
        m = (a > mean).to(fmap.dtype) + (a < mean).to(fmap.dtype) * self.below_mean_weight
        logits = self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(fmap * m, 1), 1))
        mask = torch.full_like(logits, self.class_mask_rate).detach()
        mask.scatter_(1, logits.detach().argmax(dim=1, keepdim=True), 1.0)
        return FishOutput(fmap, logits, self.hash_layer(logits * mask))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x).codes

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)


def build_fish_model(cfg: TrainConfig, num_classes: int) -> FishNet:
    """core.models.factory builder: FISH over the configured ResNet."""
    f = cfg.fish
    return FishNet(build_backbone(cfg.backbone, cfg.weights), cfg.bits, num_classes, f.class_mask_rate,
                   f.below_mean_weight)
