"""The built-in demo dataset: 10 synthetic "bird" species, 24 train + 16 test images each, 96 x 96 JPEGs.

Fine-grained in spirit: every class shares the body shape, body colour and background style; classes
differ only in small details (the colour of a wing patch and whether the head carries a stripe and
where a breast spot sits). Each image varies in pose (shift, scale, rotation, mirror), lighting, colour
cast, background clutter and noise, so retrieval is learnable but not trivial. Generated on first use,
deterministically from a seed, into the user cache dir ($FGHASH_CACHE, else platformdirs'
user_cache_dir("fghash")), atomically (written to a temp folder, then renamed).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from core.data import folder
from core.data.common import Totals
from core.data.records import DatasetIndex

KIND = "demo"
VERSION = 2  # bump when the generator changes, so old caches are not reused
IMAGE_SIZE = 96
TRAIN_PER_CLASS = 24
TEST_PER_CLASS = 16
_SCALE = 1  # draw at the output size: 4x faster than supersampling, and JPEG softens the edges anyway
MARKER = "fghash-demo.json"

class DemoClass(NamedTuple):
    """One demo species: the traits that tell it from the others (everything else is shared)."""

    name: str
    patch_rgb: tuple[int, int, int]  # the wing patch's colour
    striped: bool  # a white stripe over the head
    spot_position: float  # the breast spot's height, as a fraction of the body width (0.15 high, -0.25 low)


CLASSES = (
    DemoClass("crimson_patch", (200, 40, 40), False, 0.15),
    DemoClass("crimson_patch_striped", (200, 40, 40), True, 0.15),
    DemoClass("azure_patch", (40, 90, 210), False, 0.15),
    DemoClass("azure_patch_striped", (40, 90, 210), True, 0.15),
    DemoClass("gold_patch", (225, 185, 30), False, 0.15),
    DemoClass("gold_patch_striped", (225, 185, 30), True, 0.15),
    DemoClass("crimson_patch_lowspot", (200, 40, 40), False, -0.25),
    DemoClass("azure_patch_lowspot", (40, 90, 210), False, -0.25),
    DemoClass("gold_patch_lowspot", (225, 185, 30), False, -0.25),
    DemoClass("jade_patch", (40, 170, 90), False, 0.15),
)
TOTALS = Totals(classes=len(CLASSES), train=len(CLASSES) * TRAIN_PER_CLASS, test=len(CLASSES) * TEST_PER_CLASS)

LAYOUT = (
    f"generated automatically: CACHE/demo-v{VERSION}-seed<seed>/train/<NN_class>/*.jpg and test/<NN_class>/*.jpg "
    f"({TOTALS.classes} classes x ({TRAIN_PER_CLASS} train + {TEST_PER_CLASS} test) {IMAGE_SIZE}x{IMAGE_SIZE} JPEGs); "
    "no root needed (a root given is read with the folder layout and the demo totals)"
)


def cache_dir() -> Path:
    """$FGHASH_CACHE if set, else the platform's user cache dir for fghash."""
    env = os.environ.get("FGHASH_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("fghash"))


def demo_root(seed: int = 0) -> Path:
    """The demo dataset folder for `seed`, generated on first use (about a second)."""
    root = cache_dir() / f"demo-v{VERSION}-seed{seed}"
    if (root / MARKER).is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".demo-seed{seed}-", dir=root.parent))
    try:
        generate(tmp, seed)
        if root.exists() and not (root / MARKER).is_file():
            shutil.rmtree(root, ignore_errors=True)  # a broken leftover from an older crash
        try:
            os.rename(tmp, root)
        except OSError:
            if not (root / MARKER).is_file():  # another process won the race only if it finished
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def load(root: str | Path | None = None, allow_missing: bool = False, seed: int = 0) -> DatasetIndex:
    """The demo set as a DatasetIndex (generating it if needed); `root` overrides the cache location."""
    path = Path(root) if root is not None else demo_root(seed)
    return folder.scan(path, allow_missing, kind=KIND, totals=TOTALS, layout=LAYOUT)


def generate(out: Path, seed: int) -> None:
    """Write the whole demo set under `out` (train/, test/, and the marker file last)."""
    for label, spec in enumerate(CLASSES):
        class_dir = f"{label:02d}_{spec.name}"
        for split, count, offset in (("train", TRAIN_PER_CLASS, 0), ("test", TEST_PER_CLASS, TRAIN_PER_CLASS)):
            target = out / split / class_dir
            target.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                rng = np.random.default_rng([seed, label, offset + i])
                image = render(spec, rng)
                image.save(target / f"{spec.name}_{offset + i:03d}.jpg", quality=int(rng.integers(85, 96)))
    info = {"version": VERSION, "seed": seed, "classes": [c.name for c in CLASSES],
            "train_per_class": TRAIN_PER_CLASS, "test_per_class": TEST_PER_CLASS, "image_size": IMAGE_SIZE}
    (out / MARKER).write_text(json.dumps(info, indent=2, allow_nan=False), encoding="utf-8")


def render(spec: DemoClass, rng: np.random.Generator) -> Image.Image:
    """One 96 x 96 RGB image of the class `spec` with random pose, lighting and background."""
    size = IMAGE_SIZE * _SCALE
    canvas = _background(size, rng)
    bird = _bird_layer(size, spec, rng)
    # Pose: scale, rotation, mirror and shift of the whole bird layer.
    scale = rng.uniform(0.75, 1.12)
    # Bilinear is enough at 2x supersampling and twice as fast as bicubic (generation time matters in tests).
    bird = bird.resize((round(size * scale),) * 2, Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        bird = bird.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    bird = bird.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BILINEAR)
    max_shift = 0.12 * size
    x = round((size - bird.width) / 2 + rng.uniform(-max_shift, max_shift))
    y = round((size - bird.height) / 2 + rng.uniform(-max_shift, max_shift))
    canvas.paste(bird, (x, y), bird)  # paste (not alpha_composite) accepts offsets outside the frame
    image = canvas.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    return _lighting(image, rng)


def _background(size: int, rng: np.random.Generator) -> Image.Image:
    # Shared style: a sky-to-foliage vertical gradient, jittered per image, plus blurred clutter blobs.
    top = np.array([150, 185, 215]) + rng.normal(0, 15, 3)
    bottom = np.array([95, 130, 80]) + rng.normal(0, 15, 3)
    t = np.linspace(0, 1, size)[:, None, None] ** rng.uniform(0.6, 1.6)
    grad = np.broadcast_to(top * (1 - t) + bottom * t, (size, size, 3)).astype(np.float32)
    img = Image.fromarray(np.clip(grad, 0, 255).astype(np.uint8)).convert("RGBA")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 9))):
        cx, cy = rng.uniform(0, size, 2)
        r = rng.uniform(0.03, 0.12) * size
        shade = tuple(int(v) for v in np.clip(rng.normal(110, 35, 3), 0, 255)) + (255,)
        draw.ellipse((cx - r, cy - r * rng.uniform(0.4, 1.0), cx + r, cy + r), fill=shade)
    return img.filter(ImageFilter.GaussianBlur(rng.uniform(2.0, 5.0)))


def _bird_layer(size: int, spec: DemoClass, rng: np.random.Generator) -> Image.Image:
    """The bird in canonical pose (facing right) on a transparent layer of size x size."""
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    s = size / 192  # all coordinates below are for a 192-px layer
    body_rgb = tuple(int(v) for v in np.clip(np.array([120, 100, 80]) + rng.normal(0, 10, 3), 0, 255))
    dark = tuple(max(0, c - 50) for c in body_rgb)
    cx, cy = 92 * s, 100 * s
    # Tail, legs, body, head, beak, eye: identical for every class.
    d.polygon([(cx - 50 * s, cy - 5 * s), (cx - 85 * s, cy - 25 * s), (cx - 85 * s, cy + 12 * s)], fill=dark)
    for lx in (-8, 10):
        d.line([(cx + lx * s, cy + 25 * s), (cx + lx * s, cy + 50 * s)], fill=(60, 50, 40), width=max(1, round(4 * s)))
    d.ellipse((cx - 55 * s, cy - 30 * s, cx + 45 * s, cy + 32 * s), fill=body_rgb)
    hx, hy = cx + 48 * s, cy - 30 * s
    d.ellipse((hx - 22 * s, hy - 22 * s, hx + 22 * s, hy + 22 * s), fill=body_rgb)
    d.polygon([(hx + 18 * s, hy - 5 * s), (hx + 42 * s, hy + 2 * s), (hx + 18 * s, hy + 8 * s)], fill=(70, 60, 40))
    d.ellipse((hx + 6 * s, hy - 9 * s, hx + 13 * s, hy - 2 * s), fill=(15, 15, 15))
    # Class details, each with per-image jitter: wing patch colour, head stripe, breast spot position.
    patch = tuple(int(v) for v in np.clip(np.array(spec.patch_rgb) + rng.normal(0, 14, 3), 0, 255))
    pw, ph = rng.uniform(26, 36) * s, rng.uniform(12, 18) * s
    px, py = cx - 12 * s + rng.uniform(-4, 4) * s, cy - 6 * s + rng.uniform(-3, 3) * s
    d.ellipse((px - pw, py - ph, px + pw, py + ph), fill=patch)
    if spec.striped:
        d.line([(hx - 20 * s, hy - 12 * s), (hx + 16 * s, hy - 14 * s)], fill=(245, 245, 235), width=max(1, round(5 * s)))
    spot_x = cx + 30 * s + rng.uniform(-3, 3) * s
    spot_y = cy + spec.spot_position * -60 * s + rng.uniform(-3, 3) * s
    r = rng.uniform(5, 8) * s
    d.ellipse((spot_x - r, spot_y - r, spot_x + r, spot_y + r), fill=(240, 235, 220))
    return layer


def _lighting(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    arr = np.asarray(image).astype(np.float32)
    gain = rng.uniform(0.7, 1.3) * (1 + rng.normal(0, 0.05, 3))  # brightness and a slight colour cast
    # A soft directional light: brighter on one side of the frame.
    ramp = np.linspace(-1, 1, IMAGE_SIZE, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + 0.15 * (np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None])
    arr = arr * gain * light[..., None] + rng.normal(0, rng.uniform(2, 8), arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
