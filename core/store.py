"""SQLite run store (WAL mode): runs, their configs, per-epoch metrics and artefact paths.

The run folders are the source of truth; the store is an index over them that the CLI and the GUI list.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from core.run_lock import is_held

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
    best_map REAL,
    final_map REAL,
    config_json TEXT NOT NULL
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
"""

RUN_STATUSES = ("created", "running", "finished", "cancelled", "interrupted", "failed")


def fghash_home() -> Path:
    """Where runs and the store live: $FGHASH_HOME, else the user data dir."""
    env = os.environ.get("FGHASH_HOME")
    if env:
        return Path(env)
    import platformdirs  # only without $FGHASH_HOME: the GPU check's machine has no platformdirs

    return Path(platformdirs.user_data_dir("fghash", appauthor=False))


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
    best_map: float | None
    final_map: float | None
    config_json: str


class RunStore:
    """Thin, thread-safe-per-connection wrapper: open one RunStore per thread."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else fghash_home() / "runs.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_run(self, run_id: str, run_dir: str | Path, config_json: str) -> None:
        cfg = json.loads(config_json)
        now = time.time()
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, str(run_dir), cfg["method"], cfg["dataset_kind"], cfg.get("dataset_root"),
                 cfg["bits"], cfg["backbone"], "created", now, now, None, None, config_json),
            )

    def set_status(self, run_id: str, status: str) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        with self._db:
            self._db.execute("UPDATE runs SET status=?, updated=? WHERE run_id=?", (status, time.time(), run_id))

    def set_maps(self, run_id: str, best_map: float | None, final_map: float | None) -> None:
        with self._db:
            self._db.execute(
                "UPDATE runs SET best_map=?, final_map=?, updated=? WHERE run_id=?",
                (best_map, final_map, time.time(), run_id),
            )

    def log_metrics(self, run_id: str, epoch: int, values: dict[str, float]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO metrics VALUES (?,?,?,?)",
                [(run_id, epoch, name, float(v)) for name, v in values.items()],
            )

    def set_artifact(self, run_id: str, name: str, path: str | Path) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO artifacts VALUES (?,?,?)", (run_id, name, str(path)))

    def artifacts(self, run_id: str) -> dict[str, str]:
        rows = self._db.execute("SELECT name, path FROM artifacts WHERE run_id=?", (run_id,)).fetchall()
        return {r["name"]: r["path"] for r in rows}

    def metric_history(self, run_id: str, name: str) -> list[tuple[int, float]]:
        rows = self._db.execute(
            "SELECT epoch, value FROM metrics WHERE run_id=? AND name=? ORDER BY epoch", (run_id, name)
        ).fetchall()
        return [(r["epoch"], r["value"]) for r in rows]

    def get(self, run_id: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return self._alive_or_interrupted(RunRecord(**dict(row))) if row else None

    def list_runs(self) -> list[RunRecord]:
        rows = self._db.execute("SELECT * FROM runs ORDER BY created DESC").fetchall()
        return [self._alive_or_interrupted(RunRecord(**dict(r))) for r in rows]

    def _alive_or_interrupted(self, record: RunRecord) -> RunRecord:
        """A "running" run whose training process no longer holds the run lock was killed (SIGKILL, power
        cut) before it could say so: record and report it as interrupted (core/run_lock.py)."""
        if record.status != "running" or is_held(record.run_dir):
            return record
        with self._db:
            self._db.execute("UPDATE runs SET status='interrupted' WHERE run_id=? AND status='running'",
                             (record.run_id,))
        return dataclasses.replace(record, status="interrupted")

    def delete(self, run_id: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM runs WHERE run_id=?", (run_id,))
