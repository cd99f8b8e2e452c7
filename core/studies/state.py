"""Where a study lives and what state each of its cells is in.

The study folder, $FGHASH_HOME/studies/<id>/, holds `study.toml` (the file as last run: `status`, `table`
and the app read the grid from it), `jobs.json` (the submitit job of each submitted cell) and `logs/`
(one log per cell of a child process or a SLURM task). The cells' runs are ordinary runs in the store,
tagged with the study id, the cell key and the config hash they were started with (RunStore.study_cells).

A cell's state: "pending" (no run yet), "queued" (submitted, no run yet), "running", "finished",
"interrupted" (a run that stopped before its last epoch: a rerun resumes it from its checkpoint),
"failed" (retried only with --retry-failed), "changed" (its run was trained with another config than the
file now gives: never reused silently).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.base.atomic import atomic_write_text
from core.base.errors import ConfigError, RunError
from core.config.study_file import StudySpec, load_study, parse_study
from core.runs.catalog import open_store
from core.runs.store import RunRecord, RunStore, fghash_home
from core.studies.grid import Cell, expand

CELL_STATES = ("pending", "queued", "running", "finished", "interrupted", "failed", "changed")
_RUN_TO_CELL = {"created": "interrupted", "cancelled": "interrupted", "interrupted": "interrupted",
                "running": "running", "finished": "finished", "failed": "failed"}


def studies_dir() -> Path:
    return fghash_home() / "studies"


@dataclass(frozen=True)
class StudyFolder:
    root: Path

    @classmethod
    def of(cls, study_id: str) -> "StudyFolder":
        return cls(studies_dir() / study_id)

    @property
    def study_file(self) -> Path:
        return self.root / "study.toml"

    @property
    def jobs_file(self) -> Path:
        return self.root / "jobs.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def save_spec(self, spec: StudySpec) -> None:
        """Keep the file the study is run with (the grid that status and table show)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.study_file, spec.source)

    def load_spec(self) -> StudySpec:
        if not self.study_file.is_file():
            raise RunError(f"no study {self.root.name!r} in {self.root.parent}: start it with "
                           f"`fghash study run FILE` (`fghash study list` lists the studies)")
        return load_study(self.study_file)

    def jobs(self) -> dict[str, dict]:
        """{cell key: {"job_id", "cluster", "submitted"}} of the cells submitted through submitit."""
        if not self.jobs_file.is_file():
            return {}
        try:
            data = json.loads(self.jobs_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def record_jobs(self, jobs: dict[str, dict]) -> None:
        atomic_write_text(self.jobs_file, json.dumps({**self.jobs(), **jobs}, indent=1, sort_keys=True))


def open_study(study: str | Path) -> tuple[StudySpec, StudyFolder]:
    """A study by id (its folder's copy of the file) or by a study file path (the file as it is now)."""
    path = Path(study)
    if path.suffix == ".toml" or path.is_file():
        spec = load_study(path)
        return spec, StudyFolder.of(spec.study_id)
    folder = StudyFolder.of(str(study))
    return folder.load_spec(), folder


@dataclass(frozen=True)
class CellState:
    """cell: the grid cell; state: one of CELL_STATES; run: its current run (for "changed": the run that was
    trained with the old config), or None; job: the submitit job id and its scheduler state, "" when none."""

    cell: Cell
    state: str
    run: RunRecord | None = None
    job: str = ""

    @property
    def final_map(self) -> float | None:
        return self.run.final_map if self.run is not None and self.state == "finished" else None

    @property
    def seconds(self) -> float | None:
        """Wall time of the run from its creation to its last update (s)."""
        return None if self.run is None else max(0.0, self.run.updated - self.run.created)


def cell_states(spec: StudySpec, cells: list[Cell] | None = None, store: RunStore | None = None,
                job_states: dict[str, str] | None = None) -> list[CellState]:
    """The state of every cell of the grid, in grid order. job_states: {cell key: scheduler state} of
    submitted cells (executors.job_states), to tell "queued" from "pending"."""
    cells = expand(spec) if cells is None else cells
    own = store is None
    store = store or open_store()
    try:
        tagged: dict[str, list[tuple[str, RunRecord]]] = {}
        for key, digest, _run_id, record in store.study_cells(spec.study_id):
            tagged.setdefault(key, []).append((digest, record))
    finally:
        if own:
            store.close()
    jobs = job_states or {}
    out = []
    for cell in cells:
        runs = tagged.get(cell.key, [])
        matching = [record for digest, record in runs if digest == cell.config_hash]
        job = jobs.get(cell.key, "")
        if matching:
            record = matching[-1]
            out.append(CellState(cell, _RUN_TO_CELL.get(record.status, "interrupted"), record, job))
        elif runs:
            out.append(CellState(cell, "changed", runs[-1][1], job))
        else:
            queued = job and job.split()[-1].upper() in ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING")
            out.append(CellState(cell, "queued" if queued else "pending", None, job))
    return out


def current_run(store: RunStore, study_id: str, cell: Cell) -> RunRecord | None:
    """The newest run tagged for this cell with the cell's present config, or None."""
    matching = [record for key, digest, _id, record in store.study_cells(study_id)
                if key == cell.key and digest == cell.config_hash]
    return matching[-1] if matching else None


def list_studies() -> list[tuple[str, str, float]]:
    """[(study id, title, last modified)] of the studies in the study folder, newest first."""
    root = studies_dir()
    out = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        study_file = folder / "study.toml"
        if not study_file.is_file():
            continue
        try:
            spec = parse_study(study_file.read_text(encoding="utf-8"))
            title = spec.title
        except (ConfigError, OSError, UnicodeDecodeError) as exc:
            title = f"(unreadable: {exc})"
        out.append((folder.name, title, study_file.stat().st_mtime))
    return sorted(out, key=lambda item: -item[2])
