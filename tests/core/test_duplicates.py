"""Byte-identical images across splits (issue 24): `datasets check --content` finds a test image that is a
copy of a training image under another name, with its count and examples, and training warns, naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from core.data.duplicates import HEAD_BYTES, find_cross_split_duplicates
from core.data.records import ImageRecord


def _png(path: Path, seed: int, size: int = 24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _folder_with_copy(root: Path) -> tuple[Path, Path]:
    """A folder dataset (2 classes x 3 train, 2 test) whose test/b/copy.png is train/a/a0.png renamed."""
    for label in ("a", "b"):
        for i in range(3):
            _png(root / "train" / label / f"{label}{i}.png", seed=10 * ord(label) + i)
        for i in range(2):
            _png(root / "test" / label / f"t{label}{i}.png", seed=1000 + 10 * ord(label) + i)
    copy = root / "test" / "b" / "copy.png"
    shutil.copyfile(root / "train" / "a" / "a0.png", copy)
    return copy, root / "train" / "a" / "a0.png"


def test_only_identical_bytes_count(tmp_path) -> None:
    """Same size but other bytes, and a shared first 64 KiB with another tail, are not duplicates."""
    head = bytes(range(256)) * (HEAD_BYTES // 256)
    files = {"t_big": head + b"A" * 100, "q_big": head + b"B" * 100, "t_x": b"x" * 50, "q_y": b"y" * 50,
             "t_same": b"same bytes", "q_same": b"same bytes", "t_big2": head + b"C" * 100, "q_big2": head + b"C" * 100}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    records = [ImageRecord(str(tmp_path / name), 0, "train" if name.startswith("t_") else "test") for name in files]
    found = find_cross_split_duplicates(records)
    assert found.pairs == ((str(tmp_path / "q_same"), str(tmp_path / "t_same")),
                           (str(tmp_path / "q_big2"), str(tmp_path / "t_big2")))
    assert found.checked == 4 and found.unreadable == 0
    assert found.summary().startswith("2 of 4 test (query) images are byte-identical")


def test_datasets_check_content_reports_the_copy(tmp_path, capsys) -> None:
    from core.cli import main

    copy, original = _folder_with_copy(tmp_path / "ds")
    assert main(["datasets", "check", str(tmp_path / "ds"), "--kind", "folder"]) == 0  # names differ: unseen
    capsys.readouterr()
    assert main(["datasets", "check", str(tmp_path / "ds"), "--kind", "folder", "--content"]) == 1
    out = capsys.readouterr().out
    assert "problem: 1 of 5 test (query) images are byte-identical copies of training (database) images" in out
    assert f"{copy} = {original}" in out
    copy.unlink()
    _png(copy, seed=4242)
    assert main(["datasets", "check", str(tmp_path / "ds"), "--kind", "folder", "--content"]) == 0
    assert "note: no test image is byte-identical to a training image (5 compared)" in capsys.readouterr().out


def test_training_warns_naming_the_check(tmp_path) -> None:
    from test_training import _tiny  # pytest puts tests/core on sys.path

    from core.base.events import Log
    from core.training.driver import train

    copy, _ = _folder_with_copy(tmp_path / "ds")
    events = train(_tiny("adsh", dataset_kind="folder", dataset_root=str(tmp_path / "ds"), batch_size=4))
    try:
        for event in events:
            if isinstance(event, Log) and event.message.startswith("training adsh"):
                break
        warning = next(events)
    finally:
        events.close()
    assert isinstance(warning, Log) and warning.level == "warning"
    assert "1 of 5 test (query) images are byte-identical" in warning.message
    assert str(copy) in warning.message and "`fghash datasets check --content` lists them" in warning.message
