"""Table models of the Classes tab over a core.retrieval.class_stats.ClassReport.

ClassTableModel: one row per class with queries (thumbnail of one of its query images, name, AP, its
difference to a compared run's AP, query count, share of its top-k that is its own class, the class that takes most of the rest).
ConfusionTableModel: one row per class, its own share and the three classes that take its top-k places
most often. Both expose SORT_ROLE (numbers sort as numbers) and LABEL_ROLE (the class label).
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QIcon

from core import engine
from fghash_gui.widgets.thumbnails import ThumbnailLoader

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
LABEL_ROLE = Qt.ItemDataRole.UserRole + 2
CONFUSERS = 3  # classes listed per row of the confusion table


def _percent(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{100 * value:.1f}"


class _ReportModel(QAbstractTableModel):
    columns: tuple[str, ...] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.report = None
        self.labels: list[int] = []

    def set_report(self, report) -> None:
        self.beginResetModel()
        self.report = report
        self.labels = [] if report is None else [c for c in range(len(report.class_names))
                                                 if report.num_queries[c] > 0]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.labels)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return self.column_help(section)
        return None

    def column_help(self, section: int) -> str:
        return ""

    def name(self, label: int) -> str:
        return self.report.class_names[label]


class ClassTableModel(_ReportModel):
    columns = ("class", "AP %", "Δ AP", "queries", "own top-k %", "most confused with")

    def __init__(self, thumbnails: ThumbnailLoader, parent: Any = None) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails
        self._icons: dict[str, QIcon] = {}
        self.compare = None  # a second run's ClassReport over the same classes: the "Δ AP" column
        thumbnails.ready.connect(self._on_thumbnails_ready)

    def set_compare(self, report) -> None:
        """The run to compare per-class AP with (None: no comparison); its class names must be the same."""
        self.compare = report
        if self.labels:
            column = self.columns.index("Δ AP")
            self.dataChanged.emit(self.index(0, column), self.index(len(self.labels) - 1, column))

    def ap_difference(self, label: int) -> float:
        """AP of this run minus the compared run's for a class (fraction; NaN without a comparison)."""
        if self.compare is None or self.report is None:
            return math.nan
        return float(self.report.ap[label]) - float(self.compare.ap[label])

    def column_help(self, section: int) -> str:
        k = self.report.k if self.report else "k"
        return ("the class (a thumbnail of one of its query images)",
                "mean AP@all of the class's query images (the evaluation's per-query AP)",
                "this run's AP minus the compared run's, in percentage points (choose the run above)",
                "query (test split) images of the class",
                f"share of the class's top-{k} places taken by its own class (its mean P@{k})",
                f"the other class that takes most of its top-{k} places, and its share")[section]

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.report is None or not index.isValid():
            return None
        r, label, column = self.report, self.labels[index.row()], self.columns[index.column()]
        if role == LABEL_ROLE:
            return label
        if role == Qt.ItemDataRole.DecorationRole and column == "class":
            return self._icon(r.example_paths[label])
        if role in (Qt.ItemDataRole.DisplayRole, SORT_ROLE, Qt.ItemDataRole.ToolTipRole):
            confusers = engine.top_confusions(r.confusion, label, n=1)
            values = {
                "class": (self.name(label), self.name(label).lower()),
                "AP %": (_percent(r.ap[label]), float(r.ap[label])),
                "Δ AP": _difference(self.ap_difference(label)),
                "queries": (str(int(r.num_queries[label])), int(r.num_queries[label])),
                "own top-k %": (_percent(r.own_share[label]), float(r.own_share[label])),
                "most confused with": ((f"{_percent(confusers[0][1])}% · {self.name(confusers[0][0])}", confusers[0][1])
                                       if confusers else ("–", 0.0)),
            }[column]
            if role == Qt.ItemDataRole.ToolTipRole:
                return values[0] if column != "class" else f"{self.name(label)}\n{r.example_paths[label]}"
            return values[0] if role == Qt.ItemDataRole.DisplayRole else values[1]
        if role == Qt.ItemDataRole.ForegroundRole and column == "Δ AP":
            difference = self.ap_difference(label)
            return None if math.isnan(difference) or difference == 0 else QColor(
                "#1f7a33" if difference > 0 else "#b02020")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("AP %", "Δ AP", "queries", "own top-k %"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _icon(self, path: str) -> QIcon | None:
        if not path:
            return None
        icon = self._icons.get(path)
        if icon is None:
            pixmap = self._thumbnails.get(path)
            if pixmap is None:
                return QIcon(self._thumbnails.loading)
            icon = self._icons[path] = QIcon(pixmap)
        return icon

    def _on_thumbnails_ready(self, paths: list[str]) -> None:
        if self.report is not None and self.labels:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.labels) - 1, 0),
                                  [Qt.ItemDataRole.DecorationRole])


class ConfusionTableModel(_ReportModel):
    columns = ("class", "own top-k %") + tuple(f"confused with #{i + 1}" for i in range(CONFUSERS))

    def column_help(self, section: int) -> str:
        k = self.report.k if self.report else "k"
        if section == 0:
            return "the class whose queries are ranked"
        if section == 1:
            return f"share of its queries' top-{k} places taken by its own class"
        return f"the class that takes the {section - 1}. most of its top-{k} places, and its share"

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.report is None or not index.isValid():
            return None
        r, label, col = self.report, self.labels[index.row()], index.column()
        if role == LABEL_ROLE:
            return label
        if role not in (Qt.ItemDataRole.DisplayRole, SORT_ROLE, Qt.ItemDataRole.ToolTipRole):
            return None
        if col == 0:
            return self.name(label) if role != SORT_ROLE else self.name(label).lower()
        if col == 1:
            return _percent(r.own_share[label]) if role != SORT_ROLE else float(r.own_share[label])
        confusers = engine.top_confusions(r.confusion, label, n=CONFUSERS)
        if col - 2 >= len(confusers):
            return "–" if role != SORT_ROLE else 0.0
        other, share = confusers[col - 2]
        if role == SORT_ROLE:
            return share
        # the share first, the name shortened in its middle (Qt's eliding cut the whole name to "…"); the
        # tooltip holds it whole
        name = self.name(other) if role == Qt.ItemDataRole.ToolTipRole else short_name(self.name(other))
        return f"{_percent(share)}% · {name}"


def _difference(value: float) -> tuple[str, float]:
    """(shown, sort key) of an AP difference: "+3.2" percentage points; "–" (sorted last) without one."""
    if math.isnan(value):
        return "–", math.inf
    return f"{100 * value:+.1f}", value


def short_name(name: str, limit: int = 14) -> str:
    """`name` cut in its middle to at most `limit` characters (class names end in their distinguishing part)."""
    return name if len(name) <= limit else name[: limit // 2] + "…" + name[-(limit - limit // 2 - 1):]
