"""CUDA out-of-memory during a training started from the Train tab: the error dialog says what to lower, the
run is marked failed, and the app stays usable (a new training starts and stops normally)."""

from __future__ import annotations

import torch

from core import engine
from core.training.methods.adsh import AdshMethod


def test_out_of_memory_is_shown_and_the_app_stays_usable(window, qtbot, tiny_config, monkeypatch):
    real_epoch = AdshMethod.train_epoch

    def train_epoch(self, epoch, cancel):
        if out_of_memory:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return (yield from real_epoch(self, epoch, cancel))

    out_of_memory = True
    monkeypatch.setattr(AdshMethod, "train_epoch", train_epoch)
    panel = window.training
    with qtbot.waitSignal(panel.run_finished, timeout=120_000) as finished:
        panel.start_config(tiny_config("adsh", batch_size=16))
    assert finished.args[0] is None  # failed, not finished
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=10_000)
    assert "ran out of memory at batch size 16" in window.last_error and "--batch-size" in window.last_error
    assert "[error]" in panel.log_view.toPlainText() and "Traceback" not in panel.log_view.toPlainText()
    failed = [r for r in engine.list_runs() if r.status == "failed"]
    assert failed and failed[0].method == "adsh"

    out_of_memory = False  # e.g. after lowering the batch size: the app trains again
    # Start is enabled again once the form's checks (dataset, weights), run on the worker, have answered
    qtbot.waitUntil(panel.start_button.isEnabled, timeout=30_000)
    panel.start_config(tiny_config("adsh", batch_size=8, epochs=50))
    qtbot.waitUntil(lambda: len(panel.loss_steps) >= 1, timeout=120_000)
    with qtbot.waitSignal(panel.run_finished, timeout=120_000) as stopped:
        panel.stop_button.click()
    assert stopped.args[0].status == "cancelled"
