"""Robust image decoding: any file a user may point at becomes an RGB PIL image or an ImageDecodeError.

Handles EXIF orientation, grayscale / CMYK / palette / alpha / 16-bit modes, animated images (first
frame), very large images (downscaled while decoding, so a 20000 x 20000 JPEG never allocates 1.2 GB),
and truncated or corrupt files (ImageDecodeError naming the file and the reason).

Size limits, checked on the header before any pixel is decoded:
  - JPEG (and MPO) up to MAX_PIXELS (25000 x 25000): decoded at 1/2..1/8 scale in the DCT domain.
  - every other format up to MAX_FULL_DECODE_PIXELS (8192 x 8192): PNG/GIF/TIFF/WebP/BMP decoders can
    only produce the full image, so a 20000 x 20000 PNG (a few KB when it is one colour) would take
    0.4-1.6 GB; it is refused with an ImageDecodeError instead (a training run skips it, a query says so).
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.base.errors import ImageDecodeError
from core.base.safe_read import MAX_IMAGE_BYTES_ENV, image_byte_limit, read_regular

# Pillow warns above ~89 Mpx and refuses above ~179 Mpx (decompression-bomb guard). Real photos up to
# 20000 x 20000 (400 Mpx) are legitimate here, and we never decode them at full size anyway (draft /
# reduce below), so our own limit is 25000 x 25000, checked on the header before any pixel is decoded.
MAX_PIXELS = 25_000 * 25_000
# Formats without reduced-size decoding are decoded whole: at most 64 Mpx (256 MB as RGBA), and they
# are reduced before any mode conversion, so the peak stays near that.
MAX_FULL_DECODE_PIXELS = 8192 * 8192
_DRAFT_FORMATS = {"JPEG", "MPO"}  # Image.draft decodes these at 1/2, 1/4 or 1/8 scale

# Pillow's limit is a process-wide global read inside Image.open; raising it only around our own
# open() under a lock keeps concurrent decoders (training thread, GUI worker) from racing on it.
_OPEN_LOCK = threading.Lock()

# Pillow reports damaged EXIF / truncated TIFF tags as UserWarnings from its TIFF plugin while still
# decoding the pixels; those images are usable, so the warnings are noise (targeted, not a blanket filter).
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")

# Modes Pillow can convert straight to RGB without losing meaning.
_DIRECT_MODES = {"RGB", "L", "P", "CMYK", "YCbCr", "LAB", "HSV", "1"}


def load_rgb(path: str | Path, max_side: int = 4096) -> Image.Image:
    """Decode `path` to an RGB image whose longer side is at most `max_side` pixels.

    Returns a fully loaded PIL image in mode "RGB" (H x W x 3, uint8), rotated by its EXIF orientation.
    Alpha is composited on white; 16-bit and float images are rescaled to 8 bits.
    Raises ImageDecodeError (naming the file) when the file is missing, empty, truncated or not an image,
    not a regular file (a FIFO or device is refused without reading it), or larger than
    core.base.safe_read.image_byte_limit() (256 MB unless $FGHASH_MAX_IMAGE_BYTES says otherwise).
    """
    path = Path(path)
    data = read_regular(path, what="image", limit=image_byte_limit(), error=ImageDecodeError,
                        hint=f"; set {MAX_IMAGE_BYTES_ENV} (bytes) to read larger images")
    return decode_rgb(data, name=str(path), max_side=max_side)


def decode_rgb(data: bytes, name: str = "<bytes>", max_side: int = 4096) -> Image.Image:
    """Decode encoded image bytes (JPEG, PNG, GIF, WebP, BMP, TIFF...) like `load_rgb`."""
    if not data:
        raise ImageDecodeError(f"cannot decode image {name}: the file is empty (0 bytes)")
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1; got {max_side}")
    try:
        with _open_unlimited(io.BytesIO(data)) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageDecodeError(f"too large ({w} x {h} pixels; the limit is {MAX_PIXELS:,} pixels)")
            if w * h > MAX_FULL_DECODE_PIXELS and img.format not in _DRAFT_FORMATS:
                raise ImageDecodeError(
                    f"too large to decode ({w} x {h} pixels {img.format}; {img.format} images are decoded at "
                    f"full size, up to {MAX_FULL_DECODE_PIXELS:,} pixels; JPEGs up to {MAX_PIXELS:,} pixels "
                    f"are downscaled while decoding): shrink it or save it as JPEG")
            return _to_rgb(img, max_side)
    except ImageDecodeError as exc:
        raise ImageDecodeError(f"cannot decode image {name}: {exc}") from None
    except UnidentifiedImageError:
        raise ImageDecodeError(f"cannot decode image {name}: not a recognised image format") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, KeyError, RuntimeError,
            ZeroDivisionError, OverflowError, MemoryError, AttributeError, struct.error, Warning) as exc:
        # Pillow's decoders raise a zoo of exception types on damaged files (and warnings, when a caller
        # runs with warnings as errors).
        reason = str(exc) or type(exc).__name__
        raise ImageDecodeError(f"cannot decode image {name}: {reason} (truncated or corrupt file?)") from None


def _open_unlimited(stream: io.BytesIO) -> Image.Image:
    """Image.open without Pillow's bomb check (we apply MAX_PIXELS ourselves right after)."""
    with _OPEN_LOCK:
        old_limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(stream)
        finally:
            Image.MAX_IMAGE_PIXELS = old_limit


# EXIF orientation tag values -> the transpose that shows the image upright (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Modes Image.reduce handles; others (P, 1, I;16...) are converted before reducing.
_REDUCIBLE = {"L", "LA", "RGB", "RGBA", "I", "F"}


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a damaged EXIF block must not make a decodable image unusable
        return 1


def _to_rgb(img: Image.Image, max_side: int) -> Image.Image:
    if getattr(img, "is_animated", False):
        img.seek(0)  # animated GIF/WebP/APNG: the first frame
    orientation = _orientation(img)  # read before any reduce: derived images drop the EXIF block
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageDecodeError("image has zero size")
    if img.format in _DRAFT_FORMATS and max(w, h) > max_side:
        # DCT-domain downscale by 1/2, 1/4 or 1/8 while decoding: a 20000 x 20000 JPEG never
        # allocates its full 1.2 GB. Rotation does not change the longer side, so this is safe pre-EXIF.
        scale = max_side / max(w, h)
        img.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
    img.load()
    source_mode = img.mode
    factor = max(img.size) // max_side
    if factor >= 2:
        # Shrink before the RGB conversion (alpha compositing, 16-bit scaling), so a large palette or
        # 1-bit image is never expanded to full-size RGBA and float copies; only a lossless move to the
        # nearest mode Image.reduce accepts happens at full size.
        if img.mode not in _REDUCIBLE:
            img = img.convert(_reducible_mode(img))
        img = img.reduce(factor)  # cheap box reduction first, then an exact resize below
    img = _mode_to_rgb(img, sixteen_bit=source_mode.startswith("I;16"))
    if max(w, h) > max_side:
        # The target comes from the original size: draft and reduce round their sizes (900 x 600 at 1/8
        # is 113 x 75), which must not skew the aspect ratio of the result.
        scale = max_side / max(w, h)
        target = (max(1, round(w * scale)), max(1, round(h * scale)))
        if img.size != target:
            img = img.resize(target, Image.Resampling.BILINEAR)
    if orientation in _ORIENTATION:
        img = img.transpose(_ORIENTATION[orientation])
    return img


def _reducible_mode(img: Image.Image) -> str:
    """The mode a non-reducible image converts to without losing alpha, bit depth or grey levels."""
    mode = img.mode
    if mode == "1":
        return "L"
    if mode.startswith("I;16"):
        return "I"
    if mode in ("PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        return "RGBA"
    return "RGB"


def _mode_to_rgb(img: Image.Image, sixteen_bit: bool = False) -> Image.Image:
    """RGB of any mode. sixteen_bit: the pixels came from a 16-bit image (scale by 65535, not 255)."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in _DIRECT_MODES:
        return img.convert("RGB")
    # 16-bit / 32-bit / float single-channel modes ("I;16", "I;16B", "I", "F"): stretch to 0..255 by
    # the type's range, not by the image's own min/max, so dark images stay dark.
    arr = np.asarray(img)
    if arr.ndim == 3:  # e.g. 16-bit RGB delivered as a 3-channel array
        arr = arr[..., :3]
    if arr.dtype.kind == "f":
        arr = np.clip(np.nan_to_num(arr), 0.0, 1.0 if arr.max(initial=0) <= 1.0 else 255.0)
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
        arr8 = (arr * scale).astype(np.uint8)
    else:
        maxval = 65535 if arr.max(initial=0) > 255 or mode.startswith("I;16") or sixteen_bit else 255
        arr8 = (np.clip(arr, 0, maxval).astype(np.float64) * (255.0 / maxval)).round().astype(np.uint8)
    out = Image.fromarray(arr8)
    return out.convert("RGB")
