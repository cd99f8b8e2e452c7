"""The thread bridge on its own: event batching, cooperative cancel, errors, stale-result dropping."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("pytestqt")

from core.base.errors import DatasetError  # noqa: E402
from core.base.events import BatchEnd, TrainFinished  # noqa: E402
from fghash_gui.workers import RequestRunner, TrainingRunner  # noqa: E402


def _counting_generator(cancel: threading.Event, steps: int, delay_s: float):
    """A generator with the engine's protocol: BatchEnd events, cancel checked between steps."""
    for step in range(1, steps + 1):
        if cancel.is_set():
            return TrainFinished("r", "/tmp/r", "cancelled", None)
        time.sleep(delay_s)
        yield BatchEnd(epoch=1, batch=step, batches_in_epoch=steps, step=step, loss=1.0 / step)
    return TrainFinished("r", "/tmp/r", "finished", None)


def test_training_runner_batches_events_and_returns_summary(qtbot):
    runner = TrainingRunner()
    received: list = []
    batches: list[int] = []
    runner.events_ready.connect(lambda events: (received.extend(events), batches.append(len(events))))
    with qtbot.waitSignal(runner.finished, timeout=20_000) as finished:
        runner.start(lambda cancel: _counting_generator(cancel, 300, 0.001))
    qtbot.waitUntil(lambda: not runner.is_running(), timeout=5000)
    assert [e.step for e in received] == list(range(1, 301))
    assert finished.args[0].status == "finished"
    # 300 events in well under a second arrive in a handful of batches, not 300 signals.
    assert len(batches) < 100


def test_training_runner_cancel_answers_quickly(qtbot):
    runner = TrainingRunner()
    with qtbot.waitSignal(runner.events_ready, timeout=10_000):
        runner.start(lambda cancel: _counting_generator(cancel, 10_000, 0.01))
    started = time.monotonic()
    with qtbot.waitSignal(runner.finished, timeout=10_000) as finished:
        runner.cancel()
    assert time.monotonic() - started < 2.0
    assert finished.args[0].status == "cancelled"
    qtbot.waitUntil(lambda: not runner.is_running(), timeout=5000)


def test_training_runner_reports_errors(qtbot):
    def failing(cancel):
        yield BatchEnd(epoch=1, batch=1, batches_in_epoch=1, step=1, loss=1.0)
        raise DatasetError("/data/cub: images.txt is missing")

    runner = TrainingRunner()
    with qtbot.waitSignal(runner.failed, timeout=10_000) as failed:
        runner.start(failing)
    assert "images.txt is missing" in failed.args[0]
    qtbot.waitUntil(lambda: not runner.is_running(), timeout=5000)


def test_request_runner_drops_stale_results(qtbot):
    runner = RequestRunner()
    try:
        shown: list[int] = []
        gate = threading.Event()

        def slow(value: int) -> int:
            gate.wait(5)
            return value

        runner.submit("query", slow, 1, on_result=shown.append)
        runner.submit("query", slow, 2, on_result=shown.append)
        runner.submit("query", slow, 3, on_result=shown.append)
        gate.set()
        qtbot.waitUntil(lambda: shown == [3], timeout=5000)
        qtbot.wait(100)
        assert shown == [3]  # 1 was running when superseded (dropped), 2 was skipped while queued
    finally:
        runner.shutdown()


def test_request_runner_errors_reach_callback(qtbot):
    runner = RequestRunner()
    try:
        errors: list[str] = []

        def broken() -> None:
            raise ValueError("bad value")

        runner.submit("x", broken, on_error=errors.append)
        qtbot.waitUntil(lambda: bool(errors), timeout=5000)
        assert errors == ["ValueError: bad value"]
    finally:
        runner.shutdown()
