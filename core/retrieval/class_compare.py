"""Per-class AP of two runs side by side: which classes one run retrieves better than the other.

Both runs must have been evaluated on the same query split (the same query images with the same labels,
in any order of runs): per-class AP is the mean tie-averaged AP of each class's queries
(core.retrieval.class_stats.per_class_ap), so the difference of a class is the change in its queries'
mean AP. For the GUI's Classes tab (engine.class_ap_difference; seconds on large splits: call it off
the GUI thread) and for scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.base.errors import RunError
from core.retrieval.class_stats import per_class_ap
from core.retrieval.service import evaluate
from core.runs.catalog import resolve_run
from core.runs.paths import RunPaths
from core.search.codes import load_codes


@dataclass(frozen=True, eq=False)
class ClassApDifference:
    """Per class (arrays indexed by class label): ap_a, ap_b (NaN where the class has no queries),
    difference = ap_b - ap_a; num_queries; order: the labels with queries, largest gain of b first
    (ties: lower label first). map_a, map_b: the two runs' mAP@all."""

    run_a: str
    run_b: str
    class_names: tuple[str, ...]
    ap_a: np.ndarray
    ap_b: np.ndarray
    difference: np.ndarray
    num_queries: np.ndarray
    order: np.ndarray
    map_a: float
    map_b: float

    def rows(self) -> list[tuple[str, float, float, float]]:
        """(class name, AP of a, AP of b, b - a) in `order` (fractions)."""
        return [(self.class_names[c], float(self.ap_a[c]), float(self.ap_b[c]), float(self.difference[c]))
                for c in self.order]


def class_ap_difference(run_a: str | Path | RunPaths, run_b: str | Path | RunPaths,
                        class_names: tuple[str, ...] | None = None, device: str = "cpu") -> ClassApDifference:
    """Per-class AP of run_b minus run_a on their shared query split; RunError if the splits differ."""
    paths = [r if isinstance(r, RunPaths) else resolve_run(r) for r in (run_a, run_b)]
    reports = [evaluate(p, ks=(1,), device=device) for p in paths]
    queries = [load_codes(p, "query", expected_bits=r.bits) for p, r in zip(paths, reports)]
    key = [dict(zip(q.paths, q.labels.tolist())) for q in queries]
    if key[0] != key[1]:
        raise RunError(f"runs {paths[0].run_id} and {paths[1].run_id} were evaluated on different query splits "
                       f"({len(queries[0])} and {len(queries[1])} queries, or other images or labels): "
                       f"per-class AP can only be compared on the same queries")
    if class_names is None:
        from core.retrieval.session import open_session

        class_names = tuple(open_session(paths[0]).class_names)
    num_classes = max(len(class_names), int(queries[0].labels.max(initial=-1)) + 1)
    names = tuple(class_names) + tuple(str(c) for c in range(len(class_names), num_classes))
    ap_a, counts = per_class_ap(np.asarray(reports[0].per_query_ap), queries[0].labels, num_classes)
    ap_b, _ = per_class_ap(np.asarray(reports[1].per_query_ap), queries[1].labels, num_classes)
    difference = ap_b - ap_a
    present = np.flatnonzero(counts > 0)
    order = present[np.argsort(-difference[present], kind="stable")]
    return ClassApDifference(paths[0].run_id, paths[1].run_id, names, ap_a, ap_b, difference, counts, order,
                             reports[0].map_all, reports[1].map_all)
