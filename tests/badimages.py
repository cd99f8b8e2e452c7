"""One generator of awkward image files for the bad-input tests (decoding, training, indexing, query, GUI).

    from badimages import write_bad_images, BAD, ODD
    files = write_bad_images(folder)          # {name: Path}; names are the keys of BAD and ODD

BAD files cannot be decoded (load_rgb must raise ImageDecodeError naming them); ODD files are legitimate
images in unusual shapes, modes or sizes (load_rgb must return an RGB image). Everything is written
cheaply: the 20000 x 20000 JPEG is assembled by hand (1.5 MB of zero bits that decode to one grey) and
the 20000 x 20000 PNG is a 1-bit image of one colour (about 50 KB), so no test ever allocates the
1.2 GB such an image takes at full size.

tests/ is on sys.path (pytest puts a rootdir conftest's folder there), so any test can import this module.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# name -> what is wrong with it (an ImageDecodeError is expected)
BAD = {
    "truncated.jpg": "a JPEG cut after 300 bytes",
    "empty.jpg": "zero bytes",
    "text.jpg": "a text file named .jpg",
    "page.png": "an HTML page named .png",
    "huge_header_truncated.jpg": "a JPEG header claiming 20000 x 20000 with almost no data",
    "huge_20000.png": "a 20000 x 20000 PNG (too large to decode at reduced size: refused, never allocated)",
}
# name -> (what it is, expected RGB size (w, h) after load_rgb with max_side=1024)
ODD = {
    "one_pixel.png": ("a 1 x 1 image", (1, 1)),
    "huge_20000.jpg": ("a 20000 x 20000 JPEG (downscaled while decoding)", (1024, 1024)),
    "gray16.png": ("a 16-bit grayscale PNG (mode I;16)", (40, 30)),
    "cmyk.jpg": ("a CMYK JPEG", (40, 30)),
    "animated.gif": ("an animated GIF (first frame is used)", (24, 24)),
    "palette_alpha.png": ("a palette PNG with a transparent colour", (16, 16)),
    "la.png": ("a grayscale + alpha PNG (LA)", (40, 30)),
    "rgba.png": ("an RGBA PNG", (40, 30)),
    "exif_rotated.jpg": ("a 40 x 20 JPEG whose EXIF says rotate 90 degrees", (20, 40)),
}


def write_bad_images(folder: str | Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write the BAD and ODD files (or only `names`) into `folder`; returns {name: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names or [*BAD, *ODD]:
        path = folder / name
        path.write_bytes(image_bytes(name))
        out[name] = path
    return out


def image_bytes(name: str) -> bytes:
    """The encoded bytes of one named BAD or ODD file."""
    return _MAKERS[name]()


def gradient(w: int = 40, h: int = 30) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.uint8)[:, None].repeat(w, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], -1))


def good_image_bytes(seed: int, size: int = 40, fmt: str = "PNG") -> bytes:
    """A small decodable RGB image with random content (for the good images next to the bad ones)."""
    rng = np.random.default_rng(seed)
    return _encode(Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)), fmt)


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", 0xFF00 | marker, len(payload) + 2) + payload


def grey_jpeg(width: int, height: int, scan_bytes: int | None = None) -> bytes:
    """A baseline grayscale JPEG of one grey level, any size, built without encoding pixels.

    Both Huffman tables hold one symbol with the 1-bit code '0' (DC: difference category 0; AC: end of
    block), so every 8 x 8 block is the two bits '00' and the scan is all zero bytes (no 0xFF stuffing).
    scan_bytes: cut the scan short (a header that promises more than the file holds).
    """
    blocks = -(-width // 8) * -(-height // 8)
    scan = bytes(-(-2 * blocks // 8) if scan_bytes is None else scan_bytes)
    one_code = bytes([1] + [0] * 15)  # one code of length 1
    return b"".join([
        b"\xff\xd8",
        _segment(0xDB, b"\x00" + bytes([1] * 64)),  # quantisation table 0: all ones
        _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"),
        _segment(0xC4, b"\x00" + one_code + b"\x00"),  # DC table 0: symbol 0 (difference 0)
        _segment(0xC4, b"\x10" + one_code + b"\x00"),  # AC table 0: symbol 0x00 (end of block)
        _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
        scan,
        b"\xff\xd9",
    ])


def one_colour_png(width: int, height: int) -> bytes:
    """A 1-bit grayscale PNG of one colour (all black), compressed row by row."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = bytes(1 + -(-width // 8))  # filter byte 0 + packed bits
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _truncated_jpeg() -> bytes:
    return _encode(gradient(64, 64), "JPEG", quality=90)[:300]


def _gray16() -> bytes:
    arr = (np.arange(30 * 40, dtype=np.uint32).reshape(30, 40) * 50).astype(np.uint16)
    img = Image.fromarray(arr)
    assert img.mode.startswith("I;16")
    return _encode(img, "PNG")


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (24, 24), c) for c in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buf.getvalue()


def _palette_alpha() -> bytes:
    p = Image.new("P", (16, 16), 0)
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    p.paste(1, (0, 0, 8, 16))
    return _encode(p, "PNG", transparency=0)


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    return _encode(gradient(40, 20), "JPEG", exif=exif.tobytes())


_MAKERS = {
    "truncated.jpg": _truncated_jpeg,
    "empty.jpg": lambda: b"",
    "text.jpg": lambda: b"This is not an image, just some notes someone saved with the wrong name.\n" * 3,
    "page.png": lambda: b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
                        b"<body><h1>Not Found</h1></body></html>\n",
    "huge_header_truncated.jpg": lambda: grey_jpeg(20000, 20000, scan_bytes=2000)[:-2],  # no EOI either
    "huge_20000.png": lambda: one_colour_png(20000, 20000),
    "one_pixel.png": lambda: _encode(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"),
    "huge_20000.jpg": lambda: grey_jpeg(20000, 20000),
    "gray16.png": _gray16,
    "cmyk.jpg": lambda: _encode(gradient().convert("CMYK"), "JPEG"),
    "animated.gif": _animated_gif,
    "palette_alpha.png": _palette_alpha,
    "la.png": lambda: _encode(gradient().convert("LA"), "PNG"),
    "rgba.png": lambda: _encode(gradient().convert("RGBA"), "PNG"),
    "exif_rotated.jpg": _exif_rotated,
}
