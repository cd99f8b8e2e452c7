"""Faults while training: a full disk during a checkpoint save, CUDA out-of-memory in a step, a torn log line.

Each leaves the previous checkpoint valid, marks the run failed, and ends with a one-line FghashError that
says what to do (the CLI prints it without a traceback; the GUI shows it in a dialog).
"""

from __future__ import annotations

import errno
import pathlib

import pytest
import torch
from test_training import _tiny  # pytest puts tests/core on sys.path

from core import engine
from core.base.atomic import append_line
from core.base.errors import RunError
from core.cli import main
from core.runs.checkpoint import load_run_model
from core.runs.paths import RunPaths

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _disk_full(*_args):
    raise OSError(errno.ENOSPC, "No space left on device")


def _run_until_error(cfg):
    events = []
    with pytest.raises(RunError) as info:
        for event in engine.train(cfg):
            events.append(event)
    return info.value, events


def _the_run() -> RunPaths:
    (record,) = engine.list_runs()
    return engine.open_run(record.run_id)


@pytest.mark.parametrize("part", ["weights", "metadata"])
def test_disk_full_while_saving_keeps_the_previous_checkpoint(part, monkeypatch) -> None:
    import safetensors.torch

    real_save, real_write = safetensors.torch.save_file, pathlib.Path.write_bytes
    disk = {"full": True}

    def save_file(tensors, filename, *args, **kwargs):
        if disk["full"] and part == "weights" and ".epoch-0002." in filename:
            real_save(tensors, filename, *args, **kwargs)
            with open(filename, "r+b") as fh:  # half the file made it to disk, then the disk was full
                fh.truncate(pathlib.Path(filename).stat().st_size // 2)
            _disk_full()
        return real_save(tensors, filename, *args, **kwargs)

    def write_bytes(path, data):
        if disk["full"] and part == "metadata" and path.name.startswith(".epoch-0002.json"):
            _disk_full()
        return real_write(path, data)

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)
    monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)
    error, _ = _run_until_error(_tiny("adsh", epochs=3))

    paths = _the_run()
    assert "disk is full" in str(error) and str(paths.checkpoints) in str(error)
    assert engine.list_runs()[0].status == "failed"
    assert paths.last_checkpoint().name == "epoch-0001.safetensors"
    model, cfg = load_run_model(paths)  # the previous checkpoint is whole
    assert cfg.epochs == 3
    assert not list(paths.checkpoints.glob("*.tmp"))  # the torn temporary file was removed
    # after freeing space, the run resumes from that checkpoint and finishes
    disk["full"] = False
    finished = list(engine.train(None, resume=paths))[-1]
    assert finished.status == "finished" and paths.last_checkpoint().name == "epoch-0003.safetensors"


def test_cuda_out_of_memory_is_reported_with_a_suggestion(monkeypatch, capsys) -> None:
    """No GPU here: the step raises the error CUDA would. The first epoch completes, the second fails."""
    from core.training.methods.adsh import AdshMethod

    real_epoch = AdshMethod.train_epoch

    def train_epoch(self, epoch, cancel):
        if epoch == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return (yield from real_epoch(self, epoch, cancel))

    monkeypatch.setattr(AdshMethod, "train_epoch", train_epoch)
    error, events = _run_until_error(_tiny("adsh", epochs=3, batch_size=16, image_size=32))
    message = str(error)
    assert "ran out of memory at batch size 16 and image size 32" in message
    assert "--batch-size (e.g. 8)" in message and "--image-size" in message
    paths = _the_run()
    assert engine.list_runs()[0].status == "failed"
    assert paths.last_checkpoint().name == "epoch-0001.safetensors"
    load_run_model(paths)
    # the CLI: one line, exit code 2, no traceback
    code = main(["train", "--method", "adsh", "--preset", "quick", "--weights", "none", "--backbone", "resnet18",
                 "--image-size", "32", "--epochs", "2", "--num-samples", "32", "--inner-epochs", "1",
                 "--batch-size", "16", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("fghash: error: cpu ran out of memory at batch size 16")
    assert not any("Traceback" in line for line in err)


def test_a_log_line_torn_by_a_crash_does_not_swallow_the_next_one(tmp_path) -> None:
    paths = RunPaths(tmp_path)
    paths.append_metrics({"epoch": 1, "map": 0.5})
    with open(paths.metrics, "a") as fh:
        fh.write('{"format": 1, "epoch": 2, "ma')  # killed mid-write
    paths.append_metrics({"epoch": 2, "map": 0.6})
    append_line(paths.metrics, '{"epoch": 3}')
    assert [r["epoch"] for r in paths.read_metrics()] == [1, 2, 3]
