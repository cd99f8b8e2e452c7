"""What core.engine exposes of studies: status, table and figure of a study by id or file.

    states = study_status("demo")                       # [CellState] in grid order
    text = study_table_text("demo", "markdown", reference="fcaenet")
    write_study_figure("demo", "bits.pdf")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.config.study_file import StudySpec
from core.studies.executors import job_states
from core.studies.figure import write_study_bits_figure
from core.studies.state import CellState, cell_states, open_study
from core.studies.table import (ReportedRow, StudyTable, build_study_table, chance_levels, format_study_table,
                                paper_rows)


def study_status(study: str | Path) -> tuple[StudySpec, list[CellState]]:
    """A study (id, or a study file: its grid as the file gives it now) and the state of each cell, with the
    SLURM job states of submitted cells where the scheduler can be asked."""
    spec, folder = open_study(study)
    return spec, cell_states(spec, job_states=job_states(folder))


def study_table(study: str | Path, reference: str | None = None,
                reported: Sequence[ReportedRow] | None = None) -> StudyTable:
    """The study's table (core.studies.table). reported: reference rows; None: the papers' numbers for the
    study's methods, datasets and code lengths (paper_rows); () for none."""
    spec, states = study_status(study)
    rows = paper_rows(states) if reported is None else reported
    return build_study_table(spec.study_id, spec.title, states, chance_levels(states), rows, reference or None)


def study_table_text(study: str | Path, fmt: str = "markdown", reference: str | None = None, digits: int = 2,
                     reported: Sequence[ReportedRow] | None = None) -> str:
    return format_study_table(study_table(study, reference, reported), fmt, digits)


def write_study_table(study: str | Path, path: str | Path, fmt: str | None = None, reference: str | None = None,
                      digits: int = 2, reported: Sequence[ReportedRow] | None = None) -> Path:
    """study_table_text written to `path` (atomically); fmt None: from the suffix (.md, .tex, .csv)."""
    from core.base.atomic import atomic_write_text
    from core.figures.export import table_format

    text = study_table_text(study, fmt or table_format(path), reference, digits, reported)
    atomic_write_text(path, text)
    return Path(path)


def write_study_figure(study: str | Path, path: str | Path, dpi: int | None = None) -> Path:
    """mAP@all against code length of the study's finished cells -> `path` (.pdf, .svg, .png)."""
    table = study_table(study, reported=())
    return write_study_bits_figure(table, path) if dpi is None else write_study_bits_figure(table, path, dpi)
