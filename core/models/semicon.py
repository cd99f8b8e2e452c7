"""SEMICON (Shen et al., ECCV 2022; docs/baselines.md section 3): suppression-enhancing attention + ICON.

Shapes for ResNet-50 at 224 px, batch B:
  O = stem(x)                       (B, 1024, 14, 14)   conv1 ... layer3, pretrained
  g = GAP(refine_global(O))         (B, 2048)           layer4 with ICON: [B0, B1, ICON, B2, ICON]
  T = sem_trunk(O)                  (B, 64, 14, 14)
  f_j = head_j(T_j)                 (B, 1, 14, 14)      T_1 = T, T_{j+1} = T_j * (2 - M(f_j)), M without gradient
  ell_j = GAP(refine_local(f_j O))  (B, 2048)           refine_local: a second layer4 + ICON, shared by j = 1..3
  u = tanh([W_G g; W_1 ell_1; W_2 ell_2; W_3 ell_3])    W_G: k - 3 floor(k/6) rows, W_j: floor(k/6) rows

Both refine branches are loaded from the ImageNet layer4 as the code's strict=False load does: blocks 0 and 1
get layer4.0 / layer4.1; the pretrained layer4.2.* keys name the ICON slot (index 2) and are dropped, so
Bottleneck_2 (index 3) and both ICONs start random (SemiconOptions.load_third_block loads layer4.2 into it).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from core.config.train_config import SemiconOptions, TrainConfig
from core.models.part_trunk import gap, local_pool, resnet_init, sem_trunk, split_backbone

ICON_HEADS = 32  # h in ChannelTransformer(dim=2048, heads=32): d = C / h = 64 channels per head


def bit_split(bits: int) -> tuple[int, int]:
    """(global rows, rows of each of the three local heads): floor(k/6) per local head, the rest global;
    12 -> 6 + 2+2+2, 24 -> 12 + 4+4+4, 32 -> 17 + 5+5+5, 48 -> 24 + 8+8+8."""
    local = bits // 6
    return bits - 3 * local, local


def _signed_sqrt_softmax(a: torch.Tensor) -> torch.Tensor:
    return torch.softmax(torch.sign(a) * torch.sqrt(a.abs() + 1e-5), dim=-1)


class Icon(nn.Module):
    """ICON, SEMICON's channel transformer: (B, C, H, W) -> (B, C, H, W), h heads of d = C / h channels.

    (a) grouped 1x1 conv C -> 3C (groups h), viewed (3, h, d, N); A1 = Q K^T / sqrt(d) (h, d, d), signed
        square root, softmax over the last axis; Z = A1 V + X.
    (b) channels permuted from a*d + b to b*h + a; Y = BN(Z); X2 = ReLU(Y).
    (c) grouped 1x1 conv C -> 3C (groups d) on X2, viewed (3, d, h, N); A2 = Q K^T / sqrt(h) (d, h, h), same
        normalisation; A2 V permuted back to a*d + b order and added to Y, which is still in b*h + a order
        (the code's quirk, kept: the tensor operations are the official ones).
    """

    def __init__(self, channels: int, heads: int = ICON_HEADS) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"ICON needs channels divisible by {heads} heads; got {channels}")
        self.heads, self.dim = heads, channels // heads
        self.qkv1 = nn.Conv2d(channels, 3 * channels, 1, groups=heads)
        self.bn = nn.BatchNorm2d(channels)
        self.qkv2 = nn.Conv2d(channels, 3 * channels, 1, groups=self.dim)
        resnet_init(self)

    def _attend(self, x: torch.Tensor, conv: nn.Conv2d, groups: int, width: int) -> torch.Tensor:
        """softmax(signed-sqrt(Q K^T / sqrt(width))) V as (B, groups, width, N)."""
        b, c, h, w = x.shape
        q, k, v = conv(x).reshape(b, 3, groups, width, h * w).unbind(1)  # reshape: channels-last on CUDA
        return _signed_sqrt_softmax(q @ k.transpose(-1, -2) / math.sqrt(width)) @ v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        heads, dim = self.heads, self.dim
        z = self._attend(x, self.qkv1, heads, dim) + x.reshape(b, heads, dim, h * w)  # (a)
        y = self.bn(z.transpose(1, 2).reshape(b, c, h, w))  # (b): index a*d+b -> b*h+a
        out = self._attend(torch.relu(y), self.qkv2, dim, heads)  # (c): (B, d, h, N)
        return y + out.transpose(1, 2).reshape(b, c, h, w)  # back to a*d+b, added to y in b*h+a order


def refine_layer4(layer4: nn.Sequential, channels: int, load_third_block: bool) -> nn.Sequential:
    """[B0, B1, ICON, B2, ICON] from a (pretrained) layer4 of three blocks, loaded the code's way: a fresh
    copy (random, ResNet init) takes every key of layer4's state dict whose name and shape it has, so
    "2.*" (the pretrained third block) lands nowhere; load_third_block maps it onto index 3 instead."""
    blocks = [copy.deepcopy(block) for block in layer4]
    # ResNet-18's layer4 has two blocks: its B2 is a copy of the second one's shape (random, like ResNet-50's)
    third = blocks[2] if len(blocks) > 2 else copy.deepcopy(blocks[1])
    fresh = nn.Sequential(blocks[0], blocks[1], Icon(channels), third, Icon(channels))
    resnet_init(fresh)  # everything random first, then the pretrained keys that fit
    state = layer4.state_dict()
    own = fresh.state_dict()
    loadable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if load_third_block:
        loadable.update({"3" + k[1:]: v for k, v in state.items() if k.startswith("2.")})
    fresh.load_state_dict(loadable, strict=False)
    return fresh


class Semicon(nn.Module):
    """The SEMICON network; forward(x) = encode(x) = u (B, bits) in (-1, 1).

    stage_maps(x): the three stage maps f_1..f_3 (B, 3, h, w) (after their ReLU), for Explain.
    feature_map(x): the global branch's output (B, C4, H/32, W/32), for CAM / Grad-CAM (cam_target_layer).
    """

    def __init__(self, backbone: str, weights: str, bits: int, opts: SemiconOptions) -> None:
        super().__init__()
        self.stem, layer4, c4 = split_backbone(backbone, weights)
        self.refine_global = refine_layer4(layer4, c4, opts.load_third_block)
        self.refine_local = refine_layer4(layer4, c4, opts.load_third_block)
        self.trunk = sem_trunk(self.stem.out_channels)
        t = self.trunk.out_channels
        self.heads = nn.ModuleList(resnet_init(nn.Sequential(nn.Conv2d(t, 1, 1, bias=False), nn.BatchNorm2d(1),
                                                             nn.ReLU())) for _ in range(3))
        g_bits, l_bits = bit_split(bits)
        self.hash_global = nn.Linear(c4, g_bits, bias=False)  # default init: Kaiming-uniform(a = sqrt 5)
        self.hash_local = nn.ModuleList(nn.Linear(c4, l_bits, bias=False) for _ in range(3))
        self.bits, self.opts = bits, opts
        self.cam_target_layer = self.refine_global

    def attention_mask(self, f: torch.Tensor) -> torch.Tensor:
        """M = clamp((p - mu) / (sigma + eps)^alpha + 1, 0, 2), p = softmax of f (B, 1, h, w) over positions;
        mu and sigma (unbiased) over the whole batch tensor or per image (SemiconOptions.attention_stats).
        No gradient (the code computes it under no_grad)."""
        with torch.no_grad():
            b = f.shape[0]
            p = torch.softmax(f.detach().float().flatten(1), dim=1)
            if self.opts.attention_stats == "batch":
                mu, sigma = p.mean(), p.std() if p.numel() > 1 else p.new_zeros(())
            else:
                mu = p.mean(dim=1, keepdim=True)
                sigma = p.std(dim=1, keepdim=True) if p.shape[1] > 1 else torch.zeros_like(mu)
            mask = ((p - mu) / (sigma + self.opts.sigma_eps) ** self.opts.alpha + 1).clamp(0.0, 2.0)
            return mask.view(b, 1, *f.shape[2:]).to(f.dtype)

    def stage_maps(self, o: torch.Tensor) -> torch.Tensor:
        """O (B, C3, h, w) -> f_1..f_3 stacked (B, 3, h, w)."""
        t = self.trunk(o)
        maps = []
        for j, head in enumerate(self.heads):
            f = head(t)
            maps.append(f)
            if j < 2:
                t = t * (2 - self.attention_mask(f))
        return torch.cat(maps, dim=1)

    def parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"o": O, "global_map", "g": (B, C4), "maps": f (B, 3, h, w), "local": ell (B, 3, C4)}."""
        o = self.stem(x)
        global_map = self.refine_global(o)
        maps = self.stage_maps(o)
        local, _ = local_pool(self.refine_local, maps, o)
        return {"o": o, "global_map": global_map, "g": gap(global_map), "maps": maps, "local": local}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.parts(x)
        z = [self.hash_global(p["g"])] + [head(p["local"][:, j]) for j, head in enumerate(self.hash_local)]
        return torch.tanh(torch.cat(z, dim=1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.refine_global(self.stem(x))

    def part_maps(self, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """The three stage maps [("stage 1", (B, h, w)), ...] (Explain's "parts")."""
        maps = self.stage_maps(self.stem(x))
        return [(f"stage {j + 1}", maps[:, j]) for j in range(maps.shape[1])]


def build_semicon_model(cfg: TrainConfig, num_classes: int) -> nn.Module:
    return Semicon(cfg.backbone, cfg.weights, cfg.bits, cfg.semicon)
