"""A training process killed with SIGKILL: the store says interrupted, every file still loads, resume finishes.

The training runs through the real CLI in a subprocess (tiny: ADSH, ResNet-18 from scratch, 32 px, 48
sampled images per outer iteration, one torch thread). It is killed twice: right after its first checkpoint
appears, and again a moment into the resumed run; the second resume runs to the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import engine
from core.runs.checkpoint import load_run_model
from core.runs.lock import RunLock, is_held
from core.runs.paths import RunPaths

EPOCHS = 4
TRAIN = ["train", "--dataset", "demo", "--method", "adsh", "--preset", "quick", "--bits", "12",
         "--backbone", "resnet18", "--weights", "none", "--image-size", "32", "--epochs", str(EPOCHS),
         "--num-samples", "48", "--inner-epochs", "1", "--batch-size", "16", "--device", "cpu", "--seed", "3"]


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "core.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).resolve().parents[2])


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"training exited early ({proc.returncode}):\n{proc.stdout.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("training made no progress in time")
        time.sleep(0.05)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _only_run(home: Path) -> RunPaths:
    runs = list((home / "runs").glob("*")) if (home / "runs").exists() else []
    return RunPaths(runs[0]) if len(runs) == 1 else None


def _checkpoint_epochs(paths: RunPaths) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in paths.checkpoints.glob("epoch-*.json"))


def _assert_intact(paths: RunPaths) -> None:
    """Everything in the folder of a killed run still reads: config, metrics, the newest checkpoint."""
    assert paths.load_config().epochs == EPOCHS
    assert all("epoch" in record for record in paths.read_metrics())
    model, cfg = load_run_model(paths)
    assert cfg.bits == 12 and model is not None
    assert paths.last_checkpoint() is not None


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_sigkill_then_resume_loses_at_most_the_epoch_in_progress(fghash_home) -> None:
    proc = _start(TRAIN)
    _wait_for(lambda: (p := _only_run(fghash_home)) is not None and _checkpoint_epochs(p), proc)
    _kill(proc)
    paths = _only_run(fghash_home)
    saved = _checkpoint_epochs(paths)
    (record,) = engine.list_runs()
    assert record.status == "interrupted"  # not "running" for ever, not "finished"
    assert not is_held(paths.root)
    _assert_intact(paths)

    # Resume, kill again a moment in (wherever it is: restoring, training, evaluating, saving) ...
    proc = _start(["train", "--resume", paths.run_id])
    # the resumed process takes the lock, then records "running" (an SQLite commit, ~25 ms later)
    _wait_for(lambda: is_held(paths.root) and engine.list_runs()[0].status == "running", proc)
    time.sleep(0.2)
    assert engine.list_runs()[0].status == "running"  # a live training is not mistaken for a dead one
    time.sleep(1.5)
    _kill(proc)
    assert engine.list_runs()[0].status == "interrupted"
    _assert_intact(paths)
    assert _checkpoint_epochs(paths)[-1] >= saved[-1]  # nothing saved before is lost

    # ... and resume to the end.
    proc = _start(["train", "--resume", paths.run_id])
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    (record,) = engine.list_runs()
    assert record.status == "finished" and record.final_map is not None
    assert _checkpoint_epochs(paths)[-1] == EPOCHS
    assert {r["epoch"] for r in paths.read_metrics()} == set(range(1, EPOCHS + 1))
    assert (paths.codes / "query.npz").exists() and (paths.codes / "database.npz").exists()


def test_a_run_being_trained_cannot_be_trained_twice(fghash_home, tmp_path) -> None:
    from core.base.errors import RunError

    with RunLock(tmp_path):
        assert is_held(tmp_path)
        with pytest.raises(RunError, match=f"pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
    assert not is_held(tmp_path)
