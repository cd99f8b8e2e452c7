"""Bounded reads (issue 16): every user-given file must be a regular file under a stated size cap; a FIFO
or a device is refused without blocking or reading it (core/base/safe_read.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from PIL import Image

from core.base.errors import ConfigError, ImageDecodeError, RunError, WeightsError
from core.base.safe_read import MAX_IMAGE_BYTES_ENV, human_bytes, read_regular
from core.config.train_config import TrainConfig
from core.data.images import load_rgb
from core.models.backbones import load_weights_file
from core.search.index import read_index_header

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "f.jpg"
    os.mkfifo(path)  # no writer: a plain open() for reading would block for ever
    return path


def _readers():
    """(name, call(path), error type) for each kind of user-given file."""
    return [
        ("image", lambda p: load_rgb(p), ImageDecodeError),
        ("weights", lambda p: load_weights_file(p), WeightsError),
        ("config", lambda p: TrainConfig.load(p), ConfigError),
        ("index", lambda p: read_index_header(p), RunError),
    ]


@needs_fifo
@pytest.mark.timeout(20)
@pytest.mark.parametrize("name,read,error", _readers(), ids=[r[0] for r in _readers()])
def test_fifo_is_refused_without_blocking(fifo, name, read, error):
    target = fifo.with_suffix(".pth") if name == "weights" else fifo
    if target != fifo:
        fifo.rename(target)
    with pytest.raises(error, match=r"is not a regular file \(it is a FIFO \(named pipe\)\)") as info:
        read(target)
    assert "\n" not in str(info.value)


@pytest.mark.timeout(20)
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.parametrize("name,read,error", _readers(), ids=[r[0] for r in _readers()])
def test_device_is_refused_without_reading(name, read, error):
    with pytest.raises(error, match=r"/dev/zero is not a regular file \(it is a character device\)"):
        read("/dev/zero")


def test_directory_says_it_is_a_directory(tmp_path):
    with pytest.raises(WeightsError, match=r"is a directory, not a file; expected a \.safetensors"):
        load_weights_file(tmp_path)
    with pytest.raises(ImageDecodeError, match="is a directory"):
        load_rgb(tmp_path)


def test_image_size_cap_is_stated_and_overridable(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (64, 64), (200, 10, 10)).save(path)
    size = path.stat().st_size
    monkeypatch.setenv(MAX_IMAGE_BYTES_ENV, str(size - 1))
    with pytest.raises(ImageDecodeError, match=re.escape(f"over the {human_bytes(size - 1)} limit for image files; "
                                                         f"set {MAX_IMAGE_BYTES_ENV}")):
        load_rgb(path)
    monkeypatch.setenv(MAX_IMAGE_BYTES_ENV, str(size))
    assert load_rgb(path).size == (64, 64)
    monkeypatch.setenv(MAX_IMAGE_BYTES_ENV, "lots")
    with pytest.raises(ConfigError, match=f"{MAX_IMAGE_BYTES_ENV} must be a positive number of bytes"):
        load_rgb(path)


def test_read_regular_caps_other_files(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\0" * 2048)
    assert read_regular(path, what="thing", limit=2048, error=RunError) == b"\0" * 2048
    with pytest.raises(RunError, match=r"thing .*x\.bin is 2 KB, over the 1023 bytes limit for thing files"):
        read_regular(path, what="thing", limit=1023, error=RunError)


def test_deeply_nested_config_is_one_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        TrainConfig.load(path)


@needs_fifo
@pytest.mark.timeout(20)
def test_codes_file_fifo_is_refused(tmp_path):
    from core.runs.paths import RunPaths
    from core.search.codes import load_codes

    run = RunPaths(tmp_path)
    run.codes.mkdir()
    os.mkfifo(run.codes / "query.npz")
    with pytest.raises(RunError, match="is not a regular file"):
        load_codes(run, "query")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_file_longer_than_its_stat_size_is_still_capped():
    """/proc files are regular but report size 0: the read goes on past fstat's size, up to the cap."""
    text = read_regular("/proc/self/status", what="status", limit=1 << 20, error=RunError)
    assert b"Umask:" in text
    with pytest.raises(RunError, match="grew past the 10 bytes limit for status files"):
        read_regular("/proc/self/status", what="status", limit=10, error=RunError)
