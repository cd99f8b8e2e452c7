"""A study's table in the paper's layout: rows = methods or variants, columns = dataset x bits.

Each entry is the mean ± sample std of the finished cells' test mAP@all over seeds, with n (n/expected
while seeds are missing); the best mean of each column is bold; a column without a finished cell says
"not run", never 0. Under the measured rows: the chance level of each dataset (exact, core.evaluation.chance)
and, labelled, the papers' reported numbers (core.config.reported, paper_rows) as reference rows. With a reference method, paired
tests of it against every other method over matched cells (core.evaluation.significance).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.base.errors import ConfigError, FghashError
from core.config.reported import reported
from core.evaluation.seed_groups import MeanStd, mean_std
from core.evaluation.significance import PairedTest, paired_test, with_holm
from core.figures.table import TABLE_FORMATS, csv_cell, latex_escape, markdown_escape
from core.retrieval.service import run_chance_map
from core.runs.paths import RunPaths
from core.studies.state import CellState

NOT_RUN = "not run"


@dataclass(frozen=True)
class ReportedRow:
    """A paper's published numbers as a reference row: label (e.g. "FCAENet (paper)"), source (e.g.
    "FCAENet Table 1"), values {(dataset label, bits): mAP in %}. Columns it lacks stay empty."""

    label: str
    source: str
    values: dict[tuple[str, int], float]


@dataclass(frozen=True)
class StudyTable:
    """rows: row labels in grid order; columns: (dataset, bits); entries[(row, column)]: MeanStd of the
    finished cells (fractions) or None; expected[(row, column)]: cells in the grid; chance: {dataset:
    fraction}; tests: paired tests of `reference` against every other method (empty without one)."""

    study_id: str
    title: str
    rows: tuple[str, ...]
    columns: tuple[tuple[str, int], ...]
    entries: dict[tuple[str, tuple[str, int]], MeanStd | None]
    expected: dict[tuple[str, tuple[str, int]], int]
    chance: dict[str, float]
    reported: tuple[ReportedRow, ...] = ()
    reference: str | None = None
    tests: tuple[PairedTest, ...] = field(default_factory=tuple)

    def best(self, column: tuple[str, int]) -> str | None:
        """The row with the highest mean in `column` (None when nothing finished there)."""
        scored = [(e.mean, row) for row in self.rows if (e := self.entries.get((row, column))) is not None]
        return max(scored)[1] if scored else None


def build_study_table(study_id: str, title: str, states: Sequence[CellState], chance: dict[str, float],
                      reported: Sequence[ReportedRow] = (), reference: str | None = None) -> StudyTable:
    """The table of a study's cell states (state.cell_states). chance: {dataset label: chance mAP}, e.g.
    from chance_levels(states). reference: a method label (or method name, any case) to test against."""
    rows: list[str] = []
    columns: list[tuple[str, int]] = []
    values: dict[tuple[str, tuple[str, int]], list[float]] = {}
    expected: dict[tuple[str, tuple[str, int]], int] = {}
    for s in states:
        row, column = s.cell.row, s.cell.column
        if row not in rows:
            rows.append(row)
        if column not in columns:
            columns.append(column)
        expected[(row, column)] = expected.get((row, column), 0) + 1
        if s.final_map is not None:
            values.setdefault((row, column), []).append(s.final_map)
    datasets = list(dict.fromkeys(d for d, _ in columns))
    columns.sort(key=lambda c: (datasets.index(c[0]), c[1]))
    entries = {key: mean_std(v) for key, v in values.items()}
    tests: tuple[PairedTest, ...] = ()
    label = None
    if reference is not None:
        label = _reference_label(reference, states)
        tests = tuple(significance(states, label))
    return StudyTable(study_id, title, tuple(rows), tuple(columns), entries, expected, dict(chance),
                      tuple(reported), label, tests)


def _reference_label(reference: str, states: Sequence[CellState]) -> str:
    labels = list(dict.fromkeys(s.cell.method for s in states))
    for label in labels:
        if label == reference:
            return label
    matches = [label for label in labels if label.lower() == reference.lower()]
    if not matches:  # a method name ("fcaenet") naming exactly one row's method
        matches = list(dict.fromkeys(s.cell.method for s in states if s.cell.config.method == reference.lower()))
    if len(matches) != 1:
        raise ConfigError(f"--significance {reference}: {'no' if not matches else 'more than one'} method of "
                          f"the study matches; its methods are {', '.join(labels)}")
    return matches[0]


def significance(states: Sequence[CellState], reference: str) -> list[PairedTest]:
    """Paired tests of method label `reference` against every other method label, over the cells both
    finished with the same dataset, bits, seed and sweep values; Holm-corrected over the comparisons."""
    by_method: dict[str, dict[tuple, float]] = {}
    for s in states:
        if s.final_map is not None:
            c = s.cell
            by_method.setdefault(c.method, {})[(c.dataset, c.bits, c.seed, c.sweep)] = s.final_map
    ref = by_method.get(reference, {})
    others = [m for m in dict.fromkeys(s.cell.method for s in states) if m != reference]
    tests = []
    for other in others:
        matched = sorted(set(ref) & set(by_method.get(other, {})), key=repr)
        tests.append(paired_test(other, [ref[k] for k in matched], [by_method[other][k] for k in matched]))
    return with_holm(tests)


def paper_rows(states: Sequence[CellState]) -> tuple[ReportedRow, ...]:
    """The papers' reported mAP (core.config.reported) for every method of the study, one labelled row per
    method (the paper's name), in the study's columns; methods and columns no paper reports are left out."""
    rows = []
    for method in dict.fromkeys(s.cell.config.method for s in states):
        values, sources, paper = {}, [], method
        for s in states:
            if s.cell.config.method != method:
                continue
            found = reported(method, s.cell.config.dataset_kind, s.cell.bits)
            if found is not None and found.value is not None:
                values[s.cell.column] = found.value
                paper = found.method
                sources += [found.source + (" (flagged: " + found.note + ")" if found.flagged else "")]
        if values:
            rows.append(ReportedRow(paper, "; ".join(dict.fromkeys(sources)), values))
    return tuple(rows)


def chance_levels(states: Sequence[CellState]) -> dict[str, float]:
    """{dataset label: chance mAP@all} from one finished run per dataset (its saved split labels); a dataset
    whose finished runs have no readable codes has no entry (the table then shows no chance level for it)."""
    out: dict[str, float] = {}
    for s in states:
        if s.final_map is not None and s.cell.dataset not in out:
            try:
                out[s.cell.dataset] = run_chance_map(RunPaths(Path(s.run.run_dir)))
            except FghashError:  # codes deleted or damaged: try the dataset's next finished run
                continue
    return out


# ---- formats ------------------------------------------------------------------------------------------------
def format_study_table(table: StudyTable, fmt: str, digits: int = 2) -> str:
    """Markdown, LaTeX (booktabs) or CSV text of the table and, with a reference, its tests."""
    if fmt == "markdown":
        return _markdown(table, digits)
    if fmt == "latex":
        return _latex(table, digits)
    if fmt == "csv":
        return _csv(table)
    raise ConfigError(f"unknown table format {fmt!r}; expected one of {', '.join(TABLE_FORMATS)}")


def _entry(table: StudyTable, row: str, column, digits: int, pm: str) -> str:
    entry = table.entries.get((row, column))
    expected = table.expected.get((row, column), 0)
    if entry is None:
        return NOT_RUN if expected else ""
    n = f"{entry.n}" if entry.n == expected else f"{entry.n}/{expected}"
    if entry.n == 1:
        return f"{100 * entry.mean:.{digits}f} ({n})"
    return f"{100 * entry.mean:.{digits}f} {pm} {100 * entry.std:.{digits}f} ({n})"


def _head(table: StudyTable) -> list[str]:
    several = len({d for d, _ in table.columns}) > 1
    return [f"{d} {b} bits" if several else f"{b} bits" for d, b in table.columns]


def _extra_rows(table: StudyTable, digits: int) -> list[tuple[str, list[str]]]:
    rows = []
    if table.chance:
        rows.append(("chance (random codes)", [f"{100 * table.chance[d]:.{digits}f}" if d in table.chance else ""
                                               for d, _ in table.columns]))
    for reported in table.reported:
        rows.append((f"{reported.label} [reported, {reported.source}]",
                     [f"{reported.values[c]:.{digits}f}" if c in reported.values else "" for c in table.columns]))
    return rows


def _notes(table: StudyTable) -> list[str]:
    finished = sum(e.n for e in table.entries.values())
    total = sum(table.expected.values())
    return [f"Test mAP@all in %, mean ± sample std over seeds (n finished cells; n/expected while seeds are "
            f"missing); best mean per column in bold; \"{NOT_RUN}\": no finished cell yet. "
            f"{finished} of {total} cells finished. Chance: the exact expected mAP@all of random codes on the "
            f"same split."]


def _p(value: float | None) -> str:
    return "—" if value is None else (f"{value:.2g}" if value < 0.001 else f"{value:.3f}")


def _test_rows(table: StudyTable, digits: int) -> list[list[str]]:
    return [[t.other, str(t.n), "—" if t.mean_diff is None else f"{100 * t.mean_diff:+.{digits}f}", _p(t.t_p),
             _p(t.t_p_holm), _p(t.wilcoxon_p), _p(t.wilcoxon_p_holm), t.note] for t in table.tests]


_TEST_HEAD = ["other method", "n", "mean diff (pp)", "t-test p", "Holm p", "Wilcoxon p", "Holm p", "note"]


def _markdown(table: StudyTable, digits: int) -> str:
    head = ["method", *_head(table)]
    lines = [f"### {markdown_escape(table.title)}", "", "| " + " | ".join(map(markdown_escape, head)) + " |",
             "|---|" + "---:|" * len(table.columns)]
    for row in table.rows:
        cells = []
        for column in table.columns:
            text = _entry(table, row, column, digits, "±")
            cells.append(f"**{text}**" if table.best(column) == row and len(table.rows) > 1 else text)
        lines.append("| " + " | ".join([markdown_escape(row), *cells]) + " |")
    for label, cells in _extra_rows(table, digits):
        lines.append("| " + " | ".join([f"*{markdown_escape(label)}*", *cells]) + " |")
    lines += ["", *_notes(table)]
    if table.reference is not None:
        lines += ["", f"Paired tests of {table.reference} against each method over matched cells (same dataset, "
                      f"bits, seed); mean diff = {table.reference} − other; p two-sided, Holm-corrected over the "
                      f"{len(table.tests)} comparison(s).", "",
                  "| " + " | ".join(_TEST_HEAD) + " |", "|---|" + "---:|" * 6 + "---|"]
        lines += ["| " + " | ".join(map(markdown_escape, r)) + " |" for r in _test_rows(table, digits)]
    return "\n".join(lines) + "\n"


def _latex(table: StudyTable, digits: int) -> str:
    lines = [r"% needs \usepackage{booktabs}", r"\begin{table}[t]", r"\centering",
             r"\begin{tabular}{l" + "r" * len(table.columns) + "}", r"\toprule",
             " & ".join(["Method", *[latex_escape(h) for h in _head(table)]]) + r" \\", r"\midrule"]
    for row in table.rows:
        cells = []
        for column in table.columns:
            text = latex_escape(_entry(table, row, column, digits, "±")).replace("±", r"$\pm$")
            cells.append(r"\textbf{" + text + "}" if table.best(column) == row and len(table.rows) > 1 else text)
        lines.append(" & ".join([latex_escape(row), *cells]) + r" \\")
    extra = _extra_rows(table, digits)
    if extra:
        lines.append(r"\midrule")
        lines += [" & ".join([r"\textit{" + latex_escape(label) + "}", *cells]) + r" \\" for label, cells in extra]
    lines += [r"\bottomrule", r"\end{tabular}",
              r"\caption{" + latex_escape(f"{table.title}. " + " ".join(_notes(table))).replace("±", r"$\pm$")
              + "}", r"\end{table}"]
    if table.reference is not None:
        lines += ["", r"\begin{table}[t]", r"\centering", r"\begin{tabular}{lrrrrrrl}", r"\toprule",
                  " & ".join(latex_escape(h) for h in _TEST_HEAD) + r" \\", r"\midrule"]
        lines += [" & ".join(latex_escape(c) for c in r) + r" \\" for r in _test_rows(table, digits)]
        lines += [r"\bottomrule", r"\end{tabular}",
                  r"\caption{" + latex_escape(f"Paired tests of {table.reference} against each method over "
                                               f"matched cells; p two-sided, Holm-corrected.") + "}",
                  r"\end{table}"]
    return "\n".join(lines) + "\n"


def _csv(table: StudyTable) -> str:
    """One line per (row, column), fractions unrounded; a second block with the tests after a blank line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "row", "dataset", "bits", "map_all_mean", "map_all_std", "n", "expected", "best"])
    for row in table.rows:
        for column in table.columns:
            entry = table.entries.get((row, column))
            expected = table.expected.get((row, column), 0)
            if not expected:
                continue
            writer.writerow(["measured", csv_cell(row), *map(csv_cell, column), "" if entry is None else repr(entry.mean),
                             "" if entry is None else repr(entry.std), 0 if entry is None else entry.n, expected,
                             int(table.best(column) == row)])
    for dataset, level in table.chance.items():
        writer.writerow(["chance", "chance (random codes)", csv_cell(dataset), "", repr(level), "", "", "", ""])
    for reported in table.reported:
        for (dataset, bits), value in reported.values.items():
            writer.writerow(["reported", csv_cell(f"{reported.label} [{reported.source}]"), csv_cell(dataset), bits, repr(value / 100),
                             "", "", "", ""])
    if table.reference is not None:
        writer.writerow([])
        writer.writerow(["reference", "other", "n", "mean_diff", "t_p", "t_p_holm", "wilcoxon_p",
                         "wilcoxon_p_holm", "note"])
        for t in table.tests:
            writer.writerow([csv_cell(table.reference), csv_cell(t.other), t.n, *["" if v is None else repr(v) for v in (
                t.mean_diff, t.t_p, t.t_p_holm, t.wilcoxon_p, t.wilcoxon_p_holm)], t.note])
    return out.getvalue()
