"""Saved codes: round trip, and every kind of damaged file gives a RunError naming it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.base.errors import RunError
from core.runs.paths import RunPaths
from core.search.codes import load_codes, save_codes


@pytest.fixture
def run(tmp_path):
    paths = RunPaths(tmp_path / "run")
    paths.codes.mkdir(parents=True)
    return paths


def _random(count=37, bits=12, seed=0):
    rng = np.random.default_rng(seed)
    codes = rng.choice([-1, 1], size=(count, bits))
    labels = rng.integers(0, 5, count)
    paths = [f"/data/img_{i}_é.jpg" for i in range(count)]
    return codes, labels, paths


@pytest.mark.parametrize("bits", [12, 48, 64, 7])
def test_round_trip(run, bits):
    codes, labels, paths = _random(bits=bits)
    save_codes(run, "database", torch.as_tensor(codes, dtype=torch.float32), torch.as_tensor(labels), paths)
    loaded = load_codes(run, "database")
    assert loaded.bits == bits
    np.testing.assert_array_equal(loaded.codes, codes)
    np.testing.assert_array_equal(loaded.labels, labels)
    assert loaded.labels.dtype == np.int64
    assert loaded.paths == tuple(paths)
    assert loaded.packed.shape == (len(codes), (bits + 7) // 8)


def test_empty_split_round_trips(run):
    save_codes(run, "query", np.zeros((0, 16)), np.zeros(0, dtype=int), [])
    loaded = load_codes(run, "query")
    assert len(loaded) == 0 and loaded.bits == 16


def test_rejects_non_binary_codes(run):
    codes, labels, paths = _random()
    codes = codes.astype(float)
    codes[0, 0] = 0.3
    with pytest.raises(ValueError, match="-1 and \\+1"):
        save_codes(run, "query", codes, labels, paths)
    assert not (run.codes / "query.npz").exists()


def test_missing_file_names_it(run):
    with pytest.raises(RunError, match="query.npz"):
        load_codes(run, "query")


def _damage_variants(path):
    data = path.read_bytes()
    yield "truncated", data[: len(data) // 2]
    yield "garbage", b"not a zip file at all" * 10
    flipped = bytearray(data)
    # Flip a byte inside the packed codes payload (the labels follow it): the checksum must catch it.
    flipped[len(flipped) // 3] ^= 0xFF
    yield "bitflip", bytes(flipped)


@pytest.mark.parametrize("variant", ["truncated", "garbage", "bitflip", "foreign", "version"])
def test_damaged_file_gives_run_error_and_is_left_alone(run, variant):
    codes, labels, paths = _random(count=200, bits=48)
    target = save_codes(run, "database", codes, labels, paths)
    if variant == "foreign":
        with open(target, "wb") as fh:
            np.savez(fh, something=np.arange(3))
    elif variant == "version":
        with np.load(target) as d:
            fields = dict(d)
        fields["format"] = np.int64(99)
        with open(target, "wb") as fh:
            np.savez(fh, **fields)
    else:
        target.write_bytes(dict(_damage_variants(target))[variant])
    before = target.read_bytes()
    with pytest.raises(RunError, match="database.npz"):
        load_codes(run, "database")
    assert target.read_bytes() == before
