"""The main window: six tabs (Train, Browse, Explain, Classes, Runs, Studies), a status bar, and the shared workers."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget

from fghash_gui.app_state import AppState
from fghash_gui.panels.browse import BrowsePanel
from fghash_gui.panels.classes import ClassesPanel
from fghash_gui.panels.explain import ExplainPanel
from fghash_gui.panels.runs import RunsPanel
from fghash_gui.panels.studies import StudiesPanel
from fghash_gui.panels.training import TrainingPanel
from fghash_gui.workers import RequestRunner


class MainWindow(QMainWindow):
    """Owns the request worker (its two lanes) and the application state (fghash_gui/app_state.py) that the
    panels share and watch; the window itself only switches tabs when the user navigates.

    Training has its own thread inside the Train panel. Errors from any worker end up in ``show_error``:
    a window-modal message box that does not block the event loop, so training keeps drawing behind it. An
    unexpected error's traceback sits behind the box's Details button (and in the "fghash.gui" log).
    """

    def __init__(self, train_in_process: bool = False) -> None:
        """train_in_process: train on a thread of this process instead of a child process (`--train-in-process`)."""
        super().__init__()
        self.setWindowTitle("fghash: fine-grained hashing workbench")
        self.resize(1280, 820)
        self.last_error: str | None = None  # the last message shown to the user (tests read it)
        self._error_box: QMessageBox | None = None
        self._failures: dict[str, str] = {}  # message -> traceback of recent unexpected errors (Details)

        self.requests = RequestRunner(self)
        self.state = AppState(self.requests, self)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(False)
        self.training = TrainingPanel(self.requests, self, in_process=train_in_process)
        self.browse = BrowsePanel(self.requests, self)
        self.explain = ExplainPanel(self.requests, self)
        self.classes = ClassesPanel(self.requests, self)
        self.runs = RunsPanel(self.requests, self)
        self.tabs.addTab(self.training, "Train")
        self.tabs.addTab(self.browse, "Browse")
        self.tabs.addTab(self.explain, "Explain")
        self.tabs.addTab(self.classes, "Classes")
        self.tabs.addTab(self.runs, "Runs")
        self.studies = StudiesPanel(self.requests, self)  # issue 26: a study's grid of runs
        self.tabs.addTab(self.studies, "Studies")
        self.studies.error.connect(self.show_error)
        self.studies.status.connect(self._on_status)
        self.studies.open_requested.connect(self.open_run)
        self.setCentralWidget(self.tabs)

        self._busy = QLabel("")
        self.statusBar().addPermanentWidget(self._busy)
        self.statusBar().showMessage("Ready", 3000)
        self.requests.busy_changed.connect(self._on_busy_changed)

        for panel in (self.training, self.browse, self.explain, self.classes, self.runs):
            panel.error.connect(self.show_error)
            panel.status.connect(self._on_status)
            panel.watch(self.state)
        self.state.error.connect(self.show_error)
        self.requests.failure.connect(self._remember_failure)
        self.training.runner.failed.connect(self._remember_failure)
        self.runs.open_requested.connect(self.open_run)
        self.browse.explain_requested.connect(self._on_explain_requested)
        self.classes.query_requested.connect(self.show_query)

        self.tabs.currentChanged.connect(self._on_tab_changed)
        for index in range(self.tabs.count()):
            QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self, activated=lambda i=index: self.tabs.setCurrentIndex(i))
        self.state.reload_runs()

    # --- navigation -------------------------------------------------------------------------------

    @Slot(str)
    def open_run(self, run: str) -> None:
        """Open a run in every tab (resolved on the worker) and switch to Browse."""
        self.state.open_run(run)
        self.tabs.setCurrentWidget(self.browse)

    @Slot(str, str)
    def show_query(self, run: str, path: str) -> None:
        """Search `path` with `run` in Browse (from the Classes tab's worst queries or code map)."""
        self.browse.show_query(run, path)
        self.tabs.setCurrentWidget(self.browse)

    @Slot(str, str)
    def _on_explain_requested(self, run: str, image_path: str) -> None:
        # Browse's run is the state's open run, which Explain follows already; a run compared in Browse is
        # compared in Explain too (Explain keeps its own choice when Browse compares with none).
        if self.browse.query_path:
            self.explain.set_sources(self.browse.query_path, self.browse.explain_sources())
        if self.browse.compare_run_id and self.browse.compare_run_id != self.explain.compare_run_id:
            self.explain.set_compare_run(self.browse.compare_run_id)
        self.explain.set_image(image_path)
        self.tabs.setCurrentWidget(self.explain)

    @Slot(int)
    def _on_tab_changed(self, _index: int) -> None:
        # The store may have changed (another process trained a run): reload the list on the worker.
        if self.tabs.currentWidget() is self.classes:
            self.classes.ensure_loaded()
        elif self.tabs.currentWidget() in (self.runs, self.browse):
            self.state.reload_runs()

    # --- feedback ---------------------------------------------------------------------------------

    @Slot(str, str)
    def _remember_failure(self, message: str, details: str) -> None:
        """An unexpected error's traceback, for the box that shows its message (a panel may prefix it)."""
        if details:
            self._failures[message] = details
            while len(self._failures) > 20:
                self._failures.pop(next(iter(self._failures)))

    def failure_details(self, message: str) -> str:
        """The traceback behind `message`, "" for a user error (a FghashError needs none)."""
        for known, details in reversed(self._failures.items()):
            if known and known in message:
                return details
        return ""

    @Slot(str)
    def show_error(self, message: str) -> None:
        self.last_error = message
        self.statusBar().showMessage(message.splitlines()[0] if message else "error", 10_000)
        box = QMessageBox(QMessageBox.Icon.Warning, "fghash", message, QMessageBox.StandardButton.Ok, self)
        details = self.failure_details(message)
        if details:
            box.setDetailedText(details)  # Qt adds the "Show Details..." button
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._error_box = box
        box.open()  # not exec(): the event loop (and a running training) keeps going

    @Slot(str)
    def _on_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        self._busy.setText("working…" if busy else "")

    # --- closing ----------------------------------------------------------------------------------

    def confirm_stop_training(self) -> bool:
        """Ask whether to stop the running training (tests replace this method)."""
        answer = QMessageBox.question(
            self,
            "Training in progress",
            "A training run is in progress. Stop it (a checkpoint lets you resume later) and quit?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.training.is_training():
            if not self.confirm_stop_training():
                event.ignore()
                return
            self.statusBar().showMessage("Stopping training…")
            self.training.stop_and_wait()
        self.studies.stop_and_wait()  # the study's current cell is recorded as interrupted, resumable
        self.requests.shutdown()
        event.accept()
