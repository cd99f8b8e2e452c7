"""Browse tab: open a run, pick a query (a test image or any file), see the top-k Hamming results.

Left: the run, a searchable list of the run's query images (thumbnails), "Open image…" (or drop a file).
Centre: k, the query's AP and P@k, the result grid (green frame = same class, red = other class) and,
optionally, the same query answered by a second run beside it (FCAENet Fig. 6). Bottom: the histogram of the
query's Hamming distances to the whole database, correct and wrong stacked, for both runs when comparing, on
a log axis by default. The parts are in browse_parts.py; the query's name takes up to two lines.

When the run has an approximate (IVF) index (`fghash index RUN --approximate`), a checkbox above the grid
(off by default) makes the main run's queries use it; the grid's caption then says the results are
approximate, with the cells scanned and the recall@k measured when the index was built.

``engine.query`` (encode + search) runs on the request worker; a newer query makes older ones stale.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QSplitter, QVBoxLayout, QWidget

from core import engine
from fghash_gui.figure_export import FIGURE_FILTER, FigureExporter
from fghash_gui.panels.browse_data import (
    QueryCatalog,
    ap_text,
    ap_tooltip,
    approximate_caption,
    cells_from_result,
    first_line,
    query_text,
)
from fghash_gui.panels.browse_parts import QUERY_PREVIEW, QueryPicker, ResultsArea, ResultsHeader
from fghash_gui.widgets.image_drop import IMAGE_FILTER, ImageDropMixin
from fghash_gui.widgets.run_menu import fill_run_menu
from fghash_gui.widgets.thumbnails import ThumbnailLoader
from fghash_gui.workers import RequestRunner

FIGURE_K = 20  # results per row in an exported figure: more would not be legible on a page


class BrowsePanel(ImageDropMixin, QWidget):
    error = Signal(str)
    status = Signal(str)
    explain_requested = Signal(str, str)  # run id, image path
    results_shown = Signal()  # the main grid shows a new result (tests wait on it)
    compare_shown = Signal()
    catalog_loaded = Signal()

    def __init__(self, requests: RequestRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._requests = requests
        self.thumbnails = ThumbnailLoader(requests, parent=self)
        self.run_id: str | None = None
        self.compare_run_id: str | None = None
        self.catalog: QueryCatalog | None = None
        self.query_path: str | None = None
        self.result = None  # the engine's QueryResult now on screen
        self.compare_result = None
        self.setAcceptDrops(True)

        self.picker = QueryPicker(self.thumbnails)
        self.header = ResultsHeader(FIGURE_K)
        self.results = ResultsArea(self.thumbnails)
        for part in (self.picker, self.header, self.results):  # browse.run_combo, browse.grid, ... (tests, wiring)
            self.__dict__.update({k: v for k, v in vars(part).items() if isinstance(v, QObject)})
        self.figure_exporter = FigureExporter(requests, self)
        self.figure_exporter.written.connect(lambda path: self.status.emit(f"wrote {path}"))
        self.figure_exporter.failed.connect(self.error.emit)

        self.run_combo.activated.connect(lambda _i: self._on_run_chosen())
        self.reload_button.clicked.connect(self.refresh_runs)
        self.query_list.selectionModel().currentChanged.connect(self._on_query_row_changed)
        self.open_image_button.clicked.connect(self._pick_file)
        self.k_combo.currentIndexChanged.connect(lambda _i: self.run_query())
        self.compare_combo.activated.connect(lambda _i: self._on_compare_chosen())
        self.explain_button.clicked.connect(self._request_explain)
        self.figure_button.clicked.connect(self.export_figure)
        self.approximate_check.toggled.connect(lambda _on: self.run_query())
        self.grid.activated_path.connect(lambda path: self._request_explain(path))
        self.thumbnails.ready.connect(self._on_thumbnails_ready)

        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(self.header)
        centre_layout.addWidget(self.results, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.picker)
        split.addWidget(centre)
        split.setStretchFactor(1, 1)
        split.setSizes([280, 1100])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

    # --- runs -------------------------------------------------------------------------------------

    def watch(self, state) -> None:
        """Follow the application state (fghash_gui/app_state.py): its run list fills the menus, an opened
        run loads here, deleted runs close; the query on screen and the compared run are published to it."""
        self._state = state
        state.runs_changed.connect(self._fill_run_menus)
        state.run_opened.connect(self._on_run_opened)
        state.runs_deleted.connect(self.forget_runs)
        self.results_shown.connect(lambda: state.set_query(self.result.result if self.result is not None else None))
        self._fill_run_menus(state.runs)

    @Slot()
    def refresh_runs(self) -> None:
        """Reload the run list (on the worker; the menus fill when it arrives)."""
        self._state.reload_runs()

    def _fill_run_menus(self, runs) -> None:
        """Fill both run menus with the runs that have codes to search (names elided in the middle, the
        full run id on hover)."""
        records = runs.searchable()
        fill_run_menu(self.run_combo, records, self.run_id, with_status=True)
        fill_run_menu(self.compare_combo, records, self.compare_run_id, none_item=True, with_status=True)

    def forget_runs(self, run_ids: list[str]) -> None:
        """Runs were deleted: close them here if they are open, and refresh the menus."""
        if self.compare_run_id in run_ids:
            self.set_compare_run(None)
        if self.run_id in run_ids:
            self._requests.invalidate("query")
            self.run_id, self.catalog, self.result, self.query_path = None, None, None, None
            self.query_model.set_catalog(None)
            self.grid.set_cells([])
            self.histogram.clear()
            self.query_label.setText("No query yet")
            self.ap_label.setText("AP –   P@k –")
            self.main_label.setText("")

    def open_run(self, run: str) -> None:
        """Open a run in every tab: the state resolves it on the worker, then Browse loads its query list
        there and searches the first query."""
        self._state.open_run(run)

    def _on_run_opened(self, opened) -> None:
        run_id = opened.run_id
        self.run_id = run_id
        self._fill_run_menus(self._state.runs)
        self.run_combo.setCurrentIndex(max(self.run_combo.findData(run_id), 0))
        self.result = None
        self.query_model.set_catalog(None)
        self.status.emit(f"opening {run_id}…")
        self._requests.submit("catalog", QueryCatalog.load, run_id, on_result=self._on_catalog,
                              on_error=self.error.emit)

    def show_query(self, run_id: str, path: str) -> None:
        """Search `path` with `run_id`, opening the run first if needed (its query list then shows it)."""
        if run_id != self.run_id or self.catalog is None:
            self.query_path = path
            self.open_run(run_id)
        elif self._highlight(path):
            self.set_query(path)
        else:
            self.query_external(path)

    def _highlight(self, path: str) -> bool:
        """Make `path` the query list's current row without searching it; False if it is not listed."""
        rows = self.query_proxy.match(self.query_proxy.index(0, 0), Qt.ItemDataRole.UserRole, path, 1,
                                      Qt.MatchFlag.MatchExactly)
        if not rows:
            return False
        selection = self.query_list.selectionModel()
        selection.blockSignals(True)  # the caller searches it once
        self.query_list.setCurrentIndex(rows[0])
        selection.blockSignals(False)
        self.query_list.scrollTo(rows[0])
        self.query_list.viewport().update()
        return True

    def _on_run_chosen(self) -> None:
        run_id = self.run_combo.currentData()
        if run_id and run_id != self.run_id:
            self.open_run(run_id)

    def _on_catalog(self, catalog: QueryCatalog) -> None:
        if catalog.run_id != self.run_id:
            return
        self.catalog = catalog
        self.query_model.set_catalog(catalog)
        self.main_label.setText(catalog.title)
        self._show_approximate_choice(catalog)
        self.status.emit(f"{catalog.run_id}: {len(catalog.paths)} query images")
        self.catalog_loaded.emit()
        if self.query_path and not Path(self.query_path).exists():
            self.query_path = None
        if self.query_path is None and catalog.paths:
            self.select_query_row(0)
        else:
            self._highlight(self.query_path)
            self.run_query()

    def _show_approximate_choice(self, catalog: QueryCatalog) -> None:
        """The approximate-search checkbox: hidden without an IVF index, disabled (saying why) when it cannot
        be used, and unchecked whenever a run is opened."""
        info = catalog.approximate
        check = self.approximate_check
        check.blockSignals(True)
        check.setChecked(False)
        check.blockSignals(False)
        check.setVisible(info is not None or bool(catalog.approximate_problem))
        check.setEnabled(info is not None and not catalog.approximate_problem)
        check.setText(f"Approximate search (IVF, nprobe {info.nprobe})" if info is not None
                      else "Approximate search (IVF)")
        check.setToolTip(catalog.approximate_problem or (
            info.describe() + ".\nThe compared run, AP, P@k and the histogram stay exact." if info else ""))

    def approximate(self) -> bool:
        """Whether Browse searches the run's approximate index."""
        check = self.approximate_check
        return not check.isHidden() and check.isEnabled() and check.isChecked()

    def _on_compare_chosen(self) -> None:
        self.set_compare_run(self.compare_combo.currentData())

    def set_compare_run(self, run_id: str | None) -> None:
        """Answer every query with a second run as well and show its grid beside the first."""
        self.compare_run_id = run_id or None
        self._state.set_compare_run(self.compare_run_id)
        index = self.compare_combo.findData(self.compare_run_id)
        self.compare_combo.setCurrentIndex(max(index, 0))
        self.compare_box.setVisible(self.compare_run_id is not None)
        self.compare_result = None
        self.compare_grid.set_cells([])
        self.compare_label.setText(self.compare_run_id or "")
        self._draw_histogram()
        if self.compare_run_id is None:
            self._requests.invalidate("query-compare")
        else:
            self._submit_compare()

    # --- queries ----------------------------------------------------------------------------------

    def select_query_row(self, row: int) -> None:
        """Select the row-th image of the (filtered) query list, which searches it."""
        index = self.query_proxy.index(row, 0)
        if index.isValid():
            self.query_list.setCurrentIndex(index)

    def _on_query_row_changed(self, current, _previous) -> None:
        path = current.data(Qt.ItemDataRole.UserRole) if current.isValid() else None
        if path:
            self.set_query(path)

    def set_query(self, path: str) -> None:
        self.query_path = path
        self.run_query()

    def k(self) -> int:
        return int(self.k_combo.currentData())

    @Slot()
    def run_query(self) -> None:
        if self.run_id is None or self.query_path is None:
            return
        self.query_label.setText(f"searching {Path(self.query_path).name}…")
        search = partial(engine.query_with_stats, approximate=self.approximate())
        self._requests.submit("query", search, self.query_path, self.run_id, self.k(),
                              on_result=self._on_result, on_error=self._on_query_error)
        if self.compare_run_id:
            self._submit_compare()

    def _submit_compare(self) -> None:
        if self.query_path is None or self.compare_run_id is None:
            return
        self._requests.submit("query-compare", engine.query_with_stats, self.query_path, self.compare_run_id, self.k(),
                              on_result=self._on_compare_result, on_error=self._on_compare_error)

    def _on_query_error(self, message: str) -> None:
        """The query failed (e.g. an undecodable file): say so in the panel, clear the previous query's
        results so they are not taken for this file's, and stay ready for the next query."""
        name = Path(self.query_path).name if self.query_path else "query"
        short = first_line(message.replace(self.query_path, name) if self.query_path else message)
        self.query_path = None  # k changes / Explain must not resend the failed file
        self.result = None
        self.grid.set_cells([])
        self.histogram.clear()
        self.ap_label.setText("AP –   P@k –")
        self.query_label.setText(f"{name}: query failed: {short}")
        self.query_label.setToolTip(message)
        self.error.emit(message)

    def _on_compare_error(self, message: str) -> None:
        self.compare_result = None
        self.compare_grid.set_cells([])
        self.compare_label.setText(f"{self.compare_run_id}: query failed: {first_line(message)}")
        if self.query_path is not None:  # the main query's error (same file) is already reported
            self.error.emit(message)

    def _on_result(self, stats) -> None:
        """A QueryStats for the main run arrived: grid, AP / P@k, histogram."""
        self.result = stats
        self.grid.set_cells(cells_from_result(stats.result))
        self._show_preview()
        self.query_label.setText(query_text(stats.result))
        self.query_label.setToolTip("")
        self.ap_label.setText(ap_text(stats))
        self.ap_label.setToolTip(ap_tooltip(stats))
        self._draw_histogram()
        note = approximate_caption(stats.result)
        title = self.catalog.title if self.catalog is not None else (self.run_id or "")
        self.main_label.setText(f"{note}   ·   {title}" if note else title)  # the note first: never elided
        self.main_label.setToolTip(stats.result.approximate.describe(stats.result.nprobe) if note else "")
        if note:
            self.status.emit(note)
        self.results_shown.emit()

    def _on_compare_result(self, stats) -> None:
        self.compare_result = stats
        self.compare_grid.set_cells(cells_from_result(stats.result))
        self.compare_label.setText(f"{self.compare_run_id}   {ap_text(stats)}")
        self.compare_label.setToolTip(ap_tooltip(stats))
        self._draw_histogram()
        self.compare_shown.emit()

    def _draw_histogram(self) -> None:
        """The main run's distance counts, and the compared run's beside them when both answer this query."""
        if self.result is None:
            return
        compare = self.compare_result
        if compare is not None and (self.compare_run_id is None or
                                    compare.result.query_path != self.result.result.query_path):
            compare = None
        names = (_menu_name(self.run_combo, self.run_id), _menu_name(self.compare_combo, self.compare_run_id))
        self.histogram.show_stats(self.result, compare, names)

    # --- files ------------------------------------------------------------------------------------

    def _show_preview(self) -> None:
        pixmap = self.thumbnails.get(self.query_path) if self.query_path else None
        if pixmap is not None:
            self.query_preview.setPixmap(pixmap.scaled(QUERY_PREVIEW, QUERY_PREVIEW, Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))
        self.query_preview.setToolTip(self.query_path or "")

    def _on_thumbnails_ready(self, paths: list[str]) -> None:
        if self.query_path in paths:
            self._show_preview()

    def open_dialog_folder(self) -> str:
        """Where "Open image…" starts: the run's dataset folder, else the folder of its query images."""
        if self.run_id is None:
            return ""
        opened = self._state.current
        root = opened.config.dataset_root if opened is not None and opened.run_id == self.run_id else None
        if root and Path(root).is_dir():
            return str(root)
        return str(Path(self.catalog.paths[0]).parent) if self.catalog and self.catalog.paths else ""

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Query image", self.open_dialog_folder(), IMAGE_FILTER)
        if path:
            self.query_external(path)

    def query_external(self, path: str) -> None:
        """Search a file from outside the query list: the list's old selection no longer applies."""
        self.query_list.selectionModel().clear()  # clears the current index too, so no row stays highlighted
        self.set_query(path)

    image_dropped = query_external  # a dropped file opens like one chosen in the dialog (ImageDropMixin)

    @Slot()
    def export_figure(self) -> None:
        """The retrieval figure (core.figures) of the current query: this run's top k and the compared run's."""
        if self.run_id is None or self.query_path is None:
            self.status.emit("choose a query first")
            return
        from core.engine import write_retrieval_figure

        runs = [self.run_id] + ([self.compare_run_id] if self.compare_run_id else [])
        query, k = self.query_path, min(self.k(), FIGURE_K)
        self.figure_exporter.export("Export retrieval figure", f"retrieval-{Path(query).stem}.pdf", FIGURE_FILTER,
                                    lambda path: write_retrieval_figure(runs, [query], path, k=k))

    def _request_explain(self, path: str | None = None) -> None:
        if self.run_id is None or self.query_path is None:
            return
        self.explain_requested.emit(self.run_id, path or self.grid.selected_path() or self.query_path)

    def explain_sources(self) -> list[tuple[str, str]]:
        """(label, path) of the results on screen, for the Explain tab's image menu."""
        marks = {True: "✓", False: "✗", None: "?"}
        return [(f"#{c.rank} {marks[c.same_class]} {c.class_name} (d={c.distance})", c.path)
                for c in self.grid.result_model.cells]


def _menu_name(combo, run_id: str | None) -> str:
    """A run's short name as its menu shows it ("fcaenet · cub · 12b · ab12"), without the status."""
    index = combo.findData(run_id) if run_id else -1
    return combo.itemText(index).split(" (")[0] if index >= 0 else (run_id or "")
