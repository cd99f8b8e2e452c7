"""Attention-guided saliency zoom, the paper's "Gaussian centre image enhancement" (docs/methods.md section 3.3).

Derived from the Saliency Sampler (Recasens et al., ECCV 2018) as used by FG-CHN/MuiltNet:

1. decide map D (31 x 31, in [0, 1]) from the channel sum of the detached fused top map;
2. peaks = local 3x3 maxima of D that are >= mean(D); a random mode (0, 1, 2) turns them into a
   saliency map G = 0.09 + sum of peak-centred Gaussians;
3. G drives a smooth sampling grid that magnifies salient regions; the image is resampled to its
   own size.

Flat maps (reconstructed choice, see `saliency_map`): a decide map with no contrast has no salient
region, so it has no peaks and G is the constant 0.09. A constant G gives the linear ramp grid,
which with `pixel_centres=True` samples every pixel at its own centre: the zoom is then the identity.
(The published code finds a single top-left "peak" in a flat non-zero map through max-pool index
tie-breaking, and zooms into the corner; an all-zero map gives it no peaks, like here.)

Device-agnostic; every random draw comes from the passed torch.Generator (CPU), so a seeded
generator gives the same zoom on any device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

GRID = 31  # saliency / sampling grid side
PAD = 30  # replicate padding of the saliency map before the grid convolution
BASE = 0.09  # constant base of the saliency map
RADIUS = 0.08  # Gaussian sigma as a fraction of the grid side, times sqrt(score) (score in modes 2)
FWHM = 13.0  # full width at half maximum of the 61 x 61 grid kernel
ATTENTION_SIZE = 224  # the code upsamples the attention to 224 x 224 before the 31 x 31 resample


def decide_map(top_map: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) feature map -> (B, 31, 31) channel sum resampled and divided by its max.

    Maps whose max is <= 0 or that have no contrast are returned as all zeros (flat).
    """
    a = top_map.detach().float().sum(dim=1, keepdim=True)
    a = F.interpolate(a, size=(ATTENTION_SIZE, ATTENTION_SIZE), mode="bilinear", align_corners=True)
    d = F.interpolate(a, size=(GRID, GRID), mode="bilinear", align_corners=True)[:, 0]
    hi = d.amax(dim=(1, 2), keepdim=True)
    lo = d.amin(dim=(1, 2), keepdim=True)
    flat = ~torch.isfinite(hi) | (hi <= 0) | (hi - lo <= 1e-6 * hi.abs())
    d = d / torch.where(flat, torch.ones_like(hi), hi)
    return torch.where(flat, torch.zeros_like(d), d)


def saliency_map(decide: torch.Tensor, mode: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """One image: decide map (31, 31) and mode in {0, 1, 2} -> saliency map G (31, 31).

    mode 0: every peak t adds s_t * K(sigma = 0.08 sqrt(s_t)); mode 1: the same, but a peak is kept
    only if s_t > U(0, 1); mode 2: only the highest peak (first in raster order), sigma = 0.08 s_max.
    K is a 31 x 31 Gaussian of std 31 sigma (pixels) with peak 1.
    """
    d = decide
    g = torch.full_like(d, BASE)
    if not bool((d > 0).any()):  # flat (all-zero) decide map: no peaks
        return g
    local_max = F.max_pool2d(d[None, None], 3, stride=1, padding=1)[0, 0]  # pads with -inf
    peaks = (d == local_max) & (d >= d.mean()) & (d > 0)
    rows, cols = torch.nonzero(peaks, as_tuple=True)  # raster order
    scores = d[rows, cols]
    if mode == 0:
        sigma = RADIUS * scores.sqrt()
    elif mode == 1:
        u = torch.rand(scores.shape[0], generator=generator).to(d.device)
        keep = scores > u
        rows, cols, scores = rows[keep], cols[keep], scores[keep]
        sigma = RADIUS * scores.sqrt()
    elif mode == 2:
        top = int(torch.argmax(scores))  # first maximum, as list.index(max(...)) in the code
        rows, cols, scores = rows[top:top + 1], cols[top:top + 1], scores[top:top + 1]
        sigma = RADIUS * scores
    else:
        raise ValueError(f"zoom mode must be 0, 1 or 2; got {mode}")
    if scores.numel() == 0:
        return g
    ax = torch.arange(GRID, device=d.device, dtype=d.dtype)
    dy = (ax[None, :, None] - rows[:, None, None].to(d.dtype)) ** 2  # (n, 31, 1)
    dx = (ax[None, None, :] - cols[:, None, None].to(d.dtype)) ** 2  # (n, 1, 31)
    std = (GRID * sigma)[:, None, None]
    kernels = torch.exp(-(dy + dx) / (2 * std**2))  # peak value 1 at the (integer) centre
    return g + (scores[:, None, None] * kernels).sum(dim=0)


def _grid_kernel_1d(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Valid-convolution matrix (31, 91) of the 1-D factor of the 61 x 61 FWHM-13 Gaussian.

    The 2-D kernel exp(-4 ln2 (dx^2 + dy^2) / FWHM^2) is separable, so the valid 2-D convolution of an
    (91, 91) map M is K M K^T: two small matmuls instead of a 61 x 61 direct convolution.
    """
    out = torch.arange(GRID, device=device, dtype=dtype)[:, None]  # output cell, centred at out + PAD
    src = torch.arange(GRID + 2 * PAD, device=device, dtype=dtype)[None, :]
    offset = src - out - PAD
    inside = offset.abs() <= PAD
    return torch.where(inside, torch.exp(-4 * math.log(2) * offset**2 / FWHM**2), torch.zeros((), dtype=dtype))


def sampling_grid(saliency: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Saliency maps (B, 31, 31) -> grid_sample grid (B, height, width, 2) in [-1, 1], (x, y) order.

    grid = (k * (P G)) / (k * G) with valid (separable) convolution over G replicate-padded by 30, where P holds
    each padded cell's position (-1 .. 2 across the padded map, 0 .. 1 across the 31 x 31 core).
    A constant G yields exactly the linear ramp (the kernel is symmetric and P is linear).
    """
    # float64: the ratio of two 61 x 61 sums must reproduce the ramp to ~1e-12 for a constant G
    g = F.pad(saliency[:, None].double(), (PAD, PAD, PAD, PAD), mode="replicate")  # (B, 1, 91, 91)
    pos = (torch.arange(GRID + 2 * PAD, device=g.device, dtype=g.dtype) - PAD) / (GRID - 1)
    px = pos[None, None, None, :].expand_as(g)
    py = pos[None, None, :, None].expand_as(g)
    k = _grid_kernel_1d(g.device, g.dtype)
    den = k @ g @ k.T  # (B, 1, 31, 31)
    gx = k @ (px * g) @ k.T / den
    gy = k @ (py * g) @ k.T / den
    grid = torch.cat([gx, gy], dim=1).mul(2).sub(1).clamp(-1, 1)  # (B, 2, 31, 31)
    grid = F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=True)
    return grid.permute(0, 2, 3, 1).to(saliency.dtype if saliency.is_floating_point() else torch.float32)


def saliency_zoom(
    images: torch.Tensor,
    top_map: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    pixel_centres: bool = True,
) -> torch.Tensor:
    """Zoom each image (B, 3, H, W) towards the salient regions of its top map (B, C, h, w).

    Returns (B, 3, H, W) on the images' device, without gradient. pixel_centres=True reads the grid
    in grid_sample's align_corners=True convention (the Saliency Sampler's PyTorch < 1.3 behaviour:
    a constant saliency map is the identity); False is the align_corners=False call MuiltNet ran
    under PyTorch >= 1.3 (a constant map then shrinks the image by (W-1)/W and blends the borders
    with zero padding).
    """
    if images.ndim != 4 or top_map.ndim != 4 or images.shape[0] != top_map.shape[0]:
        raise ValueError(f"expected images (B,3,H,W) and top_map (B,C,h,w); got {tuple(images.shape)}, "
                         f"{tuple(top_map.shape)}")
    with torch.no_grad():
        d = decide_map(top_map)
        modes = torch.randint(0, 3, (images.shape[0],), generator=generator).tolist()
        sal = torch.stack([saliency_map(d[i], m, generator) for i, m in enumerate(modes)])
        grid = sampling_grid(sal, images.shape[2], images.shape[3]).to(images.dtype)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=pixel_centres)
