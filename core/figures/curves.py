"""Curves of selected runs: precision-recall over Hamming radii, and mAP@all against code length.

Both draw from core.retrieval.service.RetrievalReport (engine.evaluate), so the numbers equal `fghash eval`'s.
The mAP-vs-bits figure groups runs by (dataset, method, variant) and code length; runs that differ only
in their seed become one point, mean ± sample std as an error bar. The chance level (core.evaluation.chance:
mAP@all for the bits figure, the class prior for the PR curve; the same for every code length) is a dashed
line per dataset, named by the dataset where the figure shows several; a series below it says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from core.figures.common import FigureError, default_run_labels, new_figure
from core.base.style import CHANCE_COLOR, LINE_STYLES, method_color, method_name, series_label

MARKERS = "osD^vP*Xh<>"


def pr_figure(reports: Sequence, labels: Sequence[str] | None = None, chance: Sequence | None = None) -> Figure:
    """Precision (y) against recall (x), one line per run with a marker per Hamming radius 0..bits.

    reports: RetrievalReports; labels: legend entries (default: the method's paper name and the bits, the
    run id where two would read the same); chance: each report's ChanceLevels
    (core.retrieval.service.run_chance_levels): its PR precision, the class prior, is one dashed line per
    dataset, and a curve below it says so in the legend. Colours: one per method (core.base.style)."""
    if not reports:
        raise FigureError("name at least one run")
    labels = list(labels) if labels is not None else _run_labels(reports)
    fig = new_figure(4.2, 3.4)
    ax = fig.add_subplot()
    seen: dict[str, int] = {}
    top = 0.0
    for i, (report, label) in enumerate(zip(reports, labels)):
        if not report.pr_curve:
            continue
        # A radius within which no query retrieves anything has no precision (core.evaluation.metrics reports 0): skip it.
        points = [(p, r) for _, p, r in report.pr_curve if p > 0 or r > 0]
        if not points:
            continue
        precision, recall = zip(*points)
        if chance is not None:
            below = sum(chance[i].below("pr_precision", p) for p in precision)
            if below == len(precision):
                label += " (below chance)"
            elif below:
                label += f" (below chance at {below} of {len(precision)} radii)"
        nth = seen.setdefault(report.method, 0)
        seen[report.method] += 1
        top = max(top, *precision)
        ax.plot([100 * r for r in recall], [100 * p for p in precision], marker=MARKERS[i % len(MARKERS)],
                markersize=3.5, linewidth=1.4, label=label, color=method_color(report.method, i),
                linestyle=LINE_STYLES[nth % len(LINE_STYLES)])
    if chance is not None:
        levels = [(r.dataset_kind, c.pr_precision, c.dataset) for r, c in zip(reports, chance)]
        top = max(top, _chance_lines(ax, levels))
    ax.set_xlabel("recall (%)")
    ax.set_ylabel("precision (%)")
    ax.set_xlim(-2, 102)  # markers at recall 0 and 100 stay whole
    ax.set_ylim(0, max(1.0, 100 * top * 1.12))  # from 0: a zoomed axis would make equal curves look apart
    ax.set_title("precision-recall over Hamming radius", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best", framealpha=0.85)
    return fig


def _chance_lines(ax, levels: Sequence[tuple[str, float, str]]) -> float:
    """One dashed horizontal line per distinct (dataset, level) of (dataset kind, level as a fraction,
    dataset name) triples, labelled "chance (dataset)"; returns the highest level (a fraction)."""
    distinct = sorted({(name or kind, round(value, 9)) for kind, value, name in levels})
    for j, (name, value) in enumerate(distinct):
        ax.axhline(100 * value, color=CHANCE_COLOR, linewidth=1.0, dashes=(4 + 2 * j, 2 + j),
                   label=f"chance ({name})")
    return max((v for _, v in distinct), default=0.0)


def _run_labels(reports: Sequence) -> list[str]:
    labels = [f"{method_name(r.method)} {r.bits} bits" for r in reports]
    if len(set(labels)) == len(labels):
        return labels
    kinds = {r.dataset_kind for r in reports}
    labels = [f"{method_name(r.method)} {r.bits} bits" + (f" {r.dataset_kind}" if len(kinds) > 1 else "")
              for r in reports]
    return labels if len(set(labels)) == len(labels) else default_run_labels([r.run_id for r in reports])


def bits_figure(reports: Sequence, configs: Sequence, chance: Sequence[float] | None = None) -> Figure:
    """mAP@all (%) against code length, one line per (dataset, method, variant) seed group series.

    reports: RetrievalReports; configs: their TrainConfigs (same order), for the seed grouping;
    chance: each run's chance level (core.retrieval.service.run_chance_map), drawn as one dashed line per
    dataset; a series with a point below its dataset's level says so in the legend. Method names, variant
    labels and colours from core.base.style; the legend sits inside the axes, whose limits leave room
    for every marker and error bar."""
    from core.evaluation.seed_groups import group_by_seed, mean_std

    if not reports:
        raise FigureError("name at least one run")
    by_id = {r.run_id: r for r in reports}
    groups = group_by_seed([(r.run_id, cfg) for r, cfg in zip(reports, configs)])
    series: dict[tuple[str, str, str], list] = {}
    for g in groups:
        series.setdefault((g.dataset_kind, g.method, g.variant), []).append(g)
    level_of = {cfg.dataset_kind: c for cfg, c in zip(configs, chance)} if chance is not None else {}
    fig = new_figure(4.6, 3.6)
    ax = fig.add_subplot()
    kinds = sorted({key[0] for key in series})
    seen: dict[str, int] = {}
    top = 0.0
    for i, ((kind, method, variant), members) in enumerate(sorted(series.items())):
        members.sort(key=lambda g: g.bits)
        stats = [mean_std(by_id[rid].map_all for rid in g.run_ids) for g in members]
        label = series_label(method, variant, kind if len(kinds) > 1 else "")
        below = [g.bits for g, s in zip(members, stats) if kind in level_of and s.mean < level_of[kind] - 1e-12]
        if below:
            label += f" (below chance at {', '.join(map(str, below))} bits)"
        nth = seen.setdefault(method, 0)
        seen[method] += 1
        top = max(top, *(s.mean + s.std for s in stats))
        ax.errorbar([g.bits for g in members], [100 * s.mean for s in stats], yerr=[100 * s.std for s in stats],
                    marker=MARKERS[i % len(MARKERS)], markersize=4, capsize=3, linewidth=1.4, label=label,
                    color=method_color(method, i), linestyle=LINE_STYLES[nth % len(LINE_STYLES)])
    if chance is not None:
        top = max(top, _chance_lines(ax, [(kind, level, kind) for kind, level in level_of.items() if kind in kinds]))
    bits = sorted({g.bits for g in groups})
    ax.set_xticks(bits)
    pad = max(2.0, 0.08 * (bits[-1] - bits[0]))  # markers and caps at the first and last bits stay whole
    ax.set_xlim(bits[0] - pad, bits[-1] + pad)
    ax.set_xlabel("code length (bits)")
    ax.set_ylabel("mAP@all (%)")
    # Room above the highest error bar for the legend, which stays inside the axes.
    ax.set_ylim(0, max(1.0, 100 * top * (1.2 + 0.08 * len(series))))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.85)
    if any(len(g.run_ids) > 1 for g in groups):
        ax.set_title("error bars: sample std over seeds (where several)", fontsize=8)
    return fig
