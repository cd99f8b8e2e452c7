"""The part network of A2-Net (docs/baselines.md section 4) and ExchNet (section 5).

Shapes for ResNet-50 at 224 px, batch B, M parts:
  O = stem(x)                            (B, 1024, 14, 14)   conv1 ... layer3, pretrained
  g = GAP(global_layer4(O))              (B, 2048)           a pretrained layer4 copy
  maps = ReLU(BN(conv1x1(sem_trunk(O)))) (B, M, 14, 14)      attention, random init
  ell_m = GAP(local_layer4(map_m O))     (B, M, 2048)        a second pretrained layer4, shared by the M parts
  x = [ell_1 .. ell_M ; g]               (B, (M + 1) 2048)
  A2-Net:  u = tanh(W x), W (k, (M+1) 2048) without bias, Kaiming-uniform; the tied decoder r = W^T u
  ExchNet: u = tanh(W x + b) (nn.Linear with bias), M = 4
ExchNet's method may exchange parts for class centres between `parts` and `hash_parts` (training only).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from core.config.train_config import TrainConfig
from core.models.part_trunk import gap, local_pool, resnet_init, sem_trunk, split_backbone


class PartNet(nn.Module):
    """forward(x) = encode(x) = u (B, bits). parts(x): the pieces above; hash_parts(ell, g): u from them."""

    def __init__(self, backbone: str, weights: str, bits: int, num_parts: int, hash_bias: bool) -> None:
        super().__init__()
        self.stem, layer4, c4 = split_backbone(backbone, weights)
        self.global_layer4 = layer4
        self.local_layer4 = copy.deepcopy(layer4)
        self.trunk = sem_trunk(self.stem.out_channels)
        self.attention = resnet_init(nn.Sequential(nn.Conv2d(self.trunk.out_channels, num_parts, 1),
                                                   nn.BatchNorm2d(num_parts), nn.ReLU()))
        self.hash_layer = nn.Linear((num_parts + 1) * c4, bits, bias=hash_bias)
        self.bits, self.num_parts, self.part_channels = bits, num_parts, c4
        self.cam_target_layer = self.global_layer4

    def parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"g": (B, C4), "maps": (B, M, h, w), "local": ell (B, M, C4), "local_maps": (B, M, C4, h', w')}."""
        o = self.stem(x)
        g = gap(self.global_layer4(o))
        maps = self.attention(self.trunk(o))
        local, local_maps = local_pool(self.local_layer4, maps, o)
        return {"g": g, "maps": maps, "local": local, "local_maps": local_maps}

    def features(self, local: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """x = [ell_1 .. ell_M ; g]: (B, M, C4), (B, C4) -> (B, (M + 1) C4)."""
        return torch.cat([local.flatten(1), g], dim=1)

    def hash_parts(self, local: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.hash_layer(self.features(local, g)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.parts(x)
        return self.hash_parts(p["local"], p["g"])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.global_layer4(self.stem(x))

    def part_maps(self, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """The M attention maps [("part 1", (B, h, w)), ...] (Explain's "parts")."""
        maps = self.attention(self.trunk(self.stem(x)))
        return [(f"part {m + 1}", maps[:, m]) for m in range(maps.shape[1])]


def a2net_parts(cfg: TrainConfig) -> int:
    """A2-Net's M: a2net.parts, 0 meaning the code length (the code's M = k)."""
    return cfg.a2net.parts or cfg.bits


def build_a2net_model(cfg: TrainConfig, num_classes: int) -> nn.Module:
    return PartNet(cfg.backbone, cfg.weights, cfg.bits, a2net_parts(cfg), hash_bias=False)


def build_exchnet_model(cfg: TrainConfig, num_classes: int) -> nn.Module:
    return PartNet(cfg.backbone, cfg.weights, cfg.bits, cfg.exchnet.parts, hash_bias=True)
