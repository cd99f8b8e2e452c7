"""The one place that opens the run store and finds runs: store + folders, repaired as it goes.

The run folders are the source of truth and the SQLite store (core/runs/store.py) is an index over them.
open_store() opens it and, when the store had to be set aside because SQLite could not read it, registers
every run folder again (core/runs/rebuild.py); list_runs() first registers folders the store lacks (copied in
by hand). resolve_run() finds a run by folder, id, unique id prefix or "latest"; create_run() makes one.
"""

from __future__ import annotations

import logging
from pathlib import Path

from core.base.atomic import atomic_write_text
from core.base.errors import RunError
from core.config.train_config import TrainConfig
from core.runs.paths import RunPaths, new_run_id, runs_dir
from core.runs.rebuild import register_folders
from core.runs.store import RunRecord, RunStore

log = logging.getLogger("fghash")


def open_store(path: str | Path | None = None) -> RunStore:
    """The run store (default $FGHASH_HOME/runs.sqlite), rebuilt from the run folders when it was unreadable.
    Use it as a context manager, or close() it."""
    store = RunStore(path)
    if store.set_aside is not None:
        count = register_folders(store)
        log.warning("the run store %s was unreadable (%s); moved it to %s and rebuilt it from %d run folder(s) "
                    "in %s", store.path, store.damage, store.set_aside, count, store.runs_folder)
    return store


def list_runs(store: RunStore | None = None) -> list[RunRecord]:
    """Every run, newest first; run folders in `runs/` that the store lacks are registered first."""
    own = store if store is not None else open_store()
    try:
        register_folders(own, only_missing=True)
        return own.list_runs()
    finally:
        if store is None:
            own.close()


def last_metrics(names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """{run id: {name: value of the run's last evaluation}} from the store (the Runs table's extra columns)."""
    with open_store() as store:
        return store.last_metrics(names)


def create_run(cfg: TrainConfig, store: RunStore | None = None, parent: Path | None = None) -> RunPaths:
    """Make a new run folder with its config.json and register it in the store."""
    paths = RunPaths((parent or runs_dir()) / new_run_id(cfg))
    paths.checkpoints.mkdir(parents=True)
    paths.codes.mkdir()
    atomic_write_text(paths.config, cfg.to_json())
    if store is not None:
        store.add_run(paths.run_id, paths.root, cfg.to_json())
    return paths


def resolve_run(run: str | Path, store: RunStore | None = None) -> RunPaths:
    """Find a run by folder path, by run id, or by a unique run-id prefix ("latest" = the run created
    last, by the store's creation time). Ids are matched literally: `*`, `?` and `[` are no patterns."""
    candidate = Path(run)
    if candidate.is_dir():
        return RunPaths(candidate.resolve())
    folder = runs_dir()
    if str(run) == "latest":
        return _latest(folder, store)
    if "/" not in str(run) and (folder / str(run)).is_dir():
        return RunPaths(folder / str(run))
    names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    matches = [folder / name for name in names if name.startswith(str(run))]
    if len(matches) == 1:
        return RunPaths(matches[0])
    if len(matches) > 1:
        raise RunError(f"run id prefix {run!r} is ambiguous: {', '.join(m.name for m in matches[:5])}")
    raise RunError(f"no run {run!r}: not a folder and not a run id in {folder}")


def _latest(folder: Path, store: RunStore | None) -> RunPaths:
    """The newest run (store creation time, which for a folder the store picked up from disk is its
    config.json's time), not the last folder name: a hand-made folder "ZZZ" is not newer than today's run."""
    records = list_runs(store)  # newest first; registers folders the store lacked
    for record in records:
        root = Path(record.run_dir)
        if root.parent.resolve() == folder.resolve() and (root / "config.json").is_file():
            return RunPaths(root)
    raise RunError(f"no runs yet in {folder}: train one with `fghash train` or `fghash demo`")
