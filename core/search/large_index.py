"""Hamming search at collection scale (10M-100M codes) on one machine.

- Code files: packed codes, one row per image padded to 64-bit words (`core.search.index.pad_packed`), stored as a
  plain `.npy` file. `stream_code_file` reads it through short-lived memory maps, one chunk at a time, so
  building an index holds the codes in RAM once (inside the index) plus one chunk, never twice.
- `index_from_code_file`: the exact `HammingIndex` (or a `ShardedHammingIndex`), built chunk by chunk
  with Progress events.
- `ShardedHammingIndex`: exact search over several shards of the database (one per GPU when faiss sees
  several); each shard answers its exact top-k in (distance, index) order and the results are merged by
  (distance, global index), so the answer equals the unsharded search's, ties included.
- `ApproximateHammingIndex`: faiss `IndexBinaryIVF` for interactive browsing: the database is split into
  `nlist` cells around binary centroids and a query scans only its `nprobe` nearest cells. Distances of the
  returned items are exact; which items are found is not, and `recall_at_k` measures it against the exact
  search (bench/index_scale.py prints it).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from core.base.events import Progress
from core.search.index import HammingIndex, SearchResult, pad_packed, padded_bytes, read_index_file, write_index_file

CHUNK_ROWS = 1 << 20  # codes per chunk while streaming a code file: 8 MB of 64-bit codes


def write_code_file(path: str | Path, chunks: Iterator[np.ndarray], count: int, bits: int) -> Path:
    """Write `count` packed codes, given as chunks of (m, ceil(bits/8) or padded) uint8 rows, to a .npy file
    of shape (count, padded_bytes(bits)). Written through a memory map, so no more than a chunk is in RAM."""
    path = Path(path)
    width = padded_bytes(bits)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(count, width))
    done = 0
    for chunk in chunks:
        rows = pad_packed(chunk, bits)
        if done + len(rows) > count:
            raise ValueError(f"more than the announced {count} codes")
        out[done:done + len(rows)] = rows
        done += len(rows)
    if done != count:
        raise ValueError(f"{done} codes written, {count} announced")
    out.flush()
    del out
    return path


def code_file_shape(path: str | Path) -> tuple[int, int, int]:
    """(rows, bytes per row, offset of the data) of a code file, from its .npy header alone."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(fh)
        offset = fh.tell()
    if dtype != np.uint8 or len(shape) != 2 or fortran or shape[1] % 8:
        raise ValueError(f"{path} is not a code file: expected a C-order (n, 8*w) uint8 array, got "
                         f"{dtype} {shape}")
    return int(shape[0]), int(shape[1]), offset


def stream_code_file(path: str | Path, chunk_rows: int = CHUNK_ROWS) -> Iterator[np.ndarray]:
    """The rows of a code file, chunk by chunk. Each chunk is a copy read through its own memory map, which
    is closed before the next is opened: the process never keeps more than one chunk's pages mapped."""
    return _rows(path, 0, code_file_shape(path)[0], chunk_rows)


def _rows(path: str | Path, lo: int, hi: int, chunk_rows: int) -> Iterator[np.ndarray]:
    _, width, offset = code_file_shape(path)
    for a in range(int(lo), int(hi), chunk_rows):
        b = min(int(hi), a + chunk_rows)
        view = np.memmap(path, dtype=np.uint8, mode="r", offset=offset + a * width, shape=(b - a, width))
        chunk = np.array(view)
        del view
        yield chunk


def _progress(phase: str, done: int, total: int, start: float) -> Progress:
    elapsed = time.perf_counter() - start
    return Progress(phase, done, total, elapsed / done * (total - done) if done else None)


class ShardedHammingIndex:
    """Exact top-k over database shards (consecutive row ranges), merged by (distance, global index)."""

    def __init__(self, shards: list[HammingIndex]):
        if not shards or len({s.bits for s in shards}) != 1:
            raise ValueError("shards must be a non-empty list of indexes of one code length")
        self.shards = shards
        self.bits = shards[0].bits
        self.offsets = np.cumsum([0] + [len(s) for s in shards])[:-1]

    def __len__(self) -> int:
        return int(sum(len(s) for s in self.shards))

    def search_packed(self, query_packed: np.ndarray, k: int) -> SearchResult:
        """Top-k of packed query codes over all shards, ordered by (distance, global database index)."""
        k = min(int(k), len(self))
        # faiss releases the GIL: the shards (one per GPU, or CPU slices) are searched at the same time.
        with ThreadPoolExecutor(len(self.shards)) as pool:
            parts = list(pool.map(lambda s: s.search_packed(query_packed, k), self.shards))
        distances = np.concatenate([p.distances for p in parts], axis=1)
        indices = np.concatenate([p.indices + off for p, off in zip(parts, self.offsets)], axis=1)
        order = np.lexsort((indices, distances), axis=-1)[:, :k]
        return SearchResult(np.take_along_axis(distances, order, 1), np.take_along_axis(indices, order, 1))


def index_from_code_file(path: str | Path, bits: int, shards: int = 1, use_gpu: bool | None = None,
                         chunk_rows: int = CHUNK_ROWS,
                         ) -> Generator[Progress, None, HammingIndex | ShardedHammingIndex]:
    """Exact index over a code file, streamed chunk by chunk; yields Progress("index", done, total).

    shards > 1 splits the rows into that many consecutive shards (shard i on GPU i when use_gpu)."""
    rows, width, _ = code_file_shape(path)
    if width != padded_bytes(bits):
        raise ValueError(f"{path} holds {8 * width}-bit rows; {bits}-bit codes need {8 * padded_bytes(bits)}")
    shards = max(1, min(int(shards), max(rows, 1)))
    bounds = np.linspace(0, rows, shards + 1).astype(np.int64)
    indexes = [HammingIndex(bits, use_gpu=use_gpu, gpu_device=i) for i in range(shards)]
    start = time.perf_counter()
    yield Progress("index", 0, rows, None)
    for s, index in enumerate(indexes):  # shard s holds rows bounds[s]:bounds[s+1], in one allocation
        for added in index.add_stream(_rows(path, bounds[s], bounds[s + 1], chunk_rows), bounds[s + 1] - bounds[s]):
            yield _progress("index", int(bounds[s]) + added, rows, start)
    return indexes[0] if shards == 1 else ShardedHammingIndex(indexes)


class ApproximateHammingIndex:
    """faiss IndexBinaryIVF: `nlist` cells; a search scans the `nprobe` cells nearest the query.

    Results are ordered by (distance, database index) among the items found; distances are exact."""

    def __init__(self, bits: int, nlist: int, nprobe: int = 8):
        import faiss

        self.bits = int(bits)
        self._quantizer = faiss.IndexBinaryFlat(8 * padded_bytes(self.bits))  # must outlive the IVF index
        self._ivf = faiss.IndexBinaryIVF(self._quantizer, 8 * padded_bytes(self.bits), int(nlist))
        self.nprobe = nprobe

    @classmethod
    def from_faiss(cls, ivf, bits: int) -> ApproximateHammingIndex:
        """Wrap a faiss IndexBinaryIVF read from a file (it owns its quantizer)."""
        index = cls.__new__(cls)
        index.bits, index._quantizer, index._ivf = int(bits), None, ivf
        return index

    @property
    def nprobe(self) -> int:
        return int(self._ivf.nprobe)

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        self._ivf.nprobe = max(1, min(int(value), int(self._ivf.nlist)))

    def __len__(self) -> int:
        return int(self._ivf.ntotal)

    def train(self, sample_packed: np.ndarray) -> None:
        """Learn the cell centroids from a sample of codes (at least 39 per cell, as faiss's k-means wants)."""
        self._ivf.train(np.ascontiguousarray(pad_packed(sample_packed, self.bits)))

    def add_packed(self, packed: np.ndarray) -> None:
        self._ivf.add(np.ascontiguousarray(pad_packed(packed, self.bits)))

    @property
    def nlist(self) -> int:
        return int(self._ivf.nlist)

    def save(self, path: str | Path, source_checksum: str = "", extra: dict | None = None) -> Path:
        """Write atomically in the format of `core.search.index` (header kind "ivf", nlist, nprobe and `extra`).
        source_checksum: the codes this index was built from (staleness check)."""
        fields = {**(extra or {}), "kind": "ivf", "nlist": self.nlist, "nprobe": self.nprobe}
        return write_index_file(path, self._ivf, self.bits, source_checksum, fields)

    def search_packed(self, query_packed: np.ndarray, k: int) -> SearchResult:
        """Top-k found in the nprobe scanned cells, ordered by (distance, index); slots the cells could not
        fill have index -1 and come last."""
        queries = np.ascontiguousarray(pad_packed(query_packed, self.bits))
        distances, indices = self._ivf.search(queries, int(k))
        # Slots the scanned cells could not fill come back as index -1 (distance: a large sentinel); order
        # found items by (distance, index) and leave the empty slots last.
        missing = indices < 0
        distances = np.where(missing, np.iinfo(np.int32).max, distances).astype(np.int32)
        order = np.lexsort((np.where(missing, np.iinfo(np.int64).max, indices), distances), axis=-1)
        return SearchResult(np.take_along_axis(distances, order, 1), np.take_along_axis(indices, order, 1))


def approximate_from_code_file(path: str | Path, bits: int, nlist: int, nprobe: int = 8, train_size: int = 0,
                               seed: int = 0, chunk_rows: int = CHUNK_ROWS,
                               ) -> Generator[Progress, None, ApproximateHammingIndex]:
    """An IVF index over a code file: trained on a seeded random sample of rows (default 64 per cell), then
    filled chunk by chunk. Yields Progress("train ivf", ...) and Progress("index", done, total)."""
    rows, width, offset = code_file_shape(path)
    if width != padded_bytes(bits):
        raise ValueError(f"{path} holds {8 * width}-bit rows; {bits}-bit codes need {8 * padded_bytes(bits)}")
    pick = _training_rows(rows, nlist, train_size, seed)
    view = np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=(rows, width))
    sample = np.array(view[pick])
    del view
    index = ApproximateHammingIndex(bits, nlist, nprobe)
    return (yield from _train_and_fill(index, sample, stream_code_file(path, chunk_rows), rows))


def approximate_from_packed(packed: np.ndarray, bits: int, nlist: int, nprobe: int = 8, train_size: int = 0,
                            seed: int = 0, chunk_rows: int = CHUNK_ROWS,
                            ) -> Generator[Progress, None, ApproximateHammingIndex]:
    """The same IVF index as `approximate_from_code_file` (same sample, same cells) over packed codes already
    in memory, (n, ceil(bits/8)) or padded uint8 rows: a run's database codes."""
    rows = len(packed)
    pick = _training_rows(rows, nlist, train_size, seed)
    chunks = (packed[a:a + chunk_rows] for a in range(0, rows, chunk_rows))
    index = ApproximateHammingIndex(bits, nlist, nprobe)
    return (yield from _train_and_fill(index, packed[pick], chunks, rows))


def _training_rows(rows: int, nlist: int, train_size: int, seed: int) -> np.ndarray:
    """Sorted, seeded random rows to train the centroids on (default 64 per cell, at most all rows)."""
    size = min(rows, train_size or 64 * nlist)
    return np.sort(np.random.default_rng(seed).choice(rows, size, replace=False))


def _train_and_fill(index: ApproximateHammingIndex, sample: np.ndarray, chunks: Iterator[np.ndarray], rows: int,
                    ) -> Generator[Progress, None, ApproximateHammingIndex]:
    yield Progress("train ivf", 0, 1, None)
    index.train(sample)
    yield Progress("train ivf", 1, 1, 0.0)
    start, done = time.perf_counter(), 0
    for chunk in chunks:
        index.add_packed(chunk)
        done += len(chunk)
        yield _progress("index", done, rows, start)
    return index


def load_approximate_index(path: str | Path, rebuild: str, database_packed: np.ndarray | None = None,
                           ) -> tuple[ApproximateHammingIndex, dict]:
    """Read and validate a file written by `ApproximateHammingIndex.save` -> (index, header); nprobe is the
    one saved. database_packed: the codes it must hold, each id once (core.search.index.read_index_file).
    Raises RunError naming the file and the command that rebuilds it (`rebuild`)."""
    import faiss

    raw, header = read_index_file(path, faiss.IndexBinaryIVF, rebuild, database_packed)
    return ApproximateHammingIndex.from_faiss(raw, header["bits"]), header


def recall_at_k(approximate: SearchResult, exact: SearchResult, k: int) -> float:
    """Mean over queries of the share of the approximate top-k that an exact top-k could hold: items whose
    distance is at most the exact k-th distance. With ties at the k-th distance any member of the tie group
    is a correct answer, so this measure does not depend on how ties are ordered (plain set overlap would)."""
    kth = exact.distances[:, k - 1:k]
    found = (approximate.distances[:, :k] <= kth) & (approximate.indices[:, :k] >= 0)
    return float(found.sum(axis=1).mean() / k)
