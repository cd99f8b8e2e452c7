"""Helpers shared by the dataset loaders: reading metadata files, checking presence and totals.

Every loader parses its metadata into a list of `Entry(relpath, label, split)` and calls
`build_index`, which resolves paths, refuses impossible labels and files listed twice (a query that
is also in the database), counts absent images, applies the allow_missing policy and compares the
counts with the dataset's official totals.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.data.records import SPLITS, DatasetIndex, ImageRecord
from core.base.errors import DatasetError

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
    label_base: int = 0,
    label_source: str | None = None,
) -> DatasetIndex:
    """Resolve entries under image_dir, refuse impossible labels and files listed twice, enforce the
    allow_missing policy and the official totals.

    `source` names the metadata file(s) for messages, `label_source` the file that gives the labels when it
    is another one (CUB's image_class_labels.txt); `label_base` is the number the metadata gives the
    first class (1 for CUB's 1..200), so messages quote labels as the file writes them. Whatever
    allow_missing says, DatasetError when a label lies outside the dataset's classes (beyond the official
    class count when totals are known) or when one file (after resolving `./`, `..` and symlinks) is
    listed twice: in both splits that would put a query into the database. complete=True only when every
    listed image is present and (when totals are known) the counts equal the official ones. With
    allow_missing the index may hold no records at all (metadata only): callers that train must check
    `records`.
    """
    if not entries:
        raise DatasetError(f"{kind}: {source} lists no images. Expected layout: {layout}")
    num_classes = len(class_names)
    check_num_classes(num_classes, kind, label_source or source, layout)
    for e in entries:
        if e.split not in SPLITS:
            raise DatasetError(f"{kind}: {source}: split {e.split!r} of {e.relpath} is not train/test")
    _refuse_labels_outside(kind, entries, num_classes, totals, label_base, label_source or source, layout)
    records: list[ImageRecord] = []
    missing: list[str] = []
    base = str(image_dir)
    listing = _DirListing()
    first_entry: dict[Hashable, Entry] = {}  # file identity -> the first entry that lists it
    repeats: dict[Hashable, list[Entry]] = {}  # file identity -> the later entries that list it again
    for e in entries:
        path = os.path.join(base, e.relpath)
        key = listing.identity(path)
        if first_entry.setdefault(key, e) is not e:
            repeats.setdefault(key, []).append(e)
        if listing.has(path):
            records.append(ImageRecord(path, e.label, e.split, crop_bottom))
        else:
            missing.append(path)
    if repeats:
        raise _repeat_error(kind, [[first_entry[key], *later] for key, later in repeats.items()], base, source,
                            layout)
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


def _refuse_labels_outside(kind: str, entries: Sequence[Entry], num_classes: int, totals: Totals | None,
                           label_base: int, source: str, layout: str) -> None:
    """DatasetError when a label lies outside the class list or, when the official class count is known,
    beyond it: CUB metadata saying class 9999 makes a 9999-class dataset, not a 200-class one with a typo."""
    limit = num_classes if totals is None else min(num_classes, totals.classes)
    bad = [e for e in entries if not 0 <= e.label < limit]
    if bad:
        first, last = label_base, label_base + limit - 1
        official = "" if totals is None else f"; the official dataset has {totals.classes} classes"
        raise DatasetError(f"{kind}: {source}: {len(bad):,} image(s) have a class label outside {first}..{last} "
                           f"(for example {bad[0].relpath} with label {bad[0].label + label_base}){official}. "
                           f"Fix the labels; a deliberate subset still uses the official class numbers. "
                           f"Expected layout: {layout}")
    if totals is not None and num_classes > totals.classes:
        raise DatasetError(f"{kind}: {source}: the class list has {num_classes} classes; the official dataset has "
                           f"{totals.classes}. Expected layout: {layout}")


def _repeat_error(kind: str, groups: list[list[Entry]], base: str, source: str, layout: str) -> DatasetError:
    """The one-line refusal of metadata that lists files more than once; `groups` holds, per such file,
    every entry that names it. A file counts as "in both splits" and/or "twice in one split"."""
    across = [g for g in groups if len({e.split for e in g}) > 1]
    within = sum(1 for g in groups if len({e.split for e in g}) < len(g))
    a = (across or groups)[0][0]
    b = next((e for e in (across or groups)[0][1:] if e.split != a.split or not across))
    same = "" if a.relpath == b.relpath else f" (as {a.relpath} and {b.relpath}, which are the same file)"
    counts = ", ".join(part for part in (
        f"{len(across):,} file(s) in both the train (database) and the test (query) split" if across else "",
        f"{within:,} file(s) twice in one split" if within else "") if part)
    return DatasetError(f"{kind}: {source} lists {counts}, for example {os.path.join(base, a.relpath)} in "
                        f"{a.split} and {b.split}{same}; a query in the database inflates mAP and a repeated "
                        f"image weighs twice: list each image once. Expected layout: {layout}")


class _DirListing:
    """Presence test and file identity by listing each folder once: one scandir per class folder instead
    of one stat per image (NABirds: 555 calls instead of 48,562; a folder that does not exist costs one
    failed call)."""

    def __init__(self) -> None:
        self._names: dict[str, tuple[frozenset[str], frozenset[str]]] = {}  # folder -> (names, symlinks)
        self._real: dict[str, str] = {}  # folder -> its realpath
        self._inodes: dict[str, tuple[int, dict[str, int]]] = {}  # folder -> (its device, name -> inode)

    def _listing(self, folder: str) -> tuple[frozenset[str], frozenset[str]]:
        listing = self._names.get(folder)
        if listing is None:
            try:
                with os.scandir(folder) as it:
                    items = [(d.name, d.is_symlink(), d.inode()) for d in it]  # inode: from the listing itself
                device = os.stat(folder).st_dev
            except (OSError, ValueError):  # ValueError: a NUL byte in a metadata path
                items, device = [], -1
            listing = (frozenset(n for n, _, _ in items), frozenset(n for n, link, _ in items if link))
            self._names[folder] = listing
            self._inodes[folder] = (device, {n: ino for n, link, ino in items if not link})
        return listing

    def identity(self, path: str) -> Hashable:
        """What makes two paths one file: (device, inode) when it exists, so two hard links of one image
        (a train/test leak `ln a.jpg b.jpg` makes) compare equal; else the resolved path."""
        folder, name = os.path.split(path)
        self._listing(folder)
        device, inodes = self._inodes.get(folder, (-1, {}))
        if name in inodes and device != -1:
            return (device, inodes[name])
        if name in self._listing(folder)[1]:  # a symlinked file: the identity of what it points to
            try:
                info = os.stat(path)
                return (info.st_dev, info.st_ino)
            except (OSError, ValueError):
                pass
        return self.resolved(path)

    def has(self, path: str) -> bool:
        folder, name = os.path.split(path)
        return name in self._listing(folder)[0]

    def resolved(self, path: str) -> str:
        """The file `path` names, as a canonical absolute path: `./`, `..`, repeated slashes and symlinks
        (of folders and of the file itself) resolved, so two spellings of one file compare equal. The
        realpath of each folder is computed once; only a symlinked file costs its own realpath."""
        folder, name = os.path.split(path)
        if name in ("", ".", "..") or name in self._listing(folder)[1]:
            return _realpath(path)
        real = self._real.get(folder)
        if real is None:
            real = self._real[folder] = _realpath(folder)
        return os.path.join(real, name)


def _realpath(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):  # ValueError: a NUL byte; such a path is reported missing later anyway
        return os.path.normpath(path)


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
