"""A run's approximate (IVF) index: `fghash index RUN --approximate`, `fghash query --approximate`, Browse.

The index is `core.search.large_index.ApproximateHammingIndex` (faiss IndexBinaryIVF) over the run's database codes
(including images added later with `fghash encode` or add_images), saved beside the exact `index.faiss` as
`index-ivf.faiss`. Its header records the database checksum it was built from (a stale file is refused, never
used), nlist, the default nprobe, and the recall@k measured at build time against the exact search on a
seeded sample of the run's test-split codes, for a ladder of nprobe values.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.search.codes import CodeSet, load_codes
from core.base.errors import ConfigError, RunError, one_line
from core.base.events import Progress
from core.search.index import HammingIndex, read_index_header
from core.search.large_index import ApproximateHammingIndex, approximate_from_packed, load_approximate_index, recall_at_k
from core.runs.paths import RunPaths, resolve_run

DEFAULT_NPROBE = 16  # bench/index_scale.py: recall@100 0.82 (10M) and 0.90 (100M) at nlist 1024
NLIST_MAX = 1024  # the benchmark's nlist; the build (assigning every code to a cell) grows with nlist
MIN_PER_CELL = 39  # faiss's k-means wants at least this many training codes per cell
RECALL_K = 20  # `fghash query`'s default k
RECALL_QUERIES = 256
RECALL_MEANING = ("share of the approximate top-{k} within the exact top-{k}'s distance (any item at the exact "
                  "{k}th distance counts, so the figure does not depend on how ties are ordered)")


def default_nlist(count: int) -> int:
    """Cells for `count` codes: about sqrt(count), at most NLIST_MAX, and at least MIN_PER_CELL codes per cell
    (so small databases get few cells; below 2 * MIN_PER_CELL codes, one cell: an exact scan)."""
    return max(1, min(round(math.sqrt(count)), NLIST_MAX, count // MIN_PER_CELL))


def rebuild_command(paths: RunPaths) -> str:
    return f"fghash index {paths.run_id} --approximate"


@dataclass(frozen=True)
class ApproximateInfo:
    """What a run's approximate index file says about itself.

    nprobe: the default nprobe chosen at build; recall: ((nprobe, recall@recall_k), ...) measured at build on
    recall_queries test-split codes (empty when the run had none); stale: built from other database codes
    than the run's current ones (it is then refused until rebuilt)."""

    path: str
    count: int
    bits: int
    nlist: int
    nprobe: int
    recall_k: int
    recall_queries: int
    recall: tuple[tuple[int, float], ...]
    stale: bool

    def cells_scanned(self, nprobe: int | None = None) -> int:
        """The cells a query scans at this nprobe (default: the saved one): at most nlist."""
        return self.nprobe if nprobe is None else min(int(nprobe), self.nlist)

    def recall_at(self, nprobe: int | None = None) -> float | None:
        """The build-time recall@recall_k at this nprobe (default: the saved one); None if not measured."""
        return dict(self.recall).get(self.cells_scanned(nprobe))

    def describe(self, nprobe: int | None = None) -> str:
        """One line: the cells scanned and the recall measured at build, with what it means."""
        probe = self.cells_scanned(nprobe)
        head = f"IVF, nprobe {probe} of {self.nlist} cells"
        value = self.recall_at(probe)
        if value is None:
            why = "the run has no test-split codes" if not self.recall_queries else f"not measured at nprobe {probe}"
            return f"{head}; recall unknown ({why})"
        return (f"{head}: recall@{self.recall_k} {value:.3f} measured at build on {self.recall_queries} test-split "
                f"queries = {RECALL_MEANING.format(k=self.recall_k)}")


def _paths(run: str | Path | RunPaths) -> RunPaths:
    return run if isinstance(run, RunPaths) else resolve_run(run)


def _info(paths: RunPaths, header: dict, database_checksum: str) -> ApproximateInfo:
    if header.get("kind") != "ivf":
        raise RunError(f"{paths.approximate_index} is not an approximate (IVF) index: rebuild it with "
                       f"`{rebuild_command(paths)}`")
    try:
        count = header["count"]
        nlist = _whole(header, "nlist", 1, max(count, 1))
        recall = tuple((_whole(dict(p=p), "p", 1, nlist), _fraction(r)) for p, r in header["recall"])
        return ApproximateInfo(str(paths.approximate_index), count, header["bits"], nlist,
                               _whole(header, "nprobe", 1, nlist), _whole(header, "recall_k", 1, max(count, 1)),
                               _whole(header, "recall_queries", 0, 1 << 40), recall,
                               stale=header.get("source_checksum") != database_checksum)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise RunError(f"{paths.approximate_index} has a damaged header ({one_line(exc, 120)}); rebuild it with "
                       f"`{rebuild_command(paths)}`") from None


def _whole(header: dict, key: str, low: int, high: int) -> int:
    """header[key] as an int in low..high; ValueError otherwise (1e400, true, "4", 2**70 in an edited file)."""
    value = header[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key} {value!r} is not a whole number in {low}..{high}")
    return value


def _fraction(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"recall {value!r} is not a number in 0..1")
    return float(value)


def approximate_info(run: str | Path | RunPaths, database: CodeSet | None = None) -> ApproximateInfo | None:
    """The run's approximate index facts from its header alone (cheap), or None when it was never built.

    database: the run's current database codes (loaded when not given), to tell whether the file is stale."""
    paths = _paths(run)
    if not paths.approximate_index.exists():
        return None
    if database is None:
        database = load_codes(paths, "database", expected_bits=paths.load_config().bits)
    return _info(paths, read_index_header(paths.approximate_index, rebuild_command(paths)), database.checksum)


def load_approximate(paths: RunPaths, database: CodeSet) -> tuple[ApproximateHammingIndex, ApproximateInfo]:
    """The run's approximate index, checked against its current database codes. RunError (one line, with the
    command that builds it) when it is missing, damaged, stale or of another size or bit length."""
    rebuild = rebuild_command(paths)
    if not paths.approximate_index.exists():
        raise RunError(f"run {paths.run_id} has no approximate index: build it with `{rebuild}`")
    info = approximate_info(paths, database)
    if info.stale:
        raise RunError(f"{paths.approximate_index} was built from other database codes than run {paths.run_id}'s "
                       f"current ones (images added or codes re-encoded since): rebuild it with `{rebuild}`")
    index, header = load_approximate_index(paths.approximate_index, rebuild, database.packed)
    if index.bits != database.bits or len(index) != len(database):
        raise RunError(f"{paths.approximate_index} holds {len(index)} codes of {index.bits} bits but the database "
                       f"has {len(database)} of {database.bits}: rebuild it with `{rebuild}`")
    return index, info


def build_approximate(run: str | Path | RunPaths, nlist: int | None = None, nprobe: int = DEFAULT_NPROBE,
                      recall_k: int = RECALL_K, recall_queries: int = RECALL_QUERIES, seed: int = 0,
                      ) -> Generator[Progress, None, ApproximateInfo]:
    """Build and save the run's IVF index; yields Progress("train ivf" | "index" | "recall", done, total).

    nlist: cells (default `default_nlist`); nprobe: cells a query scans by default (clipped to nlist).
    Then measures recall@recall_k (`core.search.large_index.recall_at_k`) against the exact search on a seeded
    sample of up to recall_queries test-split codes, at nprobe 1, 4, 16, ... below nlist and at `nprobe`."""
    paths = _paths(run)
    cfg = paths.load_config()
    database = load_codes(paths, "database", expected_bits=cfg.bits)
    count = len(database)
    if count == 0:
        raise RunError(f"run {paths.run_id} has no database codes to index")
    nlist = default_nlist(count) if nlist is None else int(nlist)
    if not 1 <= nlist <= count:
        raise ConfigError(f"--nlist must be between 1 and the database size {count}; got {nlist}")
    if nprobe < 1 or recall_k < 1 or recall_queries < 0:
        raise ConfigError(f"nprobe and the recall k must be >= 1, the recall queries >= 0; got {nprobe}, "
                          f"{recall_k}, {recall_queries}")
    index = yield from approximate_from_packed(database.packed, database.bits, nlist, nprobe, seed=seed)
    yield Progress("recall", 0, 1, None)
    k, recall, sampled = min(recall_k, count), (), 0
    queries = _test_codes(paths, cfg.bits)
    if queries is not None and len(queries) and recall_queries:
        rows = np.sort(np.random.default_rng(seed).choice(len(queries), min(recall_queries, len(queries)),
                                                          replace=False))
        sample, sampled = queries.packed[rows], len(rows)
        exact = HammingIndex.from_packed(database.packed, database.bits, use_gpu=False).search_packed(sample, k)
        ladder = sorted({p for p in (1, 4, 16, 64, 256, 1024) if p < nlist} | {index.nprobe})
        chosen = index.nprobe
        for probe in ladder:
            index.nprobe = probe
            recall += ((probe, round(recall_at_k(index.search_packed(sample, k), exact, k), 4)),)
        index.nprobe = chosen
    yield Progress("recall", 1, 1, 0.0)
    extra = {"recall": [list(r) for r in recall], "recall_k": k, "recall_queries": sampled}
    index.save(paths.approximate_index, source_checksum=database.checksum, extra=extra)
    return approximate_info(paths, database)


def _test_codes(paths: RunPaths, bits: int) -> CodeSet | None:
    """The run's test-split codes, or None when it has none (a damaged file still raises)."""
    if not (paths.codes / "query.npz").exists():
        return None
    return load_codes(paths, "query", expected_bits=bits)
