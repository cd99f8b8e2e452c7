"""Explanations for a stored run: what engine.explain and `fghash explain` call.

Loading a checkpoint costs far more than a CAM, so the last Explainer is kept (one slot, keyed by
run folder, checkpoint file, its modification time and device): a new checkpoint written by a training
run still in progress is picked up on the next request, never the model that is training.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from core.base.errors import RunError
from core.explain.explainer import Explainer, ExplainError
from core.explain.hires import MAX_OUTPUT_SIDE, at_resolution
from core.explain.images import ImageSource, PreparedImage
from core.explain.types import EXPLANATION_KINDS, Explanation
from core.runs.catalog import resolve_run
from core.runs.paths import RunPaths
from core.runtime.device import select_device

_cache_lock = threading.Lock()
_cached: tuple[tuple, Explainer] | None = None


def explainer_for_run(run: str | Path | RunPaths, device: str = "auto") -> Explainer:
    """An Explainer on the newest complete checkpoint of `run` (folder, id, id prefix or "latest")."""
    global _cached
    paths = run if isinstance(run, RunPaths) else resolve_run(run)
    dev = select_device(device)
    from core.runs.checkpoint import require_checkpoint

    weights = require_checkpoint(paths)  # RunError naming what the checkpoints folder holds
    try:
        key = (str(paths.root.resolve()), str(weights), weights.stat().st_mtime_ns, str(dev))
    except OSError as exc:
        raise RunError(f"cannot read checkpoint {weights}: {exc.strerror or exc}") from None
    with _cache_lock:
        if _cached is not None and _cached[0] == key:
            return _cached[1]
        explainer = Explainer.from_run(paths, dev)
        _cached = (key, explainer)
        return explainer


def explain_run(
    image: ImageSource | PreparedImage,
    run: str | Path | RunPaths | Explainer,
    kind: str = "cam",
    *,
    target_code: np.ndarray | torch.Tensor | None = None,
    target_image: ImageSource | None = None,
    method: str = "gradcam",
    similarity: Literal["dot", "cosine"] = "dot",
    regions: int | None = None,
    size: int | None = None,
    erase_target: Literal["normalized_zero", "black"] | None = None,
    device: str = "auto",
    resolution: Literal["eval", "file"] = "eval",
    out_size: int | None = None,
) -> Explanation:
    """Explain one image with a trained run's model.

    kind "cam": channel-mean CAM. "gradcam": `method` (CAM_METHODS) on the `similarity` of the image's code
    to target_code (or to target_image's code; neither: its own code). "srem": mask + erased image with
    N = regions, s = size (None: the run's config). "levels": Multi-FusNet per-level maps. "parts": the
    method's own attention maps (SEMICON, A2-Net, ExchNet, AGMH).
    Options that do not apply to `kind` are ignored. resolution "eval": maps at the run's eval crop
    (image_size px); "file": the same region cut from the file at its own resolution, or out_size px
    square, with the maps resized onto it (core.explain.hires; needs a file, PIL image or array).
    """
    if kind not in EXPLANATION_KINDS:
        raise ExplainError(f"unknown explanation kind {kind!r}; expected one of {EXPLANATION_KINDS}")
    if resolution not in ("eval", "file"):
        raise ExplainError(f"resolution must be 'eval' or 'file'; got {resolution!r}")
    if out_size is not None and not 16 <= out_size <= MAX_OUTPUT_SIDE:
        raise ExplainError(f"output size must be 16 to {MAX_OUTPUT_SIDE} px; got {out_size}")
    explainer = run if isinstance(run, Explainer) else explainer_for_run(run, device)
    if kind == "gradcam":
        expl = explainer.gradcam(image, target_code, target_image=target_image, method=method, similarity=similarity)
    elif kind == "srem":
        expl = explainer.srem(image, regions=regions, size=size, erase_target=erase_target)
    else:
        expl = explainer.explain(image, kind)
    if resolution == "file" and not isinstance(image, PreparedImage):
        expl = at_resolution(expl, explainer.file_view(image, out_size))
    return expl


def clear_cache() -> None:
    """Drop the kept Explainer (frees its model copy)."""
    global _cached
    with _cache_lock:
        _cached = None
