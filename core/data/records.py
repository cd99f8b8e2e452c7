"""The records every dataset loader returns."""

from __future__ import annotations

from dataclasses import dataclass

SPLITS = ("train", "test")
# Validation queries for model selection (core/training/validation.py): taken out of "train" (or, for VegFru, read
# from its separate validation list). Loaders never return them in DatasetIndex.records.
VALIDATION = "val"


@dataclass(frozen=True)
class ImageRecord:
    """One image: absolute path, 0-based class label, split ("train" = database, "test" = query, "val" =
    validation query, see VALIDATION).

    crop_bottom: pixels to cut from the bottom before any transform (FGVC-Aircraft's 20 px copyright
    banner); it travels with the record so every consumer (training, encoding, browsing) honours it.
    """

    path: str
    label: int
    split: str
    crop_bottom: int = 0


@dataclass(frozen=True)
class DatasetIndex:
    """A loaded dataset: its records in metadata order, class names (index = label), and load facts."""

    kind: str
    root: str
    records: tuple[ImageRecord, ...]
    class_names: tuple[str, ...]
    missing: int = 0  # images listed in the metadata but absent on disk (only with allow_missing)
    complete: bool = True  # every listed image is present and the official totals were checked
    listed: tuple[int, int] = (0, 0)  # (train, test) images the metadata lists, present or not

    def split(self, name: str) -> tuple[ImageRecord, ...]:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}; got {name!r}")
        return tuple(r for r in self.records if r.split == name)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
