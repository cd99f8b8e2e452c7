"""Explanations (Qt-free): what a hashing network looks at, as arrays the GUI and the CLI render.

Kinds (EXPLANATION_KINDS):
- "cam":     channel-mean activation of the last conv block (FCAENet Eq. 3-4)       -> cam.py
- "gradcam": Grad-CAM / Grad-CAM++ / EigenCAM / ... (pytorch-grad-cam) with a code-similarity
             target: "which regions make this image's code close to that code"    -> gradcam.py
- "srem":    the SREM erasure mask and erased image (core.models.srem, as training) -> erasure.py
- "levels":  Multi-FusNet per-level maps original / ECA / fused (paper Fig. 10)     -> levels.py
- "parts":   a method's own attention maps (SEMICON stages, A2-Net / ExchNet parts,
             AGMH branches), one tile each                                        -> parts.py

All maps are at the resolution of the evaluation view the network saw (Resize + CenterCrop of the
run's config, images.py), returned in `Explanation.image`. Rendering: render.py / overlay.py.

Typical use:
    ex = Explainer.from_run(run_paths, "cpu")          # or Explainer(model, cfg)
    e = ex.gradcam("result.jpg", target_code=ex.code("query.jpg"), method="gradcam++")
    save_png(render(e, colormap="jet", alpha=0.5), "out.png")
"""

from core.explain.api import clear_cache, explain_run, explainer_for_run
from core.explain.cam import channel_mean_cam, model_cam
from core.explain.explainer import Explainer, ExplainError
from core.explain.gradcam import (
    CAM_METHODS,
    SIMILARITIES,
    CodeSimilarityTarget,
    find_target_layer,
    gradcam_maps,
    private_copy,
)
from core.explain.images import PreparedImage, prepare_image
from core.explain.overlay import (
    COLORMAPS,
    ColormapError,
    colorize,
    colormap_lut,
    encode_png,
    mask_outline,
    overlay_heatmap,
    overlay_mask,
    save_png,
)
from core.explain.parts import part_heatmaps, supports_parts
from core.explain.render import render, render_panel
from core.explain.types import EXPLANATION_KINDS, Explanation, ExtraMap

__all__ = [
    "CAM_METHODS", "COLORMAPS", "EXPLANATION_KINDS", "SIMILARITIES",
    "CodeSimilarityTarget", "ColormapError", "ExplainError", "Explainer", "Explanation", "ExtraMap", "PreparedImage",
    "channel_mean_cam", "clear_cache", "colorize", "colormap_lut", "encode_png", "explain_run", "explainer_for_run", "find_target_layer", "gradcam_maps",
    "mask_outline", "model_cam", "overlay_heatmap", "overlay_mask", "part_heatmaps", "prepare_image", "private_copy",
    "supports_parts",
    "render", "render_panel", "save_png",
]
