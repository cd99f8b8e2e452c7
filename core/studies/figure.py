"""`fghash figure bits STUDY`: mAP@all against code length, one line per table row (method or variant) and
dataset, error bars = sample std over seeds, the chance level dashed (matplotlib Agg, like core/figures)."""

from __future__ import annotations

from pathlib import Path

from core.figures.common import DEFAULT_DPI, FigureError, figure_format, new_figure, save_figure
from core.figures.curves import MARKERS
from core.studies.table import StudyTable


def study_bits_figure(table: StudyTable):
    """The figure of a StudyTable's finished entries (a matplotlib Figure)."""
    datasets = list(dict.fromkeys(d for d, _ in table.columns))
    fig = new_figure(4.2, 3.4)
    ax = fig.add_subplot()
    drawn = 0
    for dataset in datasets:
        for row in table.rows:
            points = [(b, e) for d, b in table.columns if d == dataset
                      and (e := table.entries.get((row, (d, b)))) is not None]
            if not points:
                continue
            label = row + (f" ({dataset})" if len(datasets) > 1 else "")
            ax.errorbar([b for b, _ in points], [100 * e.mean for _, e in points],
                        yerr=[100 * e.std for _, e in points], marker=MARKERS[drawn % len(MARKERS)], markersize=4,
                        capsize=3, linewidth=1.4, label=label)
            drawn += 1
    if not drawn:
        raise FigureError(f"study {table.study_id} has no finished cell yet: nothing to draw")
    for dataset, level in table.chance.items():
        ax.axhline(100 * level, linestyle="--", color="0.45", linewidth=1.0,
                   label=f"chance ({dataset})" if len(datasets) > 1 else "chance (random codes)")
    ax.set_xticks(sorted({b for _, b in table.columns}))
    ax.set_xlabel("code length (bits)")
    ax.set_ylabel("mAP@all (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best", frameon=False)
    ax.set_title(f"{table.title}: mean ± sample std over seeds", fontsize=8)
    return fig


def write_study_bits_figure(table: StudyTable, path: str | Path, dpi: int = DEFAULT_DPI) -> Path:
    figure_format(path)
    return save_figure(study_bits_figure(table), path, dpi)
