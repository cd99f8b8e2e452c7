"""Dataset folder validation for `fghash datasets check` and the GUI: counts, missing images, problems."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.base.errors import DatasetError, ImageDecodeError
from core.data.duplicates import find_cross_split_duplicates
from core.data.images import load_rgb
from core.data.records import DatasetIndex
from core.data.registry import layout_of, load_dataset, loader_module


@dataclass(frozen=True)
class DatasetReport:
    """What `check_dataset` found. `ok` is False when anything in `problems` needs the user's attention."""

    kind: str
    root: str
    layout: str  # the expected-layout paragraph of this kind
    class_names: tuple[str, ...] = ()
    listed: tuple[int, int] = (0, 0)  # (train, test) images the metadata lists
    present: tuple[int, int] = (0, 0)  # (train, test) images found on disk
    missing: int = 0
    complete: bool = False  # all listed images present and the official totals match
    decoded: int = 0  # sampled images that decoded
    content_checked: bool = False  # whether the files were compared byte by byte across splits (content=True)
    duplicates: int = 0  # test images byte-identical to a training image (when content_checked)
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # facts that are fine but worth saying (e.g. "a subset")
    # The dataset's own official splits where they differ from fghash's train (database) / test (query),
    # e.g. Flowers' (("train", 1020), ("valid", 1020), ("test", 6149)); () for the others.
    official_splits: tuple[tuple[str, int], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def check_dataset(kind: str, root: str | Path | None, allow_missing: bool = False,
                  decode_sample: int = 32, content: bool = False) -> DatasetReport:
    """Load `kind` from `root`, then decode up to `decode_sample` images spread over the dataset; with
    `content`, also compare the files across splits (core/data/duplicates.py): a test image that is a
    byte-identical copy of a training image is a problem (count and examples).

    Never raises for a bad folder: every failure becomes a line in `problems`. With allow_missing, absent
    images and non-official totals are notes rather than problems.
    """
    root_text = str(root) if root is not None else ""
    try:
        layout = layout_of(kind)
    except DatasetError as exc:
        return DatasetReport(kind, root_text, "", problems=(str(exc),))
    problems: list[str] = []
    notes: list[str] = []
    try:
        index = load_dataset(kind, root, allow_missing=False)
    except DatasetError as strict_error:
        try:
            index = load_dataset(kind, root, allow_missing=True)
        except DatasetError as exc:
            return DatasetReport(kind, root_text, layout, problems=(str(exc),))
        if allow_missing:
            if index.missing:
                notes.append(f"loaded as a subset (allow_missing): {index.missing:,} listed images are absent")
            else:
                notes.append("loaded as a subset (allow_missing): the counts differ from the official totals")
        else:
            problems.append(str(strict_error))
    # A class without database or query images is a problem in a complete set, expected in a subset.
    (problems if index.complete else notes).extend(_class_coverage(index))
    decoded, decode_problems = _decode_sample(index, decode_sample)
    problems.extend(decode_problems)
    present = (len(index.split("train")), len(index.split("test")))
    if not index.records:
        problems.append("no listed image is present: nothing can be trained or queried")
    duplicates = 0
    if content:
        found = find_cross_split_duplicates(index.records)
        duplicates = len(found.pairs)
        (problems if found.pairs else notes).append(found.summary())
        if found.unreadable:
            problems.append(f"{found.unreadable:,} image file(s) could not be read for the content check "
                            f"(for example {found.unreadable_examples[0]})")
    official: tuple[tuple[str, int], ...] = ()
    splitter = getattr(loader_module(kind), "official_split_counts", None)
    if splitter is not None and index.records:
        try:
            official = splitter(index, allow_missing=True)
        except DatasetError as exc:
            problems.append(str(exc))
    return DatasetReport(
        kind=kind, root=index.root, layout=layout, class_names=index.class_names, listed=index.listed,
        present=present, missing=index.missing, complete=index.complete, decoded=decoded,
        content_checked=content, duplicates=duplicates, problems=tuple(problems), notes=tuple(dict.fromkeys(notes)),
        official_splits=official,
    )


def _class_coverage(index: DatasetIndex) -> list[str]:
    """One line per split that has classes without images."""
    out = []
    for split, role in (("train", "database"), ("test", "query")):
        present = {r.label for r in index.split(split)}
        empty = [name for label, name in enumerate(index.class_names) if label not in present]
        if empty and len(empty) < len(index.class_names):
            out.append(f"{len(empty)} of {len(index.class_names)} classes have no {split} ({role}) images "
                       f"(for example {empty[0]!r})")
    return out


def _decode_sample(index: DatasetIndex, count: int) -> tuple[int, list[str]]:
    records = index.records
    if count <= 0 or not records:
        return 0, []
    step = max(1, len(records) // count)
    decoded, problems = 0, []
    for record in records[::step][:count]:
        try:
            load_rgb(record.path, max_side=256)
            decoded += 1
        except ImageDecodeError as exc:
            problems.append(str(exc))
    return decoded, problems
