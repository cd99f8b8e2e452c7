"""Drawing helpers of the Explain tab: an Explanation into an OverlayView, its one-paragraph description,
the size of the feature map behind it (issue 23: at 64 px the last ResNet map is 2x2, and a CAM is a 512 px
blow-up of four numbers), and the worker-side call."""

from __future__ import annotations

from core import engine
from core.engine import Explanation
from fghash_gui.widgets.overlay_view import OverlayView


def paint_explanation(view: OverlayView, explanation: Explanation, draw: str, level: str) -> None:
    """Draw `explanation` in `view` as the overlay choice `draw` asks."""
    if draw == "erased" and explanation.kind == "srem":
        view.set_image(explanation.extra("erased"))
        return
    if view.image is not explanation.image:
        view.set_image(explanation.image)
    if draw == "heatmap" and explanation.heatmap is not None:
        view.set_heatmap(explanation.heatmap)
    elif draw == "mask" and explanation.mask is not None:
        view.set_mask(explanation.mask)
    elif draw == "level" and explanation.kind in ("levels", "parts") and level in explanation.extra_names:
        view.set_heatmap(explanation.extra(level))
    else:
        view.clear_overlay()


def explain_on_worker(path: str, run: str, kind: str, options: dict) -> Explanation:
    """Runs on the worker."""
    return engine.explain(path, run, kind, **options)


COARSE_MAP = 3  # a feature map this many cells across or fewer gets a warning
LEVEL_STAGES = {"X1": "layer2", "X2": "layer3", "X3": "layer4"}  # Multi-FusNet levels (core/explain/levels.py)


def map_side(draw: str, level: str, image_size: int | None) -> tuple[int, str] | None:
    """(side in cells, stage) of the feature map behind what `draw` shows, or None (no map, size unknown)."""
    if image_size is None or draw in ("none", ""):
        return None
    stage = LEVEL_STAGES.get(level.split("/")[0], "layer4") if draw == "level" else "layer4"
    return engine.stage_side(image_size, stage), stage


def map_caption(draw: str, level: str, image_size: int | None) -> str:
    """A map's size for its caption, e.g. "map 2×2 ⚠"."""
    found = map_side(draw, level, image_size)
    if found is None:
        return ""
    side = found[0]
    return f"map {side}×{side}" + (" ⚠" if side <= COARSE_MAP else "")


def map_warning(draw: str, level: str, image_size: int | None) -> str:
    """One line on the feature map's size; a warning when it is COARSE_MAP cells across or fewer."""
    found = map_side(draw, level, image_size)
    if found is None:
        return ""
    side, stage = found
    what = "placed SREM's squares" if draw in ("mask", "erased") else "is drawn here"
    line = f"feature map {side}×{side} ({stage} at {image_size} px) {what}"
    if side <= COARSE_MAP:
        line += (f"\n⚠ only {side * side} number{'s' if side > 1 else ''}: the overlay is a blow-up of "
                 f"{side}×{side} cells, not a pixel-level map (train at ≥ {32 * (COARSE_MAP + 1)} px for "
                 f"{COARSE_MAP + 1}×{COARSE_MAP + 1} or more)")
    return line


def describe_explanation(explanation: Explanation, draw: str) -> str:
    h, w = explanation.hw
    parts = [f"the network's crop, {w}×{h} px from the file", f"method: {explanation.method}"]
    if explanation.score is not None:
        parts.append(f"code similarity to target: {explanation.score:.3f}")
    if explanation.mask is not None:
        erased = 100.0 * float(explanation.mask.mean())
        parts.append(f"N={explanation.regions}, s={explanation.size}: {erased:.1f}% erased")
    if draw == "none":
        parts = [parts[0]]
    return "\n".join(parts)
