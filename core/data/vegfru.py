"""VegFru: vegfru_list/vegfru_train.txt + vegfru_test.txt ('relpath label', labels 0-based, 292 classes).

vegfru_val.txt is not part of the loaded index (docs/methods.md section 5: the hashing papers train on the
29,200-image train list and query with the test list); `official_validation` reads it for model
selection (TrainConfig.validation = "official"), leaving the training split as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.base.errors import DatasetError
from core.data.common import Entry, Totals, build_index, check_num_classes, check_root
from core.data.listfile import read_path_label_list
from core.data.records import VALIDATION, DatasetIndex, ImageRecord

KIND = "vegfru"
TOTALS = Totals(classes=292, train=29200, test=116931)
LAYOUT = (
    "ROOT (the vegfru folder) holds vegfru_list/vegfru_train.txt (train = database) and vegfru_list/"
    "vegfru_test.txt (test = queries), lines '<relpath> <label 0..291>', with relpaths such as "
    "'veg200_images/<class>/<file>.jpg' or 'fru92_images/<class>/<file>.jpg' under ROOT (or under ROOT/images). "
    "vegfru_list/vegfru_val.txt is read only for model selection on the official validation split. Official totals: 292 classes, 29,200 train, 116,931 test."
)


def load(root: str | Path | None, allow_missing: bool = False) -> DatasetIndex:
    path = check_root(root, KIND, LAYOUT)
    lists = {split: path / "vegfru_list" / f"vegfru_{split}.txt" for split in ("train", "test")}
    parsed = [(relpath, label, split) for split, f in lists.items()
              for relpath, label in read_path_label_list(f, KIND, LAYOUT)]
    num_classes = max(label for _, label, _ in parsed) + 1 if parsed else 0
    check_num_classes(num_classes, KIND, str(lists["train"].parent), LAYOUT)
    # Class names: the folder that holds each class's images (first seen wins).
    names: dict[int, str] = {}
    for relpath, label, _ in parsed:
        parent = Path(relpath).parent.name
        names.setdefault(label, parent or f"class_{label:03d}")
    class_names = [names.get(i, f"class_{i:03d}") for i in range(num_classes)]
    if len(set(class_names)) != len(class_names):
        dup = next(n for n in class_names if class_names.count(n) > 1)
        raise DatasetError(f"{KIND}: images of different labels share the folder {dup!r} in {lists['train'].parent}; "
                           f"each label must have its own class folder. Expected layout: {LAYOUT}")
    image_dir = _image_dir(path, [relpath for relpath, _, _ in parsed[:1]])
    entries = [Entry(relpath, label, split) for relpath, label, split in parsed]
    return build_index(KIND, path, image_dir, entries, class_names, TOTALS, allow_missing, LAYOUT,
                       source=f"{lists['train']} and vegfru_test.txt")


def official_validation(index: DatasetIndex, allow_missing: bool = False) -> tuple[ImageRecord, ...]:
    """The images of vegfru_list/vegfru_val.txt (split "val"); absent ones are an error unless allow_missing."""
    path = Path(index.root)
    list_path = path / "vegfru_list" / "vegfru_val.txt"
    parsed = read_path_label_list(list_path, KIND, LAYOUT)
    image_dir = str(_image_dir(path, [relpath for relpath, _ in parsed[:1]]))
    records, missing = [], []
    for relpath, label in parsed:
        if label >= index.num_classes:
            raise DatasetError(f"{KIND}: {list_path}: label {label} of {relpath} is outside 0..{index.num_classes - 1}. "
                               f"Expected layout: {LAYOUT}")
        full = os.path.join(image_dir, relpath)
        (records if os.path.isfile(full) else missing).append(ImageRecord(full, label, VALIDATION))
    if missing and not allow_missing:
        raise DatasetError(f"{KIND}: {len(missing):,} of {len(parsed):,} validation images listed in {list_path} are "
                           f"missing (for example {missing[0].path}); pass --allow-missing to use the ones present")
    return tuple(records)


def _image_dir(root: Path, sample: list[str]) -> Path:
    """ROOT, unless the lists' top folder (veg200_images/...) only exists under ROOT/images."""
    if sample:
        top = Path(sample[0]).parts[0]
        if not (root / top).exists() and (root / "images" / top).exists():
            return root / "images"
    return root
