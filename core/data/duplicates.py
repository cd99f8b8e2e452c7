"""Byte-identical images across splits: a test (query) file that is a copy of a training (database) file
under another name puts the query inside the database, which the metadata checks (same path listed twice)
cannot see. `fghash datasets check --content` reports them; training warns when it finds any.

Cheap enough to run before every training: files are grouped by size (one stat each), only files whose size
occurs in both splits are read, first their first 64 KiB, and only where those agree the whole file (SHA-256).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.data.records import ImageRecord

HEAD_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
CONTENT_CHECK = "fghash datasets check --content"  # the command named by every message about duplicates


@dataclass(frozen=True)
class CrossSplitDuplicates:
    """What find_cross_split_duplicates found.

    pairs: (test path, train path) for every test image that is byte-identical to a training image (one
           training copy named per test image), in the test split's order.
    checked: test images compared against the training split; unreadable: files that could not be read
           (not compared, named in `unreadable_examples`).
    """

    pairs: tuple[tuple[str, str], ...]
    checked: int
    unreadable: int = 0
    unreadable_examples: tuple[str, ...] = ()

    def summary(self, examples: int = 3) -> str:
        """One line: the count and up to `examples` pairs."""
        if not self.pairs:
            return f"no test image is byte-identical to a training image ({self.checked:,} compared)"
        shown = "; ".join(f"{test} = {train}" for test, train in self.pairs[:examples])
        more = f"; and {len(self.pairs) - examples:,} more" if len(self.pairs) > examples else ""
        return (f"{len(self.pairs):,} of {self.checked:,} test (query) images are byte-identical copies of "
                f"training (database) images, so those queries find themselves: {shown}{more}")


def _digest(path: str, limit: int | None) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = limit
        while remaining is None or remaining > 0:
            block = f.read(CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining))
            if not block:
                break
            h.update(block)
            if remaining is not None:
                remaining -= len(block)
    return h.digest()


def find_cross_split_duplicates(records: Sequence[ImageRecord]) -> CrossSplitDuplicates:
    """Test records whose file has the same bytes as a train record's file (a different path; the same
    path listed in both splits is refused by the loaders already). Validation records count as queries."""
    train = [r.path for r in records if r.split == "train"]
    queries = [r.path for r in records if r.split != "train"]
    unreadable: list[str] = []

    def sizes(paths: Iterable[str]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for path in paths:
            try:
                out.setdefault(os.stat(path).st_size, []).append(path)
            except OSError:
                unreadable.append(path)
        return out

    train_sizes, query_sizes = sizes(train), sizes(queries)
    found: dict[str, str] = {}
    for size in sorted(set(train_sizes) & set(query_sizes)):
        candidates = {"train": train_sizes[size], "query": query_sizes[size]}
        for limit in (HEAD_BYTES, None):  # narrow on the first 64 KiB, then confirm on the whole file
            keyed: dict[str, dict[bytes, list[str]]] = {"train": {}, "query": {}}
            for side, paths in candidates.items():
                for path in paths:
                    try:
                        keyed[side].setdefault(_digest(path, limit), []).append(path)
                    except OSError:
                        unreadable.append(path)
            common = set(keyed["train"]) & set(keyed["query"])
            candidates = {side: [p for key in common for p in keyed[side][key]] for side in keyed}
            if not common:
                break
            if limit is None or size <= HEAD_BYTES:
                for key in common:
                    for query in keyed["query"][key]:
                        found[query] = keyed["train"][key][0]
                break
    pairs = [(q, found[q]) for q in queries if q in found]
    bad = tuple(dict.fromkeys(unreadable))
    bad_set = set(bad)
    return CrossSplitDuplicates(tuple(pairs), sum(q not in bad_set for q in queries), len(bad), bad[:3])


def duplicates_warning(found: CrossSplitDuplicates) -> str:
    """The training log's warning line: the count, examples, and the command that lists them all."""
    parts = []
    if found.pairs:
        parts.append(found.summary() + "; the reported mAP counts them as found")
    if found.unreadable:
        parts.append(f"{found.unreadable:,} image file(s) could not be read to compare them "
                     f"(for example {found.unreadable_examples[0]})")
    return "; ".join(parts) + f". `{CONTENT_CHECK}` lists them"
