"""The Runs tab's retrieval curves of the selected runs: precision-recall over Hamming radii and P@k.

Both come from ``engine.evaluate`` on the run's saved codes (its ``pr_curve``: one (radius, precision,
recall) point per radius 0..bits; its ``precision_at_k`` on a grid of k up to the database size),
computed on the request worker (channel "run-curves"). Beside them, what random codes score on the same split
(``engine.chance_levels``): the PR precision of random codes is the class prior, a dashed line per dataset, and
their P@k a dashed curve per dataset; a run whose curve falls below it says so in the legend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QSplitter, QWidget

from core import engine
from fghash_gui.widgets.plots import CHANCE_PEN, plot_curve, side_legend

K_GRID = (1, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


@dataclass(frozen=True)
class RunCurves:
    """One run's curves: pr = ((recall, precision), ...) by radius; pk = ((k, P@k), ...); both in [0, 1];
    chance: what random codes score on the run's split (engine.ChanceLevels, named by its dataset)."""

    run_id: str
    label: str
    pr: tuple[tuple[float, float], ...]
    pk: tuple[tuple[int, float], ...]
    chance: engine.ChanceLevels

    @property
    def below_chance(self) -> bool:
        """Whether any point of the curves lies below the chance level (PR points with no recall are empty
        radii, not figures)."""
        return (any(r > 0 and self.chance.below("pr_precision", p) for r, p in self.pr)
                or any(self.chance.below("precision_at_k", p, k) for k, p in self.pk))


def load_curves(run_ids: list[str]) -> list[RunCurves]:
    """Runs on the worker: evaluate every run once with the k grid cut at its database size."""
    out = []
    for run_id in run_ids:
        n = len(engine.session(run_id).database)
        ks = tuple(k for k in K_GRID if k <= n) or (n,)
        report = engine.evaluate(run_id, ks=ks, device="cpu")
        label = f"{engine.method_name(report.method)} {report.bits}b {run_id[-4:]}"
        out.append(RunCurves(run_id, label, tuple((rc, p) for _, p, rc in report.pr_curve),
                             tuple((k, report.precision_at_k[k]) for k in ks), engine.chance_levels(run_id, ks)))
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
            label = c.label + (" (below chance)" if c.below_chance else "")
            plot_curve(self.pr_plot, [100 * r for r, _ in c.pr], [100 * p for _, p in c.pr], i, label)
            plot_curve(self.pk_plot, [k for k, _ in c.pk], [100 * p for _, p in c.pk], i, label)
        self._draw_chance(curves)
        ks = sorted({k for c in curves for k, _ in c.pk})
        # log axis: label the grid's k themselves (the default "2·10¹" ticks overlap)
        self.pk_plot.getAxis("bottom").setTicks([[(math.log10(k), str(k)) for k in ks]])
        self.shown = curves
        self.curves_shown.emit(curves)

    def _draw_chance(self, curves: list[RunCurves]) -> None:
        """One dashed chance line (PR) and chance curve (P@k) per dataset, named by it."""
        by_dataset = {c.chance.dataset: c for c in curves}
        for dataset, c in by_dataset.items():
            name = f"chance ({dataset})" if dataset else "chance"
            self.pr_plot.addItem(pg.InfiniteLine(pos=100 * c.chance.pr_precision, angle=0, pen=CHANCE_PEN,
                                                 label=f"{name} {100 * c.chance.pr_precision:.1f}%",
                                                 labelOpts={"position": 0.9, "color": "#555555"}))
            ks = [k for k, _ in c.pk]
            self.pk_plot.plot(ks, [100 * c.chance.precision_at_k[k] for k in ks], pen=CHANCE_PEN, name=name)

