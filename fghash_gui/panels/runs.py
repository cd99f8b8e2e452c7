"""Runs tab: the run store as a sortable table (or one row per seed group); compare mAP curves; open, delete,
export. mAP@all is the tie-averaged headline; "by index" the same codes with ties ranked by database index.

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
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import engine
from core.engine import TIES_AVERAGED_LABEL, TIES_BY_INDEX_LABEL, FghashError, RunRecord, collapse_note, run_chance_map
from fghash_gui.app_state import RunList
from fghash_gui.figure_export import FIGURE_FILTER, TABLE_FILTER, FigureExporter
from fghash_gui.panels.run_curves import RetrievalCurves
from fghash_gui.panels.run_groups import RUN_IDS_ROLE, SORT_ROLE, SeedGroupTableModel
from fghash_gui.widgets.plots import CHANCE_PEN, side_legend
from fghash_gui.workers import RequestRunner

# "mAP@all": the final model's test mAP, ties averaged (the reported number); "by index": the same with ties by
# database index. "val-selected": the test mAP of the epoch chosen on a validation split (runs trained with
# one; the tooltip names the epoch). Nothing is chosen on test.
COLUMNS = ("run id", "method", "dataset", "bits", "backbone", "mAP@all", "by index", "val-selected", "date", "status")
COLLAPSED_COLOR = "#a12626"
STATUS_COLORS = {"finished": "#1d7a35", "running": "#2f6db5", "cancelled": "#9a6b00", "interrupted": "#9a6b00",
                 "failed": "#a12626", "created": "#666666", "missing": "#999999"}  # missing: folder gone
CURVE_COLORS = ("#2f6db5", "#c0392b", "#1d7a35", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#2c3e50")
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
        self.extras: dict[str, dict[str, float]] = {}

    def set_records(self, records: list[RunRecord], extras: dict[str, dict[str, float]]) -> None:
        """records from the store; extras: {run id: EXTRA_METRICS values of its last evaluation}."""
        self.beginResetModel()
        self.records = list(records)
        self.extras = extras
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return {"mAP@all": TIES_AVERAGED_LABEL, "by index": TIES_BY_INDEX_LABEL}.get(COLUMNS[section])
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self.records[index.row()]
        column = COLUMNS[index.column()]
        figures = _figures(record, self.extras.get(record.run_id, {}))
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(record, column, figures)
        if role == SORT_ROLE:
            return _sort_key(record, column, figures)
        if role == Qt.ItemDataRole.ForegroundRole and column == "status":
            return QColor(STATUS_COLORS.get(record.status, "#333333"))
        if role == Qt.ItemDataRole.ForegroundRole and column == "mAP@all" and figures["note"]:
            return QColor(COLLAPSED_COLOR)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("bits", "mAP@all", "by index", "val-selected"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in ("mAP@all", "by index") and (figures["note"] or figures["legacy"]):
                return figures["note"] or figures["legacy"]
            if column == "val-selected" and record.val_best_epoch is not None:
                return (f"test mAP@all of epoch {record.val_best_epoch}, the best on the validation split "
                        f"(validation mAP@all {_percent(record.val_best_map)})")
            return record.run_dir
        if role == Qt.ItemDataRole.UserRole:
            return record.run_id
        return None


def _percent(value: float | None) -> str:
    return f"{100 * value:.2f}" if value is not None else "–"


def _figures(record: RunRecord, extras: dict[str, float]) -> dict[str, Any]:
    """The run's final mAP@all (tie-averaged), its ties-by-index twin and the collapse note.

    A run evaluated before fghash averaged ties logged no map_all_index_order: its stored final mAP was
    ranked by index, so it is shown in that column and the headline stays empty until re-evaluated.
    """
    legacy = record.final_map is not None and "map_all_index_order" not in extras
    return {"map": None if legacy else record.final_map,
            "by_index": record.final_map if legacy else extras.get("map_all_index_order"),
            "note": collapse_note(extras["largest_code_share"]) if "largest_code_share" in extras else "",
            "legacy": ("evaluated before fghash averaged ties: its mAP ranks ties by index; "
                       "`fghash eval` gives the tie-averaged value") if legacy else ""}


def _display(record: RunRecord, column: str, figures: dict[str, Any]) -> str:
    return {
        "run id": record.run_id,
        "method": record.method,
        "dataset": record.dataset_kind,
        "bits": str(record.bits),
        "backbone": record.backbone,
        "mAP@all": _percent(figures["map"]) + (" ⚠ collapsed" if figures["note"] else ""),
        "by index": _percent(figures["by_index"]),
        "val-selected": _percent(record.val_best_test_map),
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created)),
        "status": record.status,
    }[column]


def _sort_key(record: RunRecord, column: str, figures: dict[str, Any]) -> Any:
    if column in ("mAP@all", "by index", "val-selected"):
        value = {"mAP@all": figures["map"], "by index": figures["by_index"],
                 "val-selected": record.val_best_test_map}[column]
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
    compared_shown = Signal()  # the mAP curves of the selected runs are drawn (tests wait on it)

    def __init__(self, requests: RequestRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._requests = requests
        self.model = RunTableModel(self)
        self.group_model = SeedGroupTableModel(self)
        self.flat_proxy, self.group_proxy = (self._sorted_filtered(m) for m in (self.model, self.group_model))
        self.proxy = self.flat_proxy  # the one the table shows
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
        self.group_proxy.sort(0, Qt.SortOrder.AscendingOrder)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("filter runs (method, dataset, status, id…)")
        for proxy in (self.flat_proxy, self.group_proxy):
            self.filter_edit.textChanged.connect(proxy.setFilterFixedString)
        self.group_seeds = QCheckBox("group seeds")
        self.group_seeds.setToolTip("one row per set of finished runs that differ only in their seed: "
                                    "mAP@all as mean ± sample std (n)")
        self.group_seeds.toggled.connect(self._on_group_seeds)
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
        top.addWidget(self.group_seeds)
        for button in (self.refresh_button, self.open_button, self.compare_button, self.export_button,
                       self.paper_button, self.delete_button):
            top.addWidget(button)

        self.plot = pg.PlotWidget(title="mAP@all per evaluation (selected runs; ties averaged)")
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "mAP@all (%)")
        side_legend(self.plot)  # beside the curves, not over them
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.compared: dict[str, list[tuple[int, float]]] = {}
        self.chance_levels: list[float] = []  # mAP@all (%) of random codes, one dashed line each

        self.curves = RetrievalCurves(requests, self)
        self.curves.error.connect(self.error)
        self.plot_tabs = QTabWidget()
        self.plot_tabs.addTab(self.plot, "mAP per evaluation")
        self.plot_tabs.addTab(self.curves, "PR and P@k")

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.plot_tabs)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    # --- data -------------------------------------------------------------------------------------

    def watch(self, state) -> None:
        """Follow the application state (fghash_gui/app_state.py): its run list is the table."""
        self._state = state
        state.runs_changed.connect(self._show_runs)
        self._show_runs(state.runs)

    @Slot()
    def refresh(self) -> None:
        """Reload the run list (on the worker: two SQLite queries; the table follows when it arrives)."""
        self._state.reload_runs()

    def _show_runs(self, runs: RunList) -> None:
        selected = set(self.selected_run_ids())
        records, extras = list(runs.records), runs.extras
        self.model.set_records(records, extras)
        self.group_model.set_records(records, {run_id: values["map_all_index_order"]
                                               for run_id, values in extras.items() if "map_all_index_order" in values})
        self.select_runs(list(selected))

    @Slot(bool)
    def _on_group_seeds(self, grouped: bool) -> None:
        selected = self.selected_run_ids()
        self.proxy = self.group_proxy if grouped else self.flat_proxy
        self.table.setModel(self.proxy)  # a new selection model comes with it
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.select_runs(selected)

    def _sorted_filtered(self, model) -> QSortFilterProxyModel:
        proxy = QSortFilterProxyModel(self)
        proxy.setSourceModel(model)
        proxy.setSortRole(SORT_ROLE)
        proxy.setFilterKeyColumn(-1)
        proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        return proxy

    @staticmethod
    def _run_ids_of(index) -> tuple[str, ...]:
        value = index.data(RUN_IDS_ROLE)  # one run id in the flat table, a tuple in the grouped one
        return (value,) if isinstance(value, str) else tuple(value or ())

    def selected_run_ids(self) -> list[str]:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return [run_id for row in rows for run_id in self._run_ids_of(row)]

    def select_runs(self, run_ids: list[str]) -> None:
        """Select the rows holding these runs (tests, scripts)."""
        selection = self.table.selectionModel()
        selection.clearSelection()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if set(self._run_ids_of(index)) & set(run_ids):
                selection.select(index, selection.SelectionFlag.Select | selection.SelectionFlag.Rows)
        self._on_selection_changed()

    @Slot()
    def _on_selection_changed(self) -> None:
        ids = self.selected_run_ids()
        count = len(ids)
        self.open_button.setEnabled(count == 1)
        self.compare_button.setEnabled(count >= 1)
        self.export_button.setEnabled(count >= 1)
        self.paper_button.setEnabled(count >= 1)
        # The store reports "running" only while the trainer holds the run lock (RunStore.list_runs), so a
        # run in training cannot be deleted from here; engine.delete_run refuses it as well.
        training = [r.run_id for r in self.model.records if r.run_id in ids and r.status == "running"]
        # A deletion on the worker keeps Delete greyed until it answers.
        self.delete_button.setEnabled(count >= 1 and not training and not self._requests.running("delete"))
        self.delete_button.setToolTip(
            f"{training[0]} is being trained: stop it before deleting it" if training else "")

    # --- actions ----------------------------------------------------------------------------------

    @Slot()
    def open_selected(self) -> None:
        ids = self.selected_run_ids()
        if ids:
            self.open_requested.emit(ids[0])

    @Slot()
    def compare_selected(self) -> None:
        """Plot the mAP@all history of every selected run and its chance level (read on the worker), and
        their PR and P@k curves (evaluated from their codes on the worker)."""
        run_ids = self.selected_run_ids()
        self.plot.clear()
        self.compared = {}
        self.curves.show_runs([r for r in run_ids if r in self._state.runs.with_codes])
        known = dict(self._state.chance_maps)
        self._requests.submit("run-history", _load_histories, run_ids, known, on_result=self._draw_compared,
                              on_error=self.error.emit)

    def _draw_compared(self, loaded: tuple[dict[str, list[tuple[int, float]]], dict[str, float]]) -> None:
        histories, chance_maps = loaded
        self._state.chance_maps.update(chance_maps)
        self.plot.clear()
        self.compared = histories
        for i, (run_id, history) in enumerate(histories.items()):
            if not history:
                continue
            epochs = [epoch for epoch, _ in history]
            values = [100 * value for _, value in history]
            color = CURVE_COLORS[i % len(CURVE_COLORS)]
            self.plot.plot(epochs, values, pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6,
                           symbolBrush=color, name=_short_name(run_id))
        self._draw_chance_levels([chance_maps[r] for r in histories if r in chance_maps])
        empty = [r for r, h in histories.items() if not h]
        if empty:
            self.status.emit(f"no evaluations recorded yet for {', '.join(empty)}")
        self.compared_shown.emit()

    def _draw_chance_levels(self, chance_maps: list[float]) -> None:
        """A dashed line at each distinct chance level (mAP@all of random codes, in [0, 1]) of the runs."""
        self.chance_levels = sorted({round(100 * value, 2) for value in chance_maps})
        for level in self.chance_levels:
            self.plot.addItem(pg.InfiniteLine(pos=level, angle=0, pen=CHANCE_PEN, label=f"chance {level:.1f}%",
                                              labelOpts={"position": 0.95, "color": "#555555"}))

    @Slot()
    def export_paper(self, kind: str) -> None:
        """Write the selected runs' table, PR curves or mAP-vs-bits figure (core.figures) on the worker."""
        from core.engine import write_bits_figure, write_pr_figure, write_table

        run_ids = self.selected_run_ids()
        if not run_ids:
            return
        title, default_name, filters = PAPER_EXPORTS[kind]
        job = {"table": lambda path: write_table(run_ids, path),
               "pr": lambda path: write_pr_figure(run_ids, path),
               "bits": lambda path: write_bits_figure(run_ids, path)}[kind]
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
        """Delete the selected runs on the worker (a run's folder can hold gigabytes of codes and index), then
        close them in every tab; a run the engine refuses stops the deletion there, with its reason shown."""
        run_ids = self.selected_run_ids()
        if not run_ids or not self.confirm_delete(run_ids):
            return
        self.delete_button.setEnabled(False)
        self.status.emit(f"deleting {len(run_ids)} run(s)…")
        self._requests.submit("delete", _delete_all, run_ids, on_result=self._on_deleted, on_error=self._on_delete_failed)

    def _on_deleted(self, outcome: tuple[list[str], str | None]) -> None:
        deleted, problem = outcome
        if problem is not None:
            self.error.emit(problem)
        if deleted:
            self._state.forget_runs(deleted)  # every tab closes them; the list reloads
            self.status.emit(f"deleted {len(deleted)} run(s)")
        else:
            self.refresh()

    def _on_delete_failed(self, message: str) -> None:
        self.error.emit(message)
        self.refresh()

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


def _delete_all(run_ids: list[str]) -> tuple[list[str], str | None]:
    """Runs on the worker: delete the runs in order, stopping at the first the engine refuses; returns the
    deleted ids and that refusal's message (None when all went)."""
    deleted = []
    for run_id in run_ids:
        try:
            engine.delete_run(run_id)
        except FghashError as exc:
            return deleted, str(exc)
        deleted.append(run_id)
    return deleted, None


def _load_histories(run_ids: list[str], known_chance: dict[str, float]
                    ) -> tuple[dict[str, list[tuple[int, float]]], dict[str, float]]:
    """Runs on the worker: each run's (epoch, mAP@all) history from the store, and its chance level
    (core.evaluation.chance: reads two small label arrays) unless already known. Runs without saved codes
    (still training) have no chance level yet."""
    histories = {run_id: engine.map_history(run_id) for run_id in run_ids}
    chance = {}
    for run_id in run_ids:
        if run_id in known_chance:
            chance[run_id] = known_chance[run_id]
            continue
        try:
            chance[run_id] = run_chance_map(run_id)
        except FghashError:
            continue
    return histories, chance


def _export_all(run_ids: list[str], folder: str) -> list[str]:
    return [str(engine.export_run(run_id, folder)) for run_id in run_ids]


def _short_name(run_id: str) -> str:
    # "20261122-223000-fcaenet-demo-12b-ab12" -> "fcaenet-demo-12b-ab12": the stamp is in the table already.
    parts = run_id.split("-")
    return "-".join(parts[2:]) if len(parts) > 3 else run_id
