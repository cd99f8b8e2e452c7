"""Turn whatever the user points at (file, PIL image, numpy array) into the network's input and the view shown.

The view is the evaluation crop the network sees (Resize(resize_size) of the shorter side, CenterCrop
(image_size)), rendered back to RGB uint8 by undoing the normalisation, so every explanation map lines
up pixel for pixel with the image displayed under it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.base.errors import ImageDecodeError
from core.data.images import load_rgb
from core.data.transforms import crop_bottom as cut_bottom
from core.data.transforms import denormalize, eval_transform

MAX_SIDE = 4096  # as core.data.images.load_rgb: the eval crop is 224-336 px, more detail is wasted
ImageSource = str | Path | Image.Image | np.ndarray


@dataclass(frozen=True)
class PreparedImage:
    """tensor: (1, 3, S, S) normalised float32 network input; image: (S, S, 3) uint8 RGB view of it."""

    tensor: torch.Tensor = field(repr=False)
    image: np.ndarray = field(repr=False)
    name: str = "<image>"


def to_rgb_pil(source: ImageSource) -> tuple[Image.Image, str]:
    """An RGB PIL image (longer side <= MAX_SIDE) and a name for messages.

    Files go through core.data.images.load_rgb (EXIF, odd modes, corrupt files). In-memory images:
    alpha is composited on white like load_rgb does, grayscale is replicated to three channels.
    Raises ImageDecodeError for anything else.
    """
    if isinstance(source, (str, Path)):
        return load_rgb(source, max_side=MAX_SIDE), str(source)
    if isinstance(source, np.ndarray):
        return _array_to_pil(source), f"<array {source.shape} {source.dtype}>"
    if isinstance(source, Image.Image):
        return _pil_to_rgb(source), "<PIL image>"
    raise ImageDecodeError(f"cannot explain a {type(source).__name__}: expected an image path, PIL image or array")


def _pil_to_rgb(img: Image.Image) -> Image.Image:
    if img.width < 1 or img.height < 1:
        raise ImageDecodeError(f"cannot explain an empty image ({img.width}x{img.height})")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    elif img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        return _array_to_pil(np.asarray(img))
    rgb = img.convert("RGB")
    if max(rgb.size) > MAX_SIDE:
        rgb = rgb.copy()
        rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    return rgb


def _array_to_pil(arr: np.ndarray) -> Image.Image:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 / integer / float-in-[0, 1] array -> RGB PIL image."""
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or 0 in a.shape:
        raise ImageDecodeError(f"cannot explain an array of shape {a.shape}: expected (H, W), (H, W, 3) or (H, W, 4)")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        a = np.clip(np.nan_to_num(a.astype(np.float32)), 0.0, 1.0) * 255.0
        a = np.rint(a).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.integer) and a.dtype != np.uint8:
        top = float(a.max()) if a.size else 0.0
        scale = 255.0 / top if top > 255 else 1.0  # 16-bit scans: rescale, keep 8-bit-range data as is
        a = np.clip(np.rint(a.astype(np.float64) * scale), 0, 255).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise ImageDecodeError(f"cannot explain an array of dtype {a.dtype}")
    # uint8 (H, W) / (H, W, 3) / (H, W, 4) -> Pillow infers L / RGB / RGBA
    return _pil_to_rgb(Image.fromarray(np.ascontiguousarray(a)))


def tensor_to_uint8(tensor: torch.Tensor) -> np.ndarray:
    """(3, H, W) normalised tensor -> (H, W, 3) uint8 RGB (the inverse of ToTensor + Normalize)."""
    rgb = denormalize(tensor.detach().float().cpu())
    return np.rint(rgb.permute(1, 2, 0).numpy() * 255.0).astype(np.uint8)


def prepare_image(source: ImageSource, image_size: int = 224, resize_size: int = 256,
                  crop_bottom: int = 0) -> PreparedImage:
    """Evaluation input (1, 3, S, S) and its RGB view (S, S, 3), S = image_size. crop_bottom: pixels the
    dataset cuts off the bottom first (the aircraft banner), as training and encoding do."""
    pil, name = to_rgb_pil(source)
    pil = cut_bottom(pil, crop_bottom)
    tensor = eval_transform(image_size, resize_size)(pil)
    return PreparedImage(tensor=tensor[None], image=tensor_to_uint8(tensor), name=name)
