"""Benchmark: Hamming search over 10M and 100M codes on one machine, exact and approximate.

For each database size: synthetic codes are written to a code file (.npy, streamed: never all in RAM),
the exact index (core.search.large_index.index_from_code_file) is built from it chunk by chunk, then the
approximate IVF index (approximate_from_code_file). Printed: build time, resident memory against the
codes' own size (the codes are held once), time per query of the exact search and of the IVF search at
several nprobe, and the IVF's recall@k against the exact top-k (core.search.large_index.recall_at_k).

The codes imitate a trained hashing network's: --clusters random centre codes (one per "class", 10,000 by
default: 1,000 codes each at 10M, so a query's top-100 are mostly its own class), each code its centre with
every bit flipped with probability 1/8 (8 of 64 bits on average), queries drawn the same way. Uniformly random codes would have no neighbours to find and no cells worth probing.

    .venv/bin/python bench/index_scale.py                                   # 10M and 100M 64-bit codes
    .venv/bin/python bench/index_scale.py --sizes 1000000 --queries 50      # a quick look
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from timing import best_of  # bench/ is on sys.path when run as a script

from core.encoding.encode import drain
from core.search.large_index import (
    approximate_from_code_file,
    index_from_code_file,
    recall_at_k,
    write_code_file,
)


def synthetic_codes(rng: np.random.Generator, centres: np.ndarray, n: int, chunk: int = 1 << 20):
    """Chunks of packed codes: a random centre per code, each bit flipped with probability 1/8."""
    for lo in range(0, n, chunk):
        m = min(chunk, n - lo)
        codes = centres[rng.integers(0, len(centres), m)]
        flips = [rng.integers(0, 256, codes.shape, dtype=np.uint8) for _ in range(3)]
        yield codes ^ (flips[0] & flips[1] & flips[2])  # AND of three random bits: 1 with p = 1/8


def memory_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_memory() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
    except OSError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000, 100_000_000])
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("-k", type=int, default=100)
    parser.add_argument("--nlist", type=int, default=1024)
    parser.add_argument("--nprobe", type=int, nargs="*", default=[1, 4, 16, 64],
                        help="IVF cells scanned per query; none: exact search only")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="searches are timed this many times, best kept")
    parser.add_argument("--workdir", type=Path, default=None, help="where the code files go (default: a temp dir)")
    args = parser.parse_args()
    import faiss

    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    width = (args.bits + 7) // 8
    centres = rng.integers(0, 256, (args.clusters, width), dtype=np.uint8)
    if args.bits % 8:
        centres[:, -1] &= np.uint8((0xFF << (8 - args.bits % 8)) & 0xFF)
    queries = next(synthetic_codes(rng, centres, args.queries))
    print(f"{args.bits}-bit codes around {args.clusters} centres (1/8 of bits flipped), {args.queries} queries, "
          f"top-{args.k}, {args.threads} threads; faiss {faiss.__version__}")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"codes-{n}.npy"
            write_s, _ = best_of(1, lambda: write_code_file(path, synthetic_codes(rng, centres, n), n, args.bits))
            codes_mb = n * 8 * ((args.bits + 63) // 64) / 2 ** 20
            print(f"\n== {n:,} codes: code file {os.path.getsize(path) / 2 ** 20:,.0f} MB written in {write_s:.1f} s")

            before = memory_mb("VmRSS")
            reset_peak_memory()
            build_s, exact_index = best_of(1, lambda: drain(index_from_code_file(path, args.bits, use_gpu=False)))
            print(f"exact   build {build_s:7.1f} s   resident +{memory_mb('VmRSS') - before:,.0f} MB, peak "
                  f"+{memory_mb('VmHWM') - before:,.0f} MB (codes: {codes_mb:,.0f} MB)")
            one_s, _ = best_of(args.repeat, lambda: exact_index.search_packed(queries[:1], args.k))
            exact_s, exact = best_of(args.repeat, lambda: exact_index.search_packed(queries, args.k))
            print(f"exact   search {1000 * exact_s / args.queries:8.1f} ms/query in a batch of {args.queries}, "
                  f"{1000 * one_s:.1f} ms for a single query")
            del exact_index
            if not args.nprobe:
                path.unlink()
                continue

            before = memory_mb("VmRSS")
            reset_peak_memory()
            ivf_s, ivf = best_of(1, lambda: drain(approximate_from_code_file(path, args.bits, args.nlist)))
            print(f"ivf     build {ivf_s:7.1f} s   (nlist {args.nlist}: train + add)   resident "
                  f"+{memory_mb('VmRSS') - before:,.0f} MB, peak +{memory_mb('VmHWM') - before:,.0f} MB")
            for nprobe in args.nprobe:
                ivf.nprobe = nprobe
                s, found = best_of(args.repeat, lambda: ivf.search_packed(queries, args.k))
                print(f"ivf     nprobe {nprobe:4d}: {1000 * s / args.queries:8.2f} ms/query   "
                      f"recall@{args.k} {recall_at_k(found, exact, args.k):.3f}   "
                      f"speed-up {exact_s / s:6.1f}x")
            del ivf
            path.unlink()


if __name__ == "__main__":
    main()
