"""Runs tab: the run store as a sortable table; compare mAP curves; open, delete, export.

Everything here goes through the engine facade: ``list_runs``, ``open_run``, ``map_history``,
``delete_run`` and ``export_run``.
"""

from __future__ import annotations

import time
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core import engine
from core.errors import FghashError
from core.store import RunRecord
from fghash_gui.figure_export import FIGURE_FILTER, TABLE_FILTER, FigureExporter
from fghash_gui.workers import RequestRunner

COLUMNS = ("run id", "method", "dataset", "bits", "backbone", "mAP@all", "best mAP", "date", "status")
STATUS_COLORS = {"finished": "#1d7a35", "running": "#2f6db5", "cancelled": "#9a6b00", "interrupted": "#9a6b00",
                 "failed": "#a12626", "created": "#666666"}
CURVE_COLORS = ("#2f6db5", "#c0392b", "#1d7a35", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#2c3e50")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
CHANCE_PEN = pg.mkPen("#777777", width=1.5, style=Qt.PenStyle.DashLine)
# Paper material of the selected runs: menu text -> (file dialog title, default file name, filter).
PAPER_EXPORTS = {
    "table": ("method × bits table (LaTeX, Markdown, CSV)…", "table.tex", TABLE_FILTER),
    "pr": ("precision-recall curves…", "pr.pdf", FIGURE_FILTER),
    "bits": ("mAP@all against code length…", "map-vs-bits.pdf", FIGURE_FILTER),
}


class RunTableModel(QAbstractTableModel):
    """Rows = RunRecords (newest first as the store lists them)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.records: list[RunRecord] = []

    def set_records(self, records: list[RunRecord]) -> None:
        self.beginResetModel()
        self.records = list(records)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self.records[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(record, column)
        if role == SORT_ROLE:
            return _sort_key(record, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == "status":
            return QColor(STATUS_COLORS.get(record.status, "#333333"))
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("bits", "mAP@all", "best mAP"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return record.run_dir
        if role == Qt.ItemDataRole.UserRole:
            return record.run_id
        return None


def _percent(value: float | None) -> str:
    return f"{100 * value:.2f}" if value is not None else "–"


def _display(record: RunRecord, column: str) -> str:
    return {
        "run id": record.run_id,
        "method": record.method,
        "dataset": record.dataset_kind,
        "bits": str(record.bits),
        "backbone": record.backbone,
        "mAP@all": _percent(record.final_map),
        "best mAP": _percent(record.best_map),
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created)),
        "status": record.status,
    }[column]


def _sort_key(record: RunRecord, column: str) -> Any:
    if column in ("mAP@all", "best mAP"):
        value = record.final_map if column == "mAP@all" else record.best_map
        return -1.0 if value is None else value
    if column == "bits":
        return record.bits
    if column == "date":
        return record.created
    return _display(record, column)


class RunsPanel(QWidget):
    error = Signal(str)
    status = Signal(str)
    open_requested = Signal(str)  # run id
    runs_deleted = Signal(list)  # run ids

    def __init__(self, requests: RequestRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._requests = requests
        self.model = RunTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COLUMNS.index("date"), Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("filter runs (method, dataset, status, id…)")
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.refresh_button = QPushButton("Refresh")
        self.open_button = QPushButton("Open in Browse")
        self.open_button.setObjectName("primary")
        self.compare_button = QPushButton("Compare curves")
        self.export_button = QPushButton("Export…")
        self.paper_button = QPushButton("Paper figure")
        self.paper_button.setToolTip("the selected runs as a method × bits table, PR curves or mAP-vs-bits curves")
        paper_menu = QMenu(self.paper_button)
        for kind, (text, _, _) in PAPER_EXPORTS.items():
            paper_menu.addAction(text, lambda kind=kind: self.export_paper(kind))
        self.paper_button.setMenu(paper_menu)
        self.figure_exporter = FigureExporter(requests, self)
        self.figure_exporter.written.connect(lambda path: self.status.emit(f"wrote {path}"))
        self.figure_exporter.failed.connect(self.error.emit)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("danger")
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button.clicked.connect(self.open_selected)
        self.compare_button.clicked.connect(self.compare_selected)
        self.export_button.clicked.connect(self.export_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        for button in (self.refresh_button, self.open_button, self.compare_button, self.export_button,
                       self.paper_button, self.delete_button):
            top.addWidget(button)

        self.plot = pg.PlotWidget(title="mAP@all per evaluation (selected runs)")
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "mAP@all (%)")
        self.plot.addLegend(offset=(10, 10))
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.compared: dict[str, list[tuple[int, float]]] = {}
        self.chance_levels: list[float] = []  # mAP@all (%) of random codes, one dashed line each

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.refresh()

    # --- data -------------------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Reload the run list from the store (fast: one SQLite query)."""
        selected = set(self.selected_run_ids())
        try:
            records = engine.list_runs()
        except FghashError as exc:
            self.error.emit(str(exc))
            return
        self.model.set_records(records)
        selection = self.table.selectionModel()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(Qt.ItemDataRole.UserRole) in selected:
                selection.select(index, selection.SelectionFlag.Select | selection.SelectionFlag.Rows)
        self._on_selection_changed()

    def selected_run_ids(self) -> list[str]:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return [row.data(Qt.ItemDataRole.UserRole) for row in rows]

    def select_runs(self, run_ids: list[str]) -> None:
        """Select the rows of these runs (tests, scripts)."""
        selection = self.table.selectionModel()
        selection.clearSelection()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(Qt.ItemDataRole.UserRole) in run_ids:
                selection.select(index, selection.SelectionFlag.Select | selection.SelectionFlag.Rows)

    @Slot()
    def _on_selection_changed(self) -> None:
        count = len(self.selected_run_ids())
        self.open_button.setEnabled(count == 1)
        self.compare_button.setEnabled(count >= 1)
        self.export_button.setEnabled(count >= 1)
        self.paper_button.setEnabled(count >= 1)
        self.delete_button.setEnabled(count >= 1)

    # --- actions ----------------------------------------------------------------------------------

    @Slot()
    def open_selected(self) -> None:
        ids = self.selected_run_ids()
        if ids:
            self.open_requested.emit(ids[0])

    @Slot()
    def compare_selected(self) -> None:
        """Plot the mAP@all history of every selected run (read from the store)."""
        self.plot.clear()
        self.compared = {}
        for i, run_id in enumerate(self.selected_run_ids()):
            try:
                history = engine.map_history(run_id)
            except FghashError as exc:
                self.error.emit(str(exc))
                return
            self.compared[run_id] = history
            if not history:
                continue
            epochs = [epoch for epoch, _ in history]
            values = [100 * value for _, value in history]
            color = CURVE_COLORS[i % len(CURVE_COLORS)]
            self.plot.plot(epochs, values, pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6,
                           symbolBrush=color, name=_short_name(run_id))
        self._draw_chance_levels(list(self.compared))
        empty = [r for r, h in self.compared.items() if not h]
        if empty:
            self.status.emit(f"no evaluations recorded yet for {', '.join(empty)}")

    def _draw_chance_levels(self, run_ids: list[str]) -> None:
        """A dashed line at each distinct chance level of the runs (core.chance; runs without saved codes,
        e.g. still training, have none yet). Reads two small label arrays per run."""
        from core.chance import run_chance_map

        levels: set[float] = set()
        for run_id in run_ids:
            try:
                levels.add(round(100 * run_chance_map(run_id), 2))
            except FghashError:
                continue
        self.chance_levels = sorted(levels)
        for level in self.chance_levels:
            self.plot.addItem(pg.InfiniteLine(pos=level, angle=0, pen=CHANCE_PEN, label=f"chance {level:.1f}%",
                                              labelOpts={"position": 0.95, "color": "#555555"}))

    @Slot()
    def export_paper(self, kind: str) -> None:
        """Write the selected runs' table, PR curves or mAP-vs-bits figure (core.figures) on the worker."""
        from core.figures import export

        run_ids = self.selected_run_ids()
        if not run_ids:
            return
        title, default_name, filters = PAPER_EXPORTS[kind]
        job = {"table": lambda path: export.write_table(run_ids, path),
               "pr": lambda path: export.write_pr_figure(run_ids, path),
               "bits": lambda path: export.write_bits_figure(run_ids, path)}[kind]
        self.figure_exporter.export(f"Export {title.rstrip('…')}", default_name, filters, job)

    def confirm_delete(self, run_ids: list[str]) -> bool:
        """Ask before deleting (tests replace this method)."""
        answer = QMessageBox.question(
            self, "Delete runs",
            f"Delete {len(run_ids)} run(s) and their folders (checkpoints, codes, index)?\n\n"
            + "\n".join(run_ids[:10]),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def delete_selected(self) -> None:
        run_ids = self.selected_run_ids()
        if not run_ids or not self.confirm_delete(run_ids):
            return
        for run_id in run_ids:
            try:
                engine.delete_run(run_id)
            except FghashError as exc:
                self.error.emit(str(exc))
                break
        self.refresh()
        self.runs_deleted.emit(run_ids)
        self.status.emit(f"deleted {len(run_ids)} run(s)")

    def choose_export_folder(self) -> str:
        """Ask for the destination folder (tests replace this method)."""
        return QFileDialog.getExistingDirectory(self, "Export codes and metrics to")

    @Slot()
    def export_selected(self) -> None:
        run_ids = self.selected_run_ids()
        if not run_ids:
            return
        folder = self.choose_export_folder()
        if not folder:
            return
        self.status.emit(f"exporting {len(run_ids)} run(s)…")
        self._requests.submit("export", _export_all, run_ids, folder, on_result=self._on_exported,
                              on_error=self.error.emit)

    def _on_exported(self, paths: list[str]) -> None:
        self.last_export = paths
        self.status.emit(f"exported to {', '.join(paths)}")


def _export_all(run_ids: list[str], folder: str) -> list[str]:
    return [str(engine.export_run(run_id, folder)) for run_id in run_ids]


def _short_name(run_id: str) -> str:
    # "20261122-223000-fcaenet-demo-12b-ab12" -> "fcaenet-demo-12b-ab12": the stamp is in the table already.
    parts = run_id.split("-")
    return "-".join(parts[2:]) if len(parts) > 3 else run_id
