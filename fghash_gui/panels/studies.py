"""Studies tab: open or start a study file, watch its grid of cells fill in, preview and export its table.

Start runs `fghash study run FILE` in a child process (QProcess), like training runs outside the app's
interpreter; Stop sends it SIGTERM, which the CLI handles like Ctrl-C (the current cell's run is recorded
as interrupted and resumes on the next Start). The grid (rows: the table's rows; columns: dataset, bits,
seed) is read once per open (engine.study_status) and its states from the store every second while the
study runs (engine.cell_states); Refresh reads them at any time, so the tab also follows a study that a
terminal or a cluster runs. Clicking a cell with a run opens it in Browse.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QProcess, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from core import engine
from fghash_gui.figure_export import FIGURE_FILTER, TABLE_FILTER, FigureExporter
from fghash_gui.workers import RequestRunner, describe_error

STATE_COLORS = {"finished": "#bfe3c6", "running": "#b9d3f2", "interrupted": "#f5deb0", "failed": "#f2b8b5",
                "pending": "#eeeeee", "queued": "#dcd3f0", "changed": "#f7c9e8"}
REFRESH_MS = 1000
RUN_ID_ROLE = Qt.ItemDataRole.UserRole


class StudiesPanel(QWidget):
    """error(message), status(message) as the other panels; open_requested(run id) for the window."""

    error = Signal(str)
    status = Signal(str)
    open_requested = Signal(str)

    def __init__(self, requests: RequestRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._requests = requests
        self.study: str | None = None  # a study file path or a study id: what status and table read
        self.spec = None  # the study's StudySpec and grid, read once per open (expanding a grid of hundreds
        self.cells: list = []  # of cells takes a second); the timer then asks the store only
        self.states: list = []
        self.process: QProcess | None = None
        self.table_text = ""
        self.exporter = FigureExporter(requests, self)
        self.exporter.written.connect(lambda path: self.status.emit(f"wrote {path}"))
        self.exporter.failed.connect(self.error)

        self.chooser = QComboBox()
        self.chooser.setMinimumWidth(280)
        self.chooser.activated.connect(self._on_chosen)
        open_button = QPushButton("Open study file…")
        open_button.clicked.connect(self._on_open_file)
        self.parallel = QSpinBox()
        self.parallel.setRange(1, 64)
        self.parallel.setPrefix("parallel ")
        self.parallel.setToolTip("cells at a time (child processes, one GPU each)")
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        refresh_button = QPushButton("Refresh")
        refresh_button.setToolTip("read the study file and the cells' states again")
        refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        for widget in (QLabel("Study:"), self.chooser, open_button, self.parallel, self.start_button,
                       self.stop_button, refresh_button):
            top.addWidget(widget)
        top.addStretch(1)
        self.summary = QLabel("Open a study file or pick a shipped study.")

        self.grid = QTableWidget()
        self.grid.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.grid.cellClicked.connect(self._on_cell_clicked)
        self.grid.verticalHeader().setDefaultSectionSize(24)

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.preview = QTextEdit()  # the Markdown table, rendered (bold best values, the tests' table)
        self.preview.setReadOnly(True)
        self.reference = QComboBox()
        self.reference.setToolTip("paired t-test and Wilcoxon test of this method against every other")
        table_button = QPushButton("Update table")
        table_button.clicked.connect(self.update_table)
        export_table = QPushButton("Export table…")
        export_table.clicked.connect(self._on_export_table)
        export_figure = QPushButton("Export figure…")
        export_figure.clicked.connect(self._on_export_figure)
        tools = QHBoxLayout()
        for widget in (QLabel("Significance vs"), self.reference, table_button, export_table, export_figure):
            tools.addWidget(widget)
        tools.addStretch(1)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setFont(mono)
        self.log.setMaximumBlockCount(500)

        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(tools)
        split_lower = QSplitter(Qt.Orientation.Horizontal)
        split_lower.addWidget(self.preview)
        split_lower.addWidget(self.log)
        split_lower.setSizes([700, 400])
        lower_layout.addWidget(split_lower)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.grid)
        split.addWidget(lower)
        split.setSizes([420, 320])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.poll)
        self.fill_chooser()

    # --- choosing a study ----------------------------------------------------------------------------
    def fill_chooser(self) -> None:
        """The studies in the store, then the shipped study files."""
        self.chooser.clear()
        for study_id, title, _modified in engine.list_studies():
            self.chooser.addItem(f"{study_id}: {title}", study_id)
        try:
            examples = engine.list_examples()
        except Exception as exc:  # noqa: BLE001 - a broken install must not break the tab
            examples = []
            self.status.emit(describe_error(exc))
        for path, spec, _problem in examples:
            if spec is not None:
                self.chooser.addItem(f"shipped: {path.stem}", str(path))
        self.chooser.setCurrentIndex(-1)

    @Slot(int)
    def _on_chosen(self, index: int) -> None:
        self.open_study(self.chooser.itemData(index))

    @Slot()
    def _on_open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a study file", "", "Study files (*.toml)")
        if path:
            self.open_study(path)

    def open_study(self, study: str) -> None:
        """Show a study (a file path or a study id); errors in the file go to the error dialog."""
        self.study = study
        self.refresh()
        if self.study is not None:  # the chooser names what is shown
            index = self.chooser.findData(study)
            if index < 0:
                self.chooser.addItem(str(study), study)
                index = self.chooser.count() - 1
            self.chooser.setCurrentIndex(index)
        if self.states:
            labels = list(dict.fromkeys(s.cell.method for s in self.states))
            self.reference.clear()
            self.reference.addItem("(none)", None)
            for label in labels:
                self.reference.addItem(label, label)
            # the file's reference method, else the last row (a paper's own method comes last in its tables)
            wanted = self.spec.reference or (labels[-1] if len(labels) > 1 else None)
            self.reference.setCurrentIndex(max(0, self.reference.findData(wanted)) if wanted else 0)
            self.update_table()

    # --- the grid ---------------------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Read the file and the grid again (and the SLURM job states), then show the cells."""
        if self.study is None:
            return
        try:
            self.spec, self.states = engine.study_status(self.study)
        except Exception as exc:  # noqa: BLE001 - a bad file is a message, never a crash
            if not self.is_running():
                self.timer.stop()
            self.error.emit(describe_error(exc))
            self.study = self.spec = None
            return
        self.cells = [s.cell for s in self.states]
        self._show()

    @Slot()
    def poll(self) -> None:
        """The cells' states from the store (milliseconds: no file, no grid expansion)."""
        if self.spec is None:
            return
        finished = sum(s.state == "finished" for s in self.states)
        try:
            self.states = engine.cell_states(self.spec, self.cells)
        except Exception as exc:  # noqa: BLE001 - e.g. the store is momentarily locked: try again next tick
            self.status.emit(describe_error(exc))
            return
        self._show()
        if sum(s.state == "finished" for s in self.states) != finished:  # a cell ended: the table changed
            self.update_table()

    def _show(self) -> None:
        spec = self.spec
        rows = list(dict.fromkeys(s.cell.row for s in self.states))
        columns = list(dict.fromkeys((s.cell.dataset, s.cell.bits, s.cell.seed) for s in self.states))
        several = len({c[0] for c in columns}) > 1
        if self.grid.rowCount() != len(rows) or self.grid.columnCount() != len(columns):
            self.grid.setRowCount(len(rows))
            self.grid.setColumnCount(len(columns))
        self.grid.setVerticalHeaderLabels(rows)
        self.grid.setHorizontalHeaderLabels([(f"{d}\n" if several else "") + f"{b} bits\nseed {s}"
                                             for d, b, s in columns])
        for state in self.states:
            c = state.cell
            item = QTableWidgetItem(_cell_text(state))
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            item.setBackground(QBrush(QColor(STATE_COLORS[state.state])))
            item.setData(RUN_ID_ROLE, state.run.run_id if state.run is not None else None)
            item.setToolTip(f"{c.key}\n{state.state}" + (f"\nrun {state.run.run_id}" if state.run else "")
                            + (f"\njob {state.job}" if state.job else ""))
            self.grid.setItem(rows.index(c.row), columns.index((c.dataset, c.bits, c.seed)), item)
        counts: dict[str, int] = {}
        for s in self.states:
            counts[s.state] = counts.get(s.state, 0) + 1
        running = " — running" if self.is_running() else ""
        self.summary.setText(f"{spec.study_id}: {spec.title} — " + ", ".join(
            f"{n} {state}" for state, n in counts.items()) + f" of {len(self.states)} cells{running}")

    def cell_item(self, row: int, column: int) -> QTableWidgetItem | None:
        return self.grid.item(row, column)

    @Slot(int, int)
    def _on_cell_clicked(self, row: int, column: int) -> None:
        item = self.grid.item(row, column)
        run_id = item.data(RUN_ID_ROLE) if item is not None else None
        if run_id:
            self.open_requested.emit(run_id)

    # --- running -----------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def run_arguments(self) -> list[str]:
        """The child's command line after the interpreter: `python -m core.cli study run FILE ...`."""
        return ["-m", "core.cli", "study", "run", str(self.study), "--max-parallel", str(self.parallel.value())]

    @Slot()
    def start(self) -> None:
        if self.study is None or self.is_running():
            return
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._on_output)
        self.process.finished.connect(self._on_finished)
        self.log.appendPlainText(f"$ fghash {' '.join(self.run_arguments()[2:])}")
        self.process.start(sys.executable, self.run_arguments())
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.timer.start()
        self.status.emit(f"study {self.study} started")

    @Slot()
    def stop(self) -> None:
        """SIGTERM: the CLI stops like at Ctrl-C; the current cell resumes on the next Start."""
        if self.is_running():
            self.process.terminate()

    def stop_and_wait(self, timeout_ms: int = 30_000) -> None:
        if self.is_running():
            self.process.terminate()
            if not self.process.waitForFinished(timeout_ms):
                self.process.kill()
                self.process.waitForFinished(5000)

    @Slot()
    def _on_output(self) -> None:
        text = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        for line in text.replace("\r", "\n").splitlines():
            if line.strip() and not line.lstrip().startswith("cells:"):  # the CLI's progress bar redraws
                self.log.appendPlainText(line)

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, code: int, _status) -> None:
        self.timer.stop()
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.refresh()
        self.update_table()
        self.status.emit(f"study {self.study} " + ("finished" if code == 0 else f"stopped (exit code {code})"))

    # --- table and exports -------------------------------------------------------------------------------
    @Slot()
    def update_table(self) -> None:
        """The Markdown table with the tests against the chosen reference, built on the request worker."""
        if self.study is None:
            return
        self._requests.submit("study-table", engine.study_table_text, self.study, "markdown",
                              self.reference.currentData(), on_result=self._on_table, on_error=self.error.emit)

    def _on_table(self, text: str) -> None:
        self.table_text = text
        self.preview.setMarkdown(text)

    @Slot()
    def _on_export_table(self) -> None:
        if self.study is None:
            return
        study, reference = self.study, self.reference.currentData()

        self.exporter.export("Export the study table", "study-table.tex", TABLE_FILTER,
                             lambda path: engine.write_study_table(study, path, reference=reference))

    @Slot()
    def _on_export_figure(self) -> None:
        if self.study is None:
            return
        study = self.study
        self.exporter.export("Export mAP against code length", "study-bits.pdf", FIGURE_FILTER,
                             lambda path: engine.write_study_figure(study, path))


def _cell_text(state) -> str:
    if state.final_map is not None:
        return f"{100 * state.final_map:.2f}"
    return state.state
