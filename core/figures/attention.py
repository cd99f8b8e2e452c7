"""The attention figure: one row per image, columns original / CAM / Grad-CAM towards a query / SREM mask /
erased image (FCAENet runs and the ADSH baseline), or original / CAM / Grad-CAM / each level's fused map
(Multi-FusNet, paper Fig. 10), or original / CAM / Grad-CAM / each of the method's own attention maps (SEMICON's
stages, A2-Net's and ExchNet's parts, AGMH's branches), with one colour bar for every heat-map (all are scaled
to [0, 1]).

Every map comes from core.explain (the Explainer the GUI and `fghash explain` use) and is drawn over the
image the network saw (Explanation.image); overlays use core.explain.overlay, so the colours are the app's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec

from core.figures.common import FigureError, colormap, new_figure, short_class_name

CELL_IN = 1.3


@dataclass(frozen=True, eq=False)
class AttentionPanel:
    """One cell: `image` (H, W, 3) uint8 with an optional heat-map (H, W) in [0, 1] or bool mask over it."""

    title: str
    image: np.ndarray = field(repr=False)
    heatmap: np.ndarray | None = field(default=None, repr=False)
    mask: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class AttentionRow:
    label: str
    panels: tuple[AttentionPanel, ...]


def gather_attention(run, images: Sequence, *, target_image=None, cam_method: str = "gradcam",
                     regions: int | None = None, size: int | None = None, device: str = "cpu") -> list[AttentionRow]:
    """Explain every image with the run's newest checkpoint. run: id, prefix, folder, RunPaths or an
    Explainer; images: paths (or PIL images); target_image: the query whose code Grad-CAM explains the
    similarity to (None: each image's own code); regions, size: SREM's N and s (None: the run's)."""
    from core.explain.api import explain_run, explainer_for_run
    from core.explain.explainer import Explainer
    from core.explain.levels import supports_levels
    from core.explain.parts import supports_parts

    if not images:
        raise FigureError("name at least one image to explain")
    explainer = run if isinstance(run, Explainer) else explainer_for_run(run, device)
    target_code = explainer.code(target_image) if target_image is not None else None
    towards = "→ query" if target_image is not None else "→ own code"
    rows = []
    for image in images:
        prepared = explainer.prepare(image)
        cam = explain_run(prepared, explainer, "cam")
        grad = explain_run(prepared, explainer, "gradcam", target_code=target_code, method=cam_method)
        panels = [AttentionPanel("image", cam.image), AttentionPanel("CAM", cam.image, heatmap=cam.heatmap),
                  AttentionPanel(f"{_cam_title(cam_method)}\n{towards}", grad.image, heatmap=grad.heatmap)]
        if supports_parts(explainer.model):
            parts = explain_run(prepared, explainer, "parts")
            panels += [AttentionPanel(name.replace(" ", "\n", 1), parts.image, heatmap=parts.extra(name))
                       for name in parts.extra_names]
        elif supports_levels(explainer.model):
            levels = explain_run(prepared, explainer, "levels")
            panels += [AttentionPanel(f"{name.split('/')[0]}\nfused", levels.image, heatmap=levels.extra(name))
                       for name in levels.extra_names if name.endswith("/fused")]
        else:
            srem = explain_run(prepared, explainer, "srem", regions=regions, size=size)
            panels += [AttentionPanel(f"SREM mask\nN={srem.regions}, s={srem.size}", srem.image, mask=srem.mask),
                       AttentionPanel("erased", srem.extra("erased"))]
        rows.append(AttentionRow(_row_label(image), tuple(panels)))
    return rows


def attention_figure(rows: Sequence[AttentionRow], *, colormap_name: str = "jet", alpha: float = 0.5) -> Figure:
    """Draw gathered rows; the colour bar on the right applies to every heat-map column."""
    from core.explain.overlay import overlay_heatmap, overlay_mask

    if not rows:
        raise FigureError("nothing to draw: no explained images")
    cmap = colormap(colormap_name)
    cols = max(len(r.panels) for r in rows)
    fig = new_figure(CELL_IN * cols + 0.9, CELL_IN * 1.12 * len(rows) + 0.35)
    grid = GridSpec(len(rows), cols + 1, figure=fig, width_ratios=[1.0] * cols + [0.06], wspace=0.05, hspace=0.12)
    for ri, row in enumerate(rows):
        for ci, panel in enumerate(row.panels):
            ax = fig.add_subplot(grid[ri, ci])
            pixels = panel.image
            if panel.heatmap is not None:
                pixels = overlay_heatmap(panel.image, panel.heatmap, colormap=colormap_name, alpha=alpha)
            elif panel.mask is not None:
                pixels = overlay_mask(panel.image, panel.mask)
            ax.imshow(pixels)
            ax.set_xticks([])
            ax.set_yticks([])
            if ri == 0:
                ax.set_title(panel.title, fontsize=7)
            if ci == 0:
                ax.set_ylabel(row.label, fontsize=6)
    bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap), cax=fig.add_subplot(grid[:, cols]))
    bar.set_label("activation (scaled to [0, 1] per map)", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    return fig


def _cam_title(method: str) -> str:
    return {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "eigencam": "EigenCAM", "hirescam": "HiResCAM",
            "scorecam": "Score-CAM", "layercam": "LayerCAM", "xgradcam": "XGrad-CAM"}.get(method, method)


def _row_label(image) -> str:
    """A dataset image's class folder as a short name (`001.Black_footed_Albatross/x.jpg` -> `Black footed
    Albatross`), else the file name; "" for in-memory images."""
    if isinstance(image, (str, Path)):
        p = Path(image)
        return short_class_name(p.parent.name) if p.parent.name else p.stem
    return ""
