"""The Runs tab's retrieval curves of the selected runs: precision-recall over Hamming radii and P@k.

Both come from ``engine.evaluate`` on the run's saved codes (its ``pr_curve``: one (radius, precision,
recall) point per radius 0..bits; its ``precision_at_k`` on a grid of k up to the database size),
computed on the request worker (channel "run-curves").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QSplitter, QWidget

from core import engine
from fghash_gui.widgets.plots import plot_curve, side_legend

K_GRID = (1, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


@dataclass(frozen=True)
class RunCurves:
    """One run's curves: pr = ((recall, precision), ...) by radius; pk = ((k, P@k), ...); both in [0, 1]."""

    run_id: str
    label: str
    pr: tuple[tuple[float, float], ...]
    pk: tuple[tuple[int, float], ...]


def load_curves(run_ids: list[str]) -> list[RunCurves]:
    """Runs on the worker: evaluate every run once with the k grid cut at its database size."""
    out = []
    for run_id in run_ids:
        n = len(engine.session(run_id).database)
        ks = tuple(k for k in K_GRID if k <= n) or (n,)
        report = engine.evaluate(run_id, ks=ks, device="cpu")
        label = f"{report.method} {report.bits}b {run_id[-4:]}"
        out.append(RunCurves(run_id, label, tuple((rc, p) for _, p, rc in report.pr_curve),
                             tuple((k, report.precision_at_k[k]) for k in ks)))
    return out


class RetrievalCurves(QSplitter):
    """PR curve and P@k curve side by side, one coloured curve per run, the legends beside the plots."""

    error = Signal(str)
    curves_shown = Signal(list)  # the RunCurves drawn (tests wait on it)

    def __init__(self, requests, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._requests = requests
        self.pr_plot = pg.PlotWidget(title="precision-recall (Hamming radius 0..bits)")
        self.pr_plot.setLabel("bottom", "recall (%)")
        self.pr_plot.setLabel("left", "precision (%)")
        self.pk_plot = pg.PlotWidget(title="precision@k")
        self.pk_plot.setLabel("bottom", "k (log scale)")
        self.pk_plot.setLabel("left", "P@k (%)")
        self.pk_plot.setLogMode(x=True)
        for plot in (self.pr_plot, self.pk_plot):
            plot.showGrid(x=True, y=True, alpha=0.2)
            side_legend(plot)
            self.addWidget(plot)
        self.shown: list[RunCurves] = []

    def show_runs(self, run_ids: list[str]) -> None:
        self.pr_plot.clear()
        self.pk_plot.clear()
        if run_ids:
            self._requests.submit("run-curves", load_curves, list(run_ids), on_result=self._draw,
                                  on_error=self.error.emit)

    def _draw(self, curves: list[RunCurves]) -> None:
        self.pr_plot.clear()
        self.pk_plot.clear()
        for i, c in enumerate(curves):
            plot_curve(self.pr_plot, [100 * r for r, _ in c.pr], [100 * p for _, p in c.pr], i, c.label)
            plot_curve(self.pk_plot, [k for k, _ in c.pk], [100 * p for _, p in c.pk], i, c.label)
        ks = sorted({k for c in curves for k, _ in c.pk})
        # log axis: label the grid's k themselves (the default "2·10¹" ticks overlap)
        self.pk_plot.getAxis("bottom").setTicks([[(math.log10(k), str(k)) for k in ks]])
        self.shown = curves
        self.curves_shown.emit(curves)
