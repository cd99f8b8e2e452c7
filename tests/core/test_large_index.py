"""Collection-scale search (core.search.large_index): code files streamed chunk by chunk, sharded exact search equal
to the unsharded one (ties included), and the IVF index's recall measured against the exact search."""

from __future__ import annotations

import numpy as np
import pytest
from test_training import events_and_result  # pytest puts tests/core on sys.path

from core.base.events import Progress
from core.search.index import HammingIndex, pad_packed
from core.search.large_index import (
    ApproximateHammingIndex,
    ShardedHammingIndex,
    approximate_from_code_file,
    code_file_shape,
    index_from_code_file,
    recall_at_k,
    stream_code_file,
    write_code_file,
)


def _clustered_packed(n: int, bits: int, clusters: int, seed: int = 0) -> np.ndarray:
    """Packed codes around a few centres, so that many codes tie (the hard case for exact ordering)."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2, (clusters, bits), dtype=np.uint8)
    codes = centres[rng.integers(0, clusters, n)]
    flips = rng.random((n, bits)) < 0.05
    return np.packbits(codes ^ flips, axis=1)


@pytest.fixture
def code_file(tmp_path):
    packed = _clustered_packed(5000, 12, clusters=8)
    path = write_code_file(tmp_path / "codes.npy", iter(np.array_split(packed, 7)), len(packed), bits=12)
    return path, packed


def test_code_file_round_trip_in_chunks(code_file):
    path, packed = code_file
    assert code_file_shape(path)[:2] == (5000, 8)
    chunks = list(stream_code_file(path, chunk_rows=1024))
    assert [len(c) for c in chunks] == [1024] * 4 + [904]
    assert all(type(c) is np.ndarray for c in chunks)  # copies, not views that keep the file mapped
    assert np.array_equal(np.concatenate(chunks), pad_packed(packed, 12))


def test_code_file_refuses_a_wrong_count(tmp_path):
    packed = _clustered_packed(10, 12, clusters=2)
    with pytest.raises(ValueError, match="announced"):
        write_code_file(tmp_path / "c.npy", iter([packed]), 11, bits=12)
    with pytest.raises(ValueError, match="more than"):
        write_code_file(tmp_path / "d.npy", iter([packed]), 9, bits=12)


@pytest.mark.parametrize("shards", [1, 3])
def test_streamed_and_sharded_index_equals_the_plain_index(code_file, shards):
    path, packed = code_file
    events, index = events_and_result(index_from_code_file(path, 12, shards=shards, chunk_rows=1000))
    assert events[0] == Progress("index", 0, 5000, None) and events[-1].done == 5000
    assert len(index) == 5000 and isinstance(index, ShardedHammingIndex) == (shards > 1)
    queries = _clustered_packed(50, 12, clusters=8, seed=1)
    plain = HammingIndex.from_packed(packed, 12).search_packed(queries, 100)
    ours = index.search_packed(queries, 100)
    # Equal, order included: (distance, global index) across shard borders, with heavy ties.
    assert np.array_equal(ours.distances, plain.distances) and np.array_equal(ours.indices, plain.indices)
    assert (np.diff(plain.distances, axis=1) == 0).mean() > 0.5  # the test really has ties


def test_code_file_of_another_length_is_refused(code_file):
    path, _ = code_file
    with pytest.raises(ValueError, match="128"):
        events_and_result(index_from_code_file(path, 128))


def test_ivf_recall_is_one_when_every_cell_is_scanned(code_file):
    path, packed = code_file
    _, approx = events_and_result(approximate_from_code_file(path, 12, nlist=16, nprobe=16, train_size=1000))
    queries = _clustered_packed(40, 12, clusters=8, seed=2)
    exact = HammingIndex.from_packed(packed, 12).search_packed(queries, 50)
    found = approx.search_packed(queries, 50)
    assert recall_at_k(found, exact, 50) == 1.0
    assert np.array_equal(found.distances, exact.distances)  # same distances; tie members may differ


def test_ivf_with_few_cells_scanned_finds_less():
    rng = np.random.default_rng(3)
    packed = np.packbits(rng.integers(0, 2, (20000, 64), dtype=np.uint8), axis=1)  # no structure: hard for IVF
    approx = ApproximateHammingIndex(64, nlist=64, nprobe=1)
    approx.train(packed[:64 * 40])
    approx.add_packed(packed)
    queries = np.packbits(rng.integers(0, 2, (30, 64), dtype=np.uint8), axis=1)
    exact = HammingIndex.from_packed(packed, 64).search_packed(queries, 10)
    recall_1 = recall_at_k(approx.search_packed(queries, 10), exact, 10)
    approx.nprobe = 64
    assert recall_1 < 0.9 and recall_at_k(approx.search_packed(queries, 10), exact, 10) == 1.0


def test_recall_counts_any_member_of_the_boundary_tie_group():
    from core.search.index import SearchResult

    exact = SearchResult(np.array([[1, 2, 2]], np.int32), np.array([[5, 7, 9]]))
    other_tie_member = SearchResult(np.array([[1, 2, 2]], np.int32), np.array([[5, 7, 11]]))
    worse = SearchResult(np.array([[1, 2, 3]], np.int32), np.array([[5, 7, 12]]))
    unfilled = SearchResult(np.array([[1, 2, 2147483647]], np.int32), np.array([[5, 7, -1]]))
    assert recall_at_k(other_tie_member, exact, 3) == 1.0
    assert recall_at_k(worse, exact, 3) == pytest.approx(2 / 3)
    assert recall_at_k(unfilled, exact, 3) == pytest.approx(2 / 3)
