"""CUB-200-2011: images.txt / image_class_labels.txt / train_test_split.txt keyed by integer image id."""

from __future__ import annotations

from pathlib import Path

from core.base.errors import DatasetError
from core.data.common import (
    Entry,
    Totals,
    bad_line,
    build_index,
    check_num_classes,
    check_root,
    parse_int,
    read_lines,
    require_file,
)
from core.data.records import DatasetIndex

KIND = "cub"
TOTALS = Totals(classes=200, train=5994, test=5794)
LAYOUT = (
    "ROOT (the CUB_200_2011 folder) holds images.txt ('<id> <relpath>'), image_class_labels.txt "
    "('<id> <class 1..200>'), train_test_split.txt ('<id> <1 = train | 0 = test>'), classes.txt "
    "('<class> <name>', optional) and images/<relpath> (e.g. images/001.Black_footed_Albatross/"
    "Black_Footed_Albatross_0046_18.jpg). Official totals: 200 classes, 5,994 train, 5,794 test."
)


def _pairs(path: Path, expected: str) -> dict[str, tuple[str, int, str]]:
    """'key value' lines -> {key: (value, lineno, line)}; duplicate keys are an error."""
    out: dict[str, tuple[str, int, str]] = {}
    for lineno, line in read_lines(path, KIND, LAYOUT):
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise bad_line(path, lineno, line, expected, KIND, LAYOUT)
        if parts[0] in out:
            raise bad_line(path, lineno, line, f"{expected} with a unique id ({parts[0]} repeats)", KIND, LAYOUT)
        out[parts[0]] = (parts[1].strip(), lineno, line)
    return out


def load(root: str | Path | None, allow_missing: bool = False) -> DatasetIndex:
    path = check_root(root, KIND, LAYOUT)
    images_txt = path / "images.txt"
    labels_txt = path / "image_class_labels.txt"
    split_txt = path / "train_test_split.txt"
    images = _pairs(images_txt, "'<image id> <relative path>'")
    labels = _pairs(labels_txt, "'<image id> <class id 1..200>'")
    splits = _pairs(split_txt, "'<image id> <1|0>'")
    entries: list[Entry] = []
    max_class = 0
    for image_id, (relpath, _, _) in images.items():
        if image_id not in labels or image_id not in splits:
            where = labels_txt if image_id not in labels else split_txt
            raise DatasetError(f"{KIND}: image id {image_id} from {images_txt} has no line in {where}. "
                               f"Expected layout: {LAYOUT}")
        value, lineno, line = labels[image_id]
        class_id = parse_int(value, labels_txt, lineno, line, "'<image id> <class id 1..200>'", KIND, LAYOUT)
        value, lineno, line = splits[image_id]
        if value not in ("0", "1"):
            raise bad_line(split_txt, lineno, line, "'<image id> <1|0>'", KIND, LAYOUT)
        if class_id < 1:
            raise bad_line(labels_txt, labels[image_id][1], labels[image_id][2],
                           "class ids starting at 1", KIND, LAYOUT)
        max_class = max(max_class, class_id)
        entries.append(Entry(relpath, class_id - 1, "train" if value == "1" else "test"))
    check_num_classes(max_class, KIND, str(labels_txt), LAYOUT)
    class_names = _class_names(path / "classes.txt", max_class)
    return build_index(KIND, path, path / "images", entries, class_names, TOTALS, allow_missing, LAYOUT,
                       source=str(images_txt), label_base=1, label_source=str(labels_txt))


def _class_names(classes_txt: Path, max_class: int) -> list[str]:
    """Names from classes.txt (ids 1..K; a subset's classes.txt may list fewer, then ids name the rest)."""
    names = {i: f"class_{i:03d}" for i in range(1, max_class + 1)}
    if classes_txt.is_file():
        for lineno, line in read_lines(require_file(classes_txt, KIND, LAYOUT), KIND, LAYOUT):
            parts = line.split(None, 1)
            if len(parts) != 2:
                raise bad_line(classes_txt, lineno, line, "'<class id> <name>'", KIND, LAYOUT)
            class_id = parse_int(parts[0], classes_txt, lineno, line, "'<class id> <name>'", KIND, LAYOUT)
            if class_id < 1:
                raise bad_line(classes_txt, lineno, line, "class ids starting at 1", KIND, LAYOUT)
            names[class_id] = parts[1].strip()
    count = max(names) if names else 0
    return [names.get(i, f"class_{i:03d}") for i in range(1, count + 1)]
