"""The main window: six tabs (Train, Browse, Explain, Classes, Runs, Studies), a status bar, and the shared workers."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget

from fghash_gui.panels.browse import BrowsePanel
from fghash_gui.panels.classes import ClassesPanel
from fghash_gui.panels.explain import ExplainPanel
from fghash_gui.panels.runs import RunsPanel
from fghash_gui.panels.studies import StudiesPanel
from fghash_gui.panels.training import TrainingPanel
from fghash_gui.workers import RequestRunner


class MainWindow(QMainWindow):
    """Owns the request worker (encode/search/CAM) that Browse, Explain and Runs share.

    Training has its own thread inside the Train panel. Errors from any worker end up in ``show_error``:
    a window-modal message box that does not block the event loop, so training keeps drawing behind it.
    """

    def __init__(self, train_in_process: bool = False) -> None:
        """train_in_process: train on a thread of this process instead of a child process (`--train-in-process`)."""
        super().__init__()
        self.setWindowTitle("fghash: fine-grained hashing workbench")
        self.resize(1280, 820)
        self.last_error: str | None = None  # the last message shown to the user (tests read it)
        self._error_box: QMessageBox | None = None

        self.requests = RequestRunner(self)
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
        self.training.run_finished.connect(self._on_training_finished)
        self.training.run_started.connect(lambda _run: self.runs.refresh())
        self.runs.open_requested.connect(self.open_run)
        self.runs.runs_deleted.connect(self._on_runs_deleted)
        self.browse.explain_requested.connect(self._on_explain_requested)
        self.browse.results_shown.connect(self._on_browse_result)
        self.classes.query_requested.connect(self.show_query)

        self.tabs.currentChanged.connect(self._on_tab_changed)
        for index in range(self.tabs.count()):
            QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self, activated=lambda i=index: self.tabs.setCurrentIndex(i))

    # --- navigation -------------------------------------------------------------------------------

    @Slot(str)
    def open_run(self, run: str) -> None:
        """Open a run in Browse (and Explain) and switch to Browse."""
        self.browse.open_run(run)
        self.explain.open_run(run)
        self.classes.set_run(self.browse.run_id)
        self.tabs.setCurrentWidget(self.browse)

    @Slot(str, str)
    def show_query(self, run: str, path: str) -> None:
        """Search `path` with `run` in Browse (from the Classes tab's worst queries or code map)."""
        self.browse.show_query(run, path)
        self.explain.open_run(run)
        self.tabs.setCurrentWidget(self.browse)

    @Slot()
    def _on_browse_result(self) -> None:
        result = self.browse.result.result if self.browse.result is not None else None
        if result is not None:
            self.classes.code_map.set_query(result.run_id, result.query_code)

    @Slot(str, str)
    def _on_explain_requested(self, run: str, image_path: str) -> None:
        self.explain.open_run(run)
        if self.browse.query_path:
            self.explain.set_sources(self.browse.query_path, self.browse.explain_sources())
        self.explain.set_image(image_path)
        self.tabs.setCurrentWidget(self.explain)

    @Slot(object)
    def _on_training_finished(self, finished: object) -> None:
        self.runs.refresh()
        self.browse.refresh_runs()

    @Slot(list)
    def _on_runs_deleted(self, run_ids: list) -> None:
        self.browse.forget_runs(run_ids)
        self.explain.forget_runs(run_ids)
        self.classes.forget_runs(run_ids)

    @Slot(int)
    def _on_tab_changed(self, _index: int) -> None:
        # The store may have changed (a run finished, another process trained one): one cheap query.
        if self.tabs.currentWidget() is self.classes:
            self.classes.set_run(self.browse.run_id or self.classes.run_id)
            self.classes.ensure_loaded()
        if self.tabs.currentWidget() is self.runs:
            self.runs.refresh()
        elif self.tabs.currentWidget() is self.browse:
            self.browse.refresh_runs()

    # --- feedback ---------------------------------------------------------------------------------

    @Slot(str)
    def show_error(self, message: str) -> None:
        self.last_error = message
        self.statusBar().showMessage(message.splitlines()[0] if message else "error", 10_000)
        box = QMessageBox(QMessageBox.Icon.Warning, "fghash", message, QMessageBox.StandardButton.Ok, self)
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
