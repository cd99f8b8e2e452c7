"""What every figure shares: a pyplot-free matplotlib Figure (Agg canvas, so any thread may draw one and no
GUI toolkit is touched), saving by file suffix, and loading images as square thumbnails.

Vector formats (PDF, SVG) keep text, frames and curves as vectors; photographs inside them stay raster at
their own resolution. PNG is rendered at the requested dpi.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.text import Text

from core.base.atomic import atomic_write_bytes
from core.base.errors import FghashError

FORMATS = ("pdf", "svg", "png")
CORRECT_COLOR = "#1a9641"  # green frame: same class as the query (the GUI grid's colours)
WRONG_COLOR = "#d7191c"  # red frame: another class
DEFAULT_DPI = 200
MAX_PIXELS = 200 * 10**6  # a PNG this large takes 800 MB as RGBA while it is drawn


class FigureError(FghashError, ValueError):
    """A figure request that cannot be drawn (an unknown format, no runs, a query index out of range)."""


def new_figure(width_in: float, height_in: float) -> Figure:
    """A Figure on its own Agg canvas (not registered with pyplot: nothing global, thread-safe)."""
    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    return fig


def figure_format(path: str | Path) -> str:
    """The output format named by the file suffix (pdf, svg or png); FigureError otherwise."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise FigureError(f"cannot tell the figure format from {str(path)!r}: end the file name in "
                          f"{', '.join('.' + f for f in FORMATS)}")
    return suffix


def save_figure(fig: Figure, path: str | Path, dpi: int = DEFAULT_DPI) -> Path:
    """Write `fig` to `path` in the format its suffix names; dpi applies to PNG and to raster images
    embedded in PDF/SVG. Written atomically (a temporary file renamed), so a reader never sees half a file."""
    fmt = figure_format(path)
    if dpi < 10 or dpi > 2400:
        raise FigureError(f"--dpi must lie between 10 and 2400; got {dpi}")
    width_in, height_in = fig.get_size_inches()
    pixels = width_in * height_in * dpi * dpi
    if fmt == "png" and pixels > MAX_PIXELS:
        raise FigureError(f"a {width_in:.1f} x {height_in:.1f} inch figure at {dpi} dpi would be "
                          f"{pixels / 1e6:.0f} megapixels, over the {MAX_PIXELS // 10**6} megapixel limit; "
                          f"lower --dpi (at most {int((MAX_PIXELS / (width_in * height_in)) ** 0.5)} here)")
    # Run names, class names and dataset kinds are user text: "$...$" in one must print as itself, never
    # go to mathtext (which raised ParseSyntaxException, or RecursionError when deeply nested).
    for text in fig.findobj(Text):
        text.set_parse_math(False)
    buffer = io.BytesIO()
    # No timestamps in vector files: the same figure gives the same bytes.
    metadata = {"png": {"Software": "fghash"}, "pdf": {"Creator": "fghash", "CreationDate": None},
                "svg": {"Creator": "fghash", "Date": None}}[fmt]
    try:
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata, bbox_inches="tight", pad_inches=0.05)
    except MemoryError:
        raise FigureError(f"not enough memory to render the figure at {dpi} dpi; lower --dpi") from None
    out = Path(path)
    try:
        atomic_write_bytes(out, buffer.getvalue())
    except OSError as exc:
        raise FigureError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def square_thumbnail(path: str | Path, side: int, crop_bottom: int = 0) -> np.ndarray:
    """(side, side, 3) uint8: the image file's centre square (after cutting `crop_bottom` pixels off the
    bottom, as the run's dataset does, e.g. the aircraft banner), resized. ImageDecodeError names an
    unreadable file."""
    from PIL import Image

    from core.data.images import load_rgb
    from core.data.transforms import crop_bottom as cut_bottom

    image = cut_bottom(load_rgb(path), crop_bottom)
    w, h = image.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return np.asarray(image.crop((left, top, left + s, top + s)).resize((side, side), Image.BICUBIC))


def colormap(name: str) -> ListedColormap:
    """The app's colormap (core.explain.overlay's OpenCV table) as a matplotlib colormap, so the colour
    bar shows exactly the colours the overlays use."""
    from core.explain.overlay import colormap_lut

    return ListedColormap(colormap_lut(name) / 255.0, name=name)


def short_class_name(text: str, width: int = 18) -> str:
    """Class names such as `001.Black_footed_Albatross` fit under a thumbnail: the numeric prefix goes,
    underscores become spaces, and the rest wraps onto at most two lines (cut with … beyond)."""
    import re
    import textwrap

    text = re.sub(r"^\d+\.", "", text).replace("_", " ").strip()
    lines = textwrap.wrap(text, width) or [""]
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), width, placeholder="…")]
    return "\n".join(lines)


def default_run_labels(run_ids: Sequence[str]) -> list[str]:
    """Short labels for runs: method and bits from the run id (`20261127-1443-fcaenet-cub-12b-be9e` ->
    `fcaenet 12b`), the full id where two would read the same."""
    short = []
    for run_id in run_ids:
        parts = run_id.split("-")
        short.append(f"{parts[2]} {parts[4]}" if len(parts) >= 6 else run_id)
    return short if len(set(short)) == len(short) else list(run_ids)
