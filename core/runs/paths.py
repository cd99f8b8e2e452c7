"""Run folders: the files of one training run, and how to create, find and validate them.

Layout (docs/architecture.md): config.json, checkpoints/*.safetensors (+ .json metadata), codes/, index.faiss,
index-ivf.faiss (optional, approximate), metrics.jsonl.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from core.base.atomic import append_line, atomic_write_text
from core.base.errors import ConfigError, OutputError, RunError
from core.base.safe_read import MAX_METRICS_BYTES, read_regular
from core.config.train_config import TrainConfig


def fghash_home() -> Path:
    """Where runs and the store live: $FGHASH_HOME, else the user data dir."""
    env = os.environ.get("FGHASH_HOME")
    if env:
        return Path(env)
    import platformdirs  # only without $FGHASH_HOME: the GPU check's machine has no platformdirs

    return Path(platformdirs.user_data_dir("fghash", appauthor=False))


METRICS_FORMAT = 1  # version tag written into every metrics.jsonl record


@dataclass(frozen=True)
class RunPaths:
    """Paths inside one run folder."""

    root: Path

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def codes(self) -> Path:
        return self.root / "codes"

    @property
    def index(self) -> Path:
        return self.root / "index.faiss"

    @property
    def approximate_index(self) -> Path:
        """The optional IVF index (`fghash index RUN --approximate`, core/retrieval/approximate.py)."""
        return self.root / "index-ivf.faiss"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def study_cell(self) -> Path:
        """{"study_id", "cell_key", "config_hash", "tagged"}: present when the run is a cell of a study
        (core/studies); the store's study_cells table is rebuilt from it."""
        return self.root / "study-cell.json"

    def last_checkpoint(self) -> Path | None:
        """The newest complete checkpoint (its metadata file written last marks it complete)."""
        metas = sorted(self.checkpoints.glob("epoch-*.json"))
        for meta in reversed(metas):
            weights = meta.with_suffix(".safetensors")
            if weights.exists():
                return weights
        return None

    def load_config(self) -> TrainConfig:
        if not self.config.exists():
            raise RunError(f"{self.root} is not a run folder: config.json is missing")
        try:
            return TrainConfig.load(self.config, complete=True)
        except ConfigError as exc:
            raise RunError(str(exc)) from None

    def append_metrics(self, record: dict) -> None:
        """One JSON object per line, tagged with METRICS_FORMAT (lines without it are older, format 0).

        A value that is not a finite number (the mean loss of an epoch without batches) is written as null:
        NaN / Infinity are not JSON, and readers (map_history, the GUI) skip null values."""
        clean = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}
        append_line(self.metrics, json.dumps({"format": METRICS_FORMAT, **clean}, sort_keys=True, allow_nan=False))

    def read_metrics(self) -> list[dict]:
        """The metric records as appended; torn, undecodable or non-object lines are skipped (never an error)."""
        if not self.metrics.exists():
            return []
        out = []
        data = read_regular(self.metrics, what="metrics file", limit=MAX_METRICS_BYTES, error=RunError)
        text = data.decode("utf-8", errors="replace")  # garbage bytes must not raise
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                continue  # a line torn by a crash: everything before it is intact
            if isinstance(record, dict):
                record.pop("format", None)  # the file's version tag, not a metric: callers get what they wrote
                out.append(record)
        return out


def runs_dir() -> Path:
    return fghash_home() / "runs"


def new_run_id(cfg: TrainConfig) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{cfg.method}-{cfg.dataset_kind}-{cfg.bits}b-{secrets.token_hex(2)}"

def is_run_folder(folder: Path) -> bool:
    """Whether `folder` looks like a run folder (config.json beside codes/ or checkpoints/)."""
    return (folder / "config.json").is_file() and ((folder / "codes").is_dir() or (folder / "checkpoints").is_dir())


def refuse_output_in_runs(out: str | Path, option: str = "--out") -> None:
    """Raise OutputError when `out` lies in the run store (FGHASH_HOME) or in any run folder: an output
    written there would replace a run's own files (`encode --out RUN` replaced its database codes)."""
    target = Path(os.path.realpath(out))
    home = Path(os.path.realpath(fghash_home()))
    if target == home or home in target.parents:
        raise OutputError(f"{option} {out} lies inside the run store {home}; fghash keeps its own files there: "
                          f"choose a folder outside it")
    for folder in (target, *target.parents):
        if is_run_folder(folder):
            raise OutputError(f"{option} {out} lies inside the run folder {folder}, whose codes it could "
                              f"replace; choose a folder outside it")
