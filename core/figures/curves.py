"""Curves of selected runs: precision-recall over Hamming radii, and mAP@all against code length.

Both draw from core.retrieval.service.RetrievalReport (engine.evaluate), so the numbers equal `fghash eval`'s.
The mAP-vs-bits figure groups runs by (dataset, method, variant) and code length; runs that differ only
in their seed become one point, mean ± sample std as an error bar. The chance level
(core.retrieval.service.run_chance_map, the same for every code length) is a dashed line per dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from core.figures.common import FigureError, default_run_labels, new_figure

MARKERS = "osD^vP*Xh<>"


def pr_figure(reports: Sequence, labels: Sequence[str] | None = None) -> Figure:
    """Precision (y) against recall (x), one line per run with a marker per Hamming radius 0..bits.

    reports: RetrievalReports; labels: legend entries (default: the run ids)."""
    if not reports:
        raise FigureError("name at least one run")
    labels = list(labels) if labels is not None else default_run_labels([r.run_id for r in reports])
    fig = new_figure(4.2, 3.4)
    ax = fig.add_subplot()
    for i, (report, label) in enumerate(zip(reports, labels)):
        if not report.pr_curve:
            continue
        # A radius within which no query retrieves anything has no precision (core.evaluation.metrics reports 0): skip it.
        points = [(p, r) for _, p, r in report.pr_curve if p > 0 or r > 0]
        if not points:
            continue
        precision, recall = zip(*points)
        ax.plot([100 * r for r in recall], [100 * p for p in precision], marker=MARKERS[i % len(MARKERS)],
                markersize=3.5, linewidth=1.4, label=label)
    ax.set_xlabel("recall (%)")
    ax.set_ylabel("precision (%)")
    ax.set_xlim(0, 100)
    ax.set_ylim(bottom=0)  # the top follows the data: weak runs stay readable
    ax.set_title("precision-recall over Hamming radius", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best", frameon=False)
    return fig


def bits_figure(reports: Sequence, configs: Sequence, chance: Sequence[float] | None = None) -> Figure:
    """mAP@all (%) against code length, one line per (dataset, method, variant) seed group series.

    reports: RetrievalReports; configs: their TrainConfigs (same order), for the seed grouping;
    chance: each run's chance level (core.retrieval.service.run_chance_map), drawn as one dashed line per dataset."""
    from core.evaluation.seed_groups import group_by_seed, mean_std

    if not reports:
        raise FigureError("name at least one run")
    by_id = {r.run_id: r for r in reports}
    groups = group_by_seed([(r.run_id, cfg) for r, cfg in zip(reports, configs)])
    series: dict[tuple[str, str, str], list] = {}
    for g in groups:
        series.setdefault((g.dataset_kind, g.method, g.variant), []).append(g)
    fig = new_figure(4.2, 3.4)
    ax = fig.add_subplot()
    kinds = sorted({key[0] for key in series})
    for i, ((kind, method, variant), members) in enumerate(sorted(series.items())):
        members.sort(key=lambda g: g.bits)
        stats = [mean_std(by_id[rid].map_all for rid in g.run_ids) for g in members]
        label = " ".join(part for part in (method, f"({variant})" if variant else "",
                                           kind if len(kinds) > 1 else "") if part)
        ax.errorbar([g.bits for g in members], [100 * s.mean for s in stats], yerr=[100 * s.std for s in stats],
                    marker=MARKERS[i % len(MARKERS)], markersize=4, capsize=3, linewidth=1.4, label=label)
    if chance is not None:
        for j, kind in enumerate(kinds):
            levels = {round(c, 6) for r, cfg, c in zip(reports, configs, chance) if cfg.dataset_kind == kind}
            for level in sorted(levels):
                ax.axhline(100 * level, linestyle="--", color="0.45", linewidth=1.0,
                           label=f"chance ({kind})" if len(kinds) > 1 else "chance (random codes)")
    bits = sorted({g.bits for g in groups})
    ax.set_xticks(bits)
    ax.set_xlabel("code length (bits)")
    ax.set_ylabel("mAP@all (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best", frameon=False)
    if any(len(g.run_ids) > 1 for g in groups):
        ax.set_title("error bars: sample std over seeds (where several)", fontsize=8)
    return fig
