"""Food-101: meta/classes.txt + meta/train.txt / meta/test.txt ('class/imageid', no extension)."""

from __future__ import annotations

from pathlib import Path

from core.base.errors import DatasetError
from core.data.common import Entry, Totals, bad_line, build_index, check_root, read_lines, unique_in_order
from core.data.records import DatasetIndex

KIND = "food101"
TOTALS = Totals(classes=101, train=75750, test=25250)
LAYOUT = (
    "ROOT (the food-101 folder) holds meta/train.txt and meta/test.txt (lines '<class>/<image id>', no "
    "extension; '.jpg' is added), meta/classes.txt (class folder names; the line order defines the labels; "
    "if absent, meta/labels.txt display names are mapped by lower-casing and replacing spaces with '_') and "
    "images/<class>/<image id>.jpg. Official totals: 101 classes, 75,750 train, 25,250 test."
)


def load(root: str | Path | None, allow_missing: bool = False) -> DatasetIndex:
    path = check_root(root, KIND, LAYOUT)
    meta = path / "meta"
    lists = {split: meta / f"{split}.txt" for split in ("train", "test")}
    parsed: list[tuple[str, str, str]] = []  # (class folder, relpath, split)
    for split, list_path in lists.items():
        for lineno, line in read_lines(list_path, KIND, LAYOUT):
            class_dir, sep, image_id = line.partition("/")
            if not sep or not class_dir or not image_id or " " in class_dir:
                raise bad_line(list_path, lineno, line, "'<class>/<image id>'", KIND, LAYOUT)
            relpath = line if line.lower().endswith((".jpg", ".jpeg")) else f"{line}.jpg"
            parsed.append((class_dir, relpath, split))
    class_names = _class_names(meta, [c for c, _, _ in parsed])
    label_of = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({c for c, _, _ in parsed} - set(label_of))
    if unknown:
        raise DatasetError(f"{KIND}: {len(unknown)} class(es) used in {lists['train']} / test.txt are not in the "
                           f"class list of {meta} (for example {unknown[0]!r}). Expected layout: {LAYOUT}")
    entries = [Entry(relpath, label_of[c], split) for c, relpath, split in parsed]
    return build_index(KIND, path, path / "images", entries, class_names, TOTALS, allow_missing, LAYOUT,
                       source=f"{lists['train']} and test.txt")


def _class_names(meta: Path, used: list[str]) -> list[str]:
    for name, convert in (("classes.txt", False), ("labels.txt", True)):
        f = meta / name
        if f.is_file():
            names = [line for _, line in read_lines(f, KIND, LAYOUT)]
            if convert:  # display names ("Apple pie") -> folder names ("apple_pie"), as SEMICON does
                names = [n.lower().replace(" ", "_") for n in names]
            if len(set(names)) != len(names):
                raise DatasetError(f"{KIND}: {f} lists a class twice. Expected layout: {LAYOUT}")
            return names
    return sorted(unique_in_order(used))  # no class list: alphabetical, which is the official order
