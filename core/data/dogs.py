"""Stanford Dogs: official train_list.mat / test_list.mat, or 'relpath label' train.txt / test.txt lists.

The .mat files hold 'file_list' (relpaths like 'n02085620-Chihuahua/n02085620_5927.jpg') and 'labels'
(1..120). The text lists used by hashing codebases come 1-based (SEMICON) or 0-based with an 'Images/'
prefix (MuiltNet); the base is detected from the smallest label over both lists.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.base.errors import DatasetError
from core.data.common import Entry, Totals, build_index, check_num_classes, check_root
from core.data.listfile import read_path_label_list
from core.data.matfile import load_mat
from core.data.records import DatasetIndex

KIND = "dogs"
TOTALS = Totals(classes=120, train=12000, test=8580)
LAYOUT = (
    "ROOT (the Stanford Dogs folder) holds Images/<wnid>-<breed>/<file>.jpg (or images/...) and either the "
    "official train_list.mat and test_list.mat (variables 'file_list' and 'labels' 1..120) or text lists "
    "train.txt and test.txt with lines '<relpath> <label>' (labels 1-based or 0-based; relpaths with or "
    "without the 'Images/' prefix). Official totals: 120 breeds, 12,000 train, 8,580 test."
)
_SPLITS = ("train", "test")


def load(root: str | Path | None, allow_missing: bool = False) -> DatasetIndex:
    path = check_root(root, KIND, LAYOUT)
    if all((path / f"{s}_list.mat").is_file() for s in _SPLITS):
        parsed, source, base = _from_mat(path), f"{path / 'train_list.mat'} and test_list.mat", 1
    elif all((path / f"{s}.txt").is_file() for s in _SPLITS):
        (parsed, base), source = _from_txt(path), f"{path / 'train.txt'} and test.txt"
    else:
        raise DatasetError(f"{KIND}: neither {path / 'train_list.mat'} + test_list.mat nor {path / 'train.txt'} + "
                           f"test.txt exist. Expected layout: {LAYOUT}")
    image_dir = next((path / d for d in ("Images", "images") if (path / d).is_dir()), path / "Images")
    parsed = [(_strip_images_prefix(relpath), label, split) for relpath, label, split in parsed]
    num_classes = max(label for _, label, _ in parsed) + 1 if parsed else 0
    check_num_classes(num_classes, KIND, source, LAYOUT)
    names: dict[int, str] = {}
    for relpath, label, _ in parsed:
        folder = Path(relpath).parent.name
        names.setdefault(label, folder.split("-", 1)[1] if "-" in folder else folder or f"class_{label:03d}")
    class_names = [names.get(i, f"class_{i:03d}") for i in range(num_classes)]
    entries = [Entry(relpath, label, split) for relpath, label, split in parsed]
    return build_index(KIND, path, image_dir, entries, class_names, TOTALS, allow_missing, LAYOUT, source=source,
                       label_base=base)


def _from_mat(root: Path) -> list[tuple[str, int, str]]:
    out: list[tuple[str, int, str]] = []
    for split in _SPLITS:
        f = root / f"{split}_list.mat"
        mat = load_mat(f, KIND, LAYOUT)
        if "file_list" not in mat or "labels" not in mat:
            raise DatasetError(f"{KIND}: {f} lacks the variable 'file_list' or 'labels'. Expected layout: {LAYOUT}")
        files = [_mat_string(x, f) for x in np.asarray(mat["file_list"], dtype=object).ravel()]
        try:
            labels = np.asarray(mat["labels"], dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise DatasetError(f"{KIND}: {f}: 'labels' is not numeric. Expected layout: {LAYOUT}") from None
        if len(files) != len(labels):
            raise DatasetError(f"{KIND}: {f}: 'file_list' has {len(files)} entries but 'labels' has {len(labels)}. "
                               f"Expected layout: {LAYOUT}")
        if labels.size and (labels.min() < 1 or not np.all(labels == np.round(labels))):
            raise DatasetError(f"{KIND}: {f}: 'labels' must be whole numbers from 1. Expected layout: {LAYOUT}")
        out.extend((name, int(label) - 1, split) for name, label in zip(files, labels))
    return out


def _mat_string(value: object, f: Path) -> str:
    """loadmat gives cell entries as nested arrays: array([array(['a/b.jpg'], dtype='<U..')], dtype=object)."""
    while isinstance(value, np.ndarray):
        if value.size != 1:
            raise DatasetError(f"{KIND}: {f}: 'file_list' entries must be single strings. Expected layout: {LAYOUT}")
        value = value.ravel()[0]
    if not isinstance(value, str) or not value:
        raise DatasetError(f"{KIND}: {f}: 'file_list' entries must be non-empty strings; got {value!r}. "
                           f"Expected layout: {LAYOUT}")
    return value


def _from_txt(root: Path) -> tuple[list[tuple[str, int, str]], int]:
    """(relpath, 0-based label, split) rows and the label base the lists use (1 or 0)."""
    lists = {split: read_path_label_list(root / f"{split}.txt", KIND, LAYOUT) for split in _SPLITS}
    labels = [label for rows in lists.values() for _, label in rows]
    base = 1 if labels and min(labels) == 1 else 0
    return [(relpath, label - base, split) for split, rows in lists.items() for relpath, label in rows], base


def _strip_images_prefix(relpath: str) -> str:
    head, sep, tail = relpath.partition("/")
    return tail if sep and head in ("Images", "images") else relpath
