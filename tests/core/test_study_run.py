"""`fghash study run` end to end on tiny cells: every cell once, a rerun trains none, a changed cell is
refused unless asked, a killed cell resumes its own run, Ctrl-C stops cleanly, the child-process and the
submitit-local executors, and the store's study tags rebuilt from the run folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import engine
from core.base.errors import ConfigError
from core.cli import main as cli_main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]
ROOT = Path(__file__).resolve().parents[2]


def _study(tmp_path: Path, methods=("adsh", "fcaenet"), seeds=(0, 1), epochs: int = 1, study_id: str = "tiny",
           samples: int = 32) -> Path:
    text = f"""
id = "{study_id}"
preset = "quick"
bits = [12]
seeds = {list(seeds)}
[options]
backbone = "resnet18"
weights = "none"
image_size = 32
resize_size = 36
batch_size = 16
lr = 0.02
epochs = {epochs}
eval_every = 1
device = "cpu"
num_workers = 0
adsh.num_samples = {samples}
adsh.inner_epochs = 1
fcae.srem_regions = 10
fcae.srem_size = 8
[[datasets]]
kind = "demo"
""" + "".join(f'[[methods]]\nmethod = "{m}"\n' for m in methods)
    path = tmp_path / f"{study_id}.toml"
    path.write_text(text)
    return path


def _run(path, **options):
    events = []
    gen = engine.run_study(path, **options)
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def _ended(events):
    return [e for e in events if isinstance(e, engine.CellEnded)]


def test_every_cell_once_then_none_then_changed_cells_only_when_asked(tmp_path, fghash_home, capsys):
    path = _study(tmp_path)
    events, summary = _run(path)
    assert [e.state for e in _ended(events)] == ["finished"] * 4
    _spec, states = engine.study_status("tiny")
    assert [s.state for s in states] == ["finished"] * 4 and all(s.final_map is not None for s in states)
    runs_before = {r.run_id for r in engine.list_runs()}
    assert len(runs_before) == 4

    events, summary = _run(path)  # the second run trains nothing
    assert summary.plan.to_run == () and summary.plan.finished == 4 and not _ended(events)

    path.write_text(path.read_text().replace('method = "fcaenet"\n', 'method = "fcaenet"\noptions.lr = 0.01\n'))
    with pytest.raises(ConfigError, match=r"the config of cell demo\|fcaenet\|12b\|seed0 and 1 more changed"):
        _run(path)
    assert engine.study_status(path)[1][2].state == "changed"
    events, summary = _run(path, rerun_changed=True)
    assert [e.key for e in _ended(events)] == ["demo|fcaenet|12b|seed0", "demo|fcaenet|12b|seed1"]
    runs_after = {r.run_id for r in engine.list_runs()}
    assert runs_before < runs_after and len(runs_after) == 6  # the old runs are kept, never overwritten

    # the store is an index: its study tags come back from the run folders
    for suffix in ("", "-wal", "-shm"):
        Path(f"{fghash_home / 'runs.sqlite'}{suffix}").unlink(missing_ok=True)
    engine.list_runs()  # registers the run folders the store lacks, study tags included
    assert [s.state for s in engine.study_status("tiny")[1]] == ["finished"] * 4

    assert cli_main(["study", "table", "tiny", "--format", "latex", "--significance", "fcaenet"]) == 0
    out = capsys.readouterr().out
    assert r"\begin{tabular}" in out and "Paired tests of fcaenet" in out and "Wilcoxon" in out
    assert cli_main(["study", "status", "tiny"]) == 0
    assert "4 finished" in capsys.readouterr().out
    assert cli_main(["figure", "bits", "tiny", "-o", str(tmp_path / "bits.png")]) == 0
    assert (tmp_path / "bits.png").stat().st_size > 1000


def _cli(args, home: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "FGHASH_HOME": str(home),
           "PYTHONPATH": str(ROOT)}
    # Ctrl-C must reach the CLI as in a terminal: a test session started in the background by a shell (`cmd &`)
    # ignores SIGINT, and a child would inherit that
    return subprocess.Popen([sys.executable, "-m", "core.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_checkpoint(home: Path, proc: subprocess.Popen, timeout: float = 240) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted((home / "runs").glob("*/checkpoints/epoch-*.json")) if (home / "runs").exists() else []
        if found:
            return found[0].parents[1]
        if proc.poll() is not None:
            pytest.fail(f"study run exited early ({proc.returncode}):\n{proc.stdout.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no checkpoint in time")


@pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")
def test_killed_mid_cell_resumes_that_run_and_finishes_the_rest(tmp_path, fghash_home):
    path = _study(tmp_path, methods=("adsh",), epochs=2)
    proc = _cli(["study", "run", str(path)], fghash_home)
    run_dir = _wait_for_checkpoint(fghash_home, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    states = engine.study_status("tiny")[1]
    assert [s.state for s in states] == ["interrupted", "pending"]
    events, summary = _run(path)
    assert summary.plan.resuming == {"demo|adsh|12b|seed0"}
    assert [e.state for e in _ended(events)] == ["finished", "finished"]
    assert _ended(events)[0].run_id == run_dir.name  # the same run, continued from its checkpoint
    assert len(engine.list_runs()) == 2


@pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")
def test_ctrl_c_stops_cleanly(tmp_path, fghash_home):
    # long enough (the cell is stopped after its first epoch) that Ctrl-C always lands inside it: 3 epochs took
    # 2.4 s on an idle machine, and the cell could finish before the signal arrived
    path = _study(tmp_path, methods=("adsh",), seeds=(0,), epochs=50)
    proc = _cli(["study", "run", str(path)], fghash_home)
    _wait_for_checkpoint(fghash_home, proc)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "stopped during cell demo|adsh|12b|seed0" in out and "Traceback" not in out
    assert engine.study_status("tiny")[1][0].state == "interrupted"


def test_submitit_local_runs_the_cell_through_submitit(tmp_path, fghash_home, monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    path = _study(tmp_path, methods=("adsh",), seeds=(0,), samples=16)
    events, summary = _run(path, executor="submitit-local")
    assert [e.state for e in _ended(events)] == ["finished"], _ended(events)
    assert any(isinstance(e, engine.StudySubmitted) for e in events)
    jobs = json.loads((fghash_home / "studies" / "tiny" / "jobs.json").read_text())
    assert set(jobs) == {"demo|adsh|12b|seed0"} and jobs["demo|adsh|12b|seed0"]["cluster"] == "local"
    events, summary = _run(path, executor="submitit-local")  # finished: nothing submitted again
    assert summary.plan.to_run == () and not summary.submitted


def test_local_max_parallel_trains_cells_in_child_processes(tmp_path, fghash_home, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    path = _study(tmp_path, methods=("adsh",), samples=16)
    events, summary = _run(path, executor="local", max_parallel=2)
    assert sorted(e.state for e in _ended(events)) == ["finished", "finished"], _ended(events)
    assert len(list((fghash_home / "studies" / "tiny" / "logs").glob("*.log"))) == 2
