"""The run store rebuilds itself from the run folders (issue 16): a corrupt or missing runs.sqlite, run
folders the store lacks, a full disk while creating it, and `latest` by creation time."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import engine
from core.base.errors import RunError
from core.cli import main
from core.config.train_config import TrainConfig
from core.runs.catalog import create_run, resolve_run
from core.runs.paths import RunPaths, runs_dir
from core.runs.store import RunStore

REPO = Path(__file__).resolve().parents[2]


def _finished_run(epochs: int = 3) -> RunPaths:
    """A run folder as training leaves it (files faked, no training): config, metrics, checkpoints, codes."""
    cfg = TrainConfig(method="adsh", backbone="resnet18", weights="none", epochs=epochs)
    with RunStore() as store:
        paths = create_run(cfg, store=store)
        store.set_status(paths.run_id, "finished")
    for epoch in range(1, epochs + 1):
        paths.append_metrics({"epoch": epoch, "loss": 1.0 / epoch, "map_all": 0.1 * epoch})
    for suffix in (".safetensors", ".json"):
        (paths.checkpoints / f"epoch-{epochs:04d}{suffix}").write_bytes(b"x")
    for split in ("query", "database"):
        (paths.codes / f"{split}.npz").write_bytes(b"x")
    return paths


def test_corrupt_store_is_moved_aside_and_rebuilt(fghash_home, caplog):
    done = _finished_run()
    begun = create_run(TrainConfig(backbone="resnet18", weights="none"))  # no checkpoint yet
    store_file = fghash_home / "runs.sqlite"
    for side in fghash_home.glob("runs.sqlite-*"):
        side.unlink()
    store_file.write_bytes(os.urandom(4096))
    with caplog.at_level(logging.WARNING, logger="fghash"):
        runs = {r.run_id: r for r in engine.list_runs()}
    (aside,) = fghash_home.glob("runs.sqlite.corrupt-*")
    assert len(aside.read_bytes()) == 4096  # the bad file is kept, for whoever wants to look at it
    assert f"moved it to {aside}" in caplog.text and "rebuilt it from 2 run folder(s)" in caplog.text
    assert runs[done.run_id].status == "finished" and runs[begun.run_id].status == "created"
    assert runs[done.run_id].final_map == pytest.approx(0.3)  # the last evaluation's mAP@all
    with RunStore() as store:
        assert [v for _, v in store.metric_history(done.run_id, "map_all")] == pytest.approx([0.1, 0.2, 0.3])
        assert store.artifacts(done.run_id)["query_codes"].endswith("query.npz")
        store.set_status(begun.run_id, "running")  # the rebuilt store takes writes (training goes on)


def test_cli_goes_on_after_rebuilding_and_says_where(fghash_home, capsys):
    done = _finished_run()
    (fghash_home / "runs.sqlite").write_bytes(b"SQLite format 3\x00" + os.urandom(2000))
    for side in fghash_home.glob("runs.sqlite-*"):
        side.unlink()
    assert main(["runs", "list"]) == 0
    out, err = capsys.readouterr()
    assert done.run_id in out
    assert err.startswith("fghash: warning: the run store") and "runs.sqlite.corrupt-" in err
    assert err.count("\n") == 1


def test_missing_store_and_hand_copied_folders_are_picked_up(fghash_home):
    done = _finished_run()
    shutil.copytree(done.root, runs_dir() / "copied-by-hand")
    assert {r.run_id for r in engine.list_runs()} == {done.run_id, "copied-by-hand"}
    for store_file in fghash_home.glob("runs.sqlite*"):
        store_file.unlink()
    assert {r.run_id: r.status for r in engine.list_runs()} == {done.run_id: "finished", "copied-by-hand": "finished"}


def test_folders_without_a_valid_config_are_not_runs(fghash_home):
    (runs_dir() / "junk").mkdir(parents=True)
    (runs_dir() / "junk" / "config.json").write_text("{")
    (runs_dir() / "empty").mkdir()
    assert engine.list_runs() == []


def test_latest_is_the_newest_by_creation_time_not_by_name(fghash_home):
    older = _finished_run()
    hand_made = runs_dir() / "ZZZ"
    hand_made.mkdir()
    (hand_made / "config.json").write_text(older.config.read_text())
    an_hour_ago = time.time() - 3600
    os.utime(hand_made / "config.json", (an_hour_ago, an_hour_ago))
    newer = _finished_run()
    assert resolve_run("latest").run_id == newer.run_id
    with RunStore() as store:
        store.delete(newer.run_id)  # gone from the store: found again from its folder, still the newest
    assert resolve_run("latest").run_id == newer.run_id


def test_run_ids_are_matched_literally():
    run = _finished_run()
    for pattern in ("**", "*", "?" * 5, "[0-9]*"):
        with pytest.raises(RunError, match="no run"):
            resolve_run(pattern)
    assert resolve_run(run.run_id[:10]).run_id == run.run_id


def test_disk_full_while_creating_the_store_leaves_no_empty_file(tmp_path, monkeypatch):
    import sqlite3

    def full(path, *args, **kwargs):  # SQLite creates the file, then cannot write its first page
        Path(path).touch()
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(sqlite3, "connect", full)
    with pytest.raises(RunError, match=r"^the disk is full: could not write the run store .*runs\.sqlite; free"):
        RunStore(tmp_path / "runs.sqlite")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform != "linux", reason="uses RLIMIT_FSIZE as on Linux")
def test_no_writable_bytes_for_the_store_is_one_line_and_no_empty_store(tmp_path):
    """A real write failure: the process may not write a single byte to any file (RLIMIT_FSIZE 0)."""
    # core.runs.store alone (not the CLI, whose torch import takes ~15 s here); main() prints the same error
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0)); from core.runs.store import RunStore\n"
            "try:\n    RunStore()\nexcept Exception as exc:\n    print(f'fghash: error: {exc}', file=sys.stderr); "
            "sys.exit(2)")
    env = {**os.environ, "FGHASH_HOME": str(tmp_path), "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("fghash: error: cannot open the run store")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs.sqlite").exists()
