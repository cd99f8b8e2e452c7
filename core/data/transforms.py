"""Image transforms with the papers' settings (PIL RGB image -> normalised float tensor (3, S, S)).

Train: RandomResizedCrop(image_size) + RandomHorizontalFlip + ToTensor + ImageNet normalisation
(FCAENet / ADSH / SEMICON training code). Eval: Resize(resize_size) (shorter side) + CenterCrop(image_size)
+ ToTensor + normalisation. Paper defaults: 224 / 256 (FCAENet, ADSH), 336 / 356 (Multi-FusNet).
"""

from __future__ import annotations

import torch
from PIL import Image
from torchvision import transforms as T

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize() -> T.Normalize:
    return T.Normalize(IMAGENET_MEAN, IMAGENET_STD)


def train_transform(image_size: int = 224) -> T.Compose:
    """Random crop of 8-100 % of the area resized to image_size x image_size, random flip, normalise."""
    _check_size(image_size)
    return T.Compose([
        T.RandomResizedCrop(image_size),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        normalize(),
    ])


def eval_transform(image_size: int = 224, resize_size: int = 256) -> T.Compose:
    """Resize the shorter side to resize_size, centre-crop image_size x image_size, normalise."""
    _check_size(image_size)
    if resize_size < image_size:
        raise ValueError(f"resize_size ({resize_size}) must be >= image_size ({image_size})")
    return T.Compose([
        T.Resize(resize_size),
        T.CenterCrop(image_size),
        T.ToTensor(),
        normalize(),
    ])


def crop_bottom(image: Image.Image, pixels: int) -> Image.Image:
    """Cut `pixels` rows off the bottom (FGVC-Aircraft banner); never leaves less than one row."""
    if pixels <= 0:
        return image
    w, h = image.size
    return image.crop((0, 0, w, max(1, h - pixels)))


def denormalize(tensor: torch.Tensor) -> torch.Tensor:
    """Undo the ImageNet normalisation: (..., 3, H, W) -> values in [0, 1] (clamped) for display."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=tensor.dtype, device=tensor.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=tensor.dtype, device=tensor.device).view(3, 1, 1)
    return (tensor * std + mean).clamp(0.0, 1.0)


def _check_size(image_size: int) -> None:
    if image_size < 1:
        raise ValueError(f"image_size must be >= 1; got {image_size}")
