"""SQLite run store (WAL mode): runs, their configs, per-epoch metrics and artefact paths.

The run folders are the source of truth; the store is an index over them that the CLI and the GUI list.
So the store repairs itself (core/runs/rebuild.py): a store SQLite cannot read (random bytes, a torn
page) is moved aside to `runs.sqlite.corrupt-<time>` (a warning on the "fghash" logger says where) and
rebuilt from the run folders; a run folder found in `runs/` that the store lacks is added when runs are
listed. A full disk while writing it is a one-line RunError, and never leaves a 0-byte store behind.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.base.errors import RunError, one_line
from core.base.events import BestOnValidation
from core.runs.lock import is_held
from core.runs.paths import fghash_home

log = logging.getLogger("fghash")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    run_dir TEXT NOT NULL,
    method TEXT NOT NULL,
    dataset_kind TEXT NOT NULL,
    dataset_root TEXT,
    bits INTEGER NOT NULL,
    backbone TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    final_map REAL,
    config_json TEXT NOT NULL,
    val_best_epoch INTEGER,
    val_best_map REAL,
    val_best_test_map REAL
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, epoch, name)
);
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS study_cells (
    run_id TEXT PRIMARY KEY REFERENCES runs(run_id) ON DELETE CASCADE,
    study_id TEXT NOT NULL,
    cell_key TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    tagged REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS study_cells_by_study ON study_cells (study_id, cell_key);
"""

# The study_cells table (a run trained as a cell of a study, core/studies) came after the first release: as
# a CREATE ... IF NOT EXISTS in _SCHEMA, stores created before get it, empty, on their next open.
# Columns added after the first release: stores created before get them on open. Stores of that release
# also hold a `best_map` column (the maximum over evaluations on the test queries, i.e. selection on the
# test split); it is no longer written or read.
_ADDED_RUN_COLUMNS = (("val_best_epoch", "INTEGER"), ("val_best_map", "REAL"), ("val_best_test_map", "REAL"))

RUN_STATUSES = ("created", "running", "finished", "cancelled", "interrupted", "failed")
MISSING = "missing"  # reported, never stored: the run's folder is gone


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    run_dir: str
    method: str
    dataset_kind: str
    dataset_root: str | None
    bits: int
    backbone: str
    status: str
    created: float
    updated: float
    final_map: float | None  # test mAP@all of the last evaluated epoch: the reported number
    config_json: str
    # the epoch chosen on the validation split, its validation mAP and its test mAP (runs with validation)
    val_best_epoch: int | None = None
    val_best_map: float | None = None
    val_best_test_map: float | None = None


_RUN_COLUMNS = ", ".join(f.name for f in dataclasses.fields(RunRecord))


def _is_corrupt(exc: sqlite3.Error) -> bool:
    """SQLite says the file is not a database or a page is damaged (not: locked, full, no permission)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    return not isinstance(exc, sqlite3.OperationalError) and isinstance(exc, sqlite3.DatabaseError)


def _is_disk_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF == sqlite3.SQLITE_FULL) or "disk is full" in str(exc)


class RunStore:
    """Thin, thread-safe-per-connection wrapper: open one RunStore per thread.

    path: the SQLite file (default $FGHASH_HOME/runs.sqlite); its run folders are the `runs/` folder
    next to it. Raises RunError (one line) when the store cannot be created or written."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else fghash_home() / "runs.sqlite"
        self.runs_folder = self.path.parent / "runs"
        self.set_aside: Path | None = None  # where a corrupt store was moved by this open, if it was
        self.damage = ""  # what was wrong with it (one line)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create the run store's folder {self.path.parent}: {exc.strerror}") from None
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        try:
            self._connect()
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                self._fail_open(exc, fresh)
            self._rebuild_from_folders(exc)

    def _connect(self) -> None:
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            self._add_missing_columns()
            self._db.commit()
            self._db.execute("SELECT count(*) FROM runs").fetchone()  # reads the table's pages
        except BaseException:
            self._db.close()
            raise

    def _fail_open(self, exc: sqlite3.Error, fresh: bool) -> None:
        """One-line RunError for a store that cannot be opened; a store this call just created (0 bytes,
        e.g. on a full disk) is removed, so the next open does not find an empty husk."""
        if fresh:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        if _is_disk_full(exc):
            raise RunError(f"the disk is full: could not write the run store {self.path}; free space in "
                           f"{self.path.parent} and retry (the run folders are unchanged)") from None
        raise RunError(f"cannot open the run store {self.path} ({one_line(exc)}); check that "
                       f"{self.path.parent} is writable and has free space") from None

    def _rebuild_from_folders(self, exc: sqlite3.Error) -> None:
        """Move the unreadable store (and its WAL) aside and create a new, empty one (set_aside says where
        the old one went; core.runs.catalog.open_store then registers every run folder again)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                side = Path(f"{self.path}{suffix}")
                if side.exists():
                    os.replace(side, Path(f"{aside}{suffix}"))
            self._connect()
        except (OSError, sqlite3.Error) as again:
            raise RunError(f"the run store {self.path} is damaged ({one_line(exc)}) and could not be replaced "
                           f"({one_line(again)}); move it away by hand, fghash rebuilds it from the run "
                           f"folders") from None
        self.set_aside = aside  # core.runs.catalog.open_store registers the run folders again
        self.damage = one_line(exc, 80)

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; a full disk (or another write failure) becomes a one-line RunError."""
        try:
            with self._db:
                yield self._db
        except sqlite3.OperationalError as exc:
            if _is_disk_full(exc):
                raise RunError(f"the disk is full: could not write the run store {self.path}; free space in "
                               f"{self.path.parent} and retry") from None
            if "readonly" in str(exc) or "read-only" in str(exc):
                raise RunError(f"cannot write the run store {self.path}: it is read-only") from None
            raise

    def _add_missing_columns(self) -> None:
        have = {row["name"] for row in self._db.execute("PRAGMA table_info(runs)")}
        for name, kind in _ADDED_RUN_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_run(self, run_id: str, run_dir: str | Path, config_json: str, created: float | None = None,
                status: str = "created") -> None:
        """Register a run. created: seconds since the epoch (default now; a rebuilt store passes the
        time the run's config.json was written)."""
        cfg = json.loads(config_json)
        now = time.time()
        with self._writing():
            self._db.execute(
                "INSERT OR REPLACE INTO runs (run_id, run_dir, method, dataset_kind, dataset_root, bits, backbone, "
                "status, created, updated, config_json) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, str(run_dir), cfg["method"], cfg["dataset_kind"], cfg.get("dataset_root"),
                 cfg["bits"], cfg["backbone"], status, now if created is None else created, now, config_json),
            )

    def set_status(self, run_id: str, status: str) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        with self._writing():
            self._db.execute("UPDATE runs SET status=?, updated=? WHERE run_id=?", (status, time.time(), run_id))

    def set_maps(self, run_id: str, final_map: float | None, best_on_val: BestOnValidation | None = None) -> None:
        """The reported numbers: the final test mAP@all and, with a validation split, the epoch chosen on it."""
        best = (best_on_val.epoch, best_on_val.val_map, best_on_val.test_map) if best_on_val else (None, None, None)
        with self._writing():
            self._db.execute(
                "UPDATE runs SET final_map=?, val_best_epoch=?, val_best_map=?, val_best_test_map=?, updated=? "
                "WHERE run_id=?", (final_map, *best, time.time(), run_id),
            )

    def log_metrics(self, run_id: str, epoch: int, values: dict[str, float | None]) -> None:
        """Record an epoch's metrics; None and non-finite values are left out (nothing was measured)."""
        with self._writing():
            self._db.executemany(
                "INSERT OR REPLACE INTO metrics VALUES (?,?,?,?)",
                [(run_id, epoch, name, float(v)) for name, v in values.items()
                 if v is not None and math.isfinite(float(v))],
            )

    def set_artifact(self, run_id: str, name: str, path: str | Path) -> None:
        with self._writing():
            self._db.execute("INSERT OR REPLACE INTO artifacts VALUES (?,?,?)", (run_id, name, str(path)))

    def artifacts(self, run_id: str) -> dict[str, str]:
        rows = self._db.execute("SELECT name, path FROM artifacts WHERE run_id=?", (run_id,)).fetchall()
        return {r["name"]: r["path"] for r in rows}

    def metric_history(self, run_id: str, name: str) -> list[tuple[int, float]]:
        rows = self._db.execute(
            "SELECT epoch, value FROM metrics WHERE run_id=? AND name=? ORDER BY epoch", (run_id, name)
        ).fetchall()
        return [(r["epoch"], r["value"]) for r in rows]

    def last_metrics(self, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
        """{run id: {name: value at the run's last epoch that logged it}} for the given metric names."""
        if not names:
            return {}
        marks = ",".join("?" * len(names))
        rows = self._db.execute(
            f"SELECT m.run_id, m.name, m.value FROM metrics m JOIN (SELECT run_id, name, MAX(epoch) AS epoch "
            f"FROM metrics WHERE name IN ({marks}) GROUP BY run_id, name) last "
            f"ON m.run_id = last.run_id AND m.name = last.name AND m.epoch = last.epoch", names).fetchall()
        out: dict[str, dict[str, float]] = {}
        for r in rows:
            out.setdefault(r["run_id"], {})[r["name"]] = r["value"]
        return out

    def get(self, run_id: str) -> RunRecord | None:
        row = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return self._alive_or_interrupted(RunRecord(**dict(row))) if row else None

    def list_runs(self) -> list[RunRecord]:
        """Every run the store holds, newest first (core.runs.catalog.list_runs also picks up run folders
        that the store lacks)."""
        rows = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created DESC").fetchall()
        return [self._alive_or_interrupted(RunRecord(**dict(r))) for r in rows]

    def run_ids(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT run_id FROM runs").fetchall()}

    def _alive_or_interrupted(self, record: RunRecord) -> RunRecord:
        """A "running" run whose training process no longer holds the run lock was killed (SIGKILL, power
        cut) before it could say so: record and report it as interrupted (core/runs/lock.py). The other way
        round, a "created" or "interrupted" run whose lock is held is being (re)started by a trainer that
        has not written "running" yet (it does so a few ms after taking the lock): report it running.
        A run whose folder is gone (deleted or moved by hand) is reported "missing" (not recorded: the
        folder may come back); `fghash runs prune` or deleting it removes the entry."""
        if not os.path.isdir(record.run_dir):
            return dataclasses.replace(record, status="missing")
        if record.status in ("created", "interrupted"):
            return dataclasses.replace(record, status="running") if is_held(record.run_dir) else record
        if record.status != "running" or is_held(record.run_dir):
            return record
        with self._writing():
            self._db.execute("UPDATE runs SET status='interrupted' WHERE run_id=? AND status='running'",
                             (record.run_id,))
        return dataclasses.replace(record, status="interrupted")

    # ---- study cells (core/studies): a cell is a normal run tagged with its study and cell key ---------------
    def tag_cell(self, run_id: str, study_id: str, cell_key: str, config_hash: str,
                 tagged: float | None = None) -> None:
        """Tag a registered run as cell `cell_key` of study `study_id`; config_hash: the cell's config
        fingerprint when it was started (core/studies/grid.py)."""
        with self._writing():
            self._db.execute("INSERT OR REPLACE INTO study_cells VALUES (?,?,?,?,?)",
                             (run_id, study_id, cell_key, config_hash, time.time() if tagged is None else tagged))

    def study_cells(self, study_id: str) -> list[tuple[str, str, str, RunRecord]]:
        """[(cell key, config hash, run id, run record)] of a study, oldest tag first (a cell retrained
        after its config changed has several runs: the last one is current)."""
        rows = self._db.execute(
            f"SELECT c.cell_key, c.config_hash, {', '.join('r.' + n for n in _RUN_COLUMNS.split(', '))} "
            f"FROM study_cells c JOIN runs r ON r.run_id = c.run_id WHERE c.study_id=? ORDER BY c.tagged",
            (study_id,)).fetchall()
        out = []
        for row in rows:
            data = dict(row)
            key, digest = data.pop("cell_key"), data.pop("config_hash")
            out.append((key, digest, data["run_id"], self._alive_or_interrupted(RunRecord(**data))))
        return out

    def study_ids(self) -> list[str]:
        """Every study with at least one tagged run, by name."""
        return [r[0] for r in self._db.execute("SELECT DISTINCT study_id FROM study_cells ORDER BY study_id")]

    def delete(self, run_id: str) -> None:
        with self._writing():
            self._db.execute("DELETE FROM runs WHERE run_id=?", (run_id,))
