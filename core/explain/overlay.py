"""Overlay rendering to RGB uint8 arrays and PNG files, shared by the GUI and the CLI (matplotlib-free).

Colormaps are 256-entry RGB look-up tables taken once from OpenCV's built-in maps (`cv2.applyColorMap`
on a 0..255 ramp, converted from BGR). Heat-maps in [0, 1] index the table after rounding.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from core.base.atomic import atomic_write_bytes
from core.base.errors import FghashError

COLORMAPS: dict[str, int] = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "inferno": cv2.COLORMAP_INFERNO,
    "magma": cv2.COLORMAP_MAGMA,
    "plasma": cv2.COLORMAP_PLASMA,
    "hot": cv2.COLORMAP_HOT,
    "bone": cv2.COLORMAP_BONE,
}
ERASED_COLOR = (0, 0, 0)  # SREM erases to the ImageNet mean; black reads better as "removed"
OUTLINE_COLOR = (255, 255, 0)


class ColormapError(FghashError, ValueError):
    """An unknown colormap name."""


@lru_cache(maxsize=None)
def colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 RGB table of the named colormap (one of COLORMAPS)."""
    if name not in COLORMAPS:
        raise ColormapError(f"unknown colormap {name!r}; expected one of {sorted(COLORMAPS)}")
    ramp = np.arange(256, dtype=np.uint8)[:, None]
    lut = cv2.applyColorMap(ramp, COLORMAPS[name])[:, 0, ::-1].copy()
    lut.setflags(write=False)
    return lut


def colorize(heatmap: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """(H, W) float map in [0, 1] (values outside are clipped, NaN -> 0) -> (H, W, 3) uint8 RGB."""
    h = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    idx = np.rint(np.clip(h, 0.0, 1.0) * 255.0).astype(np.uint8)
    return colormap_lut(colormap)[idx]


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    return image


def _check_same_hw(image: np.ndarray, arr: np.ndarray, what: str) -> None:
    if arr.shape[:2] != image.shape[:2]:
        raise ValueError(f"{what} shape {arr.shape[:2]} differs from the image {image.shape[:2]}")


def blend(image: np.ndarray, color: np.ndarray, alpha: float | np.ndarray) -> np.ndarray:
    """(1 - alpha) * image + alpha * color, rounded to uint8; alpha scalar or (H, W) in [0, 1]."""
    a = np.asarray(alpha, dtype=np.float32)
    if a.ndim == 2:
        a = a[..., None]
    out = image.astype(np.float32) * (1.0 - a) + np.asarray(color, dtype=np.float32) * a
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray, *, colormap: str = "jet", alpha: float = 0.5) -> np.ndarray:
    """Colorised heat-map laid over the image with opacity alpha in [0, 1] -> (H, W, 3) uint8."""
    image = _check_image(image)
    _check_same_hw(image, heatmap, "heatmap")
    return blend(image, colorize(heatmap, colormap), float(np.clip(alpha, 0.0, 1.0)))


def mask_outline(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """(H, W) bool: pixels of `mask` within `width` px of a pixel outside it (the image border counts as outside)."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return np.zeros_like(m)
    padded = np.pad(m, 1, constant_values=False).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    eroded = cv2.erode(padded, kernel, iterations=max(1, int(width)))[1:-1, 1:-1].astype(bool)
    return m & ~eroded


def overlay_mask(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    alpha: float = 0.5,
    color: tuple[int, int, int] = ERASED_COLOR,
    outline: tuple[int, int, int] | None = OUTLINE_COLOR,
    outline_width: int = 1,
) -> np.ndarray:
    """Shade the True pixels of an (H, W) bool mask with `color` at opacity alpha and draw their outline."""
    image = _check_image(image)
    mask = np.asarray(mask, dtype=bool)
    _check_same_hw(image, mask, "mask")
    out = image.copy()
    if mask.any():
        out[mask] = blend(image[mask][None], np.asarray(color), float(np.clip(alpha, 0.0, 1.0)))[0]
        if outline is not None:
            out[mask_outline(mask, outline_width)] = np.asarray(outline, dtype=np.uint8)
    return out


def hstack(images: list[np.ndarray], gap: int = 4, fill: int = 255) -> np.ndarray:
    """Images of equal height side by side with `gap` px of `fill` between them."""
    h = images[0].shape[0]
    parts: list[np.ndarray] = []
    for i, im in enumerate(images):
        if im.shape[0] != h:
            raise ValueError("hstack needs images of equal height")
        if i:
            parts.append(np.full((h, gap, 3), fill, np.uint8))
        parts.append(im)
    return np.concatenate(parts, axis=1)


def vstack(images: list[np.ndarray], gap: int = 4, fill: int = 255) -> np.ndarray:
    """Images of equal width stacked top to bottom with `gap` px of `fill` between them."""
    return np.ascontiguousarray(hstack([im.transpose(1, 0, 2) for im in images], gap, fill).transpose(1, 0, 2))


def label(image: np.ndarray, text: str) -> np.ndarray:
    """A copy with `text` in a white strip above the image (Hershey font; no font files needed)."""
    scale = max(0.35, image.shape[1] / 500.0)
    # strip height from a fixed reference string, so labelled tiles of one width line up in hstack
    (_, th), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    strip = np.full((th + base + 6, image.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (3, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def colorbar(height: int, colormap: str = "jet", width: int | None = None) -> np.ndarray:
    """(height, W, 3) uint8: the colormap as a vertical bar (1 at the top, 0 at the bottom) with tick
    labels 1 / 0.5 / 0 on its right. The maps are scaled to [0, 1] per image, so the ticks are relative
    activation, not absolute values."""
    bar_w = max(8, height // 24)
    scale = max(0.35, height / 700.0)
    (tw, th), base = cv2.getTextSize("0.5", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    width = width or bar_w + tw + 12
    out = np.full((height, width, 3), 255, np.uint8)
    pad = th  # room for the top and bottom labels
    ramp = np.linspace(1.0, 0.0, max(1, height - 2 * pad), dtype=np.float32)[:, None].repeat(bar_w, 1)
    out[pad:height - pad, 2:2 + bar_w] = colorize(ramp, colormap)
    for value in (1.0, 0.5, 0.0):
        y = int(round(pad + (1.0 - value) * (height - 2 * pad - 1))) + th // 2
        text = "0.5" if value == 0.5 else f"{value:.0f}"
        cv2.putText(out, text, (bar_w + 6, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 RGB or (H, W) uint8/bool image."""
    arr = np.asarray(image)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(f"PNG needs (H, W, 3) or (H, W) uint8, got {arr.shape} {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., ::-1]  # OpenCV writes BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr))
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB uint8 image as PNG atomically; returns the path."""
    path = Path(path)
    try:
        return atomic_write_bytes(path, encode_png(image))
    except OSError as exc:
        raise FghashError(f"cannot write {path}: {exc.strerror or exc}") from None
