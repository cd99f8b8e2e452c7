"""One query with its quality numbers, for the GUI's Browse tab: top-k hits plus the query's AP, P@k and
the histogram of its Hamming distances to the whole database (same class / other class).

AP and P@k are the headline figures: exact expectations over random orders inside Hamming tie groups
(core.evaluation.tie_expectation on the query's distance histogram), so the AP the GUI shows for a test-split query
equals that query's term in `fghash eval`'s mAP@all. The grid lists hits by (distance, database index);
the *_index_order fields are AP and P@k of that listing (ties by index, as the published code does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.evaluation.metrics import per_query_ap
from core.evaluation.tie_expectation import expected_ap, expected_at_k, harmonic
from core.retrieval.service import query
from core.retrieval.session import QueryResult, open_session
from core.runs.paths import RunPaths


@dataclass(frozen=True)
class QueryStats:
    """result: the top-k QueryResult. average_precision / precision_at_k: tie-averaged AP over the whole
    database and expected P@k (k = hits shown); *_index_order: the same with ties by database index (P@k
    of the grid as listed). All four are None when the query's class is unknown (an image from outside the
    dataset). distance_counts_same / _other: (bits + 1,) database images at Hamming distance 0..bits with
    the query's class / another class; when the class is unknown, `same` is None and `other` counts every
    database image."""

    result: QueryResult
    average_precision: float | None
    precision_at_k: float | None
    average_precision_index_order: float | None
    precision_at_k_index_order: float | None
    distance_counts_same: tuple[int, ...] | None
    distance_counts_other: tuple[int, ...]

    @property
    def k(self) -> int:
        return len(self.result.hits)


def query_with_stats(image_or_path, run: str | Path | RunPaths, k: int = 20, label: int | None = None,
                     approximate: bool = False, nprobe: int | None = None) -> QueryStats:
    """engine.query plus AP over the whole database, P@k and the distance histogram.

    With approximate=True the hits come from the run's IVF index, while both APs, the tie-averaged P@k and
    the histogram still describe the exact ranking of the whole database; precision_at_k_index_order is the
    precision of the approximate hits as listed."""
    result = query(image_or_path, run, k=k, label=label, approximate=approximate, nprobe=nprobe)
    session = open_session(run if isinstance(run, RunPaths) else result.run_id)
    database = session.database
    code = np.asarray(result.query_code, dtype=np.int8)
    distances = np.count_nonzero(database.codes != code[None, :], axis=1)
    bins = result.bits + 1
    if result.query_label is None:
        return QueryStats(result, None, None, None, None, None,
                          tuple(int(c) for c in np.bincount(distances, minlength=bins)))
    relevant = database.labels == result.query_label
    same = np.bincount(distances[relevant], minlength=bins)
    other = np.bincount(distances[~relevant], minlength=bins)
    hist_relevant = torch.as_tensor(same, dtype=torch.int64)[None, :]
    hist_all = hist_relevant + torch.as_tensor(other, dtype=torch.int64)[None, :]
    h = harmonic(len(distances), "cpu")
    ap = float(expected_ap(hist_all, hist_relevant, h)[0])
    precision = float(expected_at_k(hist_all, hist_relevant, h, len(result.hits))[1][0]) if result.hits else None
    ap_index = float(per_query_ap(code[None, :], database.codes, np.array([result.query_label]), database.labels,
                                  tie_mode="stable")[0])
    return QueryStats(result, ap, precision, ap_index, result.precision, tuple(int(c) for c in same),
                      tuple(int(c) for c in other))
