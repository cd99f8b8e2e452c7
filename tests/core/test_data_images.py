"""Robust decoding (core.data.images.load_rgb): odd modes, EXIF, damaged files, huge headers, fuzzing."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from badimages import BAD, ODD, grey_jpeg, write_bad_images
from PIL import Image

from core.base.errors import ImageDecodeError
from core.data.images import decode_rgb, load_rgb


def _save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


def _gradient(w: int = 48, h: int = 32) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.uint8)[:, None].repeat(w, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], -1))


def test_rgb_jpeg_roundtrip(tmp_path):
    img = load_rgb(_save(_gradient(), tmp_path / "a.jpg", quality=95))
    assert img.mode == "RGB" and img.size == (48, 32)


@pytest.mark.parametrize("mode", ["L", "1", "CMYK", "LA", "RGBA", "I"])
def test_modes_become_rgb(tmp_path, mode):
    ext = {"CMYK": "jpg", "I": "tif"}.get(mode, "png")
    src = _gradient().convert(mode) if mode not in ("LA", "RGBA", "I") else _gradient().convert(
        {"LA": "LA", "RGBA": "RGBA", "I": "L"}[mode])
    if mode == "I":
        src = src.convert("I")
    img = load_rgb(_save(src, tmp_path / f"m.{ext}"))
    assert img.mode == "RGB" and img.size == (48, 32)


def test_palette_with_transparency_composited_on_white(tmp_path):
    p = Image.new("P", (8, 8), 0)
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    p.paste(1, (0, 0, 4, 8))
    p.info["transparency"] = 0  # the red half is fully transparent
    img = load_rgb(_save(p, tmp_path / "p.png", transparency=0))
    arr = np.asarray(img)
    assert tuple(arr[0, 6]) == (255, 255, 255)  # transparent -> white background
    assert tuple(arr[0, 1]) == (0, 0, 255)


def test_16bit_png_scaled_by_type_range(tmp_path):
    arr16 = np.full((10, 12), 65535, dtype=np.uint16)
    arr16[:, :6] = 32768
    path = tmp_path / "g16.png"
    Image.fromarray(arr16).save(path)
    assert Image.open(path).mode.startswith("I")
    out = np.asarray(load_rgb(path))
    assert out.shape == (10, 12, 3)
    assert out[0, 0, 0] == 128 and out[0, 11, 0] == 255


def test_exif_rotation_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    path = _save(img, tmp_path / "rot.jpg", exif=exif.tobytes())
    assert load_rgb(path).size == (20, 40)


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    arr = np.asarray(load_rgb(path))
    assert arr[8, 8, 0] > 200 and arr[8, 8, 1] < 50


def test_one_pixel_image(tmp_path):
    img = load_rgb(_save(Image.new("RGB", (1, 1), (1, 2, 3)), tmp_path / "1.png"))
    assert img.size == (1, 1) and img.getpixel((0, 0)) == (1, 2, 3)


def test_large_image_downscaled(tmp_path):
    path = _save(_gradient(1200, 600), tmp_path / "big.jpg")
    img = load_rgb(path, max_side=256)
    assert max(img.size) == 256 and img.size[0] == 2 * img.size[1]
    png = load_rgb(_save(_gradient(900, 300), tmp_path / "big.png"), max_side=100)
    assert png.size == (100, 33) or png.size == (100, 34)


@pytest.mark.parametrize("content, why", [(b"", "empty"), (b"not an image at all", "not a recognised")])
def test_empty_and_garbage_files(tmp_path, content, why):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageDecodeError, match=why) as info:
        load_rgb(path)
    assert str(path) in str(info.value)


def test_truncated_jpeg(tmp_path):
    data = (tmp_path / "t.jpg")
    _save(_gradient(64, 64), data, quality=90)
    data.write_bytes(data.read_bytes()[:300])
    with pytest.raises(ImageDecodeError, match="t.jpg"):
        load_rgb(data)


def test_missing_file(tmp_path):
    with pytest.raises(ImageDecodeError, match="cannot read image"):
        load_rgb(tmp_path / "nope.jpg")


def _png_header_claiming(w: int, h: int) -> bytes:
    """A PNG whose (valid, checksummed) header claims w x h but holds a few bytes of pixels."""
    buf = io.BytesIO()
    Image.new("L", (2, 2)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = struct.pack(">II", w, h) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


def test_huge_header_is_not_a_bomb_error_but_a_decode_error():
    # A 20000 x 20000 JPEG is allowed past the bomb guard (decoded at 1/8 scale; this one then fails as
    # truncated); a PNG that size cannot be decoded at reduced size and is refused from its header;
    # 40000^2 is refused whatever the format.
    with pytest.raises(ImageDecodeError) as ok_size:
        decode_rgb(grey_jpeg(20000, 20000, scan_bytes=100)[:-2], name="h.jpg")
    assert "too large" not in str(ok_size.value) and "truncated" in str(ok_size.value)
    with pytest.raises(ImageDecodeError, match="too large to decode .*20000 x 20000 pixels PNG"):
        decode_rgb(_png_header_claiming(20000, 20000), name="h.png")
    with pytest.raises(ImageDecodeError, match="too large"):
        decode_rgb(_png_header_claiming(40000, 40000), name="h.png")
    with pytest.raises(ImageDecodeError, match="too large"):
        decode_rgb(grey_jpeg(40000, 40000, scan_bytes=100), name="h.jpg")


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_raise_decode_error_naming_the_file(tmp_path, name):
    path = write_bad_images(tmp_path, [name])[name]
    with pytest.raises(ImageDecodeError) as info:
        load_rgb(path, max_side=1024)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_files_decode_to_rgb(tmp_path, name):
    path = write_bad_images(tmp_path, [name])[name]
    img = load_rgb(path, max_side=1024)
    assert img.mode == "RGB" and img.size == ODD[name][1]


_PEAK_RSS = """
import resource, sys
from core.data.images import load_rgb
from core.base.errors import ImageDecodeError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    print(load_rgb(sys.argv[1], max_side=int(sys.argv[2])).size)
except ImageDecodeError as exc:
    print("error:", exc)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.parametrize("name, max_side", [("huge_20000.jpg", 1024), ("huge_20000.jpg", 4096),
                                            ("huge_20000.png", 1024)])
def test_20000_pixel_images_never_allocate_the_full_image(tmp_path, name, max_side):
    """Peak memory of decoding in a fresh process: 20000 x 20000 is 400 MB as L and 1.2 GB as RGB."""
    path = write_bad_images(tmp_path, [name])[name]
    out = subprocess.run([sys.executable, "-c", _PEAK_RSS, str(path), str(max_side)], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).resolve().parents[2]).stdout.splitlines()
    if name in BAD:
        assert out[0].startswith("error:") and "too large to decode" in out[0]
    else:
        assert out[0] == f"({max_side}, {max_side})"
    assert int(out[1]) < 300, f"decoding {name} grew the process by {out[1]} MB"


def test_large_16bit_and_palette_images_reduced_before_conversion(tmp_path):
    # Reduced in a mode that keeps the 16-bit range: a dark 16-bit image (all values <= 255 of 65535)
    # stays dark, as it does at full size; a palette image with transparency still composites on white.
    dark = np.full((300, 400), 200, dtype=np.uint16)
    Image.fromarray(dark).save(tmp_path / "dark16.png")
    small, reduced = load_rgb(tmp_path / "dark16.png"), load_rgb(tmp_path / "dark16.png", max_side=100)
    assert reduced.size == (100, 75)
    assert np.asarray(small).max() <= 1 and np.asarray(reduced).max() <= 1
    p = Image.new("P", (400, 200), 0)
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    p.paste(1, (0, 0, 200, 200))
    p.save(tmp_path / "pal.png", transparency=0)
    arr = np.asarray(load_rgb(tmp_path / "pal.png", max_side=100))
    assert arr.shape == (50, 100, 3)
    assert tuple(arr[25, 10]) == (0, 0, 255) and tuple(arr[25, 90]) == (255, 255, 255)


# Fuzzing of the decoder (random and mutated bytes): tests/core/test_data_fuzz.py
