"""Drawing helpers of the Explain tab: an Explanation into an OverlayView, its one-paragraph description,
and the worker-side call."""

from __future__ import annotations

from core import engine
from core.explain.types import Explanation
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
