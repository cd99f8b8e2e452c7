"""Batched augmentation on the training device for uint8 images from core.data.decoded_cache.

random_resized_crop_flip: per image a crop of 8-100 % of the area with aspect ratio 3/4-4/3 (the
parameters torchvision's RandomResizedCrop draws, ten tries then the whole image), resampled
bilinearly to out_size x out_size with one grid_sample for the whole batch, a horizontal flip with
probability 1/2, then the ImageNet normalisation. It differs from the PIL path in two ways: the crop is
taken from the cached centre square (not the whole photo), and a crop that shrinks is resampled without
antialiasing.

center_crop_normalize: the evaluation view. The cache holds Resize(resize) + CenterCrop(resize), so its
centre image_size crop has exactly the pixels of core.data.transforms.eval_transform, normalised with
the same float operations (ToTensor's / 255, then (x - mean) / std).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from core.data.transforms import IMAGENET_MEAN, IMAGENET_STD

_TRIES = 10
SCALE = (0.08, 1.0)
RATIO = (3 / 4, 4 / 3)


def _normalize(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std)


def crop_boxes(batch: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """(batch, 4) float boxes (top, left, h, w) in pixels, drawn as RandomResizedCrop draws them."""
    device = generator.device
    area = height * width
    target = area * torch.empty(batch, _TRIES, device=device).uniform_(*SCALE, generator=generator)
    log_ratio = torch.empty(batch, _TRIES, device=device).uniform_(math.log(RATIO[0]), math.log(RATIO[1]),
                                                                   generator=generator)
    ratio = torch.exp(log_ratio)
    w = torch.sqrt(target * ratio).round()
    h = torch.sqrt(target / ratio).round()
    ok = (w > 0) & (h > 0) & (w <= width) & (h <= height)
    first = torch.where(ok.any(1), ok.float().argmax(1), torch.full((batch,), -1, device=device))
    pick = first.clamp(min=0)[:, None]
    w = torch.where(first >= 0, w.gather(1, pick)[:, 0], torch.full((batch,), float(width), device=device))
    h = torch.where(first >= 0, h.gather(1, pick)[:, 0], torch.full((batch,), float(height), device=device))
    u = torch.rand(batch, 2, device=device, generator=generator)
    top = torch.floor(u[:, 0] * (height - h + 1))
    left = torch.floor(u[:, 1] * (width - w + 1))
    return torch.stack([top, left, h, w], dim=1)


def random_resized_crop_flip(images: torch.Tensor, out_size: int, generator: torch.Generator) -> torch.Tensor:
    """uint8 (B, 3, H, W) on the generator's device -> normalised float32 (B, 3, out_size, out_size)."""
    b, _, height, width = images.shape
    boxes = crop_boxes(b, height, width, generator)
    flip = torch.rand(b, device=images.device, generator=generator) < 0.5
    top, left, h, w = boxes.unbind(1)
    # affine_grid maps output [-1, 1] to input [-1, 1] (align_corners=False: pixel edges), so a box
    # scales by its size over the image's and shifts to its centre
    theta = torch.zeros(b, 2, 3, device=images.device)
    theta[:, 0, 0] = torch.where(flip, -w / width, w / width)
    theta[:, 0, 2] = (2 * left + w) / width - 1
    theta[:, 1, 1] = h / height
    theta[:, 1, 2] = (2 * top + h) / height - 1
    grid = F.affine_grid(theta, [b, 3, out_size, out_size], align_corners=False)
    x = images.float().div_(255)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return _normalize(x)


def center_crop_normalize(images: torch.Tensor, out_size: int) -> torch.Tensor:
    """uint8 (B, 3, S, S) -> normalised float32 (B, 3, out_size, out_size), the centre crop (CenterCrop's
    offsets: int(round((S - out_size) / 2)))."""
    height, width = images.shape[-2:]
    top = int(round((height - out_size) / 2.0))
    left = int(round((width - out_size) / 2.0))
    x = images[..., top:top + out_size, left:left + out_size].float().div_(255)
    return _normalize(x)
