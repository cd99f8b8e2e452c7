"""Classes tab: where a run fails. Per-class AP (sortable, worst first, a thumbnail per class, and its
difference to a second run chosen in "Δ AP vs"; selecting a class lists its worst queries, a click opens one
in Browse), the class-confusion table and matrix
(which classes take each class's top-k places; panels/confusion_matrix.py), and the code map (panels/code_map.py).

The ClassReport (an evaluation plus a top-k ranking of every query) is computed on the request worker
when the tab is first shown for a run, and again when k changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import engine
from fghash_gui.panels.classes_model import LABEL_ROLE, SORT_ROLE, ClassTableModel, ConfusionTableModel
from fghash_gui.panels.code_map import CodeMapView
from fghash_gui.panels.confusion_matrix import ConfusionMatrixView
from fghash_gui.widgets.elided_label import ElidedLabel
from fghash_gui.widgets.run_menu import fill_run_menu
from fghash_gui.widgets.thumbnails import ThumbnailLoader
from fghash_gui.workers import RequestRunner

K_CHOICES = (10, 20, 50, 100)
WORST_SHOWN = 30  # worst queries listed for the selected class
CLASS_ICON = QSize(40, 40)


class ClassesPanel(QWidget):
    error = Signal(str)
    status = Signal(str)
    query_requested = Signal(str, str)  # run id, query image path: open it in Browse
    report_shown = Signal(object)  # the ClassReport now on screen (tests wait on it)

    def __init__(self, requests: RequestRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._requests = requests
        self.thumbnails = ThumbnailLoader(requests, parent=self)
        self.run_id: str | None = None
        self.report = None
        self._loaded_for: tuple | None = None

        self.title = ElidedLabel("No run open: open one in Runs or Browse.")
        self.k_combo = QComboBox()
        for k in K_CHOICES:
            self.k_combo.addItem(str(k), k)
        self.k_combo.setCurrentIndex(K_CHOICES.index(20))
        self.k_combo.setToolTip("top-k used for the confusion counts and the own-class share")
        self.k_combo.currentIndexChanged.connect(lambda _i: self.ensure_loaded())
        self.compare_combo = QComboBox()
        self.compare_combo.setMinimumContentsLength(20)
        self.compare_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare_combo.setToolTip("a second run on the same classes: the per-class table gains its AP "
                                      "difference (this run minus that one)")
        self.compare_combo.activated.connect(lambda _i: self.set_compare_run(self.compare_combo.currentData()))
        self.compare_run_id: str | None = None
        self.compare_report = None
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(QLabel("Δ AP vs"))
        top.addWidget(self.compare_combo)
        top.addWidget(QLabel("top-k"))
        top.addWidget(self.k_combo)

        # Per class ------------------------------------------------------------------------------
        self.class_model = ClassTableModel(self.thumbnails, self)
        self.class_table = _table(self.class_model, sort_column=1)
        self.class_table.setIconSize(CLASS_ICON)
        self.class_table.verticalHeader().setDefaultSectionSize(CLASS_ICON.height() + 4)
        self.class_table.selectionModel().currentRowChanged.connect(self._on_class_selected)
        self.worst_label = QLabel("Select a class to list its worst queries (click one to open it in Browse).")
        self.worst_label.setWordWrap(True)
        self.worst_list = QListWidget()
        self.worst_list.setIconSize(QSize(64, 64))
        self.worst_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.worst_list.itemActivated.connect(self._on_worst_activated)
        self.worst_list.itemClicked.connect(self._on_worst_activated)
        self.thumbnails.ready.connect(self._on_thumbnails_ready)
        worst = QWidget()
        worst_layout = QVBoxLayout(worst)
        worst_layout.setContentsMargins(0, 0, 0, 0)
        worst_layout.addWidget(self.worst_label)
        worst_layout.addWidget(self.worst_list, 1)
        per_class = QSplitter(Qt.Orientation.Horizontal)
        per_class.addWidget(self.class_table)
        per_class.addWidget(worst)
        per_class.setStretchFactor(0, 3)
        per_class.setStretchFactor(1, 2)

        # Confusion ------------------------------------------------------------------------------
        self.confusion_model = ConfusionTableModel(self)
        self.confusion_table = _table(self.confusion_model, sort_column=1)
        self.matrix = ConfusionMatrixView()
        confusion = QSplitter(Qt.Orientation.Horizontal)
        confusion.addWidget(self.confusion_table)
        confusion.addWidget(self.matrix)
        confusion.setSizes([700, 660])


        self.code_map = CodeMapView(requests, self.thumbnails, self)
        self.code_map.error.connect(self.error)
        self.code_map.query_requested.connect(self.query_requested)

        self.tabs = QTabWidget()
        self.tabs.addTab(per_class, "Per class")
        self.tabs.addTab(confusion, "Confusion")
        self.tabs.addTab(self.code_map, "Code map")
        self.tabs.currentChanged.connect(lambda _i: self.ensure_loaded())
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.refresh_runs()

    # --- data -------------------------------------------------------------------------------------

    def set_run(self, run_id: str | None) -> None:
        """The run to analyse; computed when the tab is shown (ensure_loaded)."""
        if run_id != self.run_id:
            self.run_id = run_id
            self.code_map.set_run(run_id)
            if self.isVisible():
                self.ensure_loaded()

    def watch(self, state) -> None:
        """Follow the application state (fghash_gui/app_state.py): analyse the open run, mark its query on
        the code map, clear deleted runs."""
        self._state = state
        state.runs_changed.connect(lambda _runs: self.refresh_runs())
        state.run_opened.connect(lambda opened: self.set_run(opened.run_id))
        state.query_changed.connect(
            lambda result: result is not None and self.code_map.set_query(result.run_id, result.query_code))
        state.runs_deleted.connect(self.forget_runs)

    def refresh_runs(self) -> None:
        """Fill the comparison menu with the runs that have codes (the state's list; no store read here)."""
        state = getattr(self, "_state", None)  # the run list the application state loaded on the worker
        records = state.runs.searchable() if state is not None else []
        fill_run_menu(self.compare_combo, records, self.compare_run_id, none_item=True)

    def set_compare_run(self, run_id: str | None) -> None:
        """Compare per-class AP with a second run (None: no comparison); computed on the worker."""
        self.compare_run_id = run_id or None
        self.compare_report = None
        self.class_model.set_compare(None)
        if self.compare_combo.findData(self.compare_run_id) < 0:
            self.refresh_runs()
        self.compare_combo.setCurrentIndex(max(self.compare_combo.findData(self.compare_run_id), 0))
        if self.compare_run_id is None:
            self._requests.invalidate("classes-compare")
            return
        self._requests.submit("classes-compare", _class_report, self.compare_run_id, self.k(),
                              on_result=self._on_compare_report, on_error=self.error.emit)

    def _on_compare_report(self, report) -> None:
        if report.run_id != self.compare_run_id:
            return
        self.compare_report = report
        self._apply_compare()

    def _apply_compare(self) -> None:
        """Show the AP difference when both reports are there and describe the same classes."""
        mine, other = self.report, self.compare_report
        if mine is None or other is None:
            return
        if tuple(mine.class_names) != tuple(other.class_names):
            self.class_model.set_compare(None)
            self.status.emit(f"Δ AP: {other.run_id} has other classes than {mine.run_id}; no per-class comparison")
            return
        self.class_model.set_compare(other)
        better = int(np.sum(mine.ap > other.ap))
        worse = int(np.sum(mine.ap < other.ap))
        self.status.emit(f"Δ AP vs {other.run_id}: {better} classes better, {worse} worse")

    def forget_runs(self, run_ids: list[str]) -> None:
        """Runs were deleted: if the analysed one is among them, clear the views."""
        if self.compare_run_id in run_ids:
            self.set_compare_run(None)
        if self.run_id in run_ids:
            self._requests.invalidate("classes")
            self._requests.invalidate("code-map")
            self.set_run(None)
            self.report, self._loaded_for = None, None
            self.class_model.set_report(None)
            self.confusion_model.set_report(None)
            self.matrix.set_report(None)
            self.worst_list.clear()
            self.title.setText("No run open: open one in Runs or Browse.")

    def k(self) -> int:
        return int(self.k_combo.currentData())

    @Slot()
    def ensure_loaded(self) -> None:
        """Compute what the visible sub-tab needs for the current run, unless it is on screen already."""
        if self.run_id is None:
            return
        if self.tabs.currentWidget() is self.code_map:
            self.code_map.ensure_loaded()
            return
        key = (self.run_id, self.k())
        if key == self._loaded_for:
            return
        self._loaded_for = key
        self.title.setText(f"{self.run_id}: computing per-class AP and top-{self.k()} confusion…")
        self._requests.submit("classes", _class_report, self.run_id, self.k(), on_result=self._on_report,
                              on_error=self._on_error)

    def _on_error(self, message: str) -> None:
        self._loaded_for = None
        self.title.setText(f"{self.run_id}: {message.splitlines()[0] if message else 'failed'}")
        self.error.emit(message)

    def _on_report(self, report) -> None:
        if report.run_id != self.run_id:  # (a newer k on the same channel makes older results stale)
            return
        self.report = report
        self.class_model.set_report(report)
        self.confusion_model.set_report(report)
        self.thumbnails.prefetch([p for p in report.example_paths if p])
        self.matrix.set_report(report)
        self.code_map.set_confusion(report.run_id, report.confusion)
        self._apply_compare()  # per-class AP does not depend on k: the compared report stays valid
        _size_columns(self.class_table, (230, 70, 70, 70, 100))
        _size_columns(self.confusion_table, (190, 95, 175, 175, 175))
        self.title.setText(f"{report.run_id}: {len(self.class_model.labels)} classes with queries, "
                           f"mAP@all {100 * report.map_all:.2f}%, top-{report.k}")
        self.worst_list.clear()
        self.report_shown.emit(report)

    # --- per class --------------------------------------------------------------------------------

    def select_class(self, label: int) -> None:
        """Select a class's row in the per-class table (which lists its worst queries)."""
        proxy = self.class_table.model()
        for row in range(proxy.rowCount()):
            if proxy.index(row, 0).data(LABEL_ROLE) == label:
                self.class_table.setCurrentIndex(proxy.index(row, 0))
                return

    def _on_class_selected(self, current, _previous) -> None:
        if self.report is None or not current.isValid():
            return
        label = current.data(LABEL_ROLE)
        r = self.report
        rows = engine.worst_queries(r.per_query_ap, r.query_labels, label)[:WORST_SHOWN]
        self.worst_label.setText(f"{r.class_names[label]}: {int(r.num_queries[label])} queries, AP "
                                 f"{100 * r.ap[label]:.1f}%. Worst first; click one to open it in Browse.")
        self.worst_list.clear()
        for row in rows:
            path = r.query_paths[row]
            item = QListWidgetItem(f"AP {100 * r.per_query_ap[row]:.1f}% · {Path(path).name}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            pixmap = self.thumbnails.get(path)
            item.setIcon(QIcon(pixmap if pixmap is not None else self.thumbnails.loading))
            self.worst_list.addItem(item)

    def _on_thumbnails_ready(self, paths: list[str]) -> None:
        ready = set(paths)
        for i in range(self.worst_list.count()):
            item = self.worst_list.item(i)
            path = item.data(Qt.ItemDataRole.UserRole)
            if path in ready:
                pixmap = self.thumbnails.get(path)
                if pixmap is not None:
                    item.setIcon(QIcon(pixmap))

    def _on_worst_activated(self, item: QListWidgetItem) -> None:
        if self.run_id is not None:
            self.query_requested.emit(self.run_id, item.data(Qt.ItemDataRole.UserRole))


def _class_report(run_id: str, k: int):
    """Runs on the worker."""
    return engine.class_report(run_id, k=k)


def _table(model, sort_column: int) -> QTableView:
    proxy = QSortFilterProxyModel(model)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    table = QTableView()
    table.setModel(proxy)
    table.setSortingEnabled(True)
    table.sortByColumn(sort_column, Qt.SortOrder.AscendingOrder)  # worst first
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    return table


def _size_columns(table: QTableView, widths: tuple[int, ...]) -> None:
    """Readable first columns (the last one stretches); a model reset would give them the default width."""
    for column, width in enumerate(widths[:-1]):
        table.horizontalHeader().resizeSection(column, width)

