"""Exact top-k Hamming search over packed binary codes with faiss (CPU; GPU when one is present).

Codes are packed with np.packbits (bit set where the code is +1) and zero-padded to a multiple of 64 bits:
faiss then compares whole 64-bit words (measured: 2.8-4.5x faster than 6-byte codes for 48 bits); the
padding is zero on both sides, so it never changes a distance.

Tie order: results are ordered by (distance, database index), the same order core.evaluation.metrics ranks by.
faiss's CPU IndexBinaryFlat scans the database in index order per query and keeps a heap that breaks ties
by id (faiss >= 1.7.3: replace the top only on a strictly smaller distance, top = largest (distance, id)),
which is exactly that order; but faiss does not document it as a guarantee. So a probe on tie-heavy codes
(`faiss_orders_ties_by_index`, run once per process) checks this faiss build, and where it holds the CPU
search is one plain faiss call. Otherwise, and on the GPU (whose k-selection orders ties arbitrarily),
`search` fetches more candidates than k until the last candidate is strictly farther than the k-th
distance (the boundary group is then complete) and sorts the candidates by (distance, index): that
over-fetch (2k + 16 candidates, then a lexsort) cost 22 % over raw faiss at 1M codes.

Files: `index.faiss` = magic line, one JSON header line (format, bits, count, payload size, sha256,
source checksum), then faiss's own serialisation of an IndexBinaryFlat. Written atomically; loading
checks every field and raises RunError naming the file. The approximate index (`index-ivf.faiss`,
core/retrieval/approximate.py) uses the same format (`write_index_file`, `read_index_file`) with an IndexBinaryIVF.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.base.atomic import atomic_write_bytes
from core.base.errors import RunError
from core.base.safe_read import MAX_INDEX_BYTES, open_regular, read_regular
from core.search.codes import pack_codes, to_pm1_numpy

FORMAT_VERSION = 1
MAGIC = b"FGHASH-INDEX\n"
GPU_MAX_K = 2048  # faiss GPU k-selection limit
_QUERY_BATCH = 4096  # queries per faiss call while widening, bounds the candidate matrices


def padded_bytes(bits: int) -> int:
    """Bytes per packed code after padding `bits` up to a multiple of 64."""
    return 8 * ((bits + 63) // 64)


def pad_packed(packed: np.ndarray, bits: int) -> np.ndarray:
    """(count, ceil(bits/8)) uint8 -> (count, padded_bytes(bits)) uint8, zero padding on the right. Codes
    already padded come back as they are (made C-contiguous): read them, do not write to them."""
    packed = np.asarray(packed, dtype=np.uint8)
    width = padded_bytes(bits)
    if packed.ndim != 2 or packed.shape[1] > width:
        raise ValueError(f"packed codes must be (count, <= {width}) uint8 for {bits} bits; got {packed.shape}")
    if packed.shape[1] == width:
        return np.ascontiguousarray(packed)
    out = np.zeros((packed.shape[0], width), dtype=np.uint8)
    out[:, : packed.shape[1]] = packed
    return out


def pack_padded(codes_pm1, bits: int | None = None) -> np.ndarray:
    """±1 codes (count, bits), torch or numpy -> (count, padded_bytes(bits)) uint8."""
    codes = to_pm1_numpy(codes_pm1)
    if bits is not None and codes.shape[1] != bits:
        raise ValueError(f"codes have {codes.shape[1]} bits; this index holds {bits}-bit codes")
    return pad_packed(pack_codes(codes), codes.shape[1])


@functools.cache
def faiss_importable() -> bool:
    """Whether faiss imports here: it is a dependency, but some GPU images lack it, and code with a torch
    fallback (the CPU evaluation's distances) asks before it uses faiss."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def hamming_distances(query_padded: np.ndarray, database_padded: np.ndarray) -> np.ndarray:
    """All pairwise Hamming distances, (q, n) int32, of codes packed and padded by `pack_padded` (popcount on
    64-bit words, faiss's `hammings`, OpenMP-parallel over the queries)."""
    import faiss

    query_padded = np.ascontiguousarray(query_padded, dtype=np.uint8)
    database_padded = np.ascontiguousarray(database_padded, dtype=np.uint8)
    width = query_padded.shape[1]
    if database_padded.shape[1] != width or width % 8:
        raise ValueError(f"padded codes must share a width that is a multiple of 8 bytes; got {width} and "
                         f"{database_padded.shape[1]}")
    out = np.empty((query_padded.shape[0], database_padded.shape[0]), dtype=np.int32)
    if out.size:
        faiss.hammings(faiss.swig_ptr(query_padded), faiss.swig_ptr(database_padded), query_padded.shape[0],
                       database_padded.shape[0], width, faiss.swig_ptr(out))
    return out


@functools.cache
def faiss_orders_ties_by_index() -> bool:
    """Whether this faiss build's CPU IndexBinaryFlat returns the top k in (distance, index) order, ties
    included: checked once on codes where almost everything ties (8 significant bits, 20,000 rows), for one
    query and for several, at k = 1, 5 and 300, against a stable sort. Tens of milliseconds."""
    import faiss

    rng = np.random.default_rng(12345)
    rows, queries = 20_000, 9
    database = np.zeros((rows, 8), dtype=np.uint8)
    database[:, 0] = rng.integers(0, 256, rows)
    query = np.zeros((queries, 8), dtype=np.uint8)
    query[:, 0] = rng.integers(0, 256, queries)
    raw = faiss.IndexBinaryFlat(64)
    raw.add(database)
    popcount = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1).astype(np.int32)
    dist = popcount[database[None, :, 0] ^ query[:, :1]]  # (queries, rows)
    order = np.argsort(dist, axis=1, kind="stable")[:, :300]  # stable: ties by index
    for k in (1, 5, 300):
        for count in (1, queries):
            got_d, got_i = raw.search(query[:count], k)
            if not (np.array_equal(got_i, order[:count, :k])
                    and np.array_equal(got_d, np.take_along_axis(dist[:count], order[:count, :k], 1))):
                return False
    return True


def gpu_available() -> bool:
    """True when faiss was built with GPU support and sees a GPU (checked at run time)."""
    import faiss

    try:
        return hasattr(faiss, "GpuIndexBinaryFlat") and faiss.get_num_gpus() > 0
    except Exception:  # a CUDA driver problem means: no usable GPU
        return False


@dataclass(frozen=True, eq=False)
class SearchResult:
    """Top-k results, best first. distances: (q, k) int32 Hamming distances; indices: (q, k) int64 database
    indices, ordered by (distance, index). k is min(requested k, database size)."""

    distances: np.ndarray
    indices: np.ndarray


class HammingIndex:
    """An exact Hamming index over `bits`-bit codes. Rows keep their insertion order as database indices."""

    def __init__(self, bits: int, use_gpu: bool | None = None, gpu_device: int = 0):
        """gpu_device: which GPU faiss searches on when use_gpu (core.search.large_index puts one shard per GPU)."""
        import faiss

        if not 1 <= int(bits) <= 4096:
            raise ValueError(f"bits must be between 1 and 4096; got {bits}")
        self.bits = int(bits)
        self._cpu = faiss.IndexBinaryFlat(8 * padded_bytes(self.bits))
        self._use_gpu = gpu_available() if use_gpu is None else bool(use_gpu)
        self._gpu_device = int(gpu_device)
        self._gpu = None  # built lazily, dropped whenever rows are added

    def __len__(self) -> int:
        return int(self._cpu.ntotal)

    @property
    def backend(self) -> str:
        return "gpu" if self._use_gpu else "cpu"

    @classmethod
    def from_codes(cls, codes_pm1, use_gpu: bool | None = None) -> HammingIndex:
        codes = to_pm1_numpy(codes_pm1)
        index = cls(codes.shape[1], use_gpu=use_gpu)
        index.add(codes)
        return index

    @classmethod
    def from_packed(cls, packed: np.ndarray, bits: int, use_gpu: bool | None = None) -> HammingIndex:
        index = cls(bits, use_gpu=use_gpu)
        index.add_packed(packed)
        return index

    def add(self, codes_pm1) -> None:
        """Append ±1 codes (m, bits); they get database indices len(self) .. len(self)+m-1."""
        self.add_packed(pack_padded(codes_pm1, self.bits))

    def add_packed(self, packed: np.ndarray) -> None:
        """Append packed codes, (m, ceil(bits/8)) or already padded (m, padded_bytes(bits)) uint8."""
        padded = np.ascontiguousarray(pad_packed(packed, self.bits))
        if padded.shape[0]:
            self._cpu.add(padded)
            self._gpu = None

    def add_stream(self, chunks: Iterable[np.ndarray], count: int) -> Iterator[int]:
        """Append `count` packed codes given as chunks, written straight into one allocation of the final size:
        no growth by doubling and no second copy, so memory peaks at the codes plus one chunk (adding chunk by
        chunk peaked near twice the codes). Yields the number of rows added so far after each chunk."""
        import faiss

        width, start, count = padded_bytes(self.bits), len(self), int(count)
        self._cpu.xb.resize((start + count) * width)
        rows = faiss.rev_swig_ptr(self._cpu.xb.data(), (start + count) * width).reshape(-1, width)
        done = 0
        try:
            for chunk in chunks:
                padded = pad_packed(chunk, self.bits)
                if done + len(padded) > count:
                    raise ValueError(f"more than the announced {count} codes")
                rows[start + done:start + done + len(padded)] = padded
                done += len(padded)
                yield done
            if done != count:
                raise ValueError(f"{done} codes given, {count} announced")
        finally:
            self._cpu.xb.resize((start + done) * width)  # only whole, written rows are ever part of the index
            self._cpu.ntotal = start + done
            self._gpu = None

    def packed(self) -> np.ndarray:
        """All stored codes, (n, padded_bytes(bits)) uint8."""
        import faiss

        width = padded_bytes(self.bits)
        return faiss.vector_to_array(self._cpu.xb).reshape(-1, width).copy()

    # -- search ---------------------------------------------------------------------------------
    def search(self, query_codes_pm1, k: int) -> SearchResult:
        """Top-k of ±1 query codes (q, bits), ordered by (distance, database index)."""
        return self.search_packed(pack_padded(query_codes_pm1, self.bits), k)

    def search_packed(self, query_packed: np.ndarray, k: int) -> SearchResult:
        """Top-k of packed query codes, ordered by (distance, database index)."""
        queries = pad_packed(query_packed, self.bits)
        n = len(self)
        k = min(int(k), n)
        if k < 0:
            raise ValueError(f"k must be >= 0; got {k}")
        q = queries.shape[0]
        if q and k and not self._use_gpu and faiss_orders_ties_by_index():
            distances, indices = self._cpu.search(queries, k)  # already in (distance, index) order
            return SearchResult(distances, indices)
        distances = np.zeros((q, k), dtype=np.int32)
        indices = np.zeros((q, k), dtype=np.int64)
        if q == 0 or k == 0:
            return SearchResult(distances, indices)
        for start in range(0, q, _QUERY_BATCH):
            stop = min(q, start + _QUERY_BATCH)
            d, i = self._search_stable(queries[start:stop], k)
            distances[start:stop], indices[start:stop] = d, i
        return SearchResult(distances, indices)

    def _search_stable(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        out_d = np.zeros((queries.shape[0], k), dtype=np.int32)
        out_i = np.zeros((queries.shape[0], k), dtype=np.int64)
        todo = np.arange(queries.shape[0])
        # A margin of k covers the boundary tie group for most queries (48-bit codes, 1M database: 86 %
        # of queries in one pass; a margin of k/4 needed 1.4 passes on average and was 20 % slower).
        fetch = min(n, 2 * k + 16)
        while todo.size:
            cand_d, cand_i = self._raw_search(queries[todo], fetch)
            # Complete when every item at the k-th distance is among the candidates: the last
            # candidate is strictly farther, or every database item was fetched.
            done = (cand_d[:, -1] > cand_d[:, k - 1]) | (fetch >= n)
            if done.any():
                d, i = cand_d[done], cand_i[done]
                order = np.lexsort((i, d), axis=-1)[:, :k]  # last key first: distance, then index
                out_d[todo[done]] = np.take_along_axis(d, order, 1)
                out_i[todo[done]] = np.take_along_axis(i, order, 1)
            todo = todo[~done]
            fetch = min(n, fetch * 2)
        return out_d, out_i

    def _raw_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._use_gpu and k <= GPU_MAX_K:
            gpu = self._gpu_index()
            if gpu is not None:
                try:
                    return gpu.search(queries, k)
                except RuntimeError:  # e.g. GPU out of memory: the CPU gives the same exact answer
                    self._use_gpu, self._gpu = False, None
        return self._cpu.search(queries, k)

    def _gpu_index(self):
        if self._gpu is None:
            import faiss

            try:
                # The resources object must outlive the GPU index (faiss does not hold a reference).
                self._gpu_resources = faiss.StandardGpuResources()
                config = faiss.GpuIndexBinaryFlatConfig()
                config.device = self._gpu_device
                self._gpu = faiss.GpuIndexBinaryFlat(self._gpu_resources, self._cpu, config)
            except Exception:  # a GPU that faiss cannot use: stay on the CPU for good
                self._use_gpu = False
                return None
        return self._gpu

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | Path, source_checksum: str = "") -> Path:
        """Write atomically. source_checksum: the codes file this index was built from (staleness check)."""
        return write_index_file(path, self._cpu, self.bits, source_checksum)


def write_index_file(path: str | Path, raw, bits: int, source_checksum: str = "", extra: dict | None = None) -> Path:
    """Write a faiss binary index `raw` atomically as MAGIC, one JSON header line, faiss's serialisation.

    extra: more header fields (an approximate index records its kind, nlist and measured recall)."""
    import faiss

    payload = faiss.serialize_index_binary(raw).tobytes()
    header = {**(extra or {}), "format": FORMAT_VERSION, "bits": int(bits), "count": int(raw.ntotal),
              "payload_bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
              "source_checksum": source_checksum}
    return atomic_write_bytes(path, MAGIC + json.dumps(header, sort_keys=True, allow_nan=False).encode() + b"\n" + payload)


def read_index_header(path: str | Path, rebuild: str = "fghash index") -> dict:
    """The JSON header of an index file (cheap: does not read the payload). Raises RunError whose message
    ends with the command that rebuilds the file (`rebuild`)."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path} is missing: build it with `{rebuild}`")
    try:
        with open_regular(path, what="index", limit=MAX_INDEX_BYTES, error=RunError) as fh:
            magic = fh.read(len(MAGIC))
            line = fh.readline(1 << 16)
    except RunError as exc:  # a folder or FIFO in its place, no permission, too large...
        raise RunError(f"{exc}; rebuild it with `{rebuild}`") from None
    except OSError as exc:
        raise RunError(f"{path} cannot be read ({exc.strerror}); rebuild it with `{rebuild}`") from None
    if magic != MAGIC:
        raise RunError(f"{path} is not an fghash index file (wrong magic bytes); rebuild it with `{rebuild}`")
    try:
        header = json.loads(line)
        for key, kind in (("format", int), ("bits", int), ("count", int), ("payload_bytes", int), ("sha256", str)):
            if not isinstance(header[key], kind):
                raise TypeError(key)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, RecursionError) as exc:
        raise RunError(f"{path} has a damaged header ({exc!r}); rebuild it with `{rebuild}`") from None
    if header["format"] != FORMAT_VERSION:
        newer = " (written by a newer fghash)" if header["format"] > FORMAT_VERSION else ""
        raise RunError(f"{path} has index format {header['format']}{newer}; this fghash reads {FORMAT_VERSION}: "
                       f"rebuild it with `{rebuild}`")
    if not 1 <= header["bits"] <= 4096 or header["count"] < 0 or header["payload_bytes"] < 0:
        raise RunError(f"{path} has a damaged header (bits {header['bits']}, count {header['count']}); "
                       f"rebuild it with `{rebuild}`")
    return header


def read_index_file(path: str | Path, kind, rebuild: str = "fghash index", database_packed: np.ndarray | None = None):
    """Read and validate an index file holding a faiss index of class `kind` -> (faiss index, header).

    Checks magic, header, payload size and checksum, then the sizes faiss's serialisation declares against
    the payload's length and the header's count (`_check_layout`: a crafted 140-byte file claiming a 3 GB
    vector is refused before faiss allocates it), faiss's own reading, and that the index holds the
    header's count of codes of its bit length. database_packed: the run's database codes (count,
    ceil(bits/8)) uint8; when given and of the header's count (the callers refuse another count, naming
    both files), the index must hold exactly these codes, each id once (an edited
    index that returns one item five times, ids past the database or wrong distances is refused).
    Raises RunError naming the file and the command that rebuilds it (`rebuild`)."""
    import faiss

    path = Path(path)
    header = read_index_header(path, rebuild)
    data = read_regular(path, what="index", limit=MAX_INDEX_BYTES, error=RunError)
    newline = data.find(b"\n", len(MAGIC))
    if newline < 0:
        raise RunError(f"{path} is truncated inside its header; rebuild it with `{rebuild}`")
    payload = data[newline + 1:]
    if len(payload) != header["payload_bytes"]:
        raise RunError(f"{path} is truncated or padded: {len(payload)} payload bytes, header says "
                       f"{header['payload_bytes']}; rebuild it with `{rebuild}`")
    if hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise RunError(f"{path} failed its checksum (damaged or modified); rebuild it with `{rebuild}`")
    try:
        codes, ids = _check_layout(payload, kind.__name__, header["bits"], header["count"])
    except ValueError as exc:
        raise RunError(f"{path}: its faiss data is inconsistent ({exc}); rebuild it with `{rebuild}`") from None
    if database_packed is not None and len(database_packed) == header["count"]:  # else: the caller's count check
        _check_against_database(path, codes, ids, database_packed, header["bits"], rebuild)
    try:
        raw = faiss.deserialize_index_binary(np.frombuffer(payload, dtype=np.uint8))
    except Exception as exc:  # faiss raises RuntimeError with its own message
        raise RunError(f"{path}: faiss cannot read the index ({exc}); rebuild it with `{rebuild}`") from None
    bits = header["bits"]
    if raw.d != 8 * padded_bytes(bits) or raw.ntotal != header["count"] or not isinstance(raw, kind):
        raise RunError(f"{path}: holds {type(raw).__name__} of {raw.ntotal} codes of {raw.d} bits where "
                       f"{kind.__name__} of {header['count']} codes of {bits} bits was expected; "
                       f"rebuild it with `{rebuild}`")
    return raw, header


_FOURCC = {"IndexBinaryFlat": b"IBxF", "IndexBinaryIVF": b"IBwF"}


class _Cursor:
    """Reads faiss's little-endian serialisation, refusing any size that runs past the payload."""

    def __init__(self, payload: bytes):
        self.data, self.at = payload, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.data):
            raise ValueError(f"a field of {n} bytes at offset {self.at} runs past the {len(self.data)}-byte payload")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def int(self, size: int) -> int:
        return int.from_bytes(self.take(size), "little", signed=size != 8)

    def array(self, count: int, dtype: str) -> np.ndarray:
        itemsize = np.dtype(dtype).itemsize
        if count < 0 or count > (len(self.data) - self.at) // itemsize:
            raise ValueError(f"{count} values declared at offset {self.at}, more than the payload holds")
        return np.frombuffer(self.take(count * itemsize), dtype=dtype)

    def binary_header(self, fourcc: bytes, d: int, ntotal: int, what: str) -> None:
        if self.take(4) != fourcc:
            raise ValueError(f"the {what} is not a faiss {fourcc.decode()} index")
        got_d, code_size, got_n = self.int(4), self.int(4), self.int(8)
        self.take(1 + 4)  # is_trained, metric type
        if (got_d, code_size, got_n) != (d, d // 8, ntotal):
            raise ValueError(f"the {what} declares {got_n} codes of {got_d} bits ({code_size} bytes), expected "
                             f"{ntotal} of {d} bits")


def _check_layout(payload: bytes, kind: str, bits: int, count: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Walk faiss's serialisation of the IndexBinaryFlat or IndexBinaryIVF fghash writes (no direct map,
    array inverted lists), checking every declared size against the payload and `count` before faiss
    allocates anything. Returns (codes (count, padded bytes) uint8 in stored order, ids (count,) int64 or
    None for a flat index, whose ids are its row numbers). ValueError says what is inconsistent."""
    d, width = 8 * padded_bytes(bits), padded_bytes(bits)
    cur = _Cursor(payload)
    if kind == "IndexBinaryFlat":
        cur.binary_header(b"IBxF", d, count, "index")
        if cur.int(8) != count * width:
            raise ValueError(f"its code vector is not {count} x {width} bytes")
        codes, ids = cur.array(count * width, "u1").reshape(count, width), None
    elif kind == "IndexBinaryIVF":
        cur.binary_header(b"IBwF", d, count, "index")
        nlist, nprobe = cur.int(8), cur.int(8)
        if not 1 <= nlist <= max(count, 1) or not 1 <= nprobe <= nlist:
            raise ValueError(f"nlist {nlist} / nprobe {nprobe} out of range for {count} codes")
        cur.binary_header(b"IBxF", d, nlist, "quantizer")
        if cur.int(8) != nlist * width:
            raise ValueError(f"its centroid vector is not {nlist} x {width} bytes")
        cur.take(nlist * width)
        if cur.take(1) != b"\0" or cur.int(8) != 0:
            raise ValueError("it has a direct map, which fghash never writes")
        if cur.take(4) != b"ilar" or cur.int(8) != nlist or cur.int(8) != width or cur.take(4) != b"full" \
                or cur.int(8) != nlist:
            raise ValueError("its inverted lists are not the array lists fghash writes")
        sizes = cur.array(nlist, "<u8")
        if int(sizes.sum(dtype=np.uint64)) != count or (sizes > count).any():
            raise ValueError(f"its inverted lists hold {int(sizes.sum(dtype=np.uint64))} codes, the header says "
                             f"{count}")
        codes_parts, id_parts = [], []
        for size in sizes.tolist():
            if size:
                codes_parts.append(cur.array(size * width, "u1").reshape(size, width))
                id_parts.append(cur.array(size, "<i8"))
        codes = np.concatenate(codes_parts) if codes_parts else np.zeros((0, width), np.uint8)
        ids = np.concatenate(id_parts) if id_parts else np.zeros(0, np.int64)
    else:  # pragma: no cover - a programming error
        raise ValueError(f"unknown index kind {kind}")
    if cur.at != len(payload):
        raise ValueError(f"{len(payload) - cur.at} bytes follow the index")
    return codes, ids


def _check_against_database(path: Path, codes: np.ndarray, ids: np.ndarray | None, database_packed: np.ndarray,
                            bits: int, rebuild: str) -> None:
    """RunError unless the index holds each database row once (ids a permutation of 0..count-1) with that
    row's code: then every search result is a real row at its exact Hamming distance."""
    count = len(database_packed)
    if ids is not None:
        if ((ids < 0) | (ids >= count)).any() or np.bincount(ids.clip(0, max(count - 1, 0)), minlength=count).max(
                initial=1) != 1:
            raise RunError(f"{path} holds ids outside the database's 0..{count - 1} or one id twice (edited?); "
                           f"rebuild it with `{rebuild}`")
        expected = pad_packed(database_packed, bits)[ids]
    else:
        expected = pad_packed(database_packed, bits)
    if not np.array_equal(codes, expected):
        raise RunError(f"{path} holds codes that differ from the run's database codes (edited?), so its distances "
                       f"would be wrong; rebuild it with `{rebuild}`")


def load_index(path: str | Path, use_gpu: bool | None = None,
               database_packed: np.ndarray | None = None) -> tuple[HammingIndex, dict]:
    """Read and validate an exact index file -> (index, header). Raises RunError naming the file.
    database_packed: the codes it must hold (see read_index_file)."""
    import faiss

    raw, header = read_index_file(path, faiss.IndexBinaryFlat, database_packed=database_packed)
    index = HammingIndex(header["bits"], use_gpu=use_gpu)
    index._cpu = raw
    return index, header
