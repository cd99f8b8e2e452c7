"""Thread bridge between the engine and the GUI.

Two kinds of worker, as docs/architecture.md "Threads and processes" asks:

* ``TrainingRunner`` drives one ``engine.train`` generator on its own QThread. Events are collected on the
  worker and handed to the GUI in batches at most ~10 times a second (``events_ready(list)``), so a fast
  training loop never floods the event queue. Cancel is cooperative through a ``threading.Event`` that the
  engine checks between batches.
* ``RequestRunner`` runs short jobs (encode + search, thumbnails, CAMs, evaluation) one at a time on a second
  QThread. Every job belongs to a *channel* ("query", "explain", ...); submitting a new job on a channel
  makes the older ones stale: queued stale jobs are skipped and stale results are dropped, never shown.

Exceptions in either worker arrive in the GUI thread as a readable message; the window stays usable.
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
import time
import traceback
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from core.base.errors import Cancelled, FghashError

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
            self.failed.emit(describe_error(exc), "" if isinstance(exc, FghashError) else traceback.format_exc())


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


@dataclass
class _Request:
    request_id: int
    channel: str
    generation: int
    fn: Callable[..., Any]
    args: tuple
    on_result: Callable[[Any], None] | None
    on_error: Callable[[str], None] | None


class _RequestLoop(QObject):
    done = Signal(int, object)
    failed = Signal(int, str)

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
                continue  # superseded while queued: do not waste seconds of CPU on it
            try:
                result = request.fn(*request.args)
            except BaseException as exc:  # noqa: BLE001
                self.failed.emit(request.request_id, describe_error(exc))
                continue
            self.done.emit(request.request_id, result)


class RequestRunner(QObject):
    """One worker thread for short jobs, with a per-channel generation counter that drops stale results.

    ``submit(channel, fn, *args, on_result=..., on_error=...)`` returns the request's generation. Callbacks
    run in the GUI thread, and only if no newer job was submitted on the same channel in the meantime.
    """

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: queue.Queue[_Request | None] = queue.Queue()
        self._generations: dict[str, int] = {}
        self._lock = threading.Lock()
        self._pending: dict[int, _Request] = {}
        self._next_id = 0
        self._thread = QThread()
        self._thread.setObjectName("fghash-requests")
        self._loop = _RequestLoop(self._jobs, self._is_current)
        self._loop.moveToThread(self._thread)
        self._thread.started.connect(self._loop.run)
        self._loop.done.connect(self._on_done)
        self._loop.failed.connect(self._on_failed)
        self._thread.start()
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
    ) -> int:
        with self._lock:
            generation = self._generations.get(channel, 0) + 1
            self._generations[channel] = generation
        self._next_id += 1
        request = _Request(self._next_id, channel, generation, fn, args, on_result, on_error)
        self._pending[request.request_id] = request
        if len(self._pending) == 1:
            self.busy_changed.emit(True)
        self._jobs.put(request)
        return generation

    def invalidate(self, channel: str) -> None:
        """Make every in-flight job on a channel stale (e.g. when the run it belongs to is closed)."""
        with self._lock:
            self._generations[channel] = self._generations.get(channel, 0) + 1

    def _take(self, request_id: int) -> _Request | None:
        request = self._pending.pop(request_id, None)
        if not self._pending:
            self.busy_changed.emit(False)
        return request

    def _drop_skipped(self) -> None:
        # Jobs skipped as stale never report back; forget those whose channel has moved on.
        for rid, req in list(self._pending.items()):
            if not self._is_current(req):
                self._pending.pop(rid, None)

    @Slot(int, object)
    def _on_done(self, request_id: int, result: object) -> None:
        request = self._take(request_id)
        self._drop_skipped()
        if request is None or not self._is_current(request):
            return
        if request.on_result is not None:
            request.on_result(result)

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        request = self._take(request_id)
        self._drop_skipped()
        if request is None or not self._is_current(request):
            return
        if request.on_error is not None:
            request.on_error(message)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop the worker after its current job (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._thread.quit()
        self._thread.wait(timeout_ms)
