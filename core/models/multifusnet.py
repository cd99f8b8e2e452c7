"""Multi-FusNet network (docs/methods.md section 3.2; Cui et al., PeerJ CS 2024).

Shapes for a ResNet-50 and a 224 input (336 gives 42/21/11 maps):

    X1 = layer2  512 x 28 x 28   -> F1 = X1 + ECA1(X1) -> conv block -> GMP -> f1 (1024)
    X2 = layer3 1024 x 14 x 14   -> F2 = X2 + ECA2(X2) -> conv block -> GMP -> f2 (1024)
    X3 = layer4 2048 x  7 x  7   -> F3 = X3 + ECA3(X3) -> conv block -> GMP -> f3 (1024)
    tokens [f1, f2, f3] -> pre-norm transformer (attention enhancement) -> flatten (3072)
    hash head: BN1d -> Linear(3072, 512) -> BN1d -> ELU -> Linear(512, bits)   (no tanh; code = sign)
    class head on f3: Linear(1024, bits) -> Linear(bits, C)

The backbone runs unchanged: each stage consumes the *original* output of the previous one.

Table 6 ablations (MultiFusOptions): use_cascade=False keeps only the top level and uses its
global-max-pooled map directly (the "ResNet only" row: no conv blocks, f3 = GMP(X3), 2048-d for
ResNet-50; reconstructed); use_fusion=False drops the ECA branch (F = X); use_attention=False
drops the transformer. MultiFusOptions.fusion_attention swaps ECA for SE, CBAM, coordinate attention or
one of the two PSAs (core/models/attention; Multi-FusNet Fig. 9), one instance per level; eca_kernel applies
to ECA only.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from core.config.train_config import MultiFusOptions, TrainConfig
from core.models.attention import INLINE_SHARED, MuiltNetChannelGate, MuiltNetSpatialGate, build_attention
from core.models.backbones import build_backbone
from core.models.eca import ECA, eca_kernel_size

STAGES = ("layer2", "layer3", "layer4")


class MultiFusOutput(NamedTuple):
    """Training outputs: hash (B, bits) real codes, logits (B, C), top_map (B, C4, h, w) detached fused F3."""

    hash: torch.Tensor
    logits: torch.Tensor
    top_map: torch.Tensor


class LevelMaps(NamedTuple):
    """One level for the explanation view (paper Fig. 10): (B, C_l, h, w) maps.

    eca is the ECA-weighted branch ECA(X); None when fusion is disabled (then fused is original).
    """

    original: torch.Tensor
    eca: torch.Tensor | None
    fused: torch.Tensor


def conv_block(in_channels: int, mid: int = 512, out: int = 1024, bn_momentum: float = 0.01) -> nn.Sequential:
    """Cascade block (paper Eq. 9): 1x1 conv -> BN -> ReLU -> 3x3 conv -> BN -> ReLU -> global max pool.

    BN momentum 0.01 as in the published code. (B, C_l, h, w) -> (B, out, 1, 1).
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, mid, 1, bias=False),
        nn.BatchNorm2d(mid, momentum=bn_momentum),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid, out, 3, padding=1, bias=False),
        nn.BatchNorm2d(out, momentum=bn_momentum),
        nn.ReLU(inplace=True),
        nn.AdaptiveMaxPool2d(1),
    )


class TokenTransformer(nn.Module):
    """Hash-feature enhancement (paper Eq. 10; reconstructed): pre-norm transformer over level tokens.

    x <- x + MHSA(LN(x)); x <- x + FFN(LN(x)) per layer, then a final LayerNorm.
    (B, T, D) -> (B, T, D). Residuals keep it close to the identity at initialisation.
    """

    def __init__(self, dim: int, depth: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"token dim {dim} is not divisible by {heads} attention heads")
        self.layers = nn.ModuleList()
        for _ in range(depth):
            self.layers.append(nn.ModuleDict({
                "norm1": nn.LayerNorm(dim),
                "attn": nn.MultiheadAttention(dim, heads, batch_first=True),
                "norm2": nn.LayerNorm(dim),
                "ffn": nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim)),
            }))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            y = layer["norm1"](x)
            x = x + layer["attn"](y, y, y, need_weights=False)[0]
            x = x + layer["ffn"](layer["norm2"](x))
        return self.norm(x)


class MultiFusNet(nn.Module):
    """The full network over a core.models.backbones.ResNetBackbone (stages() + stage_channels)."""

    def __init__(self, backbone: nn.Module, bits: int, num_classes: int,
                 options: MultiFusOptions | None = None) -> None:
        super().__init__()
        self.options = opts = options or MultiFusOptions()
        self.bits = bits
        self.num_classes = num_classes
        if not (hasattr(backbone, "stages") and hasattr(backbone, "stage_channels")):
            raise TypeError(f"Multi-FusNet needs a ResNetBackbone (stages, stage_channels); got {type(backbone).__name__}")
        self.backbone = backbone
        channels = [backbone.stage_channels[k] for k in STAGES]
        # levels actually used: all three with the cascade, only the top one without
        self.level_ids = (0, 1, 2) if opts.use_cascade else (2,)
        used = [channels[i] for i in self.level_ids]

        self.eca = nn.ModuleList()
        self.eca_of_level: tuple[int, ...] = ()  # level j uses self.eca[eca_of_level[j]]
        self.shared_spatial: nn.Module | None = None
        self.inline_fusion = opts.use_fusion and opts.fusion_attention == INLINE_SHARED
        if self.inline_fusion:
            # MuiltNet's own CBAM try: a channel gate per level, one spatial gate for all, F = A(X) in-line
            self.eca.extend(MuiltNetChannelGate(c) for c in used)
            self.eca_of_level = tuple(range(len(used)))
            self.shared_spatial = MuiltNetSpatialGate()
        elif opts.use_fusion and opts.fusion_attention != "eca":
            # the attention swap (docs/baselines.md section 9): one module per level; kept under the name `eca`
            # (the branch A_l of F = X + A(X)) so that the state dict layout does not depend on the kind
            self.eca.extend(build_attention(opts.fusion_attention, c) for c in used)
            self.eca_of_level = tuple(range(len(used)))
        elif opts.use_fusion:
            if opts.eca_kernel == "shared_k3":
                # one module, fixed k=3, applied to every level (published code); held once so that
                # the state dict has no aliased tensors (safetensors refuses those)
                self.eca.append(ECA(3))
                self.eca_of_level = (0,) * len(used)
            else:
                self.eca.extend(ECA(eca_kernel_size(c)) for c in used)
                self.eca_of_level = tuple(range(len(used)))

        if opts.use_cascade:
            mid, token_dim = opts.cascade_mid_channels, opts.cascade_out_channels
            self.blocks = nn.ModuleList(conv_block(c, mid, token_dim, opts.cascade_bn_momentum) for c in used)
        else:
            self.blocks = nn.ModuleList([nn.AdaptiveMaxPool2d(1)])  # "ResNet only": GMP of the top map
            token_dim = used[0]
        self.token_dim = token_dim
        self.feature_dim = token_dim * len(used)
        depth = opts.attention_depth if opts.use_attention else 0
        self.enhance = TokenTransformer(token_dim, depth, opts.attention_heads, opts.attention_mlp_dim) \
            if depth > 0 else nn.Identity()
        self.hash_head = nn.Sequential(
            nn.BatchNorm1d(self.feature_dim), nn.Linear(self.feature_dim, 512),
            nn.BatchNorm1d(512), nn.ELU(inplace=True), nn.Linear(512, bits),
        )
        self.class_head = nn.Sequential(nn.Linear(token_dim, bits), nn.Linear(bits, num_classes))
        # adaptive multi-task balance (paper Eq. 12): learnable, initialised to 1
        self.alpha1 = nn.Parameter(torch.tensor(1.0))
        self.alpha2 = nn.Parameter(torch.tensor(1.0))

    # -- pieces -------------------------------------------------------------------------------
    def _fused(self, x: torch.Tensor) -> list[LevelMaps]:
        stages = self.backbone.stages(x)
        levels = [stages[k] for k in STAGES]
        out = []
        for j, i in enumerate(self.level_ids):
            orig = levels[i]
            if self.inline_fusion:  # MuiltNet's CBAM try: applied in-line, no residual sum
                weighted = self.shared_spatial(self.eca[self.eca_of_level[j]](orig))
                out.append(LevelMaps(orig, weighted, weighted))
            elif self.options.use_fusion:
                weighted = self.eca[self.eca_of_level[j]](orig)
                out.append(LevelMaps(orig, weighted, orig + weighted))  # paper Eq. 8: sum of branches
            else:
                out.append(LevelMaps(orig, None, orig))
        return out

    def _heads(self, fused: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = torch.stack([blk(f).flatten(1) for blk, f in zip(self.blocks, fused)], dim=1)  # (B, T, D)
        top = tokens[:, -1]  # f3: classification uses the top level before enhancement
        feats = self.enhance(tokens).flatten(1)  # (B, T*D)
        return self.hash_head(feats), self.class_head(top)

    # -- public interface ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> MultiFusOutput:
        """(B, 3, H, W) normalised images -> hash (B, bits), logits (B, C), detached fused top map."""
        fused = [lv.fused for lv in self._fused(x)]
        h, logits = self._heads(fused)
        return MultiFusOutput(h, logits, fused[-1].detach())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Real-valued codes (B, bits); the binary code is their sign."""
        return self.forward(x).hash

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Fused top map F3 = X3 + ECA(X3): (B, C4, H/32, W/32)."""
        return self._fused(x)[-1].fused

    def level_maps(self, x: torch.Tensor) -> list[LevelMaps]:
        """Per used level (layer2/3/4, or layer4 only without the cascade): original, ECA-weighted, fused."""
        return self._fused(x)


def build_multifusnet(backbone: str, weights: str, bits: int, num_classes: int,
                      options: MultiFusOptions | None = None) -> MultiFusNet:
    """Multi-FusNet over build_backbone(backbone, weights) ("imagenet", "none" or a weights file)."""
    return MultiFusNet(build_backbone(backbone, weights), bits, num_classes, options)


def build_multifusnet_model(cfg: TrainConfig, num_classes: int) -> MultiFusNet:
    """core.models.factory builder: the network a TrainConfig describes."""
    return build_multifusnet(cfg.backbone, cfg.weights, cfg.bits, num_classes, cfg.multifus)
