"""Overlay rendering: colormap tables, blending, SREM shading/outlines, panels and PNG files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.explain import (
    COLORMAPS,
    ColormapError,
    Explanation,
    ExtraMap,
    colorize,
    colormap_lut,
    encode_png,
    mask_outline,
    overlay_heatmap,
    overlay_mask,
    render,
    render_panel,
    save_png,
)


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)


@pytest.fixture
def ramp() -> np.ndarray:
    return np.tile(np.linspace(0.0, 1.0, 30, dtype=np.float32), (20, 1))


def test_colormap_tables() -> None:
    for name in COLORMAPS:
        lut = colormap_lut(name)
        assert lut.shape == (256, 3) and lut.dtype == np.uint8
        assert len({tuple(c) for c in lut}) > 64  # a real gradient, not a constant
    jet = colormap_lut("jet")
    assert jet[0, 2] > 100 and jet[0, 0] == 0  # jet starts dark blue (RGB order, not OpenCV's BGR)
    assert jet[255, 0] > 100 and jet[255, 2] == 0  # and ends dark red
    with pytest.raises(ColormapError, match="viridis"):
        colormap_lut("nope")


def test_colorize_shapes_and_clipping(ramp: np.ndarray) -> None:
    rgb = colorize(ramp, "viridis")
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    lut = colormap_lut("viridis")
    np.testing.assert_array_equal(rgb[0, 0], lut[0])
    np.testing.assert_array_equal(rgb[0, -1], lut[255])
    odd = np.array([[-1.0, 2.0, np.nan]], dtype=np.float32)
    np.testing.assert_array_equal(colorize(odd, "viridis")[0], lut[[0, 255, 0]])


def test_overlay_heatmap_opacity(image: np.ndarray, ramp: np.ndarray) -> None:
    np.testing.assert_array_equal(overlay_heatmap(image, ramp, alpha=0.0), image)
    np.testing.assert_array_equal(overlay_heatmap(image, ramp, colormap="inferno", alpha=1.0), colorize(ramp, "inferno"))
    half = overlay_heatmap(image, ramp, alpha=0.5).astype(int)
    expected = (image.astype(int) + colorize(ramp).astype(int)) / 2
    assert np.abs(half - expected).max() <= 1
    with pytest.raises(ValueError, match="differs"):
        overlay_heatmap(image, ramp[:10])


def test_overlay_mask_shades_and_outlines(image: np.ndarray) -> None:
    mask = np.zeros((20, 30), bool)
    mask[5:15, 10:20] = True
    out = overlay_mask(image, mask, alpha=1.0, color=(0, 0, 0), outline=(255, 255, 0))
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~mask], image[~mask])  # outside untouched
    np.testing.assert_array_equal(out[7:13, 12:18], 0)  # interior shaded
    edge = mask_outline(mask)
    assert edge.sum() == 2 * 10 + 2 * 8  # the square's one-pixel border
    assert (out[edge] == (255, 255, 0)).all()
    # a square touching the image border is outlined along the border too
    corner = np.zeros((20, 30), bool)
    corner[:4, :4] = True
    assert mask_outline(corner)[0, 2] and mask_outline(corner)[2, 0] and not mask_outline(corner)[1, 1]
    np.testing.assert_array_equal(overlay_mask(image, np.zeros((20, 30), bool)), image)


def test_render_and_panels(image: np.ndarray, ramp: np.ndarray) -> None:
    mask = np.zeros((20, 30), bool)
    mask[:5, :5] = True
    cam = Explanation("gradcam", image, heatmap=ramp, method="gradcam", score=0.5)
    srem = Explanation("srem", image, mask=mask, extras=(ExtraMap("erased", image), ExtraMap("activation", ramp)),
                       regions=3, size=5)
    levels = Explanation("levels", image, heatmap=ramp, extras=tuple(
        ExtraMap(f"X{i}/{b}", ramp) for i in (2, 3) for b in ("original", "eca", "fused")))
    for e in (cam, srem, levels):
        out = render(e)
        assert out.shape == image.shape and out.dtype == np.uint8
        panel = render_panel(e, colormap="turbo", alpha=0.3)
        assert panel.dtype == np.uint8 and panel.ndim == 3 and panel.shape[2] == 3
    assert render_panel(srem).shape[1] > 4 * 30  # image | squares | erased | activation
    assert render_panel(levels).shape[0] > 2 * 20  # one row per level
    with pytest.raises(ValueError, match="shape"):
        Explanation("cam", image, heatmap=ramp[:5])
    assert not cam.heatmap.flags.writeable and ramp.flags.writeable  # frozen result, caller's array untouched
    with pytest.raises(ValueError, match="kind"):
        Explanation("nope", image)


def test_png_files(tmp_path, image: np.ndarray) -> None:
    path = save_png(image, tmp_path / "sub" / "out.png")
    back = np.asarray(Image.open(path))
    np.testing.assert_array_equal(back, image)  # RGB order preserved, lossless
    assert not list(path.parent.glob(".*.tmp"))  # atomic write left no temp file
    mask_png = encode_png(np.eye(4, dtype=bool))
    assert mask_png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), np.float32))
