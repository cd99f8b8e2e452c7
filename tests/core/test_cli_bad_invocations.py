"""Every bad invocation of issue 16 through the CLI: exit code 2, exactly one line on stderr, no traceback.

One tiny ADSH run is trained per module (demo data, ResNet-18 from random init, 32 px, 1 epoch, as in
test_file_validation.py); each case hard-links it into its own FGHASH_HOME, applies its fault (a damaged
file, a read-only folder, a full disk, all simulated in-process) and runs `core.cli.main` in-process.
The smaller items of the issue follow the table: SIGTERM, control characters in tables, file modes.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from tiny_run import linked_copy, trained_once  # pytest puts tests/core on sys.path

from core import engine
from core.base.atomic import atomic_write_text
from core.cli import main
from core.runs.paths import RunPaths
from core.search.codes import load_codes

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> RunPaths:
    with trained_once(tmp_path_factory, "bad_invocations_home") as (paths, _home, _cfg):
        pass
    return paths


@pytest.fixture
def run(trained, fghash_home) -> RunPaths:
    """A hard-linked copy of the trained run in this test's FGHASH_HOME, registered in its store."""
    with linked_copy(trained, fghash_home) as copy:
        yield copy


def _read_only(run: RunPaths, monkeypatch) -> None:
    """Make the run folder behave like a read-only mount: opening a file in it for writing fails with
    EROFS (errno 30). Simulated, since root (which runs CI here) may write through chmod a-w."""
    real_open = os.open
    root = str(run.root)
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def guarded(path, flags, *args, **kwargs):
        if flags & writing and os.fspath(path).startswith(root):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded)


def _nested_config(run: RunPaths, monkeypatch) -> None:
    run.config.unlink()  # never write through the hard link shared with the pristine run
    run.config.write_text("[" * 200_000 + "]" * 200_000)


def _store_disk_full(run: RunPaths, monkeypatch) -> None:
    for store_file in run.root.parents[1].glob("runs.sqlite*"):
        store_file.unlink()

    def full(path, *args, **kwargs):  # SQLite creates the file, then cannot write its first page
        Path(path).touch()
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(sqlite3, "connect", full)


def _fifo(run: RunPaths, monkeypatch) -> None:
    os.mkfifo(run.root.parent / "pipe.jpg")


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]  # {run}, {image}, {home} are filled in
    expect: str  # regex the stderr line must match
    fault: Callable[[RunPaths, pytest.MonkeyPatch], None] | None = None


TINY = ("--dataset", "demo", "--method", "adsh", "--backbone", "resnet18", "--weights", "none", "--image-size", "32",
        "--epochs", "1", "--device", "cpu")
CASES = [
    Case("k-zero", ("query", "{run}", "0", "-k", "0"), r"argument -k: must be >= 1; got 0"),
    Case("k-negative", ("query", "{run}", "0", "-k", "-1"), r"argument -k: must be >= 1; got -1"),
    Case("index-past-end", ("query", "{run}", "160"), r"test-split index 160 is out of range: .* 0\.\.159"),
    Case("index-negative", ("query", "{run}", "-1"), r"test-split index -1 is out of range"),
    Case("ks-zero", ("eval", "{run}", "--ks", "0"), r"argument --ks: must be >= 1; got 0"),
    Case("eval-device-bogus", ("eval", "{run}", "--device", "bogus"), r"argument --device: invalid choice: 'bogus'"),
    Case("explain-device-bogus", ("explain", "{run}", "{image}", "--device", "bogus", "-o", "{home}/x.png"),
         r"device must be auto, cpu or cuda; got 'bogus'"),
    Case("train-device-bogus", ("train", *TINY, "--device", "bogus"), r"argument --device: invalid choice"),
    Case("num-workers-negative", ("train", *TINY, "--num-workers", "-1"), r"num_workers must be >= 0"),
    Case("glob-double-star", ("index", "**"), r"no run '\*\*'"),
    Case("glob-star", ("query", "*", "0"), r"no run '\*'"),
    Case("glob-question", ("eval", "2???????"), r"no run '2\?\?\?\?\?\?\?'"),
    Case("glob-class", ("index", "[0-9]*"), r"no run '\[0-9\]\*'"),
    Case("read-only-index", ("index", "{run}"), r"cannot write .*index\.faiss: Read-only file system", _read_only),
    Case("read-only-resume", ("train", "--resume", "{run}"),
         r"cannot train run .*: cannot write .*\.lock \(Read-only file system\)", _read_only),
    Case("image-size-huge", ("train", *TINY, "--image-size", "10000"),
         r"image_size must be <= 1024 and resize_size <= 2048 pixels; got 10000/"),
    Case("config-nested", ("query", "{run}", "0"), r"config\.json: config JSON is nested too deeply", _nested_config),
    Case("store-disk-full", ("runs", "list"), r"the disk is full: could not write the run store", _store_disk_full),
    Case("bits-empty", ("train", *TINY, "--bits", ""),
         r"--bits must be (distinct )?comma-separated integers .*; got ''"),
    Case("bits-commas", ("train", *TINY, "--bits", ","),
         r"--bits must be (distinct )?comma-separated integers .*; got ','"),
    Case("weights-directory", ("train", *TINY, "--weights", "{home}"),
         r"weights file .* is a directory, not a file"),
    Case("query-dev-zero", ("query", "{run}", "/dev/zero"),
         r"image /dev/zero is not a regular file \(it is a character"),
    Case("query-fifo", ("query", "{run}", "{home}/runs/pipe.jpg"),
         r"pipe\.jpg is not a regular file \(it is a FIFO", _fifo),
    Case("explain-deep-output", ("explain", "{run}", "{image}", "-o", "{home}/no/such/x.png"),
         r"--output folder .*/no does not exist: fghash explain creates only the output file's own folder"),
]
if torch.cuda.is_available():
    CASES = [c for c in CASES if "cuda" not in c.name]
else:
    CASES += [Case("eval-cuda-without-gpu", ("eval", "{run}", "--device", "cuda"), r"torch sees no CUDA GPU"),
              Case("train-cuda-without-gpu", ("train", *TINY, "--device", "cuda"), r"torch sees no CUDA GPU")]


def _run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse usage errors exit from inside parse_args
        return int(exc.code)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_invocation_is_one_line_exit_2(case, run, fghash_home, monkeypatch, capsys):
    if case.name == "query-dev-zero" and not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    if case.name == "query-fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs")
    image = load_codes(run, "query").paths[0]
    argv = [a.format(run=run.run_id, image=image, home=fghash_home) for a in case.argv]
    if case.fault is not None:
        case.fault(run, monkeypatch)
    capsys.readouterr()
    rc = _run_cli(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    assert re.search(case.expect, err), err


def test_sigterm_is_handled_like_ctrl_c(fghash_home, monkeypatch, capsys):
    """SIGTERM during training: the run is recorded as interrupted, one message, exit code 143."""
    from core.base.events import BatchEnd

    real_train = engine.train

    def train_then_terminate(cfg, **kwargs):
        for event in real_train(cfg, **kwargs):
            yield event
            if isinstance(event, BatchEnd):
                os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(engine, "train", train_then_terminate)
    before = signal.getsignal(signal.SIGTERM)
    rc = main(["train", *TINY, "--bits", "12", "--preset", "quick", "--num-samples", "32", "--inner-epochs", "1"])
    err = capsys.readouterr().err
    assert rc == 143 and err.rstrip().endswith("fghash: terminated (SIGTERM)"), err
    (record,) = engine.list_runs()
    assert record.status == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is before  # the CLI's handler is gone after main()


def test_control_characters_in_names_cannot_fake_table_lines(run, fghash_home, capsys):
    fake = "\n   1    0       0  +  00_fake                  fake-line.jpg\x1b[2K"
    image = fghash_home / f"query{fake}.jpg"
    shutil.copyfile(load_codes(run, "query").paths[0], image)
    assert main(["query", run.run_id, str(image), "-k", "3"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 2 + 3  # header line, column titles, 3 hits
    assert "\\n   1    0" in lines[0] and "\\x1b[2K" in lines[0] and "\x1b" not in out
    assert not any("fake-line.jpg" in line for line in lines[1:])


def test_written_files_get_the_users_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0666 less the umask, not mkstemp's 0600


def test_explain_creates_only_its_own_output_folder(run, fghash_home, capsys):
    image = load_codes(run, "query").paths[0]
    target = fghash_home / "new" / "x.png"
    assert main(["explain", run.run_id, image, "--overlay-only", "-o", str(target)]) == 0
    assert target.is_file()
