"""Oxford Flowers 102: imagelabels.mat (labels 1..102) + setid.mat (trnid / valid / tstid, 1-based).

Split decision: train (= retrieval database) is trnid + valid (2 x 1,020 = 2,040 images, 20 per class);
test (= queries) is tstid (6,149 images). Hashing papers need a labelled database and a disjoint query
set; without model selection the official validation split has no other use, so it joins the database
rather than being dropped, and the large official test split stays the query set. With model selection
on the official split (TrainConfig.validation = "official"), `official_validation` names the valid
images and core/training/validation.py takes them out of train.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.data.common import Entry, Totals, build_index, check_num_classes, check_root, require_file
from core.data.flowers_names import FLOWER_NAMES
from core.data.matfile import load_mat
from core.data.records import VALIDATION, DatasetIndex, ImageRecord
from core.base.errors import DatasetError

KIND = "flowers"
TOTALS = Totals(classes=102, train=2040, test=6149)
LAYOUT = (
    "ROOT (the flowers-102 folder) holds imagelabels.mat (variable 'labels': 1..102 for image_00001.jpg "
    "onwards), setid.mat (variables 'trnid', 'valid', 'tstid': 1-based image numbers), jpg/image_NNNNN.jpg "
    "and optionally cat_to_name.json ({'1': 'pink primrose', ...}) for class names (else the standard 102 "
    "names). train (database) = "
    "trnid + valid, test (queries) = tstid. Official totals: 102 classes, 2,040 train, 6,149 test."
)


def load(root: str | Path | None, allow_missing: bool = False) -> DatasetIndex:
    path = check_root(root, KIND, LAYOUT)
    labels_mat = require_file(path / "imagelabels.mat", KIND, LAYOUT)
    setid_mat = require_file(path / "setid.mat", KIND, LAYOUT)
    labels = _int_vector(load_mat(labels_mat, KIND, LAYOUT), "labels", labels_mat)
    sets = load_mat(setid_mat, KIND, LAYOUT)
    split_ids = {name: _int_vector(sets, name, setid_mat) for name in ("trnid", "valid", "tstid")}
    if labels.size == 0 or labels.min() < 1:
        raise DatasetError(f"{KIND}: {labels_mat}: 'labels' must hold class numbers starting at 1. "
                           f"Expected layout: {LAYOUT}")
    num_classes = int(labels.max())
    check_num_classes(num_classes, KIND, str(labels_mat), LAYOUT)
    entries: list[Entry] = []
    seen: set[int] = set()
    for name, split in (("trnid", "train"), ("valid", "train"), ("tstid", "test")):
        for image_no in split_ids[name].tolist():
            if not 1 <= image_no <= labels.size:
                raise DatasetError(f"{KIND}: {setid_mat}: '{name}' holds image number {image_no}, outside "
                                   f"1..{labels.size} (the length of 'labels' in {labels_mat.name}). "
                                   f"Expected layout: {LAYOUT}")
            if image_no in seen:
                raise DatasetError(f"{KIND}: {setid_mat}: image number {image_no} is in more than one split. "
                                   f"Expected layout: {LAYOUT}")
            seen.add(image_no)
            entries.append(Entry(f"image_{image_no:05d}.jpg", int(labels[image_no - 1]) - 1, split))
    class_names = _class_names(path / "cat_to_name.json", num_classes)
    return build_index(KIND, path, path / "jpg", entries, class_names, TOTALS, allow_missing, LAYOUT,
                       source=f"{labels_mat} and {setid_mat.name}", label_base=1)


def official_validation(index: DatasetIndex, allow_missing: bool = False) -> tuple[ImageRecord, ...]:
    """The loaded training records that setid.mat lists as 'valid' (split "val"), in dataset order."""
    setid_mat = require_file(Path(index.root) / "setid.mat", KIND, LAYOUT)
    valid = _int_vector(load_mat(setid_mat, KIND, LAYOUT), "valid", setid_mat)
    names = {f"image_{n:05d}.jpg" for n in valid.tolist()}
    return tuple(replace(r, split=VALIDATION) for r in index.split("train") if Path(r.path).name in names)


def _int_vector(mat: dict, name: str, path: Path) -> np.ndarray:
    if name not in mat:
        raise DatasetError(f"{KIND}: {path} has no variable {name!r}. Expected layout: {LAYOUT}")
    try:
        arr = np.asarray(mat[name], dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise DatasetError(f"{KIND}: {path}: variable {name!r} is not a numeric vector. "
                           f"Expected layout: {LAYOUT}") from None
    if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
        raise DatasetError(f"{KIND}: {path}: variable {name!r} must hold whole numbers. Expected layout: {LAYOUT}")
    if arr.size and np.abs(arr).max() > 2 ** 31:  # beyond any image count; would not fit int64 either
        raise DatasetError(f"{KIND}: {path}: variable {name!r} holds an implausibly large number "
                           f"({np.abs(arr).max():.4g}). Expected layout: {LAYOUT}")
    return arr.astype(np.int64)


def official_split_counts(index: DatasetIndex, allow_missing: bool = False) -> tuple[tuple[str, int], ...]:
    """(("train", n), ("valid", n), ("test", n)): the loaded images of setid.mat's trnid / valid / tstid
    (1,020 / 1,020 / 6,149 in the complete set); fghash's database (train) is trnid + valid."""
    valid = len(official_validation(index, allow_missing))
    train = len(index.split("train"))
    return (("train", train - valid), ("valid", valid), ("test", len(index.split("test"))))


def _class_names(names_json: Path, num_classes: int) -> list[str]:
    # the standard 102 names (core/data/flowers_names.py) unless the labels say another class count
    names = (list(FLOWER_NAMES) if num_classes == len(FLOWER_NAMES)
             else [f"class_{i:03d}" for i in range(1, num_classes + 1)])
    if names_json.is_file():
        try:
            mapping = json.loads(names_json.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"{KIND}: cannot read class names from {names_json}: {exc}. "
                               f"Expected layout: {LAYOUT}") from None
        if not isinstance(mapping, dict):
            raise DatasetError(f"{KIND}: {names_json} must be a JSON object {{'1': 'name', ...}}")
        for key, value in mapping.items():
            if str(key).isdigit() and 1 <= int(key) <= num_classes:
                names[int(key) - 1] = str(value)
    return names
