"""The retrieval figure (FCAENet Fig. 6): queries as rows, the top k of one or more runs beside each,
every result in a green (same class as the query) or red (another class) frame, optionally its Hamming
distance underneath. With several runs, each query gets one row per run, labelled with the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec

from core.figures.common import (
    CORRECT_COLOR,
    WRONG_COLOR,
    FigureError,
    default_run_labels,
    new_figure,
    short_class_name,
    square_thumbnail,
)

QUERY_COLOR = "#404040"
CELL_IN = 0.9  # inches per image


@dataclass(frozen=True)
class RetrievalPanel:
    """The top k of one query for one run: core.retrieval.session.QueryResult plus the label shown for the run."""

    run_label: str
    result: object  # core.retrieval.session.QueryResult


def gather_retrieval(runs: Sequence, queries: Sequence, k: int = 10,
                     run_labels: Sequence[str] | None = None) -> list[list[RetrievalPanel]]:
    """Query every run with every query: [query][run] panels (engine.query, so the same ranking as
    `fghash query` and the GUI). runs: ids, prefixes, folders or RunPaths; queries: test-split indices
    (ints) or image paths."""
    from core.retrieval.service import query

    if not runs:
        raise FigureError("name at least one run")
    if not queries:
        raise FigureError("name at least one query (a test-split index or an image file)")
    if k < 1 or k > 50:
        raise FigureError(f"-k must lie between 1 and 50 for a figure; got {k}")
    results = [[query(q, run, k=k) for run in runs] for q in queries]
    labels = list(run_labels) if run_labels is not None else default_run_labels([r.run_id for r in results[0]])
    return [[RetrievalPanel(label, result) for label, result in zip(labels, row)] for row in results]


def retrieval_figure(panels: Sequence[Sequence[RetrievalPanel]], *, show_distance: bool = True,
                     thumb_px: int = 160) -> Figure:
    """Draw gathered panels ([query][run]): the query image spans its runs' rows; results follow."""
    from core.retrieval.session import open_session

    if not panels or not panels[0]:
        raise FigureError("nothing to draw: no query results")
    num_runs = len(panels[0])
    k = max(len(p.result.hits) for row in panels for p in row)
    rows = len(panels) * num_runs
    cell_h = CELL_IN * (1.22 if show_distance else 1.05)
    fig = new_figure(CELL_IN * (k + 1.5) + (0.6 if num_runs > 1 else 0.0), cell_h * rows + 0.3)
    grid = GridSpec(rows, k + 2, figure=fig, width_ratios=[1.0, 0.12] + [1.0] * k,
                    wspace=0.08, hspace=0.35 if show_distance else 0.12)
    for qi, row in enumerate(panels):
        first = row[0].result
        query_ax = fig.add_subplot(grid[qi * num_runs:(qi + 1) * num_runs, 0])
        session = open_session(first.run_id)
        if first.query_path:
            query_ax.imshow(square_thumbnail(first.query_path, thumb_px, session.dataset_crop(first.query_path)))
        _frame(query_ax, QUERY_COLOR, 1.0)
        query_ax.set_title("query" if qi == 0 else "", fontsize=8)
        if first.query_class is not None:
            query_ax.set_xlabel(short_class_name(first.query_class), fontsize=6, labelpad=2)
        for ri, panel in enumerate(row):
            r = qi * num_runs + ri
            result = panel.result
            crop = open_session(result.run_id).dataset_crop
            for hi, hit in enumerate(result.hits):
                ax = fig.add_subplot(grid[r, hi + 2])
                ax.imshow(square_thumbnail(hit.path, thumb_px, crop(hit.path)))
                color = QUERY_COLOR if hit.correct is None else (CORRECT_COLOR if hit.correct else WRONG_COLOR)
                _frame(ax, color, 2.5)
                if show_distance:
                    ax.set_xlabel(f"d = {hit.distance}", fontsize=6, labelpad=1.5)
                if r == 0:
                    ax.set_title(str(hit.rank), fontsize=8)
                if hi == 0 and num_runs > 1:
                    ax.set_ylabel(panel.run_label, fontsize=7, rotation=90, labelpad=3)
    return fig


def _frame(ax, color: str, width: float) -> None:
    """No ticks; the axes' spines become the coloured frame around the image."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(color)
        spine.set_linewidth(width)
