"""Curves: a one-point curve is drawn with a marker, and the legend sits beside the plot, not over it."""

from __future__ import annotations

import pyqtgraph as pg


def test_single_point_curves_get_markers_and_the_legend_is_beside_the_plot(window, trained_runs, qtbot, reload_runs):
    runs = window.runs
    reload_runs()
    runs.select_runs([trained_runs["adsh"].run_id, trained_runs["fcaenet"].run_id])
    with qtbot.waitSignal(runs.compared_shown, timeout=30_000):
        runs.compare_selected()
    curves = runs.plot.getPlotItem().listDataItems()
    one_point = [c for c in curves if len(c.getData()[0]) == 1]
    assert one_point and all(c.opts["symbol"] is not None for c in one_point)  # the 1-epoch baseline
    window.resize(1280, 820)
    qtbot.wait(50)
    item = runs.plot.getPlotItem()
    legend, view = item.legend, item.getViewBox()
    assert len(legend.items) == 2
    assert legend.sceneBoundingRect().left() >= view.sceneBoundingRect().right() - 1  # touching, not over


def test_training_curves_of_one_step_get_markers(window):
    panel = window.training
    panel.loss_steps, panel.loss_values, panel.loss_smoothed, panel.lr_values = [1], [0.5], [0.5], [1e-3]
    panel._redraw(force=True)
    assert panel.loss_ema.opts["symbol"] == "o" and panel.lr_curve.opts["symbol"] == "o"
    panel.loss_steps, panel.loss_values, panel.loss_smoothed, panel.lr_values = [1, 2], [0.5] * 2, [0.5] * 2, [1e-3] * 2
    panel._redraw(force=True)
    assert panel.loss_ema.opts["symbol"] is None


def test_runs_tab_draws_pr_and_precision_at_k_curves(window, trained_runs, qtbot, reload_runs):
    from core import engine

    runs = window.runs
    reload_runs()
    ids = [trained_runs["fcaenet"].run_id, trained_runs["adsh"].run_id]
    runs.select_runs(ids)
    with qtbot.waitSignal(runs.curves.curves_shown, timeout=60_000) as shown:
        runs.compare_selected()
    curves = shown.args[0]
    assert [c.run_id for c in curves] == runs.selected_run_ids()
    report = engine.evaluate(curves[0].run_id, ks=(10,), device="cpu")
    assert curves[0].pr == tuple((rc, p) for _, p, rc in report.pr_curve)
    assert dict(curves[0].pk)[10] == report.precision_at_k[10]
    assert max(k for k, _ in curves[0].pk) <= 240  # cut at the demo's database size
    assert len(runs.curves.pr_plot.getPlotItem().listDataItems()) == 2
    # beside them, what random codes score on the same split: the class prior on the PR plot, P@k of random codes
    chance = engine.chance_levels(curves[0].run_id, (10,))
    assert curves[0].chance.precision_at_k[10] == chance.precision_at_k[10] and curves[0].chance.dataset == "demo"
    lines = [item for item in runs.curves.pr_plot.getPlotItem().items if isinstance(item, pg.InfiniteLine)]
    assert [line.value() for line in lines] == [100 * chance.pr_precision]
    names = [label.text for _, label in runs.curves.pk_plot.getPlotItem().legend.items]
    assert len(names) == 3 and names[-1] == "chance (demo)"
