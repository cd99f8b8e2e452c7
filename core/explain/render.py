"""Explanation -> RGB uint8 pictures: the single overlay the GUI shows, and a labelled panel the CLI saves."""

from __future__ import annotations

import numpy as np

from core.explain.overlay import colorbar, hstack, label, overlay_heatmap, overlay_mask, vstack
from core.explain.types import Explanation


def render(expl: Explanation, *, colormap: str = "jet", alpha: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8: the heat-map over the image (cam, gradcam, levels: the top fused map), or the
    SREM erased squares shaded with opacity alpha and outlined (srem)."""
    if expl.mask is not None:
        return overlay_mask(expl.image, expl.mask, alpha=alpha)
    if expl.heatmap is None:
        return expl.image.copy()
    return overlay_heatmap(expl.image, expl.heatmap, colormap=colormap, alpha=alpha)


def render_panel(expl: Explanation, *, colormap: str = "jet", alpha: float = 0.5) -> np.ndarray:
    """A labelled figure, (H', W', 3) uint8, with a colour bar right of any heat-map.

    cam / gradcam: image | overlay.   srem: image | erased squares | erased image | activation.
    levels: one row per level, columns original | ECA | fused (paper Fig. 10), plus the image.
    parts: image | one tile per attention map of the method.
    """
    panel = _panel(expl, colormap, alpha)
    if expl.heatmap is None and "activation" not in expl.extra_names:
        return panel
    strip = panel.shape[0] - expl.hw[0]  # the label strip above the images
    bar = colorbar(expl.hw[0], colormap)
    bar = np.concatenate([np.full((strip, bar.shape[1], 3), 255, np.uint8), bar], axis=0)
    return hstack([panel, np.pad(bar, ((0, panel.shape[0] - bar.shape[0]), (0, 0), (0, 0)), constant_values=255)])


def render_side_by_side(panels: list[np.ndarray], gap: int = 16) -> np.ndarray:
    """Panels (e.g. the query's and a result's) left to right, bottom-padded with white to one height."""
    height = max(p.shape[0] for p in panels)
    return hstack([np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0)), constant_values=255) for p in panels],
                  gap=gap)


def _panel(expl: Explanation, colormap: str, alpha: float) -> np.ndarray:
    image = label(expl.image, "image")
    if expl.kind == "srem":
        parts = [image, label(render(expl, colormap=colormap, alpha=alpha), f"N={expl.regions} s={expl.size}")]
        if "erased" in expl.extra_names:
            parts.append(label(expl.extra("erased"), "erased"))
        if "activation" in expl.extra_names:
            parts.append(label(overlay_heatmap(expl.image, expl.extra("activation"), colormap=colormap, alpha=alpha),
                               "channel-mean CAM"))
        return hstack(parts)
    if expl.kind == "levels":
        rows = []
        by_level: dict[str, list[tuple[str, np.ndarray]]] = {}
        for extra in expl.extras:
            lvl, _, branch = extra.name.partition("/")
            by_level.setdefault(lvl, []).append((branch, extra.array))
        for lvl, branches in by_level.items():
            tiles = [label(overlay_heatmap(expl.image, arr, colormap=colormap, alpha=alpha), f"{lvl} {branch}")
                     for branch, arr in branches]
            rows.append(hstack([image, *tiles]))
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
        return vstack(rows)
    if expl.kind == "parts":
        return hstack([image, *(label(overlay_heatmap(expl.image, e.array, colormap=colormap, alpha=alpha), e.name)
                                for e in expl.extras)])
    title = expl.method if expl.score is None else f"{expl.method} sim={expl.score:.3g}"
    return hstack([image, label(render(expl, colormap=colormap, alpha=alpha), title)])
