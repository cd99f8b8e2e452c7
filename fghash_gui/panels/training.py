"""Train tab: dataset, method and schedule on the left; live curves, progress and log on the right.

The engine's training generator runs on the TrainingRunner's own thread; this panel only turns batches of
events into plot data (each event type has its handler in EVENT_HANDLERS) and redraws at most 5 times a
second, only while the tab is on screen, each curve cut to a few thousand points (bench/gui_stall.py
measures what the GUI thread pays). By default that generator is
engine.train_in_child: the network trains in a child process, so the GUI thread's repaints (which hold
the GIL) do not slow the training loop down (core/training/child.py); in_process=True trains on the thread
itself (tests, debugging).
"""

from __future__ import annotations

import math
import time

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core import engine
from core.engine import TrainConfig
from core.engine import FghashError
from core.engine import BatchEnd, CheckpointSaved, EpochEnd, EvalResult, Log, Progress, TrainFinished, ValidationResult
from core.engine import TIES_AVERAGED_LABEL, collapse_note
from fghash_gui.app_state import OpenRun, RunList, load_run_list, resolve_run
from fghash_gui.panels.training_form import TrainingForm
from fghash_gui.widgets.plots import CHANCE_PEN, ArrayMirror, decimate
from fghash_gui.workers import RequestRunner, TrainingRunner

EMA_ALPHA = 0.05  # smoothing of the per-batch loss curve: ~20-batch memory
# The curves redraw at most 5 times a second: a training curve needs no more, and each redraw (new data,
# autorange, axes, repaint of three plots) costs the GUI thread a few ms (bench/gui_stall.py).
REDRAW_INTERVAL_MS = 200
RESUMABLE = ("cancelled", "interrupted", "failed", "running")


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainingPanel(QWidget):
    error = Signal(str)
    status = Signal(str)
    run_started = Signal(str)  # run id (when the engine announces it) or ""
    run_finished = Signal(object)  # core.base.events.TrainFinished or None

    def __init__(self, requests: RequestRunner | None = None, parent: QWidget | None = None,
                 in_process: bool = False) -> None:
        super().__init__(parent)
        self.in_process = in_process  # train on the runner's thread instead of in a child process
        self.runner = TrainingRunner(self)
        self.runner.events_ready.connect(self._on_events)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.stopped.connect(self._on_stopped)
        self.last_finished: TrainFinished | None = None
        self.events_seen = 0
        self._last_batch: BatchEnd | None = None
        self._mirrors = tuple(ArrayMirror() for _ in range(4))  # steps, losses, EMA, lr as arrays, kept up to date
        self._cfg: TrainConfig | None = None
        self._reset_series()

        self.form = TrainingForm(requests)
        self.form.problems_changed.connect(self._update_buttons)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setMinimumWidth(380)

        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("primary")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("danger")
        self.resume_button = QPushButton("Resume…")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        left_layout.addLayout(buttons)

        pg.setConfigOptions(antialias=True, background="w", foreground="#333")
        self.loss_plot = pg.PlotWidget(title="loss (per batch, EMA)")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_raw = self.loss_plot.plot(pen=pg.mkPen("#c9d6e8", width=1))
        self.loss_ema = self.loss_plot.plot(pen=pg.mkPen("#2f6db5", width=2))
        self.map_plot = pg.PlotWidget(title="test mAP@all (%, per evaluation, ties averaged)")
        self.map_plot.setToolTip(TIES_AVERAGED_LABEL)
        self.map_plot.setLabel("bottom", "epoch")
        self.map_curve = self.map_plot.plot(pen=pg.mkPen("#1d7a35", width=2), symbol="o", symbolSize=6,
                                            symbolBrush="#1d7a35")
        # The expected mAP@all of random codes on this split (core.evaluation.chance): the curve has to rise above it.
        self.chance_line = pg.InfiniteLine(angle=0, pen=CHANCE_PEN,
                                           label="chance", labelOpts={"position": 0.9, "color": "#555555"})
        self.chance_line.setVisible(False)
        self.map_plot.addItem(self.chance_line)
        self.lr_plot = pg.PlotWidget(title="learning rate (log scale)")
        self.lr_plot.setLabel("bottom", "step")
        self.lr_plot.setLogMode(y=True)  # step schedules divide by 10: equal steps on a log axis
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen("#b5652f", width=2))
        plots = QSplitter(Qt.Orientation.Vertical)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.map_plot)
        top.addWidget(self.lr_plot)
        plots.addWidget(self.loss_plot)
        plots.addWidget(top)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.speed_label = QLabel("")
        self.map_label = QLabel("test mAP@all: –")
        self.map_label.setObjectName("metric")
        info = QHBoxLayout()
        info.addWidget(self.progress, 1)
        info.addWidget(self.speed_label)
        info.addWidget(self.map_label)
        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("log")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)

        right_split = QSplitter(Qt.Orientation.Vertical)
        right_split.addWidget(plots)
        right_split.addWidget(self.log_view)
        right_split.setStretchFactor(0, 3)
        right_split.setStretchFactor(1, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(info)
        right_layout.addWidget(right_split, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self._redraw)
        self._dirty = False
        self._update_buttons()

    # --- state ------------------------------------------------------------------------------------

    def _reset_series(self) -> None:
        self.loss_steps: list[float] = []
        self.loss_values: list[float] = []
        self.loss_smoothed: list[float] = []
        self.lr_values: list[float] = []
        self.map_epochs: list[float] = []
        self.map_values: list[float] = []
        self._ema: float | None = None
        self._started_at = time.monotonic()

    def is_training(self) -> bool:
        return self.runner.is_running()

    def _update_buttons(self) -> None:
        running = self.is_training()
        self.start_button.setEnabled(not running and not self.form.problems)
        self.stop_button.setEnabled(running)
        self.resume_button.setEnabled(not running)
        self.form.setEnabled(not running)

    # --- actions ----------------------------------------------------------------------------------

    @Slot()
    def start(self) -> None:
        """Build the config from the form and start a new run on the training thread."""
        try:
            cfg = self.form.config()
        except FghashError as exc:
            self.error.emit(str(exc))
            return
        self._launch(cfg, resume=None)

    def start_config(self, cfg: TrainConfig) -> None:
        """Start training a given config (used by tests and scripts); the form is updated to show it."""
        self.form.set_config(cfg)
        self._launch(cfg, resume=None)

    def watch(self, state) -> None:
        """Tell the application state (fghash_gui/app_state.py) when the run list changes: a run registered,
        a run ended."""
        self._state = state
        self.run_started.connect(lambda _run: state.reload_runs())
        self.run_finished.connect(lambda _finished: state.reload_runs())

    @Slot()
    def resume(self) -> None:
        """Resume a stopped run chosen from the run store (its list is read on the worker)."""
        self._state.requests.submit("resume-list", load_run_list, on_result=self._choose_resume,
                                    on_error=self.error.emit)

    def _choose_resume(self, runs: RunList) -> None:
        candidates = [r for r in runs.records if r.status in RESUMABLE]
        if not candidates:
            self.error.emit("No stopped run to resume: only cancelled, interrupted or failed runs can be resumed.")
            return
        labels = [f"{r.run_id}  ({r.status})" for r in candidates]
        label, ok = QInputDialog.getItem(self, "Resume training", "Run:", labels, 0, False)
        if ok:
            self.resume_run(candidates[labels.index(label)].run_id)

    def resume_run(self, run_id: str) -> None:
        """Resume a stopped run: its config is read on the worker, then training starts."""
        self._state.requests.submit("resume", resolve_run, run_id, on_result=self._resume_opened,
                                    on_error=self.error.emit)

    def _resume_opened(self, opened: OpenRun) -> None:
        self.form.set_config(opened.config)
        self._launch(opened.config, resume=opened.run_id)

    def _launch(self, cfg: TrainConfig, resume: str | None) -> None:
        if self.is_training():
            return
        self._cfg = cfg
        self._reset_series()
        self.chance_line.setVisible(False)  # the new run's split may differ: wait for its first evaluation
        self.last_finished = None
        self.events_seen = 0
        self.log_view.clear()
        self._append_log(f"{'resuming ' + resume if resume else 'starting'}: {cfg.method}, {cfg.bits} bits, "
                         f"{cfg.backbone} ({cfg.weights}), {cfg.dataset_kind}, image {cfg.image_size}px, "
                         f"{cfg.epochs} epochs")
        self.progress.setValue(0)
        self.progress.setFormat("preparing…")
        self.map_label.setText("test mAP@all: –")
        self._redraw(force=True)
        train = engine.train if self.in_process else engine.train_in_child
        self.runner.start(lambda cancel: train(cfg, cancel=cancel, resume=resume))
        self._redraw_timer.start()
        self._update_buttons()
        self.status.emit("Training started")

    @Slot()
    def stop(self) -> None:
        if self.is_training():
            self.runner.cancel()
            self.progress.setFormat("stopping after this batch…")
            self.stop_button.setEnabled(False)

    def stop_and_wait(self, timeout_ms: int = 120_000) -> bool:
        """Cancel and block until the training thread ends (window closing)."""
        self.runner.cancel()
        return self.runner.wait(timeout_ms)

    # --- events from the training thread ----------------------------------------------------------

    @Slot(list)
    def _on_events(self, events: list) -> None:
        """A batch of engine events (about ten a second): each goes to its handler in EVENT_HANDLERS; the
        progress bar and the curves follow once per batch, not once per event."""
        if self.events_seen == 0 and events:
            self.run_started.emit("")  # the engine has registered the run: the Runs table can show it
        self._last_batch = None
        for event in events:
            self.events_seen += 1
            handler = EVENT_HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event)
        if self._last_batch is not None:
            self._show_batch_progress(self._last_batch)
        self._dirty = True

    def _on_batch_end(self, event: BatchEnd) -> None:
        self.loss_steps.append(event.step)
        self.loss_values.append(event.loss)
        if math.isfinite(event.loss):
            self._ema = event.loss if self._ema is None else (1 - EMA_ALPHA) * self._ema + EMA_ALPHA * event.loss
        self.loss_smoothed.append(self._ema if self._ema is not None else float("nan"))
        self.lr_values.append(event.lr)
        self._last_batch = event

    def _show_batch_progress(self, event: BatchEnd) -> None:
        epochs = self._cfg.epochs if self._cfg else event.epoch
        fraction = ((event.epoch - 1) + event.batch / max(event.batches_in_epoch, 1)) / max(epochs, 1)
        self.progress.setValue(int(1000 * min(max(fraction, 0.0), 1.0)))
        self.progress.setFormat(f"epoch {event.epoch}/{epochs} · batch {event.batch}/{event.batches_in_epoch}"
                                f" · ETA {format_seconds(event.eta_s)}")
        self.speed_label.setText(f"{event.images_per_s:.1f} img/s")

    def _on_validation(self, event: ValidationResult) -> None:
        self._append_log(f"validation after epoch {event.epoch}: mAP@all {100 * event.map_all:.2f}% "
                         f"(best on validation so far: epoch {event.best_epoch})")

    def _on_log(self, event: Log) -> None:
        self._append_log(event.message if event.level == "info" else f"[{event.level}] {event.message}")

    def _on_checkpoint(self, event: CheckpointSaved) -> None:
        self._append_log(f"checkpoint saved (epoch {event.epoch}): {event.path}")

    def _on_epoch_end(self, event: EpochEnd) -> None:
        self._append_log(f"epoch {event.epoch}/{event.epochs}: loss {event.mean_loss:.4f}, lr {event.lr:.2e}, "
                         f"{event.seconds:.1f} s, {event.images_per_s:.1f} img/s, ETA {format_seconds(event.eta_s)}")

    def _on_eval_result(self, event: EvalResult) -> None:
        self.map_epochs.append(event.epoch)
        self.map_values.append(100 * event.map_all)
        by_index = (f"ties by index {100 * event.map_all_index_order:.2f}%"
                    if event.map_all_index_order is not None else "")
        note = collapse_note(event.largest_code_share)
        self.map_label.setText(f"test mAP@all: {100 * event.map_all:.2f}%" + ("  ⚠ collapsed" if note else ""))
        self.map_label.setToolTip("\n".join(line for line in (TIES_AVERAGED_LABEL, by_index, note) if line))
        if event.chance_map is not None:
            self.chance_line.setPos(100 * event.chance_map)
            self.chance_line.label.setFormat(f"chance {100 * event.chance_map:.1f}%")
            self.chance_line.setVisible(True)
        extra = ", ".join(f"P@{k} {100 * v:.1f}%" for k, v in sorted(event.precision_at_k.items()))
        self._append_log(f"evaluation after epoch {event.epoch}: test mAP@all {100 * event.map_all:.2f}%"
                         + (f" ({by_index})" if by_index else "") + (f", {extra}" if extra else "")
                         + (f" — {note}" if note else ""))

    def _on_progress(self, event: Progress) -> None:
        if event.total > 0 and not self.loss_steps:
            # Before the first batch (dataset scan, encoding) the bar follows the phase itself.
            self.progress.setValue(int(1000 * event.done / event.total))
        self.progress.setFormat(f"{event.phase}: {event.done}/{event.total} · ETA {format_seconds(event.eta_s)}")

    @Slot(object)
    def _on_finished(self, finished: object) -> None:
        if isinstance(finished, TrainFinished):
            self.last_finished = finished
            final = f"{100 * finished.final_map:.2f}%" if finished.final_map is not None else "–"
            best = finished.best_on_val
            selected = (f"; selected on validation: epoch {best.epoch}, test mAP@all {100 * best.test_map:.2f}% "
                        f"(validation {100 * best.val_map:.2f}%)" if best else "")
            self._append_log(f"{finished.status}: run {finished.run_id} (final test mAP@all {final}{selected}) "
                             f"{finished.message}")
            self.progress.setFormat(f"{finished.status} · test mAP@all {final}")
            if finished.status == "finished":
                self.progress.setValue(1000)
            self.status.emit(f"Training {finished.status}: {finished.run_id}")
        else:
            self._append_log("training stopped")
            self.progress.setFormat("stopped")
        self.run_finished.emit(finished)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._append_log(f"[error] {message}")
        if details:
            self._append_log(details.rstrip())
        self.progress.setFormat("failed")
        self.error.emit(f"Training failed: {message}")
        self.run_finished.emit(None)

    @Slot()
    def _on_stopped(self) -> None:
        self._redraw_timer.stop()
        self._redraw(force=True)
        self._update_buttons()

    # --- drawing ----------------------------------------------------------------------------------

    def _append_log(self, line: str) -> None:
        self.log_view.appendPlainText(f"[{time.strftime('%H:%M:%S')}] {line}")

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._dirty:
            self._redraw()  # what arrived while another tab was shown

    @Slot()
    def _redraw(self, force: bool = False) -> None:
        """Hand the curves their data: at most every REDRAW_INTERVAL_MS, only while the tab is on screen,
        and each series cut to MAX_CURVE_POINTS (widgets/plots.py decimate) so a long run redraws as fast
        as a short one."""
        if not (self._dirty or force) or not (force or self.isVisible()):
            return
        self._dirty = False
        steps, losses, smoothed, lrs = (mirror.of(values) for mirror, values in zip(
            self._mirrors, (self.loss_steps, self.loss_values, self.loss_smoothed, self.lr_values)))
        self.loss_raw.setData(*decimate(steps, losses))
        self.loss_ema.setData(*decimate(steps, smoothed))
        positive = lrs > 0  # a log axis cannot show 0
        self.lr_curve.setData(*decimate(steps[positive], lrs[positive]))
        self.map_curve.setData(self.map_epochs, self.map_values)
        for curve, count in ((self.loss_ema, len(steps)), (self.lr_curve, int(positive.sum()))):
            curve.setSymbol("o" if count == 1 else None)  # a line of one point draws nothing

# Engine event type -> the panel method that shows it (unknown types are ignored: a newer engine may add some).
EVENT_HANDLERS = {
    BatchEnd: TrainingPanel._on_batch_end,
    EpochEnd: TrainingPanel._on_epoch_end,
    EvalResult: TrainingPanel._on_eval_result,
    ValidationResult: TrainingPanel._on_validation,
    Progress: TrainingPanel._on_progress,
    Log: TrainingPanel._on_log,
    CheckpointSaved: TrainingPanel._on_checkpoint,
}
