"""The Train tab's curves: events dispatched from one table, long series decimated, no redraw off screen."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from core.base.events import BatchEnd, Log  # noqa: E402
from fghash_gui.panels.training import EVENT_HANDLERS  # noqa: E402
from fghash_gui.widgets.plots import MAX_CURVE_POINTS, decimate  # noqa: E402


def _batches(count: int, start: int = 1) -> list[BatchEnd]:
    return [BatchEnd(epoch=1, batch=s, batches_in_epoch=count + start, step=s, loss=1.0 + math.sin(s / 50),
                     lr=0.01, images_per_s=100.0) for s in range(start, start + count)]


def test_decimate_bounds_the_points_and_keeps_spikes():
    x = np.arange(100_000, dtype=float)
    y = np.sin(x / 500)
    y[31_337] = 50.0  # one diverging batch
    y[70_000:70_010] = np.nan
    xs, ys = decimate(x, y, 1000)
    assert len(xs) <= 1000 and np.all(np.diff(xs) > 0)
    assert np.nanmax(ys) == 50.0 and xs[np.nanargmax(ys)] == 31_337
    assert np.nanmin(ys) == pytest.approx(y[np.isfinite(y)].min(), abs=1e-6)
    short_x, short_y = decimate([1, 2, 3], [0.5, float("nan"), 0.25], 1000)
    assert list(short_x) == [1, 2, 3] and np.isnan(short_y[1])  # short series are drawn as they are


def test_every_event_type_has_one_handler_and_unknown_ones_are_ignored(window):
    panel = window.training
    assert BatchEnd in EVENT_HANDLERS and Log in EVENT_HANDLERS

    class NewEvent:  # an event type a newer engine might add
        pass

    panel._on_events(_batches(3) + [Log("hello from the engine"), NewEvent()])
    assert panel.loss_steps[-3:] == [1, 2, 3]
    assert "hello from the engine" in panel.log_view.toPlainText()
    assert "batch 3/4" in panel.progress.format()  # shown once, for the last batch of the delivery


def test_long_runs_draw_a_bounded_curve_and_hidden_tabs_do_not_redraw(window, qtbot):
    panel = window.training
    window.tabs.setCurrentWidget(panel)
    panel._on_events(_batches(20_000))
    panel._redraw()
    assert len(panel.loss_steps) == 20_000
    assert len(panel.loss_raw.getData()[0]) <= MAX_CURVE_POINTS
    assert panel.loss_raw.getData()[0][-1] == 20_000  # the newest step is drawn

    window.tabs.setCurrentWidget(window.browse)
    panel._on_events(_batches(10, start=20_001))
    panel._redraw()
    assert panel.loss_raw.getData()[0][-1] == 20_000  # off screen: not redrawn
    window.tabs.setCurrentWidget(panel)  # shown again: drawn at once
    assert panel.loss_raw.getData()[0][-1] == 20_010


def test_array_mirror_copies_only_what_was_appended():
    from fghash_gui.widgets.plots import ArrayMirror

    mirror, values = ArrayMirror(), [1.0, 2.0]
    assert list(mirror.of(values)) == [1.0, 2.0]
    values.extend(float(v) for v in range(3, 3000))
    assert np.array_equal(mirror.of(values), np.arange(1, 3000, dtype=float))
    fresh = [7.0]  # a new run's list starts over
    assert list(mirror.of(fresh)) == [7.0]
