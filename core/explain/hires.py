"""Explanations drawn at the original file's resolution over the same region the network saw.

The network sees Resize(resize_size) of the shorter side then CenterCrop(image_size): a 96-224 px
square. Drawing a map on that crop gives small, blocky figures (a 196x114 px PNG from a 4000 px
photo). Here the same region is cut from the decoded file itself (`eval_crop_box` maps the crop back
through torchvision's rounding), scaled to the requested output size, and every map of the
Explanation is resized onto it: heat-maps bilinearly (they are already smooth upsamplings of a 7x7 to
28x28 feature map, so no detail is invented), masks with nearest neighbour (the squares stay squares),
and the SREM erased image is re-made from the sharp region with the erased pixels' fill colour.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from core.data.transforms import crop_bottom as cut_bottom
from core.explain.images import ImageSource, to_rgb_pil
from core.explain.types import Explanation, ExtraMap

MAX_OUTPUT_SIDE = 4096


def eval_crop_box(width: int, height: int, image_size: int, resize_size: int) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) in original pixels of the region that eval_transform keeps.

    Mirrors torchvision: Resize(int) sets the shorter side to resize_size and the longer to
    int(resize_size * long / short); CenterCrop takes int(round((side - image_size) / 2)) off the start.
    """
    if width <= height:
        new_w, new_h = resize_size, int(resize_size * height / width)
    else:
        new_w, new_h = int(resize_size * width / height), resize_size
    sx, sy = new_w / width, new_h / height
    left = int(round((new_w - image_size) / 2.0)) / sx
    top = int(round((new_h - image_size) / 2.0)) / sy
    return left, top, left + image_size / sx, top + image_size / sy


def file_region(source: ImageSource, image_size: int, resize_size: int, crop_bottom: int = 0,
                out_size: int | None = None) -> np.ndarray:
    """(S, S, 3) uint8: the eval crop's region cut from the decoded file, S = out_size (None: the
    region's own size in file pixels, at least image_size; capped at MAX_OUTPUT_SIDE)."""
    pil, _ = to_rgb_pil(source)
    pil = cut_bottom(pil, crop_bottom)
    box = eval_crop_box(pil.width, pil.height, image_size, resize_size)
    native = round(box[2] - box[0])
    side = int(min(MAX_OUTPUT_SIDE, out_size if out_size else max(native, image_size)))
    region = pil.resize((side, side), Image.Resampling.LANCZOS, box=box)
    return np.asarray(region, dtype=np.uint8)


def at_resolution(expl: Explanation, image: np.ndarray) -> Explanation:
    """`expl` with its image replaced by `image` (the same region, another size) and every map resized."""
    side_h, side_w = image.shape[:2]

    def resized(arr: np.ndarray, name: str = "") -> np.ndarray:
        if arr.dtype == np.bool_:
            return cv2.resize(arr.astype(np.uint8), (side_w, side_h), interpolation=cv2.INTER_NEAREST).astype(bool)
        if arr.ndim == 3 and name == "erased" and expl.mask is not None and expl.mask.any():
            fill = arr[expl.mask][0]  # the colour SREM erased to (ImageNet mean or black)
            out = image.copy()
            out[resized(expl.mask)] = fill
            return out
        if arr.ndim == 3:
            return cv2.resize(arr, (side_w, side_h), interpolation=cv2.INTER_LINEAR)
        return np.clip(cv2.resize(arr.astype(np.float32), (side_w, side_h), interpolation=cv2.INTER_LINEAR), 0, 1)

    return Explanation(
        kind=expl.kind, image=image,
        heatmap=None if expl.heatmap is None else resized(expl.heatmap),
        mask=None if expl.mask is None else resized(expl.mask),
        extras=tuple(ExtraMap(e.name, resized(e.array, e.name)) for e in expl.extras),
        method=expl.method, score=expl.score, regions=expl.regions, size=expl.size,
    )
