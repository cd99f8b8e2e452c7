"""Browse's histogram of a query's Hamming distances to the whole database, same class and other class
stacked, with a dashed line where the top k ends."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

SAME_CLASS_BRUSH = "#1f9d3a"
OTHER_CLASS_BRUSH = "#d62d2d"
UNKNOWN_CLASS_BRUSH = "#8a9099"


def distance_histogram(stats: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distances 0..bits, same-class counts, other-class counts) over the whole database.

    For an image of unknown class every database image counts as "other" (no correct/wrong split exists).
    """
    other = np.asarray(stats.distance_counts_other, dtype=float)
    same = (np.asarray(stats.distance_counts_same, dtype=float) if stats.distance_counts_same is not None
            else np.zeros_like(other))
    return np.arange(len(other)), same, other


class DistanceHistogram(pg.PlotWidget):
    """show_stats(stats) draws one query's counts (core.retrieval.query_stats); the bars stay readable as
    correct_bars / wrong_bars."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, title="Hamming distance of the database to the query")
        self.setLabel("bottom", "Hamming distance")
        self.setLabel("left", "database images")
        self.addLegend(offset=(-10, 10))
        self.setMinimumHeight(150)
        self.correct_bars: pg.BarGraphItem | None = None
        self.wrong_bars: pg.BarGraphItem | None = None

    def show_stats(self, stats) -> None:
        self.clear()
        distances, correct, wrong = distance_histogram(stats)
        known = stats.distance_counts_same is not None
        self.correct_bars = pg.BarGraphItem(x=distances, height=correct, width=0.8, brush=SAME_CLASS_BRUSH,
                                            pen=None, name="same class")
        self.wrong_bars = pg.BarGraphItem(x=distances, y0=correct, height=wrong, width=0.8,
                                          brush=OTHER_CLASS_BRUSH if known else UNKNOWN_CLASS_BRUSH, pen=None,
                                          name="other class" if known else "database (query class unknown)")
        if known:
            self.addItem(self.correct_bars)
        self.addItem(self.wrong_bars)
        if stats.result.hits:
            # Everything left of this line is in the top k (ties at the k-th distance are cut by index).
            self.addItem(pg.InfiniteLine(pos=stats.result.hits[-1].distance + 0.5, angle=90,
                                         pen=pg.mkPen("#555", style=Qt.PenStyle.DashLine)))
