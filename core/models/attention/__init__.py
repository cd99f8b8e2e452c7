"""Channel / spatial attention modules for Multi-FusNet's attention swap (docs/baselines.md section 9, paper Fig. 9).

Every module maps (B, C, H, W) -> (B, C, H, W); the fusion is F = X + A(X), one instance per level
(C = 512 / 1024 / 2048 for ResNet-50), same hyper-parameters everywhere. build_attention(kind, C) builds one:

    eca            ECA with the adaptive kernel k(C) (core/models/eca.py)            5 / 5 / 7 parameters
    se             squeeze-and-excitation, r = 16 (se.py)                             33 312 / 132 160 / 526 464
    cbam           channel + spatial gates, r = 16, 7x7 (cbam.py)                     33 412 / 132 260 / 526 564
    ca             coordinate attention, mip = max(8, C/32) (coord.py)                25 648 / 100 448 / 397 504
    psa            EPSANet pyramid squeeze attention (psa.py)                         1 734 792 / 6 938 896 / 27 755 040
    psa-polarized  Polarized Self-Attention, parallel (psa.py)
    cbam-muiltnet  MuiltNet's own CBAM try (cbam.py): per-level channel gates (1x1 convs, no bias, r = 8) and one
                   spatial gate shared by all levels (no BN), applied in-line: F = A(X), not X + A(X); built by
                   Multi-FusNet itself (build_attention builds the single-instance kinds)
"""

from __future__ import annotations

from torch import nn

from core.models.attention.cbam import CBAM, MuiltNetChannelGate, MuiltNetSpatialGate
from core.models.attention.coord import CoordAttention
from core.models.attention.psa import PolarizedSelfAttention, PyramidSqueezeAttention
from core.models.attention.se import SqueezeExcitation
from core.models.eca import ECA, eca_kernel_size

ATTENTION_KINDS = ("eca", "se", "cbam", "ca", "psa", "psa-polarized")
INLINE_SHARED = "cbam-muiltnet"  # MuiltNet's CBAM try: not one independent module per level


def build_attention(kind: str, channels: int) -> nn.Module:
    """One attention module A: (B, channels, H, W) -> same shape."""
    if kind == "eca":
        return ECA(eca_kernel_size(channels))
    if kind == "se":
        return SqueezeExcitation(channels)
    if kind == "cbam":
        return CBAM(channels)
    if kind == "ca":
        return CoordAttention(channels)
    if kind == "psa":
        return PyramidSqueezeAttention(channels)
    if kind == "psa-polarized":
        return PolarizedSelfAttention(channels)
    raise ValueError(f"unknown attention module {kind!r}; choose one of {', '.join(ATTENTION_KINDS)}")


__all__ = ["ATTENTION_KINDS", "INLINE_SHARED", "build_attention", "CBAM", "MuiltNetChannelGate",
           "MuiltNetSpatialGate", "CoordAttention", "PolarizedSelfAttention",
           "PyramidSqueezeAttention", "SqueezeExcitation"]
