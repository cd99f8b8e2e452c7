"""Channel-mean class-activation map of the last conv block (FCAENet Eq. 3-4, docs/methods.md 2.2 steps 1-3).

A = mean_c F_c, bilinearly upsampled to the image size, min-max normalised to [0, 1]. The computation is
core.models.srem.activation_map, the very map SREM ranks to place its erased squares, so the CAM view
and the SREM view of one image always agree.
"""

from __future__ import annotations

import numpy as np
import torch

from core.models.srem import activation_map


def channel_mean_cam(feature_map: torch.Tensor, image_hw: tuple[int, int]) -> torch.Tensor:
    """(B, C, h, w) feature map -> (B, H, W) float32 map in [0, 1] at image_hw = (H, W)."""
    # clamp: (a - min) / (max - min + eps) can exceed [0, 1] only by float rounding
    return activation_map(feature_map, tuple(int(s) for s in image_hw)).clamp(0.0, 1.0)


@torch.no_grad()
def model_cam(model: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """Channel-mean CAM of `model.feature_map(images)`: (B, 3, H, W) normalised -> (B, H, W) float32 in [0, 1]."""
    maps = channel_mean_cam(model.feature_map(images), images.shape[-2:])
    return maps.cpu().numpy().astype(np.float32)
