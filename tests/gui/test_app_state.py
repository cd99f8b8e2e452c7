"""The application state the panels watch: the run list and the open run load on the worker, the panels follow
it (no panel calls another), deleted runs close everywhere, and an unexpected error's traceback sits behind the
error box's Details."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("pytestqt")

from core import engine  # noqa: E402
from core.base.errors import DatasetError  # noqa: E402
from fghash_gui.app_state import AppState, RunList  # noqa: E402
from fghash_gui.workers import RequestRunner  # noqa: E402


@pytest.fixture
def store_reads(monkeypatch):
    """The threads engine.list_runs and engine.open_run were called on."""
    threads: list[str] = []
    for name in ("list_runs", "open_run"):
        real = getattr(engine, name)

        def spy(*args, real=real, **kwargs):
            threads.append(threading.current_thread().name)
            return real(*args, **kwargs)

        monkeypatch.setattr(engine, name, spy)
    return threads


def test_the_run_list_loads_on_the_worker(qtbot, trained_runs, store_reads):
    runner = RequestRunner()
    try:
        state = AppState(runner)
        assert state.runs == RunList()
        with qtbot.waitSignal(state.runs_changed, timeout=30_000) as changed:
            state.reload_runs()
        runs = changed.args[0]
        ids = {f.run_id for f in trained_runs.values()}
        assert ids <= set(runs.ids()) and ids <= runs.with_codes
        assert ids <= {r.run_id for r in runs.searchable()}
        assert store_reads and threading.main_thread().name not in store_reads
    finally:
        runner.shutdown()


def test_opening_a_run_reaches_every_panel(window, trained_runs, qtbot, store_reads):
    run_id = trained_runs["adsh"].run_id
    with qtbot.waitSignal(window.browse.results_shown, timeout=60_000):
        window.open_run(run_id[:-2])  # a unique prefix, resolved on the worker
    state = window.state
    assert state.run_id == run_id and state.current.config.method == "adsh"
    assert window.browse.run_id == run_id and window.explain.run_id == run_id and window.classes.run_id == run_id
    assert state.query is window.browse.result.result  # Browse publishes its query
    assert window.classes.code_map._query_code == state.query.query_code
    assert threading.main_thread().name not in store_reads
    other = trained_runs["fcaenet"].run_id
    with qtbot.waitSignal(window.browse.compare_shown, timeout=60_000):
        window.browse.set_compare_run(other)
    assert state.compare_run_id == other

    state.forget_runs([run_id, other])  # what the Runs tab does after deleting them
    assert state.current is None and state.compare_run_id is None
    assert window.browse.run_id is None and window.explain.run_id is None and window.classes.run_id is None


def test_switching_tabs_reads_the_store_on_the_worker_only(window, qtbot, store_reads):
    for tab in (window.runs, window.browse):
        with qtbot.waitSignal(window.state.runs_changed, timeout=30_000):  # the list reloads on the worker
            window.tabs.setCurrentWidget(tab)
    window.tabs.setCurrentWidget(window.classes)
    window.tabs.setCurrentWidget(window.training)
    assert store_reads and threading.main_thread().name not in store_reads


def test_an_unknown_run_is_one_line_in_the_error_box(window, qtbot):
    window.open_run("no-such-run")
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)
    assert "no-such-run" in window.last_error and window._error_box.detailedText() == ""


def test_an_unexpected_error_shows_its_traceback_behind_details(window, qtbot):
    def broken() -> None:
        raise ZeroDivisionError("division by zero in a job")

    window.requests.submit("query", broken, on_error=window.browse.error.emit)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)
    assert window.last_error == "ZeroDivisionError: division by zero in a job"
    details = window._error_box.detailedText()
    assert details.startswith("Traceback") and "in broken" in details
    window._error_box.close()

    def refused() -> None:
        raise DatasetError("/data/cub: images.txt is missing")

    window.last_error = None
    window.requests.submit("query", refused, on_error=window.browse.error.emit)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)
    assert window._error_box.detailedText() == ""  # a user error needs no traceback
