"""The result of an explanation: the image that was shown to the network and what explains it.

Every array is at the resolution of `Explanation.image`, which is the centre-cropped evaluation view
the network actually saw (resize to `resize_size`, centre crop `image_size`, de-normalised back to
RGB). Maps are not warped back onto the original file: the crop discards the borders, and mapping a
224 px map onto a 4000 px photo would only add interpolation the network never did.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EXPLANATION_KINDS = ("cam", "gradcam", "srem", "levels", "parts")
"""cam: channel-mean activation of the last conv block (FCAENet Eq. 3-4); gradcam: Grad-CAM family
with a code-similarity target; srem: the SREM erasure mask + erased image; levels: Multi-FusNet
per-level maps (original / ECA-weighted / fused, paper Fig. 10); parts: a method's own attention maps
(SEMICON stages, A2-Net / ExchNet parts, AGMH branches; core/explain/parts.py), one extra map each."""


def _readonly(arr: np.ndarray) -> np.ndarray:
    """A read-only view: the result stays frozen without copying or locking the caller's array."""
    view = np.asarray(arr).view()
    view.setflags(write=False)
    return view


# eq=False: comparing arrays element-wise inside a generated __eq__ raises; results compare by identity.
@dataclass(frozen=True, eq=False)
class ExtraMap:
    """One additional named array of an explanation.

    `array` is (H, W) float32 in [0, 1] (a heat-map), (H, W) bool (a mask) or (H, W, 3) uint8 (an image),
    always at the resolution of `Explanation.image`.
    """

    name: str
    array: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "array", _readonly(self.array))

    @property
    def is_heatmap(self) -> bool:
        return self.array.ndim == 2 and self.array.dtype != np.bool_

    @property
    def is_mask(self) -> bool:
        return self.array.ndim == 2 and self.array.dtype == np.bool_

    @property
    def is_image(self) -> bool:
        return self.array.ndim == 3


@dataclass(frozen=True, eq=False)
class Explanation:
    """What the network looked at for one image.

    kind:     one of EXPLANATION_KINDS.
    image:    (H, W, 3) uint8 RGB, the evaluation view the network saw.
    heatmap:  (H, W) float32 in [0, 1] (cam, gradcam, levels: the top-level fused map, parts: the pixel-wise
              maximum of the part maps), else None.
    mask:     (H, W) bool, True where SREM erases (srem), else None.
    extras:   further named maps, e.g. "erased" (srem, uint8 image), "activation" (srem, the channel-mean
              map that placed the squares), "level3/original", "level3/eca", "level3/fused" (levels), "stage 1", "part 1", "branch 1" (parts).
    method:   the CAM algorithm ("channel_mean", "gradcam", "gradcam++", "eigencam", ...).
    score:    gradcam only: similarity of the image's real-valued code to the target code.
    regions, size: srem only: N and s that produced the mask.
    """

    kind: str
    image: np.ndarray = field(repr=False)
    heatmap: np.ndarray | None = field(default=None, repr=False)
    mask: np.ndarray | None = field(default=None, repr=False)
    extras: tuple[ExtraMap, ...] = ()
    method: str = ""
    score: float | None = None
    regions: int | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        for name in ("image", "heatmap", "mask"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _readonly(getattr(self, name)))
        if self.kind not in EXPLANATION_KINDS:
            raise ValueError(f"unknown explanation kind {self.kind!r}; expected one of {EXPLANATION_KINDS}")
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8, got {self.image.shape} {self.image.dtype}")
        hw = self.image.shape[:2]
        for name, arr in (("heatmap", self.heatmap), ("mask", self.mask)):
            if arr is not None and arr.shape != hw:
                raise ValueError(f"{name} shape {arr.shape} differs from the image {hw}")
        for extra in self.extras:
            if extra.array.shape[:2] != hw:
                raise ValueError(f"extra map {extra.name!r} shape {extra.array.shape} differs from the image {hw}")

    @property
    def hw(self) -> tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]

    def extra(self, name: str) -> np.ndarray:
        """The array of the extra map called `name` (KeyError naming the available ones if absent)."""
        for extra in self.extras:
            if extra.name == name:
                return extra.array
        raise KeyError(f"no extra map {name!r}; available: {[e.name for e in self.extras]}")

    @property
    def extra_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.extras)
