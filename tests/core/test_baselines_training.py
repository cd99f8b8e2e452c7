"""DPSH, HashNet and FISH end to end: a one-epoch run on the demo data at 32 px through the CLI that trains,
reports mAP against chance, evaluates (with the database encoding and the papers' figure), encodes and explains;
and a run interrupted after its first epoch resumes to exactly the uninterrupted result."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest
from test_training import _drain, _tiny  # pytest puts tests/core on sys.path

from core import engine
from core.base.events import CheckpointSaved, TrainFinished
from core.cli import main
from core.config.train_config import AdshOptions, HashNetOptions
from core.data.registry import load_dataset
from core.runs.paths import RunPaths
from core.search.codes import load_codes

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# options that keep one epoch to a few seconds on the CPU (the quick preset's otherwise)
FAST = {"dpsh": [], "hashnet": ["--batch-size", "8", "--hashnet-iterations-per-epoch", "3"],
        "fish": ["--num-samples", "32", "--inner-epochs", "1", "--batch-size", "16"]}
DATABASE = {"dpsh": "network codes (symmetric", "hashnet": "network codes (symmetric",
            "fish": "class proxy codes (asymmetric"}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dpsh", "hashnet", "fish"])
def test_cli_one_epoch_trains_evaluates_encodes_and_explains(method: str, capsys, tmp_path: Path) -> None:
    argv = ["train", "--method", method, "--dataset", "demo", "--preset", "quick", "--image-size", "32",
            "--epochs", "1", "--weights", "none", "--device", "cpu"] + FAST[method]
    assert main(argv) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("run id"))
    row = next(line for line in out.splitlines() if re.match(rf"\d{{8}}-\d{{6}}-{method}-demo-12b-\w+ ", line))
    assert "test mAP" in header and "chance" in header
    fields = row.split()
    assert fields[1] == "finished"
    test_map, chance = float(fields[2]), float(fields[4])
    assert 0 < test_map <= 100 and 0 < chance < 100

    assert main(["eval", "latest", "--ks", "10"]) == 0
    out = capsys.readouterr().out
    assert DATABASE[method] in out
    assert f"{method} on demo, 12 bits: " in out and f"reported in the paper: none (this run {test_map:.2f})" in out

    assert main(["encode", "latest", "--dataset", "demo", "--split", "test", "--out", str(tmp_path / "enc"),
                 "--device", "cpu"]) == 0
    image = load_dataset("demo").split("test")[0].path
    for kind in ("cam", "gradcam"):
        target = tmp_path / f"{kind}.png"
        assert main(["explain", "latest", str(image), "--kind", kind, "--device", "cpu", "-o", str(target)]) == 0
        assert target.stat().st_size > 0


def _config(method: str):
    if method == "hashnet":
        return _tiny(method, epochs=2, batch_size=8, hashnet=HashNetOptions(iterations_per_epoch=3))
    if method == "dpsh":
        return _tiny(method, epochs=2, batch_size=64)
    return _tiny(method, epochs=2, adsh=AdshOptions(num_samples=32, inner_epochs=1))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dpsh", "hashnet", "fish"])
def test_resume_after_an_interruption_equals_the_uninterrupted_run(method: str) -> None:
    cfg = _config(method)
    straight = _drain(engine.train(cfg))[-1]
    assert isinstance(straight, TrainFinished) and straight.status == "finished"

    cancel = threading.Event()

    def stop_after_epoch_1(event) -> None:
        if isinstance(event, CheckpointSaved) and event.epoch == 1:
            cancel.set()

    first = _drain(engine.train(cfg, cancel=cancel), stop_after_epoch_1)[-1]
    assert first.status == "cancelled"
    resumed = _drain(engine.train(None, resume=first.run_id))[-1]
    assert resumed.status == "finished" and resumed.final_map == straight.final_map
    a, b = RunPaths(Path(straight.run_dir)), RunPaths(Path(resumed.run_dir))
    for split in ("query", "database"):
        assert np.array_equal(load_codes(a, split).codes, load_codes(b, split).codes)
