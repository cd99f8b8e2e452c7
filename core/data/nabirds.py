"""NABirds: UUID-keyed images.txt / image_class_labels.txt / train_test_split.txt; leaf ids remapped.

The class ids in image_class_labels.txt are sparse leaves of a 1,011-node taxonomy (295..1010); they
are remapped to 0..554 in increasing id order, and named from classes.txt.
"""

from __future__ import annotations

from pathlib import Path

from core.base.errors import DatasetError
from core.data.common import Entry, Totals, bad_line, build_index, check_root, parse_int, read_lines
from core.data.records import DatasetIndex

KIND = "nabirds"
TOTALS = Totals(classes=555, train=23929, test=24633)
LAYOUT = (
    "ROOT (the nabirds folder) holds images.txt ('<uuid> <relpath>', e.g. '0000139e-... 0817/0000139e....jpg'), "
    "image_class_labels.txt ('<uuid> <class id>'), train_test_split.txt ('<uuid> <1 = train | 0 = test>'), "
    "classes.txt ('<class id> <name>') and images/<relpath>. Leaf class ids (295..1010) are remapped to "
    "0..554. Official totals: 555 classes, 23,929 train, 24,633 test."
)


def _pairs(path: Path, expected: str) -> dict[str, tuple[str, int, str]]:
    out: dict[str, tuple[str, int, str]] = {}
    for lineno, line in read_lines(path, KIND, LAYOUT):
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise bad_line(path, lineno, line, expected, KIND, LAYOUT)
        if parts[0] in out:
            raise bad_line(path, lineno, line, f"{expected} with a unique key ({parts[0]} repeats)", KIND, LAYOUT)
        out[parts[0]] = (parts[1].strip(), lineno, line)
    return out


def load(root: str | Path | None, allow_missing: bool = False) -> DatasetIndex:
    path = check_root(root, KIND, LAYOUT)
    images_txt, labels_txt = path / "images.txt", path / "image_class_labels.txt"
    split_txt, classes_txt = path / "train_test_split.txt", path / "classes.txt"
    images = _pairs(images_txt, "'<uuid> <relative path>'")
    labels = _pairs(labels_txt, "'<uuid> <class id>'")
    splits = _pairs(split_txt, "'<uuid> <1|0>'")
    names = {
        parse_int(key, classes_txt, lineno, line, "'<class id> <name>'", KIND, LAYOUT): name
        for key, (name, lineno, line) in _pairs(classes_txt, "'<class id> <name>'").items()
    }
    raw: list[tuple[str, int, str]] = []
    for key, (relpath, _, _) in images.items():
        if key not in labels or key not in splits:
            where = labels_txt if key not in labels else split_txt
            raise DatasetError(f"{KIND}: image {key} from {images_txt} has no line in {where}. "
                               f"Expected layout: {LAYOUT}")
        value, lineno, line = labels[key]
        class_id = parse_int(value, labels_txt, lineno, line, "'<uuid> <class id>'", KIND, LAYOUT)
        if class_id not in names:
            raise bad_line(labels_txt, lineno, line, f"a class id listed in {classes_txt.name}", KIND, LAYOUT)
        flag, lineno, line = splits[key]
        if flag not in ("0", "1"):
            raise bad_line(split_txt, lineno, line, "'<uuid> <1|0>'", KIND, LAYOUT)
        raw.append((relpath, class_id, "train" if flag == "1" else "test"))
    leaves = sorted({class_id for _, class_id, _ in raw})
    label_of = {class_id: i for i, class_id in enumerate(leaves)}
    entries = [Entry(relpath, label_of[class_id], split) for relpath, class_id, split in raw]
    class_names = [names[class_id] for class_id in leaves]
    return build_index(KIND, path, path / "images", entries, class_names, TOTALS, allow_missing, LAYOUT,
                       source=str(images_txt))
