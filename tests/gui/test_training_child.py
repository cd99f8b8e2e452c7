"""The Train tab's default: the network trains in a child process (core/training/child.py) and the panel
follows it through its events: curves fill, the run finishes, and Stop cancels it after its batch.

The other GUI tests train on a thread (the `window` fixture) because each child costs seconds of start-up.
"""

from __future__ import annotations

import multiprocessing

import pytest

from core import engine
from core.base.events import TrainFinished

pytestmark = pytest.mark.slow


def _child_window(window):
    window.training.in_process = False  # the app's default (the fixture trains on a thread)
    return window.training


def _status(run_id: str) -> str:
    return next(r.status for r in engine.list_runs() if r.run_id == run_id)


def _no_child_left() -> bool:
    return not [p for p in multiprocessing.active_children() if p.name == "fghash-training"]


def test_a_run_trained_in_the_child_fills_the_curves_and_finishes(window, qtbot, tiny_config):
    panel = _child_window(window)
    with qtbot.waitSignal(panel.run_finished, timeout=120_000) as finished:
        panel.start_config(tiny_config("adsh", epochs=1))
    done = finished.args[0]
    assert isinstance(done, TrainFinished) and done.status == "finished", panel.log_view.toPlainText()
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=10_000)
    assert panel.loss_steps and panel.map_values == [100 * done.final_map]
    assert len(panel.loss_ema.getData()[0]) == len(panel.loss_steps)  # drawn after the end
    assert "finished" in panel.progress.format() and _status(done.run_id) == "finished"
    assert _no_child_left()


def test_stop_cancels_the_child_run(window, qtbot, tiny_config):
    panel = _child_window(window)
    panel.start_config(tiny_config("adsh", epochs=50))
    qtbot.waitUntil(lambda: len(panel.loss_steps) >= 1, timeout=120_000)
    with qtbot.waitSignal(panel.run_finished, timeout=120_000) as finished:
        panel.stop_button.click()
    done = finished.args[0]
    assert isinstance(done, TrainFinished) and done.status == "cancelled"
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=10_000)
    assert panel.start_button.isEnabled() and _status(done.run_id) == "cancelled"
    assert _no_child_left()
