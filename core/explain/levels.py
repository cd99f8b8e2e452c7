"""Multi-FusNet per-level maps (paper Fig. 10): original feature X_l, ECA-weighted ECA(X_l), fused X_l + ECA(X_l).

The model provides them through `level_maps(x) -> list[LevelMaps(original, eca | None, fused)]`
(core.models.multifusnet), one entry per level it uses; each map is shown as its channel-mean CAM.
Levels are named after the paper's X1, X2, X3 = ResNet layer2, layer3, layer4.
"""

from __future__ import annotations

import numpy as np
import torch

from core.explain.cam import channel_mean_cam

BRANCHES = ("original", "eca", "fused")


def supports_levels(model: torch.nn.Module) -> bool:
    return callable(getattr(model, "level_maps", None))


def level_names(model: torch.nn.Module, count: int) -> list[str]:
    """'X1'..'X3' for the levels level_maps returned (uses model.level_ids when present)."""
    ids = list(getattr(model, "level_ids", range(3 - count, 3)))
    if len(ids) != count:
        ids = list(range(3 - count, 3))
    return [f"X{int(i) + 1}" for i in ids]


@torch.no_grad()
def level_heatmaps(model: torch.nn.Module, images: torch.Tensor) -> list[tuple[str, np.ndarray]]:
    """For one normalised image (1, 3, H, W): [("X3/original", (H, W) float32 in [0, 1]), ...],
    levels in model order (lowest first), branches in BRANCHES order; absent ECA branches are skipped. With
    Multi-FusNet's attention swap the attention branch is named after its module ("X3/se", "X3/cbam", ...)."""
    hw = tuple(images.shape[-2:])
    attention = getattr(getattr(model, "options", None), "fusion_attention", "eca")
    levels = model.level_maps(images)
    out: list[tuple[str, np.ndarray]] = []
    for name, level in zip(level_names(model, len(levels)), levels):
        for branch in BRANCHES:
            fmap = getattr(level, branch)
            if fmap is None:
                continue
            cam = channel_mean_cam(fmap[:1], hw)[0]
            label = attention if branch == "eca" else branch
            out.append((f"{name}/{label}", cam.cpu().numpy().astype(np.float32)))
    return out
