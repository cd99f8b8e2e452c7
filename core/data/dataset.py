"""torch Dataset over ImageRecords that never crashes on a bad image file.

An undecodable image (truncated, corrupt, empty, deleted since loading) is replaced by the next
decodable image of the same class, and its index is added to `.skipped`; a training run can then report
"3 images could not be decoded" instead of dying in epoch 7. Only when no image of that class decodes
does it raise ImageDecodeError.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
from PIL import Image

from core.data.images import load_rgb
from core.data.records import ImageRecord
from core.data.transforms import crop_bottom
from core.errors import ImageDecodeError

# Decoding caps the longer side here: the transforms resize to a few hundred pixels anyway, and a
# RandomResizedCrop of 8 % of a 1024-px image is still ~290 px, above the 224-px network input.
DEFAULT_MAX_SIDE = 1024


def load_record_image(record: ImageRecord, max_side: int = DEFAULT_MAX_SIDE) -> Image.Image:
    """The record's image as RGB, with its dataset crop (e.g. aircraft banner) applied."""
    return crop_bottom(load_rgb(record.path, max_side=max_side), record.crop_bottom)


class ImageDataset(torch.utils.data.Dataset):
    """Items are `(image_tensor, label, index)`: the transformed image (3, S, S) float, the 0-based
    class label (int) and the position of the record in `records` (int).

    `skipped` is the set of indices whose image could not be decoded (filled lazily as items are read;
    with DataLoader workers each worker has its own copy, so read it from a num_workers=0 pass).
    """

    def __init__(
        self,
        records: Sequence[ImageRecord],
        transform: Callable[[Image.Image], Any],
        max_side: int = DEFAULT_MAX_SIDE,
    ) -> None:
        self.records = tuple(records)
        self.transform = transform
        self.max_side = max_side
        self.skipped: set[int] = set()
        self.errors: dict[int, str] = {}  # index -> decode error message (first one seen)
        self._lock = threading.Lock()
        by_class: dict[int, list[int]] = {}
        for i, r in enumerate(self.records):
            by_class.setdefault(r.label, []).append(i)
        self._by_class = by_class

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        record = self.records[index]
        image = self._load_with_substitute(index)
        return self.transform(image), record.label, index

    @property
    def labels(self) -> torch.Tensor:
        """All labels in record order, int64 (N,)."""
        return torch.tensor([r.label for r in self.records], dtype=torch.long)

    def _load_with_substitute(self, index: int) -> Image.Image:
        try:
            return load_record_image(self.records[index], self.max_side)
        except ImageDecodeError as exc:
            self._note(index, str(exc))
        label = self.records[index].label
        same_class = self._by_class[label]
        start = same_class.index(index)
        # Walk the class cyclically from the failed image so the substitute is deterministic.
        for k in range(1, len(same_class)):
            candidate = same_class[(start + k) % len(same_class)]
            if candidate in self.skipped:
                continue
            try:
                return load_record_image(self.records[candidate], self.max_side)
            except ImageDecodeError as exc:
                self._note(candidate, str(exc))
        raise ImageDecodeError(
            f"no image of class {label} can be decoded ({len(same_class)} tried); first error: "
            f"{self.errors.get(index, '?')}"
        )

    def _note(self, index: int, message: str) -> None:
        with self._lock:
            self.skipped.add(index)
            self.errors.setdefault(index, message)
