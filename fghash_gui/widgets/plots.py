"""pyqtgraph helpers shared by the panels' curve plots.

``side_legend`` puts the legend in its own column right of the plot area, so it never covers a curve
(an in-plot legend sits where rising mAP or falling PR curves often are). ``MARKER`` keeps a curve of
one point visible: a line needs two.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy

MARKER = dict(symbol="o", symbolSize=6)
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
