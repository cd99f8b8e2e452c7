"""The method x bits table of the papers: one row per (dataset, method, variant), one column per code
length, mAP@all in percent; runs that differ only in their seed (core.evaluation.seed_groups) become one cell,
mean ± sample std (n). Written as Markdown, LaTeX (booktabs) or CSV; the chance level of each dataset's
split (core.evaluation.chance, exact) is a footnote (Markdown, LaTeX) or a column (CSV).

Options (issue 23): the value can be the test mAP@all of the epoch selected on the validation split
(metric "validation") instead of the final epoch's ("test"); the columns can be grouped by dataset (one
row per method and variant, one column group per dataset); training time and images/s (means over a
row's runs, from metrics.jsonl) can be added as columns. Methods carry the papers' names and variants
readable labels (core.base.style).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.base.style import method_name, variant_label
from core.figures.common import FigureError

TABLE_FORMATS = ("markdown", "latex", "csv")
# "test": the final epoch's test mAP@all (the reported number); "validation": the test mAP@all of the epoch
# chosen on the validation split (runs trained with TrainConfig.validation)
TABLE_METRICS = ("test", "validation")
_METRIC_WORDS = {"test": "mAP@all in %", "validation": "mAP@all in % of the epoch selected on the validation split"}


@dataclass(frozen=True)
class TableCell:
    """mAP@all of one seed group (fractions): mean, sample std (0 for one run), n runs and their ids."""

    mean: float
    std: float
    n: int
    run_ids: tuple[str, ...]


@dataclass(frozen=True)
class MethodBitsTable:
    """rows: (dataset, method, variant) in order; bits: column code lengths; cells[(row, bits)];
    chance: {dataset: chance mAP@all (fraction)}."""

    rows: tuple[tuple[str, str, str], ...]
    bits: tuple[int, ...]
    cells: dict[tuple[tuple[str, str, str], int], TableCell]
    chance: dict[str, float]
    metric: str = "test"
    by_dataset: bool = False  # one column group per dataset instead of a dataset column
    # {row: (training seconds of each run that has them, images/s of each run that has them)}; None: no
    # timing columns (shown as means over a row's runs)
    timing: dict[tuple[str, str, str], tuple[tuple[float, ...], tuple[float, ...]]] | None = None


def build_table(reports: Sequence, configs: Sequence, chance: Sequence[float], *,
                values: Sequence[float | None] | None = None, metric: str = "test", by_dataset: bool = False,
                timings: Sequence[tuple[float | None, float | None]] | None = None) -> MethodBitsTable:
    """Group runs by seed (core.evaluation.seed_groups.group_by_seed) and average their headline mAP@all.

    reports: RetrievalReports (engine.evaluate); configs: their TrainConfigs; chance: each run's
    core.retrieval.service.run_chance_map, all in the same order. Runs of one dataset must share one split.
    values: each run's value instead of its report's map_all (metric "validation": the selected epoch's
    test mAP; None for a run without one is refused); timings: each run's (training seconds, images/s)."""
    if metric not in TABLE_METRICS:
        raise FigureError(f"table metric must be one of {', '.join(TABLE_METRICS)}; got {metric!r}")
    if values is not None:
        missing = [r.run_id for r, v in zip(reports, values) if v is None]
        if missing:
            raise FigureError(f"run {missing[0]} has no epoch selected on a validation split (it was trained "
                              f"without --validation): leave it out or use the test mAP")
        value_of = {r.run_id: float(v) for r, v in zip(reports, values)}
    else:
        value_of = {r.run_id: r.map_all for r in reports}
    from core.evaluation.seed_groups import group_by_seed, mean_std

    if not reports:
        raise FigureError("name at least one run")
    if not len(reports) == len(configs) == len(chance):
        raise ValueError("reports, configs and chance must be aligned")
    by_id = {r.run_id: r for r in reports}
    chance_by_kind: dict[str, float] = {}
    for cfg, level in zip(configs, chance):
        known = chance_by_kind.setdefault(cfg.dataset_kind, level)
        if abs(known - level) > 1e-9:
            raise FigureError(f"the {cfg.dataset_kind} runs were evaluated on different splits (chance levels "
                              f"{100 * known:.2f}% and {100 * level:.2f}%); put runs of one split in a table")
    cells = {}
    rows: list[tuple[str, str, str]] = []
    for g in group_by_seed([(r.run_id, cfg) for r, cfg in zip(reports, configs)]):
        row = (g.dataset_kind, g.method, g.variant)
        if row not in rows:
            rows.append(row)
        stats = mean_std(value_of[rid] for rid in g.run_ids)
        cells[(row, g.bits)] = TableCell(stats.mean, stats.std, stats.n, g.run_ids)
    bits = tuple(sorted({b for _, b in cells}))
    timing = None
    if timings is not None:
        per_run = {r.run_id: t for r, t in zip(reports, timings)}
        timing = {}
        for row in rows:
            ids = [rid for (r, _), cell in cells.items() if r == row for rid in cell.run_ids]
            timing[row] = tuple(tuple(float(per_run[rid][j]) for rid in ids if per_run[rid][j] is not None)
                                for j in range(2))
    return MethodBitsTable(tuple(rows), bits, cells, chance_by_kind, metric, by_dataset, timing)


def format_table(table: MethodBitsTable, fmt: str, digits: int = 2) -> str:
    """The table as text in `fmt` (markdown, latex or csv)."""
    if fmt == "markdown":
        return _markdown(table, digits)
    if fmt == "latex":
        return _latex(table, digits)
    if fmt == "csv":
        return _csv(table)
    raise FigureError(f"unknown table format {fmt!r}; expected one of {', '.join(TABLE_FORMATS)}")


def _cell_text(cell: TableCell | None, digits: int, pm: str) -> str:
    if cell is None:
        return "–"
    if cell.n == 1:
        return f"{100 * cell.mean:.{digits}f}"
    return f"{100 * cell.mean:.{digits}f} {pm} {100 * cell.std:.{digits}f} ({cell.n})"


def _row_label(method: str, variant: str) -> str:
    readable = variant_label(variant)
    return method_name(method) + (f" ({readable})" if readable else "")


def _layout(table: MethodBitsTable):
    """(row keys, lead header names, row lead texts, column keys (dataset, bits), column header texts,
    dataset groups [(dataset, span)]): the dataset as a column of its own, or as column groups."""
    several = len(table.chance) > 1
    if table.by_dataset:
        keys = list(dict.fromkeys((m, v) for _, m, v in table.rows))
        kinds = list(dict.fromkeys(k for k, _, _ in table.rows))
        columns = [(k, b) for k in kinds for b in table.bits
                   if any((row, b) in table.cells for row in table.rows if row[0] == k)]
        groups = [(k, sum(1 for c in columns if c[0] == k)) for k in kinds]
        return (keys, ["method"], [[_row_label(m, v)] for m, v in keys], columns,
                [f"{b} bits" for _, b in columns], groups)
    keys = list(table.rows)
    lead = (["dataset"] if several else []) + ["method"]
    texts = [([k] if several else []) + [_row_label(m, v)] for k, m, v in keys]
    return keys, lead, texts, [(None, b) for b in table.bits], [f"{b} bits" for b in table.bits], []


def _cell_of(table: MethodBitsTable, key, column) -> TableCell | None:
    kind, bits = column
    row = (kind, *key) if table.by_dataset else key
    return table.cells.get((row, bits))


def _timing_texts(table: MethodBitsTable, key) -> list[str]:
    if table.timing is None:
        return []
    rows = [r for r in table.rows if (r[1:] if table.by_dataset else r) == key]
    seconds = [v for r in rows for v in table.timing[r][0]]
    rates = [v for r in rows for v in table.timing[r][1]]
    return [_duration(sum(seconds) / len(seconds)) if seconds else "–",
            f"{sum(rates) / len(rates):.0f}" if rates else "–"]


def _duration(seconds: float) -> str:
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


_TIMING_HEADERS = ["train time", "img/s"]


def _footnotes(table: MethodBitsTable, digits: int) -> list[str]:
    notes = [_METRIC_WORDS[table.metric] + (", mean ± sample std over seeds (n runs)"
                                            if any(c.n > 1 for c in table.cells.values()) else "") + "."]
    if table.timing is not None:
        notes.append("train time: training epochs only (h:mm:ss or m:ss), img/s: training images per second; "
                     "means over the runs of a row.")
    for kind, level in sorted(table.chance.items()):
        notes.append(f"Chance level ({kind}): {100 * level:.{digits}f}, the exact expected mAP@all of random codes "
                     f"on the same split (the same for every code length).")
    return notes


def _markdown(table: MethodBitsTable, digits: int) -> str:
    keys, lead, texts, columns, heads, groups = _layout(table)
    if groups:
        heads = [f"{kind} {h}" for (kind, _), h in zip(columns, heads)]
    timing = _TIMING_HEADERS if table.timing is not None else []
    head = lead + heads + timing
    lines = ["| " + " | ".join(map(markdown_escape, head)) + " |", "|" + "|".join(["---"] * len(lead) + ["---:"] * (len(heads) + len(timing)))
             + "|"]
    for key, text in zip(keys, texts):
        cells = [_cell_text(_cell_of(table, key, c), digits, "±") for c in columns]
        lines.append("| " + " | ".join([markdown_escape(x) for x in text] + cells + _timing_texts(table, key)) + " |")
    return "\n".join(lines + [""] + _footnotes(table, digits)) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def latex_escape(text: str) -> str:
    """User text (run names, dataset kinds) as LaTeX: one pass, so the braces of \\textbackslash{} are not
    escaped again; line breaks become spaces (a blank line would end the tabular's paragraph)."""
    text = " ".join(text.splitlines())
    return re.sub(r"[\\&%$#_{}~^]", lambda m: _LATEX_SPECIAL[m.group(0)], text)


def markdown_escape(text: str) -> str:
    """User text in a Markdown table cell: `|` would start a new cell and a line break a new row."""
    return " ".join(text.splitlines()).replace("\\", "\\\\").replace("|", "\\|")


def csv_cell(value):
    """A text cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading
    apostrophe, as OWASP's CSV-injection advice and the spreadsheets themselves expect."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _latex(table: MethodBitsTable, digits: int) -> str:
    keys, lead, texts, columns, heads, groups = _layout(table)
    timing = _TIMING_HEADERS if table.timing is not None else []
    lines = [r"% needs \usepackage{booktabs}", r"\begin{table}[t]", r"\centering",
             r"\begin{tabular}{" + "l" * len(lead) + "r" * (len(columns) + len(timing)) + "}", r"\toprule"]
    if groups:
        spans, rules, start = [], [], len(lead) + 1
        for kind, span in groups:
            spans.append(r"\multicolumn{" + str(span) + "}{c}{" + latex_escape(kind) + "}")
            rules.append(r"\cmidrule(lr){" + f"{start}-{start + span - 1}" + "}")
            start += span
        lines.append(" & ".join([""] * len(lead) + spans + [""] * len(timing)) + r" \\")
        lines.append(" ".join(rules))
    lines += [" & ".join([h.capitalize() for h in lead] + heads + timing) + r" \\", r"\midrule"]
    for key, text in zip(keys, texts):
        cells = [_cell_text(_cell_of(table, key, c), digits, r"$\pm$") for c in columns]
        lines.append(" & ".join([latex_escape(t) for t in text] + cells + _timing_texts(table, key)) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = " ".join(latex_escape(n).replace("±", r"$\pm$") for n in _footnotes(table, digits))
    lines += [r"\caption{" + notes + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _csv(table: MethodBitsTable) -> str:
    """One line per cell, fractions unrounded (for scripts): the chance level is a column; the metric, and
    with timing the row's mean training seconds and images/s, are columns too."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    timing = ["train_seconds_mean", "images_per_s_mean"] if table.timing is not None else []
    writer.writerow(["dataset", "method", "variant", "bits", "map_all_mean", "map_all_std", "n_runs",
                     "chance_map_all", "run_ids", "metric", *timing])
    for row in table.rows:
        for b in table.bits:
            cell = table.cells.get((row, b))
            if cell is not None:
                extra = ([repr(sum(v) / len(v)) if v else "" for v in table.timing[row]]
                         if table.timing is not None else [])
                writer.writerow([*map(csv_cell, row), b, repr(cell.mean), repr(cell.std), cell.n,
                                 repr(table.chance[row[0]]), csv_cell(" ".join(cell.run_ids)), table.metric, *extra])
    return out.getvalue()
