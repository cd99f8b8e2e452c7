"""Browse's histogram of a query's Hamming distances to the whole database, same class and other class
stacked, with a dashed line where the top k ends; with a compared run, its bars stand beside the main run's
(lighter, narrower) at every distance.

The count axis is logarithmic by default (set_log): a database of thousands puts most images at a few
distances, and the 2 same-class images at distance 3 that decide the AP would be invisible on a linear axis.
On the log axis a bar spans from just under 1 image to its count, so the green part ends at the same-class
count and the whole bar at the total; the axis is labelled 1, 10, 100, ... in counts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

SAME_CLASS_BRUSH = "#1f9d3a"
OTHER_CLASS_BRUSH = "#d62d2d"
UNKNOWN_CLASS_BRUSH = "#8a9099"
COMPARE_BRUSHES = ("#8fd19e", "#f09a9a", "#c4c8cc")  # the compared run: lighter same / other / unknown
LOG_FLOOR = -0.3  # log10 of the bars' foot (0.5 image): a bar of one image still shows


def distance_histogram(stats: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distances 0..bits, same-class counts, other-class counts) over the whole database.

    For an image of unknown class every database image counts as "other" (no correct/wrong split exists).
    """
    other = np.asarray(stats.distance_counts_other, dtype=float)
    same = (np.asarray(stats.distance_counts_same, dtype=float) if stats.distance_counts_same is not None
            else np.zeros_like(other))
    return np.arange(len(other)), same, other


def bar_spans(same: np.ndarray, other: np.ndarray, log: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(foot, top of the same-class part, top of the bar) per distance, in axis units (log10 counts when
    `log`). Empty parts have zero height."""
    total = same + other
    if not log:
        return np.zeros_like(total), same, total
    lift = lambda counts: np.where(counts > 0, np.log10(np.maximum(counts, 1)), LOG_FLOOR)  # noqa: E731
    return np.full_like(total, LOG_FLOOR), lift(same), lift(total)


def histogram_title(names: tuple[str, str], comparing: bool, known: bool = True) -> str:
    """The plot's title, which is also its legend (a legend box would hide bars on a short plot)."""
    colours = "green: same class as the query, red: other class" if known else "grey: query class unknown"
    if not comparing:
        return f"{names[0] + ' · ' if names[0] else ''}{colours}"
    return f"dark: {names[0]}   light: {names[1]}   ({colours})"


class DistanceHistogram(pg.PlotWidget):
    """show_stats(stats, compare=None, names=("", "")) draws one query's counts for the main run (and the
    compared run); the main run's bars stay readable as correct_bars / wrong_bars, the compared run's as
    compare_bars."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, title="Hamming distance of the database to the query")
        self.setLabel("bottom", "Hamming distance")
        self.setMinimumHeight(150)
        self.log = True
        self.correct_bars: pg.BarGraphItem | None = None
        self.wrong_bars: pg.BarGraphItem | None = None
        self.compare_bars: list[pg.BarGraphItem] = []
        self._shown: tuple | None = None

    def set_log(self, log: bool) -> None:
        """Logarithmic (default) or linear count axis; redraws what is shown."""
        self.log = bool(log)
        if self._shown is not None:
            self.show_stats(*self._shown)

    def clear(self) -> None:  # noqa: D102 - also forgets what was shown
        super().clear()
        self._shown = None

    def show_stats(self, stats, compare=None, names: tuple[str, str] = ("", "")) -> None:
        self.clear()
        self._shown = (stats, compare, names)
        width = 0.8 if compare is None else 0.42
        shift = 0.0 if compare is None else -0.22
        self.correct_bars, self.wrong_bars = self._draw(stats, shift, width, (SAME_CLASS_BRUSH, OTHER_CLASS_BRUSH,
                                                                              UNKNOWN_CLASS_BRUSH), names[0])
        self.compare_bars = []
        if compare is not None:
            self.compare_bars = list(self._draw(compare, -shift, width, COMPARE_BRUSHES, names[1]))
        self.setLabel("left", "database images" + (" (log scale)" if self.log else ""))
        top = max(float(np.sum(distance_histogram(s)[1:], axis=0).max(initial=1)) for s in (stats, compare) if s)
        self._count_ticks(top)
        self.setTitle(histogram_title(names, compare is not None, stats.distance_counts_same is not None), size="9pt")

    def _draw(self, stats, shift: float, width: float, brushes: tuple[str, str, str], name: str):
        distances, same, other = distance_histogram(stats)
        known = stats.distance_counts_same is not None
        foot, same_top, total_top = bar_spans(same, other, self.log)
        prefix = f"{name}: " if name else ""
        correct = pg.BarGraphItem(x=distances + shift, y0=foot, y1=np.where(same > 0, same_top, foot), width=width,
                                  brush=brushes[0], pen=None, name=f"{prefix}same class")
        wrong_foot = np.where(same > 0, same_top, foot)
        wrong = pg.BarGraphItem(x=distances + shift, y0=wrong_foot, y1=np.where(other > 0, total_top, wrong_foot),
                                width=width, brush=brushes[1] if known else brushes[2], pen=None,
                                name=f"{prefix}other class" if known else f"{prefix}database (query class unknown)")
        if known:
            self.addItem(correct)
        self.addItem(wrong)
        if stats.result.hits:
            # Everything left of this line is in the top k (ties at the k-th distance are cut by index).
            self.addItem(pg.InfiniteLine(pos=stats.result.hits[-1].distance + 0.5 + shift, angle=90,
                                         pen=pg.mkPen("#555" if shift <= 0 else "#999", style=Qt.PenStyle.DashLine)))
        return correct, wrong

    def _count_ticks(self, top: float) -> None:
        axis = self.getAxis("left")
        if not self.log:
            axis.setTicks(None)
            return
        decades = range(0, max(1, math.ceil(math.log10(max(top, 1)))) + 1)
        axis.setTicks([[(float(d), f"{10 ** d:,}") for d in decades],
                       [(math.log10(m * 10 ** d), "") for d in decades for m in (2, 5)]])
