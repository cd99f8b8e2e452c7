"""One entry point for every dataset layout: `load_dataset(kind, root, allow_missing, **options)`.

Each kind is one module in core/data/ exposing `LAYOUT` (a one-paragraph description used in error
messages and `fghash datasets list`) and `load(root, allow_missing=False, **options) -> DatasetIndex`.
"""

from __future__ import annotations

import importlib
import inspect
import os
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from core.base.errors import DatasetError
from core.data.records import DatasetIndex, ImageRecord

DATASET_KINDS = ("demo", "cub", "aircraft", "nabirds", "vegfru", "food101", "dogs", "flowers", "folder")

_MODULES = {
    "demo": "core.data.demo",
    "cub": "core.data.cub",
    "aircraft": "core.data.aircraft",
    "nabirds": "core.data.nabirds",
    "vegfru": "core.data.vegfru",
    "food101": "core.data.food101",
    "dogs": "core.data.dogs",
    "flowers": "core.data.flowers",
    "folder": "core.data.folder",
}

TITLES = {
    "demo": "built-in synthetic demo set (10 classes)",
    "cub": "CUB-200-2011 (200 bird species)",
    "aircraft": "FGVC-Aircraft 2013b, variant level (100 variants)",
    "nabirds": "NABirds (555 leaf classes)",
    "vegfru": "VegFru (292 vegetable and fruit classes)",
    "food101": "Food-101 (101 dishes)",
    "dogs": "Stanford Dogs (120 breeds)",
    "flowers": "Oxford Flowers 102 (102 species)",
    "folder": "generic folder layout (train/<class>, test/<class>)",
}


def loader_module(kind: str) -> ModuleType:
    """The module implementing `kind`; DatasetError listing the known kinds if it is unknown."""
    if kind not in _MODULES:
        raise DatasetError(f"unknown dataset kind {kind!r}; known kinds: {', '.join(DATASET_KINDS)}")
    return importlib.import_module(_MODULES[kind])


def layout_of(kind: str) -> str:
    """The expected-layout paragraph of `kind`."""
    return str(loader_module(kind).LAYOUT)


def load_dataset(kind: str, root: str | Path | None = None, allow_missing: bool = False,
                 **options: Any) -> DatasetIndex:
    """Load dataset `kind` from `root` (None only for "demo").

    Raises DatasetError (naming the file and the expected layout) when the folder does not match,
    when listed images are absent and allow_missing is False, or when an option is unknown.
    Options per kind: aircraft crop_banner (bool, default True); demo seed (int, default 0).
    """
    module = loader_module(kind)
    accepted = set(inspect.signature(module.load).parameters) - {"root", "allow_missing"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        known = ", ".join(sorted(accepted)) or "none"
        raise DatasetError(f"{kind}: unknown option(s) {', '.join(unknown)}; options of this kind: {known}")
    if root is None and kind != "demo":
        raise DatasetError(f"{kind}: a dataset root folder is required. Expected layout: {module.LAYOUT}")
    index = module.load(root, allow_missing=allow_missing, **options)
    if root is not None:
        _refuse_paths_outside(index, Path(root), module.LAYOUT)
    return index


def has_official_validation(kind: str) -> bool:
    """Whether dataset `kind` has an official validation split (Flowers valid, Aircraft val, VegFru val)."""
    return hasattr(loader_module(kind), "official_validation")


def official_validation(index: DatasetIndex, allow_missing: bool = False) -> tuple[ImageRecord, ...]:
    """The official validation images of a loaded dataset as records of split "val" (core.data.records).

    Flowers and Aircraft: a subset of the training records (the default protocol trains on them);
    VegFru: its separate validation list. DatasetError for a kind without one."""
    module = loader_module(index.kind)
    if not hasattr(module, "official_validation"):
        with_one = ", ".join(k for k in DATASET_KINDS if hasattr(loader_module(k), "official_validation"))
        raise DatasetError(f"{index.kind} has no official validation split (only {with_one} have one); "
                           f"use a fraction of the training split instead (CLI: --val-fraction F)")
    records = module.official_validation(index, allow_missing=allow_missing)
    _refuse_paths_outside(replace(index, records=records), Path(index.root), module.LAYOUT)
    return records


def _refuse_paths_outside(index: DatasetIndex, root: Path, layout: str) -> None:
    """Metadata may only name images inside the dataset folder: a `../` or absolute path in a list file
    would make training read (and the GUI show) files from anywhere. Checked lexically, so a dataset whose
    images/ folder is a symlink to another disk still loads. Compared with the root the loader resolved
    (index.root, where the records' paths start), so a root given through a symlink loads too."""
    inside = os.path.normpath(os.path.abspath(index.root)) + os.sep
    outside = [r.path for r in index.records if not os.path.normpath(os.path.abspath(r.path)).startswith(inside)]
    if outside:
        raise DatasetError(f"{index.kind}: {len(outside)} image path(s) in the metadata point outside {root}, "
                           f"e.g. {outside[0]}; a dataset lists only files inside its folder. Expected layout: "
                           f"{layout}")
