"""Helpers shared by the dataset loaders: reading metadata files, checking presence and totals.

Every loader parses its metadata into a list of `Entry(relpath, label, split)` and calls
`build_index`, which resolves paths, counts absent images, applies the allow_missing policy and
compares the counts with the dataset's official totals.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.data.records import SPLITS, DatasetIndex, ImageRecord
from core.errors import DatasetError

# More classes than any real dataset (iNaturalist has 10,000): a larger label is a typo or a corrupt file,
# and must not make us allocate a billion class names.
MAX_CLASSES = 100_000
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Entry:
    """One parsed metadata line: path relative to the image folder, 0-based label, split."""

    relpath: str
    label: int
    split: str


@dataclass(frozen=True)
class Totals:
    """Official counts of a complete dataset (train = database, test = query)."""

    classes: int
    train: int
    test: int


def check_root(root: str | Path | None, kind: str, layout: str) -> Path:
    """The dataset root as an absolute Path; DatasetError if it is missing or not a folder."""
    if root is None or str(root) == "":
        raise DatasetError(f"{kind}: a dataset root folder is required. Expected layout: {layout}")
    path = Path(root).expanduser()
    if "\x00" in str(path) or not path.exists():
        raise DatasetError(f"{kind}: dataset root {path} does not exist. Expected layout: {layout}")
    if not path.is_dir():
        raise DatasetError(f"{kind}: dataset root {path} is not a folder. Expected layout: {layout}")
    return path.resolve()


def require_file(path: Path, kind: str, layout: str) -> Path:
    if not path.is_file():
        raise DatasetError(f"{kind}: metadata file {path} is missing. Expected layout: {layout}")
    return path


def read_lines(path: Path, kind: str, layout: str) -> list[tuple[int, str]]:
    """Non-empty, stripped lines with their 1-based line numbers (tolerates a missing final newline,
    CRLF line ends and a UTF-8 BOM)."""
    require_file(path, kind, layout)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{kind}: {path} is not UTF-8 text ({exc.reason} at byte {exc.start}). "
                           f"Expected layout: {layout}") from None
    except OSError as exc:
        raise DatasetError(f"{kind}: cannot read {path}: {exc.strerror or exc}") from None
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def bad_line(path: Path, lineno: int, line: str, expected: str, kind: str, layout: str) -> DatasetError:
    shown = line if len(line) <= 80 else line[:77] + "..."
    return DatasetError(f"{kind}: {path} line {lineno}: expected {expected}, got {shown!r}. "
                        f"Expected layout: {layout}")


def parse_int(text: str, path: Path, lineno: int, line: str, expected: str, kind: str, layout: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise bad_line(path, lineno, line, expected, kind, layout) from None


def check_num_classes(num_classes: int, kind: str, source: str, layout: str) -> None:
    """DatasetError when labels imply more than MAX_CLASSES classes (call before allocating per-class lists)."""
    if num_classes > MAX_CLASSES:
        raise DatasetError(f"{kind}: {source} implies {num_classes:,} classes (more than {MAX_CLASSES:,}): "
                           f"a class id or label is implausibly large. Expected layout: {layout}")


def build_index(
    kind: str,
    root: Path,
    image_dir: Path,
    entries: Sequence[Entry],
    class_names: Sequence[str],
    totals: Totals | None,
    allow_missing: bool,
    layout: str,
    source: str,
    crop_bottom: int = 0,
) -> DatasetIndex:
    """Resolve entries under image_dir, enforce the allow_missing policy and the official totals.

    `source` names the metadata file(s) for messages. complete=True only when every listed image is
    present and (when totals are known) the counts equal the official ones. With allow_missing the
    index may hold no records at all (metadata only): callers that train must check `records`.
    """
    if not entries:
        raise DatasetError(f"{kind}: {source} lists no images. Expected layout: {layout}")
    num_classes = len(class_names)
    check_num_classes(num_classes, kind, source, layout)
    for e in entries:
        if not 0 <= e.label < num_classes:
            raise DatasetError(f"{kind}: {source}: label {e.label} of {e.relpath} is outside 0..{num_classes - 1} "
                               f"({num_classes} classes). Expected layout: {layout}")
        if e.split not in SPLITS:
            raise DatasetError(f"{kind}: {source}: split {e.split!r} of {e.relpath} is not train/test")
    records: list[ImageRecord] = []
    missing: list[str] = []
    base = str(image_dir)
    listing = _DirListing()
    for e in entries:
        path = os.path.join(base, e.relpath)
        if listing.has(path):
            records.append(ImageRecord(path, e.label, e.split, crop_bottom))
        else:
            missing.append(path)
    counts = {s: sum(1 for e in entries if e.split == s) for s in SPLITS}
    totals_ok = totals is None or (
        totals.classes == num_classes and totals.train == counts["train"] and totals.test == counts["test"]
    )
    if missing and not allow_missing:
        raise DatasetError(
            f"{kind}: {len(missing):,} of {len(entries):,} images listed in {source} are missing "
            f"(for example {missing[0]}). To load the images that are present, pass allow_missing=True "
            f"(CLI: --allow-missing). Expected layout: {layout}"
        )
    if not totals_ok and not allow_missing:
        assert totals is not None
        raise DatasetError(
            f"{kind}: {source} lists {num_classes} classes, {counts['train']:,} train and {counts['test']:,} test "
            f"images; the official dataset has {totals.classes} classes, {totals.train:,} train and "
            f"{totals.test:,} test images. If this is a deliberate subset, pass allow_missing=True "
            f"(CLI: --allow-missing). Expected layout: {layout}"
        )
    return DatasetIndex(
        kind=kind,
        root=str(root),
        records=tuple(records),
        class_names=tuple(class_names),
        missing=len(missing),
        complete=not missing and totals_ok,
        listed=(counts["train"], counts["test"]),
    )


class _DirListing:
    """Presence test by listing each folder once: one listdir per class folder instead of one stat per
    image (NABirds: 555 calls instead of 48,562; a folder that does not exist costs one failed call)."""

    def __init__(self) -> None:
        self._names: dict[str, frozenset[str]] = {}

    def has(self, path: str) -> bool:
        folder, name = os.path.split(path)
        names = self._names.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(folder))
            except (OSError, ValueError):  # ValueError: a NUL byte in a metadata path
                names = frozenset()
            self._names[folder] = names
        return name in names


def list_images(folder: Path) -> list[Path]:
    """Image files directly in `folder` (by extension, case-insensitive, hidden files skipped), sorted."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise DatasetError(f"cannot list {folder}: {exc.strerror or exc}") from None
    return [folder / n for n in names
            if not n.startswith(".") and n.lower().endswith(IMAGE_EXTENSIONS) and (folder / n).is_file()]


def first_token_split(line: str) -> tuple[str, str] | None:
    """Split at the first run of whitespace: 'a b c' -> ('a', 'b c'); None when there is no second part."""
    parts = line.split(None, 1)
    if len(parts) != 2:
        return None
    return parts[0], parts[1].strip()


def unique_in_order(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
