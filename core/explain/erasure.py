"""SREM erasure for the explanation view: the mask and the erased image of one input.

Computed by core.models.srem (`srem_mask`, `erase`): the same functions, with the same feature map, as
training, so what the user sees is exactly what the network was trained against.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from core.models.srem import activation_map, erase, srem_mask


@torch.no_grad()
def srem_arrays(
    model: torch.nn.Module,
    images: torch.Tensor,
    regions: int = 50,
    size: int = 32,
    target: Literal["normalized_zero", "black"] = "normalized_zero",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For normalised images (B, 3, H, W): (mask (B, H, W) float 0/1 with 0 = erased,
    erased images (B, 3, H, W) normalised, activation (B, H, W) in [0, 1] that placed the squares)."""
    fmap = model.feature_map(images)
    hw = tuple(images.shape[-2:])
    mask = srem_mask(fmap, hw, regions=regions, size=size)
    return mask, erase(images, mask, target=target), activation_map(fmap, hw).clamp(0.0, 1.0)


def erased_mask_bool(mask: torch.Tensor) -> np.ndarray:
    """SREM's 0/1 keep-mask (H, W) -> bool (H, W), True where erased (what the overlay shades)."""
    return (mask.detach().cpu().numpy() < 0.5)
