"""Pieces shared by the SEMICON-family networks (docs/baselines.md sections 3-6).

* `split_backbone`: a ResNet cut after layer3 (the stem, O = (B, C3, H/16, W/16): 1024 x 14 x 14 for
  ResNet-50 at 224 px) and its pretrained layer4, which SEMICON, A2-Net and ExchNet copy into their global
  and local branches.
* `sem_trunk`: SEMICON's attention trunk, three stride-1 Bottlenecks narrowing C3 -> C3/4 -> C3/16
  (1024 -> 256 -> 64 for ResNet-50), with a 1x1 conv + BN between them; A2-Net and ExchNet reuse it.
* `resnet_init`: torchvision's ResNet initialisation (Kaiming normal fan_out for convs, BN weight 1 / bias 0),
  the initialisation of every randomly started module of these networks.
* `local_pool`: the local branches: each map times O, through one shared layer4, globally pooled.

A tiny backbone (ResNet-18/34, C3 = 256) gets the same structure at its own widths; layer4 is then made of
BasicBlocks. Only ResNet-50 reproduces the papers' shapes.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import Bottleneck

from core.models.backbones import ResNetBackbone, build_backbone


class ResNetStem(nn.Module):
    """conv1 ... layer3 of a ResNet: (B, 3, H, W) -> O (B, C3, H/16, W/16)."""

    def __init__(self, backbone: ResNetBackbone) -> None:
        super().__init__()
        self.conv1, self.bn1, self.relu, self.maxpool = backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool
        self.layer1, self.layer2, self.layer3 = backbone.layer1, backbone.layer2, backbone.layer3
        self.out_channels = backbone.stage_channels["layer3"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer3(self.layer2(self.layer1(x)))


def split_backbone(name: str, weights: str) -> tuple[ResNetStem, nn.Sequential, int]:
    """(stem up to layer3, the backbone's layer4 with its weights, layer4's output channels C4)."""
    backbone = build_backbone(name, weights)
    return ResNetStem(backbone), backbone.layer4, backbone.out_channels


def resnet_init(module: nn.Module) -> nn.Module:
    """torchvision's ResNet init on every conv / BN inside `module` (in place); returns the module."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module


def sem_trunk(channels: int) -> nn.Sequential:
    """SEMICON's trunk on O (B, C3, h, w) -> T (B, C3/16, h, w), all stride 1, randomly initialised:
    Bottleneck(C3, width C3/4) -> 1x1 conv C3 -> C3/4 + BN -> Bottleneck(C3/4, width C3/16)
    -> 1x1 conv C3/4 -> C3/16 + BN -> Bottleneck(C3/16, width C3/64)."""
    if channels % 64:
        raise ValueError(f"the attention trunk needs a layer3 width divisible by 64; got {channels}")
    c1, c2, c3 = channels, channels // 4, channels // 16
    trunk = nn.Sequential(
        Bottleneck(c1, c1 // 4),
        nn.Sequential(nn.Conv2d(c1, c2, 1, bias=False), nn.BatchNorm2d(c2)),
        Bottleneck(c2, c2 // 4),
        nn.Sequential(nn.Conv2d(c2, c3, 1, bias=False), nn.BatchNorm2d(c3)),
        Bottleneck(c3, c3 // 4),
    )
    trunk.out_channels = c3
    return resnet_init(trunk)


def gap(x: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> (B, C) global average pool."""
    return x.mean(dim=(2, 3))


def local_pool(layer4: nn.Module, maps: torch.Tensor, o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The local branches in one batched pass: maps (B, M, h, w), O (B, C3, h, w) ->
    (features ell (B, M, C4), layer4 outputs (B, M, C4, h', w')). Each map is broadcast over O's channels."""
    b, m = maps.shape[:2]
    weighted = (maps.unsqueeze(2) * o.unsqueeze(1)).flatten(0, 1)  # (B*M, C3, h, w)
    out = layer4(weighted)
    out = out.reshape(b, m, *out.shape[1:])  # reshape: channels-last on CUDA
    return out.mean(dim=(3, 4)), out
