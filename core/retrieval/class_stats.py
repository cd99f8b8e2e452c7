"""Where a run fails, class by class: AP per class, its worst queries, and which classes take its top-k.

Per-class AP is the mean of the per-query APs that `core.retrieval.service.evaluate` reports (the headline's
tie-averaged AP), over the queries of that class: a class's number moves only when its own queries' APs
do. The confusion counts follow the headline's model too: row c, column c' = the expected number of the
top-k places of class c's queries that go to class c' when equally distant database items come in a
uniformly random order. Items nearer than the k-th distance count 1; each of the m items at the k-th
distance counts k'/m, where k' is the number of places left for that tie group. Ranking ties by database
index instead would hand the contested places to the classes stored first (on 12-bit demo codes it named
class 0 the main confusion of six classes out of ten); the expectation does not depend on the order of
the database. Everything is vectorised numpy; queries are processed in chunks so a 100k database stays
in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.retrieval.service import evaluate
from core.runs.catalog import resolve_run
from core.runs.paths import RunPaths
from core.search.codes import load_codes

_CHUNK_PAIRS = 1 << 22  # query x database pairs per chunk: ~32 MB of int64 keys


def per_class_ap(per_query_ap: np.ndarray, query_labels: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean AP per class (C,) float64, NaN for a class without queries; query count per class (C,) int64)."""
    ap = np.asarray(per_query_ap, dtype=np.float64).reshape(-1)
    labels = np.asarray(query_labels, dtype=np.int64).reshape(-1)
    if ap.shape != labels.shape:
        raise ValueError(f"{ap.shape[0]} APs for {labels.shape[0]} query labels")
    counts = np.bincount(labels, minlength=num_classes)[:num_classes]
    sums = np.bincount(labels, weights=ap, minlength=num_classes)[:num_classes]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan), counts


def worst_queries(per_query_ap: np.ndarray, query_labels: np.ndarray, label: int) -> np.ndarray:
    """Indices of the queries of class `label`, lowest AP first (ties: lower query index first)."""
    ap = np.asarray(per_query_ap, dtype=np.float64)
    rows = np.flatnonzero(np.asarray(query_labels) == label)
    return rows[np.argsort(ap[rows], kind="stable")]


def top_k_class_counts(query_codes: np.ndarray, database_codes: np.ndarray, query_labels: np.ndarray,
                       database_labels: np.ndarray, k: int, num_classes: int) -> np.ndarray:
    """(C, C) float64: entry [c, c'] = expected top-k places of class-c queries taken by class-c' database
    images, over random orders inside tie groups (module docstring). Codes are ±1 (q, bits) / (n, bits).
    Row sums equal k (capped at n) times the number of queries of the class.
    """
    qc = np.asarray(query_codes, dtype=np.float32)
    dc = np.asarray(database_codes, dtype=np.float32)
    ql = np.asarray(query_labels, dtype=np.int64).reshape(-1)
    dl = np.asarray(database_labels, dtype=np.int64).reshape(-1)
    n, bits = dc.shape
    k = int(min(k, n))
    counts = np.zeros((num_classes, num_classes), dtype=np.float64)
    if k <= 0 or len(qc) == 0:
        return counts
    one_hot = np.zeros((n, num_classes), dtype=np.float64)
    one_hot[np.arange(n), dl] = 1.0
    rows = max(1, _CHUNK_PAIRS // max(n, 1))
    for lo in range(0, len(qc), rows):
        distance = np.rint((bits - qc[lo:lo + rows] @ dc.T) / 2).astype(np.int64)  # (c, n) Hamming distances
        kth = np.partition(distance, k - 1, axis=1)[:, k - 1:k]  # the k-th smallest distance of each row
        nearer = distance < kth
        tied = distance == kth
        left = k - nearer.sum(axis=1, keepdims=True)  # places left for the tie group at the k-th distance
        weight = nearer + tied * (left / tied.sum(axis=1, keepdims=True))  # P(item in the top k)
        np.add.at(counts, ql[lo:lo + rows], weight @ one_hot)
    return counts


def top_confusions(counts: np.ndarray, label: int, n: int = 5) -> list[tuple[int, float]]:
    """The other classes that take class `label`'s top-k places most often: (class, share of its top-k
    places) for up to n classes with a share > 0, largest first (ties: lower class first)."""
    row = np.asarray(counts[label], dtype=np.float64)
    total = row.sum()
    if total == 0:
        return []
    others = np.delete(np.arange(len(row)), label)
    order = others[np.argsort(-row[others], kind="stable")][:n]
    return [(int(c), float(row[c] / total)) for c in order if row[c] > 0]


@dataclass(frozen=True, eq=False)
class ClassReport:
    """Per-class facts of one run (arrays indexed by class label, or by query for the query fields).

    ap: (C,) mean per-query AP (NaN: no queries); num_queries: (C,); own_share: (C,) fraction of each
    class's top-k places that went to its own class (its queries' tie-averaged P@k, averaged); confusion:
    (C, C) expected top-k counts (top_k_class_counts); example_paths: one query image per class ("" if none).
    """

    run_id: str
    k: int
    class_names: tuple[str, ...]
    ap: np.ndarray
    num_queries: np.ndarray
    own_share: np.ndarray
    confusion: np.ndarray
    example_paths: tuple[str, ...]
    per_query_ap: np.ndarray
    query_labels: np.ndarray
    query_paths: tuple[str, ...]
    map_all: float


def class_report(run: str | Path | RunPaths, k: int = 20, class_names: tuple[str, ...] | None = None,
                 device: str = "cpu") -> ClassReport:
    """Evaluate a run's saved codes and break the result down by class (see the module docstring)."""
    paths = run if isinstance(run, RunPaths) else resolve_run(run)
    report = evaluate(paths, ks=(k,), device=device)
    queries = load_codes(paths, "query", expected_bits=report.bits)
    database = load_codes(paths, "database", expected_bits=report.bits)
    top = int(max(queries.labels.max(initial=-1), database.labels.max(initial=-1))) + 1
    if class_names is None:
        from core.retrieval.session import open_session

        class_names = tuple(open_session(paths).class_names)
    num_classes = max(top, len(class_names))
    names = tuple(class_names) + tuple(str(c) for c in range(len(class_names), num_classes))
    per_query = np.asarray(report.per_query_ap, dtype=np.float64)
    ap, counts = per_class_ap(per_query, queries.labels, num_classes)
    confusion = top_k_class_counts(queries.codes, database.codes, queries.labels, database.labels, k, num_classes)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        own = np.where(totals > 0, np.diag(confusion) / np.maximum(totals, 1), np.nan)
    first = {}
    for i, label in enumerate(queries.labels.tolist()):
        first.setdefault(label, queries.paths[i])
    return ClassReport(
        run_id=paths.run_id, k=int(min(k, len(database))), class_names=names, ap=ap, num_queries=counts,
        own_share=own, confusion=confusion, example_paths=tuple(first.get(c, "") for c in range(num_classes)),
        per_query_ap=per_query, query_labels=np.asarray(queries.labels), query_paths=tuple(queries.paths),
        map_all=report.map_all,
    )
