"""A run's approximate (IVF) index: `fghash index RUN --approximate`, `fghash query --approximate`, Browse.

The index is `core.search.large_index.ApproximateHammingIndex` (faiss IndexBinaryIVF) over the run's database codes
(including images added later with `fghash encode` or add_images), saved beside the exact `index.faiss` as
`index-ivf.faiss`. Its header records the database checksum it was built from (a stale file is refused, never
used), nlist, the default nprobe, and the recall@k measured at build time against the exact search on a
seeded sample of the run's test-split codes (or of its database codes when it has no test split), for a
ladder of nprobe values.

Recall is the contract: unless nprobe is given, the build picks the smallest nprobe whose measured recall@k
reaches `target_recall` (default 0.95 at k = 20; recall never falls as nprobe grows, so a bisection over
1..nlist finds it), and records the single-query latency at that nprobe. Query and Browse use it and their
caption states its recall. When only nprobe = nlist (every cell: an exhaustive scan) reaches the target,
the approximate index saves nothing and the build says to use exact search.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.base.errors import ConfigError, RunError, one_line
from core.base.events import Progress
from core.runs.catalog import resolve_run
from core.runs.paths import RunPaths
from core.search.codes import CodeSet, load_codes
from core.search.index import HammingIndex, read_index_header
from core.search.large_index import (
    ApproximateHammingIndex,
    approximate_from_packed,
    load_approximate_index,
    recall_at_k,
)

DEFAULT_NPROBE = 16  # only when recall cannot be measured (recall_queries = 0)
TARGET_RECALL = 0.95  # the default contract: recall@RECALL_K >= this at the chosen nprobe
LATENCY_QUERIES = 32  # single queries timed at the chosen nprobe (median reported)
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
    recall_queries codes of `recall_source` ("test-split", or "database" for a run without test codes; empty
    when none were measured); stale: built from other database codes than the run's current ones (it is then refused until
    rebuilt). target_recall: the recall the build aimed nprobe at (None when nprobe was given);
    latency_ms: median single-query search time at nprobe when built (None if not timed); files written
    before the recall contract lack the last three facts."""

    path: str
    count: int
    bits: int
    nlist: int
    nprobe: int
    recall_k: int
    recall_queries: int
    recall: tuple[tuple[int, float], ...]
    stale: bool
    target_recall: float | None = None
    latency_ms: float | None = None
    recall_source: str = "test-split"

    @property
    def meets_target(self) -> bool | None:
        """Whether the recall at nprobe reaches target_recall (None: no target, or not measured)."""
        value = self.recall_at()
        return None if self.target_recall is None or value is None else value >= self.target_recall

    @property
    def exhaustive(self) -> bool:
        """A query scans every cell: the approximate search is an exact scan, no faster than exact search."""
        return self.nprobe >= self.nlist

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
            why = "no queries were measured at build" if not self.recall_queries else f"not measured at nprobe {probe}"
            return f"{head}; recall unknown ({why})"
        target = ""
        if self.target_recall is not None and probe == self.nprobe:
            target = (f" (target {self.target_recall:g}" + ("" if value >= self.target_recall else ", not met")
                      + ")")
        return (f"{head}: recall@{self.recall_k} {value:.3f}{target} measured at build on {self.recall_queries} "
                f"{self.recall_source} queries = {RECALL_MEANING.format(k=self.recall_k)}")


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
        target, latency = header.get("target_recall"), header.get("latency_ms")
        return ApproximateInfo(str(paths.approximate_index), count, header["bits"], nlist,
                               _whole(header, "nprobe", 1, nlist), _whole(header, "recall_k", 1, max(count, 1)),
                               _whole(header, "recall_queries", 0, 1 << 40), recall,
                               stale=header.get("source_checksum") != database_checksum,
                               target_recall=None if target is None else _fraction(target),
                               latency_ms=None if latency is None else _nonnegative(latency),
                               recall_source=str(header.get("recall_source", "test-split")))
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


def _nonnegative(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < float("inf"):
        raise ValueError(f"latency {value!r} is not a finite number >= 0")
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


def build_approximate(run: str | Path | RunPaths, nlist: int | None = None, nprobe: int | None = None,
                      recall_k: int = RECALL_K, recall_queries: int = RECALL_QUERIES, seed: int = 0,
                      target_recall: float = TARGET_RECALL) -> Generator[Progress, None, ApproximateInfo]:
    """Build and save the run's IVF index; yields Progress("train ivf" | "index" | "recall", done, total).

    nlist: cells (default `default_nlist`). nprobe: cells a query scans by default; None = the smallest
    nprobe whose recall@recall_k reaches target_recall (in (0, 1]). Recall (`core.search.large_index.recall_at_k`)
    is measured against the exact search on a seeded sample of up to recall_queries test-split codes, or
    database codes when the run has no test split, at nprobe 1, 4, 16, ... below nlist and at the chosen
    one; the median single-query latency at the chosen nprobe is recorded too."""
    paths = _paths(run)
    cfg = paths.load_config()
    database = load_codes(paths, "database", expected_bits=cfg.bits)
    count = len(database)
    if count == 0:
        raise RunError(f"run {paths.run_id} has no database codes to index")
    nlist = default_nlist(count) if nlist is None else int(nlist)
    if not 1 <= nlist <= count:
        raise ConfigError(f"--nlist must be between 1 and the database size {count}; got {nlist}")
    if (nprobe is not None and nprobe < 1) or recall_k < 1 or recall_queries < 0:
        raise ConfigError(f"nprobe and the recall k must be >= 1, the recall queries >= 0; got {nprobe}, "
                          f"{recall_k}, {recall_queries}")
    if not 0.0 < target_recall <= 1.0:
        raise ConfigError(f"--target-recall must be in (0, 1]; got {target_recall}")
    index = yield from approximate_from_packed(database.packed, database.bits, nlist,
                                               DEFAULT_NPROBE if nprobe is None else nprobe, seed=seed)
    yield Progress("recall", 0, 1, None)
    k, recall, sampled, latency = min(recall_k, count), (), 0, None
    queries = _test_codes(paths, cfg.bits)
    source = "test-split"
    if queries is None or not len(queries):
        queries, source = database, "database"
    if recall_queries:
        rows = np.sort(np.random.default_rng(seed).choice(len(queries), min(recall_queries, len(queries)),
                                                          replace=False))
        sample, sampled = queries.packed[rows], len(rows)
        exact = HammingIndex.from_packed(database.packed, database.bits, use_gpu=False).search_packed(sample, k)
        measured: dict[int, float] = {}

        def recall_of(probe: int) -> float:
            if probe not in measured:
                index.nprobe = probe
                measured[probe] = round(recall_at_k(index.search_packed(sample, k), exact, k), 4)
            return measured[probe]

        chosen = index.nprobe if nprobe is not None else _smallest_nprobe(recall_of, index.nlist, target_recall)
        ladder = sorted({p for p in (1, 4, 16, 64, 256, 1024) if p < index.nlist} | {chosen})
        recall = tuple((probe, recall_of(probe)) for probe in ladder)
        index.nprobe = chosen
        latency = _median_latency_ms(index, sample, k)
    yield Progress("recall", 1, 1, 0.0)
    extra = {"recall": [list(r) for r in recall], "recall_k": k, "recall_queries": sampled,
             "recall_source": source, "latency_ms": latency,
             "target_recall": target_recall if nprobe is None and sampled else None}
    index.save(paths.approximate_index, source_checksum=database.checksum, extra=extra)
    return approximate_info(paths, database)


def _smallest_nprobe(recall_of, nlist: int, target: float) -> int:
    """The smallest nprobe in 1..nlist with recall_of(nprobe) >= target, by bisection (recall does not fall as
    nprobe grows: a query scans its nprobe nearest cells, a superset of those at smaller nprobe); nlist when
    none below it reaches the target (at nlist every cell is scanned)."""
    low, high = 1, nlist  # invariant: the answer lies in [low, high]
    while low < high:
        mid = (low + high) // 2
        if recall_of(mid) >= target:
            high = mid
        else:
            low = mid + 1
    return low


def _median_latency_ms(index: ApproximateHammingIndex, sample: np.ndarray, k: int) -> float:
    """Median wall time of single-query searches (ms) over up to LATENCY_QUERIES of the sample."""
    times = []
    for row in sample[:LATENCY_QUERIES]:
        start = time.perf_counter()
        index.search_packed(row[None, :], k)
        times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)), 4)


def _test_codes(paths: RunPaths, bits: int) -> CodeSet | None:
    """The run's test-split codes, or None when it has none (a damaged file still raises)."""
    if not (paths.codes / "query.npz").exists():
        return None
    return load_codes(paths, "query", expected_bits=bits)
