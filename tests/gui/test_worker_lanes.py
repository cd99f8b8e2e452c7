"""The request worker's two lanes, cancelling a running generator job, and the traceback of an unexpected error."""

from __future__ import annotations

import logging
import threading
import time

import pytest

pytest.importorskip("pytestqt")

from core.base.errors import DatasetError  # noqa: E402
from fghash_gui.workers import BATCH, INTERACTIVE, RequestRunner, lane_of  # noqa: E402


def test_channels_pick_their_lane():
    assert lane_of("thumbs-3") == INTERACTIVE
    assert lane_of("query") == INTERACTIVE
    assert lane_of("explain") == INTERACTIVE
    assert lane_of("classes") == BATCH
    assert lane_of("figure-export-2") == BATCH
    assert lane_of("export") == BATCH
    assert lane_of("exporter") == INTERACTIVE  # a prefix only counts up to a dash


def test_a_slow_batch_job_does_not_stall_thumbnails(qtbot):
    runner = RequestRunner()
    try:
        gate = threading.Event()
        report: list[str] = []
        thumbs: list[str] = []
        runner.submit("classes", lambda: (gate.wait(10), "report")[1], on_result=report.append)
        runner.submit("thumbs-0", lambda: "thumb", on_result=thumbs.append)
        qtbot.waitUntil(lambda: thumbs == ["thumb"], timeout=5000)
        assert report == []  # the class report is still running: the thumbnail did not wait for it
        gate.set()
        qtbot.waitUntil(lambda: report == ["report"], timeout=5000)
    finally:
        gate.set()
        runner.shutdown()


def test_a_running_generator_job_can_be_cancelled(qtbot):
    runner = RequestRunner()
    closed = threading.Event()
    steps: list[int] = []

    def job(total: int):
        try:
            for step in range(total):
                time.sleep(0.01)
                yield step
            return "finished"
        finally:
            closed.set()  # the generator was closed on the worker, its cleanup ran

    try:
        results: list[str] = []
        runner.submit("index", job, 100_000, on_events=steps.extend, on_result=results.append)
        qtbot.waitUntil(lambda: len(steps) > 3, timeout=5000)
        assert runner.running("index")
        started = time.monotonic()
        runner.cancel("index")
        assert closed.wait(2.0), "the generator was not closed"
        assert time.monotonic() - started < 2.0
        qtbot.waitUntil(lambda: not runner.running("index"), timeout=2000)
        seen = len(steps)
        qtbot.wait(200)
        assert results == [] and len(steps) == seen  # nothing from a cancelled job reaches the GUI
        assert steps == list(range(seen))  # the events arrived in order, batched
        # The lane is free again: the next job of the same channel runs to its return value.
        runner.submit("index", job, 3, on_result=results.append)
        qtbot.waitUntil(lambda: results == ["finished"], timeout=5000)
    finally:
        runner.shutdown()


def test_an_unexpected_error_keeps_its_traceback_and_is_logged(qtbot, caplog):
    runner = RequestRunner()
    try:
        errors: list[str] = []
        failures: list[tuple[str, str]] = []
        runner.failure.connect(lambda message, details: failures.append((message, details)))

        def broken() -> None:
            {}["missing"]

        with caplog.at_level(logging.ERROR, logger="fghash.gui"):
            runner.submit("query", broken, on_error=errors.append)
            qtbot.waitUntil(lambda: bool(errors), timeout=5000)
        assert errors == ["KeyError: 'missing'"]
        assert failures[0][0] == "KeyError: 'missing'"
        assert "Traceback" in failures[0][1] and "in broken" in failures[0][1]
        assert "in broken" in caplog.text
        # A user error (FghashError) is its message alone: no traceback, no failure signal.
        def bad_input() -> None:
            raise DatasetError("/data/cub: images.txt is missing")

        runner.submit("query", bad_input, on_error=errors.append)
        qtbot.waitUntil(lambda: len(errors) == 2, timeout=5000)
        assert errors[1] == "/data/cub: images.txt is missing" and len(failures) == 1
    finally:
        runner.shutdown()
