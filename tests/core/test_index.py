"""Hamming index: exact top-k with the (distance, index) tie order, on codes with many ties; files."""

from __future__ import annotations

import numpy as np
import pytest

import core.search.index as index_mod
from core.base.errors import RunError
from core.search.index import HammingIndex, load_index, pack_padded, padded_bytes, read_index_header


def _brute_force(queries, database, k):
    """Distances via dot products, then a stable argsort: (distance, index) order."""
    bits = queries.shape[1]
    dist = (0.5 * (bits - queries @ database.T)).astype(np.int64)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, order, 1), order


def _codes(count, bits, seed):
    return np.random.default_rng(seed).choice([-1.0, 1.0], (count, bits))


@pytest.fixture(params=["one faiss call", "over-fetch"])
def tie_path(request, monkeypatch):
    """Both search paths: the plain faiss call (this faiss orders ties by index) and the over-fetch + sort
    used where it does not (or on a GPU)."""
    if request.param == "over-fetch":
        monkeypatch.setattr(index_mod, "faiss_orders_ties_by_index", lambda: False)
    else:
        assert index_mod.faiss_orders_ties_by_index()  # the faiss this project pins does
    return request.param


@pytest.mark.parametrize("bits,n,k", [(8, 3000, 10), (8, 3000, 700), (12, 5000, 100), (12, 400, 400),
                                      (48, 2000, 50), (64, 500, 7), (70, 300, 20), (4, 100, 1), (2, 5000, 5)])
def test_top_k_equals_brute_force_with_ties(bits, n, k, tie_path):
    database, queries = _codes(n, bits, 1), _codes(60, bits, 2)
    index = HammingIndex.from_codes(database, use_gpu=False)
    result = index.search(queries, k)
    want_d, want_i = _brute_force(queries, database, k)
    np.testing.assert_array_equal(result.distances, want_d)
    np.testing.assert_array_equal(result.indices, want_i)


def test_probe_sees_a_faiss_that_orders_ties_otherwise(monkeypatch):
    """A faiss whose top k breaks ties differently (here: reversed within each distance) fails the probe."""
    import faiss

    class Reversed(faiss.IndexBinaryFlat):
        def search(self, x, k):
            d, i = super().search(x, k)
            order = np.lexsort((-i, d), axis=-1)
            return np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)

    index_mod.faiss_orders_ties_by_index.cache_clear()
    monkeypatch.setattr(faiss, "IndexBinaryFlat", Reversed)
    try:
        assert not index_mod.faiss_orders_ties_by_index()
    finally:
        index_mod.faiss_orders_ties_by_index.cache_clear()


def test_huge_tie_groups_force_widening(monkeypatch):
    # 2-bit codes over 5000 items: every distance group holds ~1250 items, far beyond the first fetch.
    monkeypatch.setattr(index_mod, "faiss_orders_ties_by_index", lambda: False)  # the over-fetch path
    database, queries = _codes(5000, 2, 3), _codes(9, 2, 4)
    calls = []
    index = HammingIndex.from_codes(database, use_gpu=False)
    original = index._raw_search
    monkeypatch.setattr(index, "_raw_search", lambda q, k: calls.append(k) or original(q, k))
    result = index.search(queries, 5)
    want_d, want_i = _brute_force(queries, database, 5)
    np.testing.assert_array_equal(result.indices, want_i)
    np.testing.assert_array_equal(result.distances, want_d)
    assert len(calls) > 1  # the boundary group was incomplete at first and the index fetched more


def test_k_larger_than_database_and_empty_queries():
    database = _codes(30, 12, 5)
    index = HammingIndex.from_codes(database, use_gpu=False)
    result = index.search(_codes(3, 12, 6), 100)
    assert result.indices.shape == (3, 30)
    np.testing.assert_array_equal(result.indices, _brute_force(_codes(3, 12, 6), database, 30)[1])
    assert index.search(np.zeros((0, 12)), 5).indices.shape == (0, 5)


def test_add_appends_with_new_indices():
    first, second, queries = _codes(700, 12, 7), _codes(300, 12, 8), _codes(20, 12, 9)
    index = HammingIndex.from_codes(first, use_gpu=False)
    index.add(second)
    assert len(index) == 1000
    np.testing.assert_array_equal(index.search(queries, 64).indices,
                                  _brute_force(queries, np.vstack([first, second]), 64)[1])
    with pytest.raises(ValueError, match="bits"):
        index.add(_codes(2, 16, 0))


def test_packing_pads_to_64_bits():
    packed = pack_padded(_codes(5, 48, 0))
    assert packed.shape == (5, 8) and padded_bytes(48) == 8 and padded_bytes(65) == 16
    assert (packed[:, 6:] == 0).all()


def test_gpu_over_limit_falls_back_to_cpu(monkeypatch):
    # Pretend there is a GPU whose index only accepts k <= GPU_MAX_K; larger k must go to the CPU.
    database, queries = _codes(3000, 12, 10), _codes(5, 12, 11)
    index = HammingIndex.from_codes(database, use_gpu=False)
    seen = []

    class FakeGpu:
        def search(self, q, k):
            assert k <= index_mod.GPU_MAX_K
            seen.append(k)
            return index._cpu.search(q, k)

    index._use_gpu, index._gpu = True, FakeGpu()
    monkeypatch.setattr(index_mod, "GPU_MAX_K", 64)
    small = index.search(queries, 10)
    large = index.search(queries, 500)
    assert seen  # the small search went to the "GPU"
    np.testing.assert_array_equal(small.indices, _brute_force(queries, database, 10)[1])
    np.testing.assert_array_equal(large.indices, _brute_force(queries, database, 500)[1])


@pytest.mark.skipif(not index_mod.gpu_available(), reason="no GPU visible to faiss on this machine")
def test_gpu_equals_cpu():
    database, queries = _codes(20000, 12, 12), _codes(200, 12, 13)
    cpu = HammingIndex.from_codes(database, use_gpu=False).search(queries, 100)
    gpu_index = HammingIndex.from_codes(database, use_gpu=True)
    assert gpu_index.backend == "gpu"
    gpu = gpu_index.search(queries, 100)
    np.testing.assert_array_equal(cpu.indices, gpu.indices)
    np.testing.assert_array_equal(cpu.distances, gpu.distances)
    big = gpu_index.search(queries[:3], 3000)  # above the GPU k limit: CPU fallback, same order
    np.testing.assert_array_equal(big.indices, _brute_force(queries[:3], database, 3000)[1])


def test_save_load_round_trip(tmp_path):
    database, queries = _codes(500, 48, 14), _codes(10, 48, 15)
    index = HammingIndex.from_codes(database, use_gpu=False)
    path = index.save(tmp_path / "index.faiss", source_checksum="abc")
    loaded, header = load_index(path, use_gpu=False)
    assert header["source_checksum"] == "abc" and header["bits"] == 48 and len(loaded) == 500
    np.testing.assert_array_equal(loaded.packed(), index.packed())
    np.testing.assert_array_equal(loaded.search(queries, 20).indices, index.search(queries, 20).indices)


def _damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) - 100])
    elif how == "bitflip":
        flipped = bytearray(data)
        flipped[-50] ^= 0x01
        path.write_bytes(bytes(flipped))
    elif how == "foreign":
        import faiss

        faiss.write_index_binary(faiss.IndexBinaryFlat(64), str(path))  # a plain faiss file, no header
    elif how == "header":
        path.write_bytes(index_mod.MAGIC + b"{not json\n" + data[data.index(b"\n", len(index_mod.MAGIC)) + 1:])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "header-only":
        path.write_bytes(data[: data.index(b"\n", len(index_mod.MAGIC))])


@pytest.mark.parametrize("how", ["truncated", "bitflip", "foreign", "header", "empty", "header-only"])
def test_damaged_index_gives_run_error_and_is_left_untouched(tmp_path, how):
    path = HammingIndex.from_codes(_codes(300, 48, 16), use_gpu=False).save(tmp_path / "index.faiss")
    _damage(path, how)
    before = path.read_bytes()
    with pytest.raises(RunError, match="index.faiss"):
        load_index(path, use_gpu=False)
    assert path.read_bytes() == before


def test_missing_index_names_the_file(tmp_path):
    with pytest.raises(RunError, match="index.faiss"):
        read_index_header(tmp_path / "index.faiss")


def test_add_stream_equals_add_and_keeps_only_whole_rows():
    rng = np.random.default_rng(5)
    packed = np.packbits(rng.integers(0, 2, (300, 12), dtype=np.uint8), axis=1)
    index = HammingIndex(12, use_gpu=False)
    index.add_packed(packed[:10])
    assert list(index.add_stream(iter([packed[10:100], packed[100:]]), 290)) == [90, 290]
    assert np.array_equal(index.packed(), HammingIndex.from_packed(packed, 12, use_gpu=False).packed())
    short = HammingIndex(12, use_gpu=False)
    with pytest.raises(ValueError, match="announced"):
        list(short.add_stream(iter([packed[:50]]), 60))
    assert len(short) == 50 and np.array_equal(short.packed(), HammingIndex.from_packed(packed[:50], 12).packed())
