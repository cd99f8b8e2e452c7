"""Run housekeeping behind the GUI's Runs tab: mAP history, delete, export."""

from __future__ import annotations

import os

import pytest

from core import engine
from core.base.errors import RunError
from core.config.train_config import TrainConfig
from core.runs.catalog import create_run
from core.runs.store import RunStore


def _make_run() -> str:
    with RunStore() as store:
        paths = create_run(TrainConfig(backbone="resnet18", weights="none"), store=store)
        store.log_metrics(paths.run_id, 3, {"map_all": 0.25})
    paths.append_metrics({"epoch": 1, "map_all": 0.1, "loss": 2.0})
    paths.append_metrics({"epoch": 2, "loss": 1.5})  # an epoch without evaluation
    paths.append_metrics({"epoch": 3, "map_all": 0.3})
    (paths.codes / "query.npz").write_bytes(b"codes")
    return paths.run_id


def test_map_history_reads_the_run_folder():
    run_id = _make_run()
    assert engine.map_history(run_id) == [(1, 0.1), (3, 0.3)]


def test_map_history_falls_back_to_the_store():
    run_id = _make_run()
    engine.open_run(run_id).metrics.unlink()
    assert engine.map_history(run_id) == [(3, 0.25)]


def test_export_copies_codes_config_and_metrics(tmp_path):
    run_id = _make_run()
    target = engine.export_run(run_id, tmp_path / "out")
    assert target == tmp_path / "out" / run_id
    assert (target / "codes" / "query.npz").read_bytes() == b"codes"
    assert TrainConfig.load(target / "config.json").backbone == "resnet18"
    assert (target / "metrics.jsonl").read_text().count("\n") == 3


def test_delete_removes_folder_and_store_entry():
    run_id = _make_run()
    root = engine.open_run(run_id).root
    engine.delete_run(run_id)
    assert not root.exists()
    assert run_id not in [r.run_id for r in engine.list_runs()]
    with pytest.raises(RunError):
        engine.open_run(run_id)


def test_a_folder_that_cannot_be_removed_is_a_clear_error(monkeypatch, capsys):
    """A folder rmtree cannot finish (a file held open elsewhere, a read-only mount) is reported in one line
    with what is left to do, not as a traceback."""
    from core.cli import main
    from core.runs import admin

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    run_id = _make_run()
    root = engine.open_run(run_id).root
    monkeypatch.setattr(admin.shutil, "rmtree", refuse)
    assert main(["runs", "delete", run_id]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"folder {root} could not be deleted completely" in err
    assert "Permission denied" in err and "remove what is left by hand" in err
    assert root.is_dir()


def test_delete_refuses_folders_outside_the_store(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "config.json").write_text(TrainConfig().to_json())
    with pytest.raises(RunError, match="not inside the run store"):
        engine.delete_run(str(outside))
    assert outside.exists()


def test_delete_refuses_a_run_in_training(capsys):
    """Issue 16: deleting a run whose training lock is held would kill its trainer mid-write."""
    from core.cli import main
    from core.runs.lock import RunLock

    run_id = _make_run()
    root = engine.open_run(run_id).root
    with RunLock(root):  # a second open of the lock conflicts even in this process (flock semantics)
        with pytest.raises(RunError, match=rf"run {run_id} is being trained by process {os.getpid()}; stop"):
            engine.delete_run(run_id)
        assert main(["runs", "delete", run_id]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is being trained by process" in err
        assert root.is_dir() and run_id in [r.run_id for r in engine.list_runs()]
    assert main(["runs", "delete", run_id]) == 0
    assert not root.exists()


def test_runs_without_a_subcommand_lists_the_runs(capsys):
    from core.cli import main

    assert main(["runs"]) == 0
    assert "no runs yet" in capsys.readouterr().out
    run_id = _make_run()
    assert main(["runs"]) == 0 and main(["runs", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sum(run_id in line for line in out) == 2  # the same listing both ways
