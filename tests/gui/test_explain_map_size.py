"""Explain's map-size captions and warnings (issue 23, item 4), without a run."""

from __future__ import annotations

from fghash_gui.panels.explain_draw import map_caption, map_warning


def test_map_size_caption_and_warning():
    assert map_caption("heatmap", "", 224) == "map 7×7"
    assert map_caption("heatmap", "", 64) == "map 2×2 ⚠"
    assert map_caption("level", "X1/fused", 64) == "map 8×8"  # layer2 of Multi-FusNet: stride 8
    assert map_caption("none", "", 64) == "" and map_caption("heatmap", "", None) == ""
    assert map_warning("heatmap", "", 224) == "feature map 7×7 (layer4 at 224 px) is drawn here"
    warning = map_warning("mask", "", 96)
    assert warning.startswith("feature map 3×3 (layer4 at 96 px) placed SREM's squares\n⚠ only 9 numbers")
    assert "≥ 128 px" in warning
