"""Code map: the run's database codes in 2-D (core.evaluation.code_map: PCA of ±1 codes = classical MDS on Hamming
distances), coloured by class, with the current Browse query as a star. Hover shows the image and its
class; a click opens that image as the query in Browse.

Only the classes present among the points get a style (widgets/class_palette.py: 20 colours that can be told
apart, times a marker shape beyond 20); the legend lists them, and choosing one draws that class and the classes
that take most of its top-k places (set_confusion, from the Classes tab's report) in colour against grey.

The projection runs on the request worker; up to core.evaluation.code_map.MAX_POINTS codes are shown, a seeded
sample beyond (the caption says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from core import engine
from core.engine import CodeMap
from fghash_gui.widgets.class_palette import GREY, ClassStyle, class_styles
from fghash_gui.widgets.elided_label import ElidedLabel
from fghash_gui.widgets.thumbnails import ThumbnailLoader
from fghash_gui.workers import RequestRunner

JITTER = 0.15  # map units: spreads identical codes (which project to one point) so their number shows
POINT_SIZE = 7
HOVER_PREVIEW = 128
HIGHLIGHT_CONFUSERS = 3  # classes drawn in colour beside a highlighted one
ALL_CLASSES = -1  # the legend's first row: every class in its colour


@dataclass(frozen=True, eq=False)
class CodeMapData:
    """What the worker hands over: the map, and labels / paths / class names of the points shown."""

    run_id: str
    map: CodeMap
    labels: np.ndarray
    paths: list[str]
    class_names: tuple[str, ...]

    @classmethod
    def load(cls, run_id: str) -> "CodeMapData":
        """Runs on the worker."""
        session = engine.session(run_id)
        database = session.database
        cmap = engine.code_map(database.codes, jitter=JITTER)
        return cls(run_id, cmap, np.asarray(database.labels)[cmap.indices],
                   [database.paths[i] for i in cmap.indices], tuple(session.class_names))


class CodeMapView(QWidget):
    error = Signal(str)
    query_requested = Signal(str, str)  # run id, image path
    map_shown = Signal(object)  # the CodeMapData now drawn (tests wait on it)

    def __init__(self, requests: RequestRunner, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._requests = requests
        self._thumbnails = thumbnails
        self.run_id: str | None = None
        self.data: CodeMapData | None = None
        self._query_code: tuple[int, ...] | None = None
        self._hover_path: str | None = None

        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setAspectLocked(True)
        self.plot.setLabel("bottom", "principal axis 1 of the ±1 codes")
        self.plot.setLabel("left", "principal axis 2")
        self.scatter = pg.ScatterPlotItem(size=POINT_SIZE, pen=None, hoverable=True, hoverSize=POINT_SIZE + 5,
                                          hoverPen=pg.mkPen("k", width=1.5), tip=self._tip)
        self.scatter.sigHovered.connect(self._on_hovered)
        self.scatter.sigClicked.connect(self._on_clicked)
        self.query_marker = pg.ScatterPlotItem(size=22, symbol="star", brush=pg.mkBrush("#ffd400"),
                                               pen=pg.mkPen("k", width=1.5))
        self.query_marker.setZValue(10)
        self.plot.addItem(self.scatter)
        self.plot.addItem(self.query_marker)
        self.hover_image = QLabel()
        self.hover_image.setFixedSize(HOVER_PREVIEW, HOVER_PREVIEW)
        self.hover_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hover_text = ElidedLabel("hover a point")
        self.hover_text.setWordWrap(False)
        self.legend = QListWidget()
        self.legend.setToolTip("choose a class: it and the classes that take most of its top-k places are drawn "
                               "in colour, the others in grey")
        self.legend.currentItemChanged.connect(lambda *_: self._restyle())
        self.styles: dict[int, ClassStyle] = {}
        self._confusion: np.ndarray | None = None
        side = QVBoxLayout()
        side.addWidget(self.hover_image)
        side.addWidget(self.hover_text)
        hint = QLabel("Click a point to query it in Browse. ★ = the current Browse query.")
        hint.setWordWrap(True)
        side.addWidget(hint)
        side.addWidget(self.legend, 1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setFixedWidth(HOVER_PREVIEW + 140)
        body = QHBoxLayout()
        body.addWidget(self.plot, 1)
        body.addWidget(side_widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addLayout(body, 1)
        thumbnails.ready.connect(self._on_thumbnails_ready)

    def set_run(self, run_id: str | None) -> None:
        if run_id != self.run_id:
            self.run_id, self.data = run_id, None
            self.scatter.clear()
            self.query_marker.clear()
            self.caption.setText("")

    def ensure_loaded(self) -> None:
        if self.run_id is None or (self.data is not None and self.data.run_id == self.run_id):
            return
        self.caption.setText(f"{self.run_id}: projecting the database codes…")
        self._requests.submit("code-map", CodeMapData.load, self.run_id, on_result=self._on_loaded,
                              on_error=self.error.emit)

    def _on_loaded(self, data: CodeMapData) -> None:
        if data.run_id != self.run_id:
            return
        self.data = data
        present = [int(c) for c in np.unique(data.labels)]
        self.styles = class_styles(present)
        self._fill_legend(present)
        self._restyle()
        m = data.map
        shown = (f"a seeded sample of {len(m.indices):,} of the {m.total:,} database codes" if m.sampled
                 else f"all {m.total:,} database codes")
        self.caption.setText(
            f"{data.run_id}: {shown}, coloured by class ({len(present)} classes present; choose one in the "
            f"legend to see it and its confusers against grey). PCA of the ±1 codes (= classical MDS on Hamming "
            f"distances); the two axes keep {100 * m.explained:.0f}% of the variance, so nearby points may "
            f"still differ in other bits. Identical codes are spread by a ±{JITTER} jitter.")
        self._draw_query()
        self.plot.autoRange()
        self.map_shown.emit(data)

    def class_name(self, label: int) -> str:
        names = self.data.class_names if self.data is not None else ()
        return names[label] if 0 <= label < len(names) else f"class {label}"

    def set_confusion(self, run_id: str, counts: np.ndarray | None) -> None:
        """The (C, C) top-k class counts of the run (ClassReport.confusion): which classes to draw beside a
        highlighted one."""
        self._confusion = counts if run_id == self.run_id else None
        self._restyle()

    def highlight(self, label: int | None) -> None:
        """Draw class `label` and its confusers in colour against grey (None: every class in its colour)."""
        for row in range(self.legend.count()):
            if self.legend.item(row).data(Qt.ItemDataRole.UserRole) == (ALL_CLASSES if label is None else label):
                self.legend.setCurrentRow(row)
                return

    def coloured_classes(self) -> list[int]:
        """The classes drawn in colour now: all present ones, or the highlighted one and its confusers."""
        item = self.legend.currentItem()
        chosen = ALL_CLASSES if item is None else int(item.data(Qt.ItemDataRole.UserRole))
        if chosen == ALL_CLASSES:
            return list(self.styles)
        confusers = [] if self._confusion is None or chosen >= len(self._confusion) else [
            c for c, _share in engine.top_confusions(self._confusion, chosen, n=HIGHLIGHT_CONFUSERS)]
        return [chosen] + [c for c in confusers if c in self.styles]

    def _fill_legend(self, present: list[int]) -> None:
        self.legend.blockSignals(True)
        self.legend.clear()
        everything = QListWidgetItem(f"all {len(present)} classes present")
        everything.setData(Qt.ItemDataRole.UserRole, ALL_CLASSES)
        self.legend.addItem(everything)
        for label in present:
            item = QListWidgetItem(_style_icon(self.styles[label]), self.class_name(label))
            item.setData(Qt.ItemDataRole.UserRole, label)
            item.setToolTip(self.class_name(label))
            self.legend.addItem(item)
        self.legend.setCurrentRow(0)
        self.legend.blockSignals(False)

    def _restyle(self) -> None:
        """Colour the points: the coloured classes in their style and on top, the others grey."""
        if self.data is None:
            return
        coloured = set(self.coloured_classes())
        grey = pg.mkBrush(GREY)
        brushes = {c: pg.mkBrush(QColor(style.colour)) for c, style in self.styles.items()}
        labels = self.data.labels
        order = np.argsort(np.isin(labels, list(coloured)), kind="stable")  # grey first, underneath
        self.scatter.setData(
            pos=self.data.map.xy[order], data=order,
            brush=[brushes[c] if c in coloured else grey for c in labels[order].tolist()],
            symbol=[self.styles[c].symbol if c in coloured else "o" for c in labels[order].tolist()])

    def _tip(self, x: float, y: float, data: object) -> str:
        if self.data is None:
            return ""
        row = int(data)
        return f"{self.class_name(int(self.data.labels[row]))}\n{Path(self.data.paths[row]).name}"

    def set_query(self, run_id: str, code: tuple[int, ...] | None) -> None:
        """Mark Browse's current query (its ±1 code) on the map of the same run."""
        self._query_code = code if run_id == self.run_id else None
        self._draw_query()

    def _draw_query(self) -> None:
        if self.data is None or self._query_code is None:
            self.query_marker.clear()
            return
        self.query_marker.setData(pos=self.data.map.project(np.asarray(self._query_code)))

    def _on_hovered(self, _item, points, _event) -> None:
        if self.data is None or len(points) == 0:
            return
        row = int(points[0].data())
        path = self.data.paths[row]
        name = self.class_name(int(self.data.labels[row]))
        self._hover_path = path
        self.hover_text.setText(f"{name} · {Path(path).name}")
        self.hover_text.setToolTip(f"{name}\n{path}")
        self._show_hover_image()

    def _show_hover_image(self) -> None:
        pixmap = self._thumbnails.get(self._hover_path) if self._hover_path else None
        if pixmap is not None:
            self.hover_image.setPixmap(pixmap.scaled(HOVER_PREVIEW, HOVER_PREVIEW, Qt.AspectRatioMode.KeepAspectRatio,
                                                     Qt.TransformationMode.SmoothTransformation))

    def _on_thumbnails_ready(self, paths: list[str]) -> None:
        if self._hover_path in paths:
            self._show_hover_image()

    def _on_clicked(self, _item, points, _event) -> None:
        if self.data is not None and len(points):
            self.query_requested.emit(self.data.run_id, self.data.paths[int(points[0].data())])

    def click_point(self, row: int) -> None:
        """What a click on the row-th point does (tests, scripts)."""
        self.query_requested.emit(self.data.run_id, self.data.paths[row])


def _style_icon(style: ClassStyle, side: int = 14) -> QIcon:
    """A legend swatch: the class's marker shape in its colour."""
    pixmap = QPixmap(side, side)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.translate(QPointF(side / 2, side / 2))
    painter.scale(side * 0.8, side * 0.8)
    colour = QColor(style.colour)
    painter.setPen(QPen(colour, 0.15) if style.symbol in ("+", "x") else QPen(Qt.PenStyle.NoPen))
    painter.setBrush(QBrush(colour))
    painter.drawPath(pg.graphicsItems.ScatterPlotItem.Symbols[style.symbol])
    painter.end()
    return QIcon(pixmap)
