"""Explainer: one trained model (a private copy, eval mode) + its config, answering explanation requests.

The GUI keeps one per open run (loading a checkpoint costs far more than a CAM); engine.explain and the
CLI build one per call. A lock serialises requests because Grad-CAM hooks the shared private copy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from core.base.errors import FghashError
from core.config.train_config import TrainConfig
from core.explain.cam import model_cam
from core.explain.erasure import erased_mask_bool, srem_arrays
from core.explain.gradcam import CAM_METHODS, SIMILARITIES, encode_real, gradcam_maps, private_copy
from core.explain.images import ImageSource, PreparedImage, prepare_image, tensor_to_uint8
from core.explain.levels import level_heatmaps, supports_levels
from core.explain.parts import part_heatmaps, parts_overview, supports_parts
from core.explain.types import EXPLANATION_KINDS, Explanation, ExtraMap
from core.runtime.device import select_device


class ExplainError(FghashError, ValueError):
    """An explanation request the model or the options cannot satisfy (names what was expected)."""


class Explainer:
    """Explanations for one model. `model` is deep-copied (eval, frozen); the caller's model is never touched."""

    def __init__(self, model: torch.nn.Module, cfg: TrainConfig, device: str | torch.device = "cpu",
                 dataset_crop: Callable[[str], int] | None = None) -> None:
        """device: "cpu", "cuda", "auto" (select_device) or a torch.device. dataset_crop: pixels the run's
        dataset cuts off the bottom of an image file (core.retrieval.session.RunSession.dataset_crop), so a dataset
        image is explained on exactly the pixels the network was trained and encoded on."""
        for name in ("encode", "feature_map"):
            if not callable(getattr(model, name, None)):
                raise ExplainError(f"{type(model).__name__} has no {name}(x); fghash hashing networks provide it")
        self.device = select_device(device) if isinstance(device, str) else torch.device(device)
        self.model = private_copy(model).to(self.device)
        self.cfg = cfg
        self._dataset_crop = dataset_crop
        self._lock = threading.Lock()

    @classmethod
    def from_run(cls, run_paths, device: str | torch.device = "cpu") -> "Explainer":
        """Load the run's latest checkpoint (core.runs.checkpoint.load_run_model) onto `device`."""
        from core.runs.checkpoint import load_run_model

        dev = select_device(device) if isinstance(device, str) else torch.device(device)
        model, cfg = load_run_model(run_paths, dev)
        return cls(model, cfg, dev, dataset_crop=_run_dataset_crop(run_paths))

    # -- inputs ----------------------------------------------------------------------------------
    def prepare(self, image: ImageSource) -> PreparedImage:
        """The run's evaluation view of `image`: (1, 3, S, S) input and (S, S, 3) uint8 view."""
        crop = self._dataset_crop(str(image)) if self._dataset_crop and isinstance(image, (str, Path)) else 0
        return prepare_image(image, self.cfg.image_size, self.cfg.resize_size, crop_bottom=crop)

    def file_view(self, image: ImageSource, out_size: int | None = None) -> np.ndarray:
        """(S, S, 3) uint8: the region prepare() crops, cut from the file at its own resolution (or out_size)."""
        from core.explain.hires import file_region

        crop = self._dataset_crop(str(image)) if self._dataset_crop and isinstance(image, (str, Path)) else 0
        return file_region(image, self.cfg.image_size, self.cfg.resize_size, crop_bottom=crop, out_size=out_size)

    def code(self, image: ImageSource | PreparedImage) -> np.ndarray:
        """The real-valued code (bits,) float32 of an image (its sign is the binary code)."""
        prepared = image if isinstance(image, PreparedImage) else self.prepare(image)
        with self._lock:
            return encode_real(self.model, prepared.tensor.to(self.device))[0].cpu().numpy()

    # -- explanations ----------------------------------------------------------------------------
    def explain(self, image: ImageSource | PreparedImage, kind: str = "cam", **options) -> Explanation:
        """Dispatch to cam / gradcam / srem / levels / parts with their keyword options."""
        if kind not in EXPLANATION_KINDS:
            raise ExplainError(f"unknown explanation kind {kind!r}; expected one of {EXPLANATION_KINDS}")
        return getattr(self, kind)(image, **options)

    def cam(self, image: ImageSource | PreparedImage) -> Explanation:
        """Channel-mean activation of the last conv block (FCAENet Eq. 3-4)."""
        p = self._prepared(image)
        with self._lock:
            heat = model_cam(self.model, p.tensor.to(self.device))[0]
        return Explanation("cam", p.image, heatmap=heat, method="channel_mean")

    def gradcam(
        self,
        image: ImageSource | PreparedImage,
        target_code: np.ndarray | torch.Tensor | None = None,
        *,
        target_image: ImageSource | PreparedImage | None = None,
        method: str = "gradcam",
        similarity: Literal["dot", "cosine"] = "dot",
    ) -> Explanation:
        """Grad-CAM-family map of the similarity between this image's code and a target code.

        target_code: (bits,) real or +-1 code (e.g. the query's code, or a stored result's code);
        target_image: alternatively an image whose code is the target; neither: the image's own code.
        """
        if method not in CAM_METHODS:
            raise ExplainError(f"unknown CAM method {method!r}; expected one of {CAM_METHODS}")
        if similarity not in SIMILARITIES:
            raise ExplainError(f"unknown similarity {similarity!r}; expected one of {SIMILARITIES}")
        if similarity == "cosine" and target_code is None and target_image is None:
            raise ExplainError("cosine similarity to the image's own code is always 1 (a flat map): "
                               "give a target code or target image, or use similarity 'dot'")
        p = self._prepared(image)
        if target_code is None and target_image is not None:
            target_code = self.code(target_image)
        target = None
        if target_code is not None:
            target = torch.as_tensor(np.asarray(target_code, dtype=np.float32)).flatten()
            bits = self.cfg.bits
            if target.shape[0] != bits:
                raise ExplainError(f"target code has {target.shape[0]} bits; this run's codes have {bits}")
        with self._lock:
            maps, scores = gradcam_maps(self.model, p.tensor.to(self.device), target,
                                        method=method, similarity=similarity, copy_model=False)
        return Explanation("gradcam", p.image, heatmap=maps[0], method=method, score=float(scores[0]))

    def srem(
        self,
        image: ImageSource | PreparedImage,
        *,
        regions: int | None = None,
        size: int | None = None,
        erase_target: Literal["normalized_zero", "black"] | None = None,
    ) -> Explanation:
        """SREM mask and erased image (core.models.srem); N, s and the erase target default to the run's config."""
        regions = self.cfg.fcae.srem_regions if regions is None else int(regions)
        size = self.cfg.fcae.srem_size if size is None else int(size)
        erase_target = erase_target or self.cfg.fcae.erase_target
        if regions < 0 or size < 1:
            raise ExplainError(f"SREM needs regions >= 0 and size >= 1; got regions={regions}, size={size}")
        p = self._prepared(image)
        with self._lock:
            mask, erased, activation = srem_arrays(self.model, p.tensor.to(self.device), regions, size, erase_target)
        extras = (
            ExtraMap("erased", tensor_to_uint8(erased[0])),
            ExtraMap("activation", activation[0].cpu().numpy().astype(np.float32)),
        )
        return Explanation("srem", p.image, mask=erased_mask_bool(mask[0]), extras=extras,
                           method="srem", regions=regions, size=size)

    def levels(self, image: ImageSource | PreparedImage) -> Explanation:
        """Multi-FusNet per-level maps (original / ECA / fused); heatmap = the top level's fused map."""
        if not supports_levels(self.model):
            raise ExplainError(
                f"per-level maps need a Multi-FusNet run; this run's {type(self.model).__name__} "
                f"(method {self.cfg.method!r}) has no level_maps(x)"
            )
        p = self._prepared(image)
        with self._lock:
            named = level_heatmaps(self.model, p.tensor.to(self.device))
        extras = tuple(ExtraMap(name, arr) for name, arr in named)
        return Explanation("levels", p.image, heatmap=named[-1][1], extras=extras, method="channel_mean")

    def parts(self, image: ImageSource | PreparedImage) -> Explanation:
        """The method's own attention maps (core.explain.parts), one extra each; heatmap = their maximum."""
        if not supports_parts(self.model):
            raise ExplainError(
                f"attention part maps need a SEMICON, A2-Net, ExchNet or AGMH run; this run's "
                f"{type(self.model).__name__} (method {self.cfg.method!r}) has no part_maps(x)")
        p = self._prepared(image)
        with self._lock:
            named = part_heatmaps(self.model, p.tensor.to(self.device))
        extras = tuple(ExtraMap(name, arr) for name, arr in named)
        return Explanation("parts", p.image, heatmap=parts_overview(named), extras=extras, method="attention")

    def _prepared(self, image: ImageSource | PreparedImage) -> PreparedImage:
        return image if isinstance(image, PreparedImage) else self.prepare(image)


def _run_dataset_crop(run_paths) -> Callable[[str], int]:
    """path -> the run's dataset crop of that file, read from the run's session on first use; 0 when the
    run has no saved codes yet (explaining a checkpoint mid-training) or the file is not in its dataset."""

    def crop(path: str) -> int:
        from core.retrieval.session import open_session

        try:
            return open_session(run_paths).dataset_crop(path)
        except FghashError:
            return 0

    return crop
