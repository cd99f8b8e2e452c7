"""pyqtgraph helpers shared by the panels' curve plots.

``side_legend`` puts the legend in its own column right of the plot area, so it never covers a curve
(an in-plot legend sits where rising mAP or falling PR curves often are). ``MARKER`` keeps a curve of
one point visible: a line needs two. ``decimate`` cuts a long live series (the Train tab's per-batch loss
and learning rate) to what a plot can show, so a redraw costs the same after 100 or 100,000 steps.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy

MARKER = dict(symbol="o", symbolSize=6)
MAX_CURVE_POINTS = 2000  # about two points per pixel of a wide plot: more cannot be seen, only paid for
# What random codes score, drawn beside every curve (Train, Runs): a grey dashed line.
CHANCE_PEN = pg.mkPen("#777777", width=1.5, style=Qt.PenStyle.DashLine)
CURVE_COLORS = ("#2f6db5", "#c0392b", "#1d7a35", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#2c3e50")


def side_legend(plot: pg.PlotWidget) -> pg.LegendItem:
    """A legend in the plot's layout, right of the view box (and its right axis); ``plot.plot(name=...)``
    and ``plot.clear()`` add to and empty it as they would an in-plot legend."""
    item = plot.getPlotItem()
    legend = pg.LegendItem(verSpacing=-4)
    # keep its natural height at the top of the column instead of spreading the rows over the plot height
    legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    item.layout.addItem(legend, 2, 3)  # row 2 = the view box row; column 3 = after the right axis
    item.layout.setAlignment(legend, Qt.AlignmentFlag.AlignTop)
    item.legend = legend
    return legend


def plot_curve(plot: pg.PlotWidget, x, y, index: int, name: str, width: float = 2) -> pg.PlotDataItem:
    """One named curve in the index-th colour, with markers, so that single points show."""
    color = CURVE_COLORS[index % len(CURVE_COLORS)]
    return plot.plot(list(x), list(y), pen=pg.mkPen(color, width=width), symbolBrush=color, symbolPen=None,
                     name=name, **MARKER)


def decimate(x, y, max_points: int = MAX_CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) with at most `max_points` points, for drawing a long series.

    Shorter series come back whole. Longer ones are cut into max_points // 2 runs of consecutive samples and
    each run is drawn by its lowest and its highest y, in the order they occur ("peak" decimation): a spike
    in the loss stays visible however long the run, which taking every n-th point would drop. The first and
    last samples are always kept. NaN values
    (a non-finite loss) are skipped within a run; a run of NaN only stays NaN (a gap in the line).
    x, y: 1-D sequences of equal length n; returns two float64 arrays of length min(n, ~max_points).
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    n = len(ys)
    runs = max(1, (max_points - 2) // 2)
    if n <= max_points:
        return xs, ys
    length = -(-n // runs)  # ceil: every run but the last is full
    padded = np.full(runs * length, np.nan)
    padded[:n] = ys
    rows = padded.reshape(runs, length)
    missing = np.isnan(rows)
    low = np.where(missing, np.inf, rows).argmin(axis=1)
    high = np.where(missing, -np.inf, rows).argmax(axis=1)
    start = np.arange(runs) * length
    picks = np.concatenate(([0], start + low, start + high, [n - 1]))  # the ends: a live curve ends at "now"
    picks = np.sort(picks[picks < n])  # in order, without the trailing runs that are only padding
    picks = picks[np.concatenate(([True], np.diff(picks) > 0))]  # a run whose low and high are one sample
    return xs[picks], ys[picks]


class ArrayMirror:
    """A float64 array that follows a Python list which only grows (a live series): each ``of(values)`` copies
    just the items appended since the last call, so a redraw does not convert the whole history again.
    A different list object (a new run) or a shorter one starts over."""

    def __init__(self) -> None:
        self._source: list | None = None
        self._buffer = np.empty(0)
        self._count = 0

    def of(self, values: list) -> np.ndarray:
        """The list's values as a float64 array (a view of the mirror: valid until the next call)."""
        if values is not self._source or len(values) < self._count:
            self._source, self._count = values, 0
        total = len(values)
        if total > len(self._buffer):  # grow by doubling: appends cost O(1) on average
            grown = np.empty(max(2 * len(self._buffer), total, 1024))
            grown[: self._count] = self._buffer[: self._count]
            self._buffer = grown
        if total > self._count:
            self._buffer[self._count : total] = values[self._count : total]
            self._count = total
        return self._buffer[:total]
