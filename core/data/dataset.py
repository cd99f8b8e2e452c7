"""torch Dataset over ImageRecords that never crashes on a bad image file.

An undecodable image (truncated, corrupt, empty, not an image, too large, deleted since loading) is
replaced by the next decodable image of the same class (walking the class cyclically from the failed
record, so the substitute is deterministic), and its index joins `.skipped`; a training run can then
report "3 images could not be decoded" instead of dying in epoch 7. Labels and indices are those of the
requested record, so whatever is built from the items (codes, labels, paths) stays aligned with `records`.

What replaces it depends on `substitute`:
  - "same_class" (training): the next decodable image of the same class, as above. When no image of
    the class decodes: ImageDecodeError naming the class folder and a failed file; training on a class
    with no pixels is meaningless, and the walk over the class ends, never loops.
  - "blank" (encoding queries / a database): a blank image of the ImageNet mean colour (about 0 after
    normalisation). Never another image of the class: that would give an unreadable query the code of a
    readable image of its own class and inflate the evaluation with label information it does not have.

Skip bookkeeping works with DataLoader workers (fork or spawn): the "bad" flags live in a shared-memory
tensor that every worker writes into, so `.skipped` read in the main process counts the failures seen by
all workers. Error messages are per process; `undecodable()` re-reads the few files whose message a
worker saw, to report them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from core.base.errors import ImageDecodeError
from core.data.images import load_rgb
from core.data.records import ImageRecord
from core.data.transforms import IMAGENET_MEAN, crop_bottom

# Decoding caps the longer side here: the transforms resize to a few hundred pixels anyway, and a
# RandomResizedCrop of 8 % of a 1024-px image is still ~290 px, above the 224-px network input.
DEFAULT_MAX_SIDE = 1024

SUBSTITUTES = ("same_class", "blank")
BLANK_SIDE = 256  # the blank stand-in is resized / cropped by the transform like any image
_BLANK_RGB = tuple(round(255 * m) for m in IMAGENET_MEAN)


def load_record_image(record: ImageRecord, max_side: int = DEFAULT_MAX_SIDE) -> Image.Image:
    """The record's image as RGB, with its dataset crop (e.g. aircraft banner) applied."""
    return crop_bottom(load_rgb(record.path, max_side=max_side), record.crop_bottom)


class ImageDataset(torch.utils.data.Dataset):
    """Items are `(image_tensor, label, index)`: the transformed image (3, S, S) float, the 0-based
    class label (int) and the position of the record in `records` (int).

    `skipped` is the set of indices whose image could not be decoded so far (filled lazily as items are
    read, by this process and by every DataLoader worker); `undecodable()` maps skipped indices to error
    messages.
    """

    def __init__(
        self,
        records: Sequence[ImageRecord],
        transform: Callable[[Image.Image], Any],
        max_side: int = DEFAULT_MAX_SIDE,
        substitute: str = "same_class",
    ) -> None:
        if substitute not in SUBSTITUTES:
            raise ValueError(f"substitute must be one of {SUBSTITUTES}; got {substitute!r}")
        self.records = tuple(records)
        self.transform = transform
        self.max_side = max_side
        self.substitute = substitute
        # 1 = undecodable, 0 = not known bad. Shared memory: forked and spawned workers receive a handle
        # to the same pages, not a copy.
        self._flags = torch.zeros(len(self.records), dtype=torch.uint8).share_memory_()
        self.errors: dict[int, str] = {}  # index -> decode error message, as seen by this process
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

    @property
    def skipped(self) -> set[int]:
        """Indices whose image could not be decoded (seen by this process or any of its workers)."""
        return set(torch.nonzero(self._flags, as_tuple=True)[0].tolist())

    def undecodable(self) -> dict[int, str]:
        """{index: error message} for every skipped index, in index order (re-reads a file only when
        its failure was seen by a worker process, whose messages stay in that process)."""
        out = {}
        for i in sorted(self.skipped):
            if i not in self.errors:
                try:
                    load_record_image(self.records[i], self.max_side)
                    message = f"could not decode {self.records[i].path} during this run"  # fixed since
                except ImageDecodeError as exc:
                    message = str(exc)
                self.errors[i] = message
            out[i] = self.errors[i]
        return out

    def _load_with_substitute(self, index: int) -> Image.Image:
        if not self._flags[index]:
            try:
                return load_record_image(self.records[index], self.max_side)
            except ImageDecodeError as exc:
                self._note(index, str(exc))
        if self.substitute == "blank":
            return Image.new("RGB", (BLANK_SIDE, BLANK_SIDE), _BLANK_RGB)
        label = self.records[index].label
        same_class = self._by_class[label]
        start = same_class.index(index)
        # Walk the class cyclically from the failed image: the first decodable one is the substitute,
        # the same one whichever process asks (known-bad files are passed over without re-reading).
        for k in range(1, len(same_class)):
            candidate = same_class[(start + k) % len(same_class)]
            if self._flags[candidate]:
                continue
            try:
                return load_record_image(self.records[candidate], self.max_side)
            except ImageDecodeError as exc:
                self._note(candidate, str(exc))
        folder = Path(self.records[index].path).parent
        raise ImageDecodeError(
            f"no image of class {label} can be decoded ({len(same_class)} tried, e.g. in {folder}), so the "
            f"class cannot be trained on; fix or remove its files. First error: "
            f"{self.errors.get(index) or self.undecodable().get(index, '?')}"
        )

    def _note(self, index: int, message: str) -> None:
        if not self._flags[index]:
            self._flags[index] = 1
        self.errors.setdefault(index, message)


def skip_summary(dataset: ImageDataset, what: str, limit: int = 3) -> str:
    """One line for the log: how many of `what` could not be decoded, what replaced them, the first
    `limit` files with their reasons. Empty string when nothing was skipped."""
    bad = dataset.undecodable()
    if not bad:
        return ""
    substitute = ("a blank mean-colour image" if dataset.substitute == "blank"
                  else "another image of the same class")
    shown = "; ".join(message for message in list(bad.values())[:limit])
    more = f"; and {len(bad) - limit} more" if len(bad) > limit else ""
    return (f"{len(bad)} of {len(dataset)} {what} could not be decoded and were replaced by {substitute}"
            f" ({shown}{more})")
