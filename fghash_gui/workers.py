"""Thread bridge between the engine and the GUI.

Two kinds of worker, as docs/architecture.md "Threads and processes" asks:

* ``TrainingRunner`` drives one ``engine.train`` generator on its own QThread. Events are collected on the
  worker and handed to the GUI in batches at most ~10 times a second (``events_ready(list)``), so a fast
  training loop never floods the event queue. Cancel is cooperative through a ``threading.Event`` that the
  engine checks between batches.
* ``RequestRunner`` runs requests on two lanes, each its own QThread running its jobs one at a time: the
  interactive lane (thumbnails, encode + search, CAMs, the run list) and the batch lane (class reports,
  exports, figures, index builds, PR curves), so a slow job never stalls a thumbnail. Every job belongs to a
  *channel* ("query", "explain", ...) and the channel picks the lane; submitting a new job on a channel makes
  the older ones stale: queued stale jobs are skipped, a running generator job stops, stale results are
  dropped, never shown.

Exceptions in either worker arrive in the GUI thread as a readable message; the window stays usable. An
unexpected one (a bug, not a FghashError) keeps its traceback: it is logged ("fghash.gui") and handed on for
the error box's Details.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from core.engine import Cancelled, FghashError

log = logging.getLogger("fghash.gui")
EMIT_INTERVAL_S = 0.1  # ~10 Hz: fast enough to look live, slow enough to keep the GUI thread idle


def describe_error(exc: BaseException) -> str:
    """A message for a dialog: FghashError messages are written for users; anything else gets its type."""
    if isinstance(exc, FghashError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _stop_at_exit(runner: "TrainingRunner | RequestRunner") -> None:
    """Stop a runner's thread when the interpreter exits (scripts that never close their window)."""
    ref = weakref.ref(runner)

    def stop() -> None:
        alive = ref()
        if alive is not None:
            try:
                alive.shutdown()
            except RuntimeError:  # the C++ side is already gone: its thread went with it
                pass

    atexit.register(stop)


class _TrainLoop(QObject):
    """Lives on the training QThread; iterates the generator and batches its events."""

    events_ready = Signal(list)
    finished = Signal(object)  # the generator's return value (core.base.events.TrainFinished) or None
    failed = Signal(str, str)  # user message, traceback text for the log view ("" for FghashErrors)

    def __init__(self, make_generator: Callable[[threading.Event], Generator], cancel: threading.Event) -> None:
        super().__init__()
        self._make_generator = make_generator
        self._cancel = cancel

    @Slot()
    def run(self) -> None:
        try:
            self._iterate()
        finally:
            # Quit from this thread: a queued quit would wait for the GUI thread, which may be blocked in
            # wait() while the window closes.
            QThread.currentThread().quit()

    def _iterate(self) -> None:
        pending: list[Any] = []
        last_emit = 0.0
        try:
            generator = self._make_generator(self._cancel)
            while True:
                try:
                    event = next(generator)
                except StopIteration as stop:
                    if pending:
                        self.events_ready.emit(pending)
                    self.finished.emit(stop.value)
                    return
                pending.append(event)
                now = time.monotonic()
                if now - last_emit >= EMIT_INTERVAL_S:
                    self.events_ready.emit(pending)
                    pending = []
                    last_emit = now
        except Cancelled:
            if pending:
                self.events_ready.emit(pending)
            self.finished.emit(None)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI, never kill the thread silently
            if pending:
                self.events_ready.emit(pending)
            # A FghashError's message is written for users; a traceback only helps with anything else (a bug).
            self.failed.emit(describe_error(exc), failure_details(exc))


class TrainingRunner(QObject):
    """Runs one engine training generator on a dedicated QThread.

    ``make_generator(cancel_event)`` is called on the worker thread and must return the engine generator
    (e.g. ``lambda c: engine.train(cfg, cancel=c)``), so even building the dataset never blocks the GUI.
    """

    events_ready = Signal(list)
    finished = Signal(object)
    failed = Signal(str, str)
    stopped = Signal()  # the thread has ended (after finished or failed)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._loop: _TrainLoop | None = None
        self._cancel = threading.Event()

    def is_running(self) -> bool:
        """True from start() until the GUI thread has seen the worker end (``stopped`` emitted)."""
        return self._thread is not None

    def start(self, make_generator: Callable[[threading.Event], Generator]) -> None:
        if self.is_running():
            raise RuntimeError("a training run is already in progress")
        self._cancel = threading.Event()
        thread = QThread()
        thread.setObjectName("fghash-training")
        loop = _TrainLoop(make_generator, self._cancel)
        loop.moveToThread(thread)
        thread.started.connect(loop.run)
        loop.events_ready.connect(self.events_ready)
        loop.finished.connect(self.finished)
        loop.failed.connect(self.failed)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._loop = thread, loop
        thread.start()
        _stop_at_exit(self)

    def cancel(self) -> None:
        """Ask the engine to stop; it answers within one batch."""
        self._cancel.set()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Block until the thread ends (used when the window closes). True if it ended."""
        if self._thread is None:
            return True
        ended = self._thread.wait(timeout_ms)
        if ended:
            self._on_thread_finished()  # do not wait for the queued signal: the caller may be closing
        return ended

    def shutdown(self, timeout_ms: int = 120_000) -> None:
        """Cancel and wait: a QThread destroyed while running would abort the interpreter."""
        if self.is_running():
            self.cancel()
            self.wait(timeout_ms)

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is None:
            return  # already handled by wait()
        self._thread = None
        self._loop = None
        self.stopped.emit()


# The lanes of the request worker. Jobs that take seconds to minutes (a class report over the whole test split,
# an export, a figure, an index build, PR curves of several runs, deleting runs' folders) run on the batch lane,
# so the interactive lane (thumbnails, queries, CAMs, catalogs, the run list) never waits behind them.
INTERACTIVE, BATCH = "interactive", "batch"
LANES = (INTERACTIVE, BATCH)
BATCH_CHANNELS = ("classes", "code-map", "delete", "export", "figure-export", "index", "run-curves", "compare")


def lane_of(channel: str) -> str:
    """The lane a channel's jobs run on: BATCH for BATCH_CHANNELS (and "name-..." variants), else INTERACTIVE."""
    return BATCH if any(channel == c or channel.startswith(c + "-") for c in BATCH_CHANNELS) else INTERACTIVE


def failure_details(exc: BaseException) -> str:
    """The traceback of an unexpected error (a bug), "" for a FghashError: its message is all a user needs."""
    return "" if isinstance(exc, FghashError) else "".join(traceback.format_exception(exc))


@dataclass
class _Request:
    request_id: int
    channel: str
    generation: int
    fn: Callable[..., Any]
    args: tuple
    on_result: Callable[[Any], None] | None
    on_error: Callable[[str], None] | None
    on_events: Callable[[list], None] | None = None


class _RequestLoop(QObject):
    """Lives on one lane's thread: runs its queued jobs in order; a job that returns a generator is iterated
    here, its events handed over in batches, and closed as soon as its channel moves on (cancel)."""

    done = Signal(int, object)
    failed = Signal(int, str, str)  # request id, user message, traceback ("" for FghashErrors)
    events_ready = Signal(int, list)
    cancelled = Signal(int)

    def __init__(self, jobs: "queue.Queue[_Request | None]", is_current: Callable[[_Request], bool]) -> None:
        super().__init__()
        self._jobs = jobs
        self._is_current = is_current

    @Slot()
    def run(self) -> None:
        while True:
            request = self._jobs.get()
            if request is None:
                return
            if not self._is_current(request):
                self.cancelled.emit(request.request_id)
                continue  # superseded while queued: do not waste seconds of CPU on it
            try:
                result = request.fn(*request.args)
                if isinstance(result, Generator):
                    result = self._iterate(request, result)
                    if result is _CANCELLED:
                        self.cancelled.emit(request.request_id)
                        continue
            except BaseException as exc:  # noqa: BLE001 - a failing job must never end the lane
                self.failed.emit(request.request_id, describe_error(exc), failure_details(exc))
                continue
            self.done.emit(request.request_id, result)

    def _iterate(self, request: _Request, generator: Generator) -> Any:
        """Drain a generator job; _CANCELLED if its channel moved on (the generator is closed: its finally
        blocks run on this thread), else its return value."""
        pending: list[Any] = []
        last_emit = 0.0
        try:
            while True:
                if not self._is_current(request):
                    generator.close()
                    return _CANCELLED
                try:
                    event = next(generator)
                except StopIteration as stop:
                    return stop.value
                pending.append(event)
                now = time.monotonic()
                if now - last_emit >= EMIT_INTERVAL_S:
                    self.events_ready.emit(request.request_id, pending)
                    pending, last_emit = [], now
        finally:
            if pending:
                self.events_ready.emit(request.request_id, pending)


_CANCELLED = object()


class _Lane:
    """One queue and the QThread that drains it."""

    def __init__(self, name: str, is_current: Callable[[_Request], bool]) -> None:
        self.jobs: queue.Queue[_Request | None] = queue.Queue()
        self.thread = QThread()
        self.thread.setObjectName(f"fghash-{name}")
        self.loop = _RequestLoop(self.jobs, is_current)
        self.loop.moveToThread(self.thread)
        self.thread.started.connect(self.loop.run)


class RequestRunner(QObject):
    """Two worker threads (lanes) for requests, with a per-channel generation counter that drops stale results.

    ``submit(channel, fn, *args, on_result=..., on_error=..., on_events=...)`` returns the request's
    generation. The job runs on its channel's lane (``lane_of``: thumbnails and queries never queue behind a
    class report). Callbacks run in the GUI thread, and only if no newer job was submitted on the same channel
    in the meantime. If ``fn`` returns a generator, the worker drains it, ``on_events(list)`` gets its events
    about ten times a second and ``on_result`` its return value; ``cancel(channel)`` stops it between two
    events. An unexpected error (not a FghashError) reaches ``on_error`` as its one-line message, and
    ``failure(message, traceback)`` carries the whole traceback (the window shows it behind "Details" and
    logs it).
    """

    busy_changed = Signal(bool)
    failure = Signal(str, str)  # message, traceback of an unexpected error in any job

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generations: dict[str, int] = {}
        self._lock = threading.Lock()
        self._pending: dict[int, _Request] = {}
        self._next_id = 0
        self._lanes = {name: _Lane(name, self._is_current) for name in LANES}
        for lane in self._lanes.values():
            lane.loop.done.connect(self._on_done)
            lane.loop.failed.connect(self._on_failed)
            lane.loop.events_ready.connect(self._on_events)
            lane.loop.cancelled.connect(self._on_cancelled)
            lane.thread.start()
        self._closed = False
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        _stop_at_exit(self)

    def _is_current(self, request: _Request) -> bool:
        with self._lock:
            return self._generations.get(request.channel, 0) == request.generation

    def generation(self, channel: str) -> int:
        with self._lock:
            return self._generations.get(channel, 0)

    def submit(
        self,
        channel: str,
        fn: Callable[..., Any],
        *args: Any,
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_events: Callable[[list], None] | None = None,
    ) -> int:
        with self._lock:
            generation = self._generations.get(channel, 0) + 1
            self._generations[channel] = generation
        self._next_id += 1
        request = _Request(self._next_id, channel, generation, fn, args, on_result, on_error, on_events)
        self._pending[request.request_id] = request
        if len(self._pending) == 1:
            self.busy_changed.emit(True)
        self._lanes[lane_of(channel)].jobs.put(request)
        return generation

    def invalidate(self, channel: str) -> None:
        """Make every in-flight job on a channel stale (e.g. when the run it belongs to is closed): queued
        jobs are skipped, a running generator job stops at its next event, results are dropped."""
        with self._lock:
            self._generations[channel] = self._generations.get(channel, 0) + 1

    cancel = invalidate  # the user's word for it: "Stop" on a running job

    def running(self, channel: str) -> bool:
        """Whether a current (not superseded) job of this channel is queued or running."""
        return any(r.channel == channel and self._is_current(r) for r in self._pending.values())

    def _take(self, request_id: int) -> _Request | None:
        request = self._pending.pop(request_id, None)
        self._drop_skipped()
        if not self._pending:
            self.busy_changed.emit(False)
        return request

    def _drop_skipped(self) -> None:
        # Stale jobs that are queued will report back as cancelled; forget them now so "busy" ends on time.
        for rid, req in list(self._pending.items()):
            if not self._is_current(req):
                self._pending.pop(rid, None)

    @Slot(int, object)
    def _on_done(self, request_id: int, result: object) -> None:
        request = self._take(request_id)
        if request is None or not self._is_current(request):
            return
        if request.on_result is not None:
            request.on_result(result)

    @Slot(int, str, str)
    def _on_failed(self, request_id: int, message: str, details: str) -> None:
        request = self._take(request_id)
        if details:  # a bug, not a user error: keep the traceback even if the result is stale
            log.error("%s job failed: %s\n%s", request.channel if request else "a", message, details.rstrip())
        if request is None or not self._is_current(request):
            return
        if details:
            self.failure.emit(message, details)
        if request.on_error is not None:
            request.on_error(message)

    @Slot(int, list)
    def _on_events(self, request_id: int, events: list) -> None:
        request = self._pending.get(request_id)
        if request is not None and request.on_events is not None and self._is_current(request):
            request.on_events(events)

    @Slot(int)
    def _on_cancelled(self, request_id: int) -> None:
        self._take(request_id)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop both lanes after their current jobs (idempotent); running generator jobs stop at once."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            for channel in self._generations:
                self._generations[channel] += 1
        for lane in self._lanes.values():
            lane.jobs.put(None)
            lane.thread.quit()
        for lane in self._lanes.values():
            lane.thread.wait(timeout_ms)
