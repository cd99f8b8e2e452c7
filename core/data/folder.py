"""Generic folder layout: one sub-folder per class under train/ and test/ (like torchvision ImageFolder)."""

from __future__ import annotations

from pathlib import Path

from core.base.errors import DatasetError
from core.data.common import Entry, Totals, build_index, check_root, list_images
from core.data.records import SPLITS, DatasetIndex

KIND = "folder"
LAYOUT = (
    "ROOT/train/<class name>/<image>.jpg and ROOT/test/<class name>/<image>.jpg (also .jpeg/.png/.bmp/"
    ".gif/.webp/.tif). Every class folder holds at least one image; class labels are the class folder "
    "names sorted alphabetically (union of train/ and test/). train/ is the retrieval database, test/ the queries."
)


def load(root: str | Path | None, allow_missing: bool = False) -> DatasetIndex:
    """Scan ROOT/{train,test}/<class>/ (no metadata files, no official totals)."""
    return scan(root, allow_missing, kind=KIND, totals=None, layout=LAYOUT)


def scan(root: str | Path | None, allow_missing: bool, *, kind: str, totals: Totals | None,
         layout: str) -> DatasetIndex:
    """The folder-layout reader shared with the demo set (which has its own kind, totals and layout)."""
    path = check_root(root, kind, layout)
    per_split: dict[str, dict[str, list[Path]]] = {}
    for split in SPLITS:
        split_dir = path / split
        if not split_dir.is_dir():
            raise DatasetError(f"{kind}: folder {split_dir} is missing. Expected layout: {layout}")
        classes: dict[str, list[Path]] = {}
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            images = list_images(class_dir)
            if not images:
                raise DatasetError(f"{kind}: class folder {class_dir} holds no images. "
                                   f"Remove it or add images. Expected layout: {layout}")
            classes[class_dir.name] = images
        if not classes:
            raise DatasetError(f"{kind}: {split_dir} holds no class folders. Expected layout: {layout}")
        per_split[split] = classes
    class_names = sorted(set(per_split["train"]) | set(per_split["test"]))
    label_of = {name: i for i, name in enumerate(class_names)}
    entries = [
        Entry(str(image.relative_to(path)), label_of[name], split)
        for split in SPLITS
        for name, images in per_split[split].items()
        for image in images
    ]
    return build_index(kind, path, path, entries, class_names, totals, allow_missing, layout,
                       source=f"{path}/{{train,test}}")
