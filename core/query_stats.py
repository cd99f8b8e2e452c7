"""One query with its quality numbers, for the GUI's Browse tab: top-k hits plus the query's AP, P@k and
the histogram of its Hamming distances to the whole database (same class / other class).

AP comes from core.metrics.per_query_ap on the same codes, so the number the GUI shows for a test-split
query equals that query's term in `fghash eval`'s mAP@all (stable (distance, index) tie order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.metrics import per_query_ap
from core.retrieval import query
from core.runs import RunPaths
from core.session import QueryResult, open_session


@dataclass(frozen=True)
class QueryStats:
    """result: the top-k QueryResult. average_precision / precision_at_k: None when the query's class is
    unknown (an image from outside the dataset). distance_counts_same / _other: (bits + 1,) database
    images at Hamming distance 0..bits with the query's class / another class; when the class is unknown,
    `same` is None and `other` counts every database image."""

    result: QueryResult
    average_precision: float | None
    precision_at_k: float | None
    distance_counts_same: tuple[int, ...] | None
    distance_counts_other: tuple[int, ...]

    @property
    def k(self) -> int:
        return len(self.result.hits)


def query_with_stats(image_or_path, run: str | Path | RunPaths, k: int = 20, label: int | None = None) -> QueryStats:
    """engine.query plus AP over the whole database, P@k and the distance histogram."""
    result = query(image_or_path, run, k=k, label=label)
    session = open_session(run if isinstance(run, RunPaths) else result.run_id)
    database = session.database
    code = np.asarray(result.query_code, dtype=np.int8)
    distances = np.count_nonzero(database.codes != code[None, :], axis=1)
    bins = result.bits + 1
    if result.query_label is None:
        return QueryStats(result, None, None, None, tuple(int(c) for c in np.bincount(distances, minlength=bins)))
    relevant = database.labels == result.query_label
    same = np.bincount(distances[relevant], minlength=bins)
    other = np.bincount(distances[~relevant], minlength=bins)
    ap = float(per_query_ap(code[None, :], database.codes, np.array([result.query_label]), database.labels)[0])
    return QueryStats(result, ap, result.precision, tuple(int(c) for c in same), tuple(int(c) for c in other))
