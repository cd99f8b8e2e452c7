"""AGMH, Attributes Grouping and Mining Hashing (Lu et al., ACM MM 2023; docs/baselines.md section 6).

Shapes for ResNet-50 at 224 px, batch B, 6 branches:
  F = backbone(x)                         (B, 2048, 7, 7)   the full pretrained ResNet
  D_i = ReLU(BN(conv1x1(F) + b))          (B, 512, 7, 7)    i = 1..6; width C4 / 4
  v_i = GAP(D_i)                          (B, 512)
  u = tanh(W [v_1 .. v_6])                W (k, 3072), no bias, Kaiming-uniform
  A_i = SIEA(D_i)                         (B, 512, 7, 7)    feeds only the ADL loss, never the code

The official model file instantiates `CHExtAttn`, a class that file does not define, so it does not run;
AgmhOptions.attention = "siea" (reconstructed) uses the stepwise interactive external attention that the
same group's DSH_Analysis re-implementation uses.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from core.config.train_config import TrainConfig
from core.models.backbones import build_backbone
from core.models.part_trunk import gap, resnet_init


class Siea(nn.Module):
    """Stepwise interactive external attention (dim C, `heads` query convs, `slots` memory slots S):
    x = conv1x1(D) flattened to (B, C, N); q_n = Conv1d(C -> S)(x), n = 1..heads; a = q_1, then
    a = Conv1d(2S -> S)([a; q_{n+1}]) for n = 1..heads-1 (one conv per step); softmax over N, then divided by
    (1e-9 + its sum over the S slots); Conv1d(S -> C); conv1x1 + BN; + D; ReLU. Convs N(0, sqrt(2 / (kernel out)))."""

    def __init__(self, channels: int, heads: int = 4, slots: int = 128) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(channels, channels, 1)
        self.queries = nn.ModuleList(nn.Conv1d(channels, slots, 1, bias=False) for _ in range(heads))
        self.steps = nn.ModuleList(nn.Conv1d(2 * slots, slots, 1, bias=False) for _ in range(heads - 1))
        self.expand = nn.Conv1d(slots, channels, 1, bias=False)
        self.conv_out = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels))
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                fan = math.prod(m.kernel_size) * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan))
        resnet_init(self.conv_out[1:])

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        b, c, h, w = d.shape
        x = self.conv_in(d).flatten(2)  # (B, C, N)
        a = self.queries[0](x)
        for step, query in zip(self.steps, self.queries[1:]):
            a = step(torch.cat([a, query(x)], dim=1))
        a = torch.softmax(a, dim=-1)
        a = a / (1e-9 + a.sum(dim=1, keepdim=True))
        out = self.conv_out(self.expand(a).view(b, c, h, w))
        return torch.relu(out + d)


class Agmh(nn.Module):
    """forward(x) = encode(x) = u (B, bits); branches(x): (D list, A list) for the loss and Explain."""

    def __init__(self, backbone: str, weights: str, bits: int, branches: int = 6, heads: int = 4,
                 slots: int = 128) -> None:
        super().__init__()
        self.backbone = build_backbone(backbone, weights)
        c4 = self.backbone.out_channels
        width = c4 // 4
        self.reduce = nn.ModuleList(resnet_init(nn.Sequential(nn.Conv2d(c4, width, 1), nn.BatchNorm2d(width),
                                                              nn.ReLU())) for _ in range(branches))
        self.attention = nn.ModuleList(Siea(width, heads, slots) for _ in range(branches))
        self.hash_layer = nn.Linear(branches * width, bits, bias=False)
        self.bits = bits

    def branch_features(self, fmap: torch.Tensor) -> list[torch.Tensor]:
        """D_1..D_n, each (B, C4/4, h, w), from the backbone map F."""
        return [reduce(fmap) for reduce in self.reduce]

    def code_from(self, d: list[torch.Tensor]) -> torch.Tensor:
        return torch.tanh(self.hash_layer(torch.cat([gap(x) for x in d], dim=1)))

    def branches(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(u, [A_1..A_n]): the code and each branch's SIEA output (B, C4/4, h, w)."""
        d = self.branch_features(self.backbone(x))
        return self.code_from(d), [attn(di) for attn, di in zip(self.attention, d)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.code_from(self.branch_features(self.backbone(x)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def part_maps(self, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """Each branch's attention map, the channel max of A_i as ADL sees it [("branch 1", (B, h, w)), ...]."""
        _, attn = self.branches(x)
        return [(f"branch {i + 1}", a.amax(dim=1)) for i, a in enumerate(attn)]


def build_agmh_model(cfg: TrainConfig, num_classes: int) -> nn.Module:
    opts = cfg.agmh
    return Agmh(cfg.backbone, cfg.weights, cfg.bits, opts.branches, opts.attention_heads, opts.attention_slots)
