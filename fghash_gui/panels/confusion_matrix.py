"""The Classes tab's confusion matrix: share of each class's top-k places taken by each class, over the classes
present only (a 200-class dataset of which 50 are loaded shows 50 x 50, not 150 empty rows), rows and columns
in one order sorted by confusion (the most confused class first, so the diagonal stays the diagonal), axes
labelled with class names (as many as fit; zoom with the wheel or a drag to read the rest), hover for the cell.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from fghash_gui.panels.classes_model import short_name

# (class names at full view, characters per name): the bottom axis writes them side by side, so fewer and
# shorter; the others appear when zoomed in enough to fit
TICK_TARGETS = {"left": (20, 18), "bottom": (4, 12)}


def matrix_order(confusion: np.ndarray, num_queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes shown (m,) int64 in display order, shares (m, m) float64: row-normalised counts).

    Shown: classes with queries, or retrieved at least once. Order: own share ascending (most confused
    first; ties by label), the same for rows and columns."""
    counts = np.asarray(confusion, dtype=np.float64)
    present = np.flatnonzero((np.asarray(num_queries) > 0) | (counts.sum(axis=0) > 0))
    sub = counts[np.ix_(present, present)]
    totals = sub.sum(axis=1, keepdims=True)
    shares = np.divide(sub, totals, out=np.zeros_like(sub), where=totals > 0)
    own = np.where(totals[:, 0] > 0, np.diag(shares), np.inf)  # a class without queries goes last
    order = np.lexsort((present, own))
    return present[order], shares[np.ix_(order, order)]


def name_ticks(names: list[str], target: int = 20, limit: int = 18) -> list[list[tuple[float, str]]]:
    """pyqtgraph tick levels centred on the cells: every step-th name always (step such that about `target`
    show, each cut to `limit` characters), the rest as a second level that pyqtgraph draws only when it fits (zoomed in)."""
    step = max(1, math.ceil(len(names) / target))
    ticks = [(i + 0.5, short_name(n, limit)) for i, n in enumerate(names)]
    return [ticks[::step], [t for i, t in enumerate(ticks) if i % step]]


class ConfusionMatrixView(QWidget):
    """The matrix plot, its colour bar and a line naming the hovered cell."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.classes = np.zeros(0, dtype=np.int64)
        self.shares = np.zeros((0, 0))
        self.names: list[str] = []
        self.plot = pg.PlotWidget(title="share of each class's top-k places")
        self.plot.invertY(True)
        self.plot.setLabel("left", "query class")
        self.plot.setLabel("bottom", "class of the retrieved image")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=pg.colormap.get("viridis"), interactive=False,
                                   label="share of the row")
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.plot.setMinimumWidth(300)
        self.hover_label = QLabel("hover a cell; wheel or drag to zoom, right-click → View All to reset")
        self.hover_label.setWordWrap(True)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.hover_label)

    def set_report(self, report) -> None:
        """Draw a ClassReport's confusion (None clears)."""
        if report is None:
            self.classes, self.shares, self.names = np.zeros(0, dtype=np.int64), np.zeros((0, 0)), []
            self.image.clear()
            return
        self.classes, self.shares = matrix_order(report.confusion, report.num_queries)
        self.names = [report.class_names[c] for c in self.classes]
        m = len(self.classes)
        self.image.setImage(self.shares.astype(np.float32))
        self.bar.setLevels((0.0, float(self.shares.max(initial=0.0)) or 1.0))  # not an empty 0..1 scale
        for side, (target, limit) in TICK_TARGETS.items():
            self.plot.getAxis(side).setTicks(name_ticks(self.names, target, limit))
        # no panning into negative or beyond-the-last class indices; zooming in as far as one cell
        self.plot.getViewBox().setLimits(xMin=0, xMax=max(m, 1), yMin=0, yMax=max(m, 1), minXRange=1, minYRange=1)
        # the whole matrix, set explicitly (an auto-range of a hidden tab would use its old geometry)
        self.plot.getViewBox().setRange(xRange=(0, max(m, 1)), yRange=(0, max(m, 1)), padding=0)
        self.hover_label.setText(f"{m} classes present of {len(report.class_names)}, the most confused first; "
                                 f"hover a cell, wheel or drag to zoom (more names appear), right-click → View All "
                                 f"to reset")

    def describe(self, row: int, column: int) -> str:
        """The hovered cell in words."""
        share = self.shares[row, column]
        return (f"{self.names[row]} queries: {100 * share:.1f}% of their top-k places went to "
                f"{self.names[column]}")

    def _on_mouse_moved(self, pos: QPointF) -> None:
        if not len(self.classes) or not self.plot.sceneBoundingRect().contains(pos):
            return
        point = self.plot.getViewBox().mapSceneToView(pos)
        row, column = int(math.floor(point.y())), int(math.floor(point.x()))
        if 0 <= row < len(self.classes) and 0 <= column < len(self.classes):
            self.hover_label.setText(self.describe(row, column))
