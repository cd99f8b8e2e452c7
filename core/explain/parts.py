"""A method's own attention maps, the explanation kind "parts" (docs/baselines.md sections 3-6):

* SEMICON: the three stage maps f_1..f_3 of its suppression-enhancing attention ("stage 1".."stage 3");
* A2-Net and ExchNet: the M part maps that weight O before the shared local layer4 ("part 1".."part M");
* AGMH: each branch's SIEA output as ADL sees it, its channel max ("branch 1".."branch 6").

The model provides them through `part_maps(x) -> [(name, (B, h, w))]` (core.models.semicon, a2net, agmh).
Each map is upsampled bilinearly to the image and min-max scaled to [0, 1] on its own (the channel-mean CAM
of a one-channel map, core.explain.cam), so a tile shows where that map is high, not its absolute level.
"""

from __future__ import annotations

import numpy as np
import torch

from core.explain.cam import channel_mean_cam


def supports_parts(model: torch.nn.Module) -> bool:
    return callable(getattr(model, "part_maps", None))


@torch.no_grad()
def part_heatmaps(model: torch.nn.Module, images: torch.Tensor) -> list[tuple[str, np.ndarray]]:
    """For one normalised image (1, 3, H, W): [(map name, (H, W) float32 in [0, 1]), ...] in model order."""
    hw = tuple(images.shape[-2:])
    return [(name, channel_mean_cam(m[:1].unsqueeze(1).float(), hw)[0].cpu().numpy().astype(np.float32))
            for name, m in model.part_maps(images)]


def parts_overview(maps: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """(H, W) float32 in [0, 1]: the pixel-wise maximum of the scaled maps, where any part looks."""
    return np.max(np.stack([m for _, m in maps]), axis=0).astype(np.float32)
