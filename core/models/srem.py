"""SREM, the Selective Region Erasing Module of FCAENet (docs/methods.md section 2.2, paper Eq. 3-5, Algorithm 1).

THE one implementation: training (core/training/methods/fcaenet.py) and explanations (GUI overlays) both call
`srem_mask` and `erase`.

Steps for an anchor image with last-conv map F (C, h, w):
1. A = mean over channels of F (Eq. 3), detached: no gradient flows through the mask.
2. Bilinear upsample A to the image size H x W; min-max normalise with eps (Eq. 4).
3. Take the top-N pixels of the original H x W area (descending; ties broken by the lower row-major
   index so the mask is deterministic). Each is the TOP-LEFT corner of an s x s square set to 0 in a mask
   of ones that is zero-padded right/bottom by s, then cropped back to H x W (Algorithm 1).
4. x_e = x * M broadcast over channels (Eq. 5).

Padding right/bottom by s and cropping afterwards is the same as clipping every square at the image
border, so step 3 is computed as a max-pool "dilation" of the anchor map with the anchor at the
square's top-left corner: one vectorised op instead of a loop over N squares.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

EPS = 1e-8  # Eq. 4 "a minimal nonzero"


def activation_map(feature_map: torch.Tensor, image_hw: tuple[int, int], eps: float = EPS) -> torch.Tensor:
    """Channel-mean map upsampled to the image and min-max normalised: (B, C, h, w) -> (B, H, W) in [0, 1]."""
    if feature_map.dim() != 4:
        raise ValueError(f"feature_map must be (B, C, h, w); got shape {tuple(feature_map.shape)}")
    a = feature_map.detach().float().mean(dim=1, keepdim=True)  # Eq. 3
    a = F.interpolate(a, size=tuple(image_hw), mode="bilinear", align_corners=False)[:, 0]
    flat = a.flatten(1)
    lo = flat.min(dim=1).values.view(-1, 1, 1)
    hi = flat.max(dim=1).values.view(-1, 1, 1)
    return (a - lo) / (hi - lo + eps)  # Eq. 4


def top_pixels(saliency: torch.Tensor, regions: int) -> torch.Tensor:
    """Row-major flat indices (B, N') of the N' = min(N, H*W) highest pixels, ties -> lower index first."""
    flat = saliency.flatten(1)
    n = min(int(regions), flat.shape[1])
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    return order[:, :n]


def mask_from_anchors(anchors: torch.Tensor, image_hw: tuple[int, int], size: int) -> torch.Tensor:
    """0/1 mask (B, H, W): 0 inside every s x s square whose top-left corner is an anchor (flat indices (B, N)),
    clipped at the right/bottom border (= pad by s, erase, crop)."""
    h, w = image_hw
    b = anchors.shape[0]
    hits = torch.zeros(b, h * w, device=anchors.device, dtype=torch.float32)
    if anchors.numel():
        hits.scatter_(1, anchors, 1.0)
    hits = hits.view(b, 1, h, w)
    # A pixel (y, x) is erased iff an anchor lies in [y-s+1, y] x [x-s+1, x]: a max over an s x s window
    # that ends at (y, x), i.e. a max-pool after padding s-1 on the top/left.
    padded = F.pad(hits, (size - 1, 0, size - 1, 0))
    covered = F.max_pool2d(padded, kernel_size=size, stride=1)
    return 1.0 - covered[:, 0]


def srem_mask(
    feature_map: torch.Tensor, image_hw: tuple[int, int], regions: int = 50, size: int = 32
) -> torch.Tensor:
    """The aligned SREM mask (B, H, W), float 0/1 (0 = erased), from the last-conv map (B, C, h, w).

    regions: N, the number of top pixels (paper default 50); size: s, the square side in pixels (32).
    """
    if size < 1 or regions < 0:
        raise ValueError(f"SREM needs size >= 1 and regions >= 0; got size={size}, regions={regions}")
    saliency = activation_map(feature_map, image_hw)
    return mask_from_anchors(top_pixels(saliency, regions), tuple(image_hw), size).to(feature_map.device)


def erase(
    images: torch.Tensor,
    mask: torch.Tensor,
    target: Literal["normalized_zero", "black"] = "normalized_zero",
    mean: tuple[float, float, float] | None = None,
    std: tuple[float, float, float] | None = None,
) -> torch.Tensor:
    """x_e = x * M (Eq. 5) on normalised images (B, 3, H, W) with a mask (B, H, W).

    target "normalized_zero" (default, reconstructed): erased pixels become 0 in the normalised tensor,
    i.e. the dataset-mean colour. "black": erased pixels become black before normalisation, i.e.
    -mean/std (ImageNet statistics unless mean/std are given).
    """
    if images.dim() != 4 or mask.dim() != 3 or images.shape[0] != mask.shape[0] or images.shape[-2:] != mask.shape[-2:]:
        raise ValueError(f"images (B, C, H, W) and mask (B, H, W) must agree; got {tuple(images.shape)} and {tuple(mask.shape)}")
    m = mask.to(device=images.device, dtype=images.dtype).unsqueeze(1)
    if target == "normalized_zero":
        return images * m
    if target == "black":
        if mean is None or std is None:
            from core.data.transforms import IMAGENET_MEAN, IMAGENET_STD

            mean, std = mean or IMAGENET_MEAN, std or IMAGENET_STD
        fill = (-torch.tensor(mean, dtype=images.dtype, device=images.device)
                / torch.tensor(std, dtype=images.dtype, device=images.device)).view(1, -1, 1, 1)
        return images * m + fill * (1 - m)
    raise ValueError(f"erase target must be 'normalized_zero' or 'black'; got {target!r}")


class SREM:
    """SREM with fixed settings: `srem(images, feature_map) -> (erased images, mask)`.

    regions N, size s and the erase target as in FcaeOptions (srem_regions, srem_size, erase_target).
    """

    def __init__(self, regions: int = 50, size: int = 32,
                 target: Literal["normalized_zero", "black"] = "normalized_zero") -> None:
        self.regions, self.size, self.target = int(regions), int(size), target

    def mask(self, feature_map: torch.Tensor, image_hw: tuple[int, int]) -> torch.Tensor:
        return srem_mask(feature_map, image_hw, self.regions, self.size)

    def __call__(self, images: torch.Tensor, feature_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = self.mask(feature_map, tuple(images.shape[-2:]))
        return erase(images, mask, self.target), mask
