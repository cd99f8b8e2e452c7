"""The retrieval result grid: a QListView in icon mode over ``ResultModel``, painted by ``ResultDelegate``.

Each cell shows the thumbnail, the rank, the Hamming distance to the query and the class name (on two lines
when it is long), inside a green frame (same class as the query) or a red one (another class). The columns fill
the view's width: as many cells of at least MIN_CELL_WIDTH as fit, widened to share the rest. The model exposes all of this as
roles, so tests check ``index.data(SAME_CLASS_ROLE)`` rather than pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from fghash_gui.widgets.elided_label import wrap_name
from fghash_gui.widgets.thumbnails import ThumbnailLoader

RANK_ROLE = Qt.ItemDataRole.UserRole + 1
DISTANCE_ROLE = Qt.ItemDataRole.UserRole + 2
CLASS_ROLE = Qt.ItemDataRole.UserRole + 3
SAME_CLASS_ROLE = Qt.ItemDataRole.UserRole + 4
PATH_ROLE = Qt.ItemDataRole.UserRole + 5
FRAME_COLOR_ROLE = Qt.ItemDataRole.UserRole + 6
LABEL_ROLE = Qt.ItemDataRole.UserRole + 7

SAME_CLASS_COLOR = QColor("#1f9d3a")
OTHER_CLASS_COLOR = QColor("#d62d2d")
UNKNOWN_CLASS_COLOR = QColor("#8a9099")
FRAME_WIDTH = 4
CELL = QSize(140, 188)  # the initial cell; its width then follows the view's (ResultGrid.fit_columns)
MIN_CELL_WIDTH = 118  # narrowest cell: a 112 px thumbnail (widgets/thumbnails.py) inside the frame
TEXT_LINE = 17  # px per text line: rank and distance, then the class name on up to two lines


@dataclass(frozen=True)
class ResultCell:
    """One retrieved database image as the grid shows it (rank is 1-based)."""

    rank: int
    path: str
    distance: int
    label: int
    class_name: str
    same_class: bool | None  # None: the query's class is unknown (an image from outside the dataset)


def _frame_color(same_class: bool | None) -> QColor:
    if same_class is None:
        return UNKNOWN_CLASS_COLOR
    return SAME_CLASS_COLOR if same_class else OTHER_CLASS_COLOR


class ResultModel(QAbstractListModel):
    """A list of ResultCell; thumbnails come from the shared ThumbnailLoader."""

    def __init__(self, thumbnails: ThumbnailLoader, parent: Any = None) -> None:
        super().__init__(parent)
        self.cells: list[ResultCell] = []
        self._thumbnails = thumbnails
        self._row_of_path: dict[str, list[int]] = {}
        thumbnails.ready.connect(self._on_thumbnails_ready)

    def set_cells(self, cells: list[ResultCell]) -> None:
        self.beginResetModel()
        self.cells = list(cells)
        self._row_of_path = {}
        for row, cell in enumerate(self.cells):
            self._row_of_path.setdefault(cell.path, []).append(row)
        self.endResetModel()
        # Decode the whole page at once (one worker job) instead of as rows scroll into view.
        self._thumbnails.prefetch([c.path for c in self.cells])

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.cells)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.cells):
            return None
        cell = self.cells[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell.class_name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnails.get(cell.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            verdict = {True: "same class", False: "other class", None: "query class unknown"}[cell.same_class]
            return f"#{cell.rank} · Hamming {cell.distance} · {cell.class_name} ({verdict})\n{cell.path}"
        return {
            RANK_ROLE: cell.rank,
            DISTANCE_ROLE: cell.distance,
            CLASS_ROLE: cell.class_name,
            SAME_CLASS_ROLE: cell.same_class,
            PATH_ROLE: cell.path,
            LABEL_ROLE: cell.label,
            FRAME_COLOR_ROLE: _frame_color(cell.same_class),
        }.get(role)

    def _on_thumbnails_ready(self, paths: list[str]) -> None:
        rows = sorted(r for p in paths for r in self._row_of_path.get(p, ()))
        if rows:
            self.dataChanged.emit(self.index(rows[0]), self.index(rows[-1]), [Qt.ItemDataRole.DecorationRole])


class ResultDelegate(QStyledItemDelegate):
    """Paints frame, thumbnail and two text lines; no widgets per cell, so 100 cells cost nothing."""

    def __init__(self, thumbnails: ThumbnailLoader, parent: Any = None) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        view = self.parent()
        return view.gridSize() if isinstance(view, QListView) and view.gridSize().isValid() else CELL

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        rect = option.rect.adjusted(3, 3, -3, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.fillRect(rect, QColor("#dce8f7") if selected else QColor("#ffffff"))
        frame = index.data(FRAME_COLOR_ROLE) or QColor("#999999")
        painter.setPen(QPen(frame, FRAME_WIDTH))
        half = FRAME_WIDTH // 2
        painter.drawRect(rect.adjusted(half, half, -half, -half))

        thumb_box = QRect(rect.left() + FRAME_WIDTH + 2, rect.top() + FRAME_WIDTH + 2,
                          rect.width() - 2 * FRAME_WIDTH - 4, rect.height() - 2 * FRAME_WIDTH - 3 * TEXT_LINE - 6)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole) or self._thumbnails.loading
        if pixmap.width() <= thumb_box.width() and pixmap.height() <= thumb_box.height():
            size = pixmap.size()  # thumbnails are decoded to fit: draw 1:1, no per-paint resampling
        else:
            size = pixmap.size().scaled(thumb_box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(thumb_box.center())
        painter.drawPixmap(target, pixmap)

        text_top = thumb_box.bottom() + 2
        line1 = QRect(rect.left() + FRAME_WIDTH + 2, text_top, rect.width() - 2 * FRAME_WIDTH - 4, TEXT_LINE)
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("#222222"))
        painter.drawText(line1, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"#{index.data(RANK_ROLE)}")
        painter.setPen(frame)
        painter.drawText(line1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         f"d = {index.data(DISTANCE_ROLE)}")
        font.setBold(False)
        painter.setFont(font)
        painter.setPen(QColor("#333333"))
        for i, line in enumerate(wrap_name(str(index.data(CLASS_ROLE)), painter.fontMetrics(), line1.width())):
            painter.drawText(line1.translated(0, TEXT_LINE * (i + 1)),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, line)
        painter.restore()


class ResultGrid(QListView):
    """Icon-mode list of results; ``activated_path`` fires on double-click / Enter."""

    activated_path = Signal(str)

    def __init__(self, thumbnails: ThumbnailLoader, parent: Any = None) -> None:
        super().__init__(parent)
        self.result_model = ResultModel(thumbnails, self)
        self.setModel(self.result_model)
        self.setItemDelegate(ResultDelegate(thumbnails, self))
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setGridSize(CELL)
        self.setSpacing(2)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.activated.connect(lambda index: self.activated_path.emit(index.data(PATH_ROLE)))

    def set_cells(self, cells: list[ResultCell]) -> None:
        self.result_model.set_cells(cells)
        self.scrollToTop()

    def columns(self) -> int:
        """Cells per row now."""
        return max(1, self.viewport().width() // max(self.gridSize().width(), 1))

    def fit_columns(self) -> None:
        """As many columns as fit at MIN_CELL_WIDTH, each widened to share the whole width."""
        width = self.viewport().width() - 2 * self.spacing()
        columns = max(1, width // MIN_CELL_WIDTH)
        cell = QSize(max(MIN_CELL_WIDTH, width // columns), CELL.height())
        if cell != self.gridSize():
            self.setGridSize(cell)
            self.scheduleDelayedItemsLayout()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.fit_columns()

    def selected_path(self) -> str | None:
        indexes = self.selectedIndexes()
        return indexes[0].data(PATH_ROLE) if indexes else None
