"""Run housekeeping for the facade: metric history, delete, export (used by the GUI's Runs tab and the CLI)."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.base.errors import RunError, one_line
from core.runs.catalog import open_store, resolve_run
from core.runs.lock import refuse_if_training
from core.runs.paths import runs_dir

EXPORTED_FILES = ("config.json", "metrics.jsonl")


def map_history(run: str) -> list[tuple[int, float]]:
    """(epoch, mAP@all) of every evaluation of a run, in epoch order.

    Read from the run folder's metrics.jsonl (the source of truth): every record with an "epoch" and a
    "map_all" value. Falls back to the store's "map_all" history for runs whose file is missing.
    """
    paths = resolve_run(run)
    by_epoch: dict[int, float] = {}
    for record in paths.read_metrics():
        if "map_all" in record and "epoch" in record and record["map_all"] is not None:
            try:
                by_epoch[int(record["epoch"])] = float(record["map_all"])
            except (TypeError, ValueError):
                continue  # a hand-edited or foreign line: skip it like a torn one
    if not by_epoch:
        with open_store() as store:
            by_epoch = dict(store.metric_history(paths.run_id, "map_all"))
    return sorted(by_epoch.items())


def delete_run(run: str) -> str:
    """Remove a run's folder and its store entry; returns what was removed, in words. Refuses folders
    outside the run store's runs/ folder, and a run whose training lock is held (core/runs/lock.py): its
    trainer would die mid-write.

    Never deletes through a symbolic link: a name (or path) that is a link to a run folder removes the
    link and its store entry only. A store entry whose folder is gone (deleted by hand) is removed."""
    named = Path(run)
    try:
        paths = resolve_run(run)
    except RunError:
        gone = _entry_without_folder(str(run))
        if gone is None:
            raise
        with open_store() as store:
            store.delete(gone.run_id)
        return f"removed the store entry of {gone.run_id}, whose folder {gone.run_dir} was already gone"
    link = next((p for p in (named, paths.root) if p.is_symlink()), None)
    if link is not None:
        if link.absolute().parent.resolve() != runs_dir().resolve():
            raise RunError(f"{link} is a symbolic link outside the run store ({runs_dir()}); fghash never "
                           f"deletes through a link: remove the link by hand if you mean it")
        with open_store() as store:
            store.delete(link.name)
        target = link.resolve()
        link.unlink()
        return f"removed the link {link.name} (the run folder it pointed to, {target}, is untouched)"
    root = paths.root.resolve()
    if root.parent != runs_dir().resolve():
        raise RunError(f"{root} is not inside the run store ({runs_dir()}); delete it by hand if you mean it")
    if not paths.config.exists():
        raise RunError(f"{root} is not a run folder: config.json is missing")
    refuse_if_training(root, "delete it")
    with open_store() as store:
        store.delete(paths.run_id)
    try:
        shutil.rmtree(root)
    except OSError as exc:  # a file another program holds, a read-only mount
        raise RunError(f"could not delete {paths.run_id}: its folder {root} could not be deleted completely "
                       f"({one_line(exc)}); remove what is left by hand") from None
    return f"deleted {paths.run_id}"


def _entry_without_folder(run_id: str):
    """The store record of `run_id` (exact id) when its folder no longer exists, else None."""
    with open_store() as store:
        record = store.get(run_id)
    return record if record is not None and not Path(record.run_dir).exists() else None


def prune_missing_runs() -> list[str]:
    """Remove the store entries of runs whose folders are gone (deleted or moved by hand); returns their ids.
    The folders are the truth: nothing on disk is touched."""
    with open_store() as store:
        gone = [r.run_id for r in store.list_runs() if r.status == "missing"]
        for run_id in gone:
            store.delete(run_id)
    return gone


def export_run(run: str, destination: str | Path) -> Path:
    """Copy a run's codes (query and database: codes, labels, image paths), config and metrics.

    Writes destination/<run id>/ with config.json, metrics.jsonl and codes/; returns that folder.
    """
    paths = resolve_run(run)
    target = Path(destination) / paths.run_id
    if target.resolve() == paths.root.resolve():
        raise RunError(f"cannot export {paths.run_id} onto its own folder")
    target.mkdir(parents=True, exist_ok=True)
    copied = 0
    for name in EXPORTED_FILES:
        source = paths.root / name
        if source.exists():
            shutil.copy2(source, target / name)
            copied += 1
    if paths.codes.is_dir() and any(paths.codes.iterdir()):
        shutil.copytree(paths.codes, target / "codes", dirs_exist_ok=True)
        copied += 1
    if not copied:
        raise RunError(f"{paths.root} has nothing to export (no config, metrics or codes)")
    return target
