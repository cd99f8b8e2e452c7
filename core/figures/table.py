"""The method x bits table of the papers: one row per (dataset, method, variant), one column per code
length, mAP@all in percent; runs that differ only in their seed (core.evaluation.seed_groups) become one cell,
mean ± sample std (n). Written as Markdown, LaTeX (booktabs) or CSV; the chance level of each dataset's
split (core.evaluation.chance, exact) is a footnote (Markdown, LaTeX) or a column (CSV).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.figures.common import FigureError

TABLE_FORMATS = ("markdown", "latex", "csv")


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


def build_table(reports: Sequence, configs: Sequence, chance: Sequence[float]) -> MethodBitsTable:
    """Group runs by seed (core.evaluation.seed_groups.group_by_seed) and average their headline mAP@all.

    reports: RetrievalReports (engine.evaluate); configs: their TrainConfigs; chance: each run's
    core.retrieval.service.run_chance_map, all in the same order. Runs of one dataset must share one split."""
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
        stats = mean_std(by_id[rid].map_all for rid in g.run_ids)
        cells[(row, g.bits)] = TableCell(stats.mean, stats.std, stats.n, g.run_ids)
    bits = tuple(sorted({b for _, b in cells}))
    return MethodBitsTable(tuple(rows), bits, cells, chance_by_kind)


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


def _row_name(row: tuple[str, str, str], several_datasets: bool) -> list[str]:
    kind, method, variant = row
    return ([kind] if several_datasets else []) + [method + (f" ({variant})" if variant else "")]


def _footnotes(table: MethodBitsTable, digits: int) -> list[str]:
    notes = ["mAP@all in %" + (", mean ± sample std over seeds (n runs)" if any(c.n > 1 for c in table.cells.values())
                               else "") + "."]
    for kind, level in sorted(table.chance.items()):
        notes.append(f"Chance level ({kind}): {100 * level:.{digits}f}, the exact expected mAP@all of random codes "
                     f"on the same split (the same for every code length).")
    return notes


def _markdown(table: MethodBitsTable, digits: int) -> str:
    several = len(table.chance) > 1
    head = (["dataset"] if several else []) + ["method"] + [f"{b} bits" for b in table.bits]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * (len(head) - len(table.bits))
                                                           + ["---:"] * len(table.bits)) + "|"]
    for row in table.rows:
        cells = [_cell_text(table.cells.get((row, b)), digits, "±") for b in table.bits]
        lines.append("| " + " | ".join([_markdown_escape(t) for t in _row_name(row, several)] + cells) + " |")
    return "\n".join(lines + [""] + _footnotes(table, digits)) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def _latex_escape(text: str) -> str:
    """User text (run names, dataset kinds) as LaTeX: one pass, so the braces of \\textbackslash{} are not
    escaped again; line breaks become spaces (a blank line would end the tabular's paragraph)."""
    text = " ".join(text.splitlines())
    return re.sub(r"[\\&%$#_{}~^]", lambda m: _LATEX_SPECIAL[m.group(0)], text)


def _markdown_escape(text: str) -> str:
    """User text in a Markdown table cell: `|` would start a new cell and a line break a new row."""
    return " ".join(text.splitlines()).replace("\\", "\\\\").replace("|", "\\|")


def _csv_text(value):
    """A text cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading
    apostrophe, as OWASP's CSV-injection advice and the spreadsheets themselves expect."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _latex(table: MethodBitsTable, digits: int) -> str:
    several = len(table.chance) > 1
    lead = 2 if several else 1
    head = (["Dataset"] if several else []) + ["Method"] + [f"{b} bits" for b in table.bits]
    lines = [r"% needs \usepackage{booktabs}", r"\begin{table}[t]", r"\centering",
             r"\begin{tabular}{" + "l" * lead + "r" * len(table.bits) + "}", r"\toprule",
             " & ".join(head) + r" \\", r"\midrule"]
    for row in table.rows:
        cells = [_cell_text(table.cells.get((row, b)), digits, r"$\pm$") for b in table.bits]
        lines.append(" & ".join([_latex_escape(t) for t in _row_name(row, several)] + cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = " ".join(_latex_escape(n).replace("±", r"$\pm$") for n in _footnotes(table, digits))
    lines += [r"\caption{" + notes + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _csv(table: MethodBitsTable) -> str:
    """One line per cell, fractions unrounded (for scripts): the chance level is a column."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["dataset", "method", "variant", "bits", "map_all_mean", "map_all_std", "n_runs",
                     "chance_map_all", "run_ids"])
    for row in table.rows:
        for b in table.bits:
            cell = table.cells.get((row, b))
            if cell is not None:
                writer.writerow([*map(_csv_text, row), b, repr(cell.mean), repr(cell.std), cell.n,
                                 repr(table.chance[row[0]]), _csv_text(" ".join(cell.run_ids))])
    return out.getvalue()
