"""Training one cell: a normal engine run whose store tags it with its study and cell key.

A cell with no run starts a new one; a cell whose run stopped (interrupted, cancelled, failed) resumes that
run from its newest checkpoint (the training driver restores every RNG state, so on the CPU the result is
the uninterrupted run's); a finished cell trains nothing. Every executor ends up here: in this process
(`local`), in a child process (`local --max-parallel N`, core/studies/cell.py), or in a submitit job.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from core.base.atomic import atomic_write_text
from core.base.events import Event, TrainFinished
from core.config.train_config import TrainConfig
from core.runs.catalog import open_store
from core.runs.paths import RunPaths
from core.runs.store import RunStore
from core.studies.grid import Cell, config_hash
from core.studies.state import current_run
from core.training.driver import train


@dataclass(frozen=True)
class CellStarted:
    """A cell begins (index: 1-based among the cells this command trains; total: how many it trains)."""

    key: str
    index: int
    total: int
    resuming: bool


@dataclass(frozen=True)
class CellEnded:
    """A cell ended: state "finished", "interrupted" (cancelled or stopped) or "failed"; seconds: its wall
    time in this command; message: the run's last word or the error's one line."""

    key: str
    state: str
    run_id: str | None
    final_map: float | None
    seconds: float
    message: str = ""


class CellStore:
    """The run store (catalog.open_store) as the training driver sees it, except that it tags the run the
    driver creates for `cell` (the first run registered whose config is the cell's): in the store and in the
    run folder (study-cell.json, from which a rebuilt store re-tags it). Everything else is the store's."""

    def __init__(self, study_id: str, cell: Cell, store: RunStore) -> None:
        self.store = store
        self.study_id = study_id
        self.cell = cell
        self.tagged_run: str | None = None

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def add_run(self, run_id: str, run_dir: str | Path, config_json: str, created: float | None = None,
                status: str = "created") -> None:
        self.store.add_run(run_id, run_dir, config_json, created, status)
        if self.tagged_run is None and config_hash(TrainConfig.from_json(config_json)) == self.cell.config_hash:
            self.tagged_run = run_id
            tag = {"study_id": self.study_id, "cell_key": self.cell.key, "config_hash": self.cell.config_hash,
                   "tagged": time.time()}
            atomic_write_text(RunPaths(Path(run_dir)).study_cell, json.dumps(tag, indent=1, sort_keys=True))
            self.store.tag_cell(run_id, self.study_id, self.cell.key, self.cell.config_hash, tag["tagged"])


def train_cell(study_id: str, cell: Cell, cancel: threading.Event | None = None,
               ) -> Generator[Event, None, TrainFinished | None]:
    """Train (or resume) one cell: the engine's training events; returns its TrainFinished, or None when
    the cell had already finished."""
    with open_store() as opened:
        store = CellStore(study_id, cell, opened)
        record = current_run(opened, study_id, cell)
        if record is None:
            return (yield from train(cell.config, cancel=cancel, store=store))
        if record.status == "finished":
            return None
        return (yield from train(None, cancel=cancel, resume=RunPaths(Path(record.run_dir)), store=store))


def drain_cell(study_id: str, cell: Cell, cancel: threading.Event | None = None) -> TrainFinished | None:
    """train_cell run to its end without looking at the events (child processes, submitit jobs)."""
    gen = train_cell(study_id, cell, cancel)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
