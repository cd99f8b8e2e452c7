"""Rebuild run-store entries from run folders (the folders are the truth; the store only indexes them).

Used by core.runs.store.RunStore when its SQLite file is unreadable (every folder is registered again) and
when runs are listed (folders the store lacks, e.g. copied in by hand, are picked up).

What a folder tells: its config (config.json), when it was created (config.json's modification time:
the file is written once, when the run is created), its per-epoch metrics (metrics.jsonl), and how far
it got, and the study cell it belongs to (study-cell.json, core/studies). The status is inferred: "running" while a process holds the run lock, "finished" when the codes
are saved and the newest checkpoint is the config's last epoch, "cancelled" when codes were saved
earlier, "interrupted" when there are checkpoints but no codes, "created" otherwise. ("failed" cannot
be told from "interrupted" after the fact.)
"""

from __future__ import annotations

import json
import logging
import re

from core.base.errors import FghashError
from core.base.safe_read import MAX_JSON_BYTES, read_regular
from core.config.train_config import TrainConfig
from core.runs.lock import is_held
from core.runs.paths import RunPaths
from core.runs.store import RunStore
from core.search.codes import SPLIT_NAMES, codes_path

log = logging.getLogger("fghash")

_EPOCH = re.compile(r"epoch-(\d+)\.safetensors$")


def register_folders(store: RunStore, only_missing: bool = False) -> int:
    """Register every run folder in store.runs_folder (only those the store lacks when only_missing).
    Folders without a readable, valid config.json are skipped. Returns how many were registered."""
    folder = store.runs_folder
    if not folder.is_dir():
        return 0
    known = store.run_ids() if only_missing else set()
    count = 0
    for root in sorted(folder.iterdir()):
        # a symlink is an alias of a run registered under its own name (deleting the alias must not
        # reach the run): never registered
        if root.name in known or root.is_symlink() or not root.is_dir() or not (root / "config.json").is_file():
            continue
        try:
            register_folder(store, RunPaths(root))
        except FghashError as exc:
            log.debug("not registering %s: %s", root, exc)
            continue
        count += 1
    return count


def register_folder(store: RunStore, paths: RunPaths) -> None:
    """Add one run folder to the store with its inferred status, creation time, metrics and mAPs."""
    text = read_regular(paths.config, what="config", limit=MAX_JSON_BYTES, error=FghashError).decode("utf-8",
                                                                                                     "replace")
    cfg = TrainConfig.from_json(text, complete=True)  # ConfigError (a FghashError) for a foreign or damaged config
    store.add_run(paths.run_id, paths.root, cfg.to_json(), created=paths.config.stat().st_mtime,
                  status=_status(paths, cfg))
    maps = []
    for record in paths.read_metrics():
        epoch = record.get("epoch")
        if not isinstance(epoch, int) or isinstance(epoch, bool):
            continue
        values = {k: float(v) for k, v in record.items()
                  if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}
        store.log_metrics(paths.run_id, epoch, values)
        if "map_all" in values:
            maps.append(values["map_all"])
    if maps:
        store.set_maps(paths.run_id, maps[-1])  # the final evaluation: the number a run reports
    checkpoint = paths.last_checkpoint()
    if checkpoint is not None:
        store.set_artifact(paths.run_id, "checkpoint", checkpoint)
    for split in SPLIT_NAMES:
        if codes_path(paths, split).is_file():
            store.set_artifact(paths.run_id, f"{split}_codes", codes_path(paths, split))
    if paths.metrics.is_file():
        store.set_artifact(paths.run_id, "metrics", paths.metrics)
    _register_study_cell(store, paths)


def _register_study_cell(store: RunStore, paths: RunPaths) -> None:
    """The run's study tag (study-cell.json), if it is a cell of a study; a damaged tag file is ignored
    (the run stays a plain run, `fghash study run` then trains that cell again)."""
    if not paths.study_cell.is_file():
        return
    try:
        tag = json.loads(read_regular(paths.study_cell, what="study tag", limit=MAX_JSON_BYTES,
                                      error=FghashError))
        store.tag_cell(paths.run_id, str(tag["study_id"]), str(tag["cell_key"]), str(tag["config_hash"]),
                       float(tag["tagged"]))
    except (FghashError, ValueError, KeyError, TypeError) as exc:
        log.debug("ignoring the study tag of %s: %s", paths.root, exc)


def _status(paths: RunPaths, cfg: TrainConfig) -> str:
    if is_held(paths.root):
        return "running"
    checkpoint = paths.last_checkpoint()
    epoch = int(_EPOCH.search(checkpoint.name).group(1)) if checkpoint is not None else 0
    if all(codes_path(paths, split).is_file() for split in SPLIT_NAMES):
        return "finished" if epoch >= cfg.epochs else "cancelled"
    return "interrupted" if epoch else "created"
