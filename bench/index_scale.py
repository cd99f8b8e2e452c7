"""Exact and approximate Hamming search over 10M / 100M synthetic 64-bit codes (issue 14, item 3).

For each database size N:
1. write N random 64-bit codes to a memory-mapped file (OUT_DIR/codes-N.u8, N x 8 bytes) in blocks,
   so the codes are never held in RAM as a numpy array next to faiss's own copy;
2. exact: faiss IndexBinaryFlat, added block by block from the memory map (progress printed); time per
   query (one query per search call, as in the app's Browse) and per query in a batch;
3. approximate: faiss IndexBinaryIVF (nlist lists, k-means on a sample), nprobe in --nprobe; time per
   query and recall@k against the exact search.

Queries are database codes with --flips random bits flipped, so they have true near neighbours (random
queries would sit ~32 bits from everything). recall@k with ties: the fraction of the k approximate hits
whose distance is <= the exact k-th distance (any code at that distance is an equally correct answer).

    .venv/bin/python bench/index_scale.py --sizes 10000000 100000000 --out-dir /tmp/fghash_bench
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import faiss
import numpy as np

BITS = 64
BLOCK = 4_000_000


def write_codes(path: Path, n: int, seed: int) -> np.memmap:
    """N random 8-byte codes in a memory-mapped file (written once, reused when present)."""
    if not path.exists() or path.stat().st_size != n * 8:
        codes = np.memmap(path, dtype=np.uint8, mode="w+", shape=(n, 8))
        rng = np.random.default_rng(seed)
        for lo in range(0, n, BLOCK):
            hi = min(n, lo + BLOCK)
            codes[lo:hi] = rng.integers(0, 256, size=(hi - lo, 8), dtype=np.uint8)
        codes.flush()
        del codes
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(n, 8))


def add_blocks(index, codes: np.memmap, label: str) -> float:
    start = time.perf_counter()
    for lo in range(0, len(codes), BLOCK):
        index.add(np.ascontiguousarray(codes[lo:lo + BLOCK]))
        done = min(len(codes), lo + BLOCK)
        print(f"  {label}: added {done:,} / {len(codes):,} ({time.perf_counter() - start:.1f} s)", flush=True)
    return time.perf_counter() - start


def per_query_ms(index, queries: np.ndarray, k: int) -> tuple[float, float]:
    """(ms per query one at a time, ms per query in one batch call), after one warm-up search."""
    index.search(queries[:1], k)
    start = time.perf_counter()
    for q in queries:
        index.search(q[None], k)
    single = (time.perf_counter() - start) / len(queries) * 1e3
    start = time.perf_counter()
    index.search(queries, k)
    return single, (time.perf_counter() - start) / len(queries) * 1e3


def recall(approx_d: np.ndarray, exact_d: np.ndarray) -> float:
    kth = exact_d[:, -1:]
    return float(((approx_d <= kth) & (approx_d >= 0)).mean())


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000_000])
    ap.add_argument("--out-dir", default="/tmp/fghash_bench")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--flips", type=int, default=4)
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--nprobe", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ivf-max-size", type=int, default=10 ** 12,
                    help="skip the IVF above this size (its add assigns every code to a list: slow on 2 cores)")
    args = ap.parse_args()
    faiss.omp_set_num_threads(args.threads)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for n in args.sizes:
        print(f"N = {n:,} codes of {BITS} bits ({n * 8 / 2 ** 30:.2f} GiB packed)", flush=True)
        start = time.perf_counter()
        codes = write_codes(out / f"codes-{n}.u8", n, seed=n)
        print(f"  codes file ready in {time.perf_counter() - start:.1f} s", flush=True)
        rows = rng.choice(n, size=args.queries, replace=False)
        queries = np.unpackbits(codes[np.sort(rows)], axis=1)
        for q in queries:
            q[rng.choice(BITS, size=args.flips, replace=False)] ^= 1
        queries = np.packbits(queries, axis=1)

        flat = faiss.IndexBinaryFlat(BITS)
        build = add_blocks(flat, codes, "exact")
        exact_d, _ = flat.search(queries, args.k)
        single, batch = per_query_ms(flat, queries, args.k)
        print(f"  exact: build {build:.1f} s; top-{args.k} {single:.1f} ms/query one at a time, "
              f"{batch:.1f} ms/query batched; peak RSS {rss_gib():.2f} GiB", flush=True)
        del flat
        if n > args.ivf_max_size:
            print(f"  IVF skipped (N > --ivf-max-size {args.ivf_max_size:,})", flush=True)
            continue

        quantizer = faiss.IndexBinaryFlat(BITS)
        ivf = faiss.IndexBinaryIVF(quantizer, BITS, args.nlist)
        start = time.perf_counter()
        sample = np.ascontiguousarray(codes[np.sort(rng.choice(n, size=min(n, 100 * args.nlist), replace=False))])
        ivf.train(sample)
        train = time.perf_counter() - start
        build = add_blocks(ivf, codes, f"IVF{args.nlist}")
        print(f"  IVF{args.nlist}: train {train:.1f} s, add {build:.1f} s; peak RSS {rss_gib():.2f} GiB", flush=True)
        for nprobe in args.nprobe:
            ivf.nprobe = nprobe
            approx_d, _ = ivf.search(queries, args.k)
            single, batch = per_query_ms(ivf, queries, args.k)
            print(f"  IVF{args.nlist} nprobe {nprobe}: {single:.2f} ms/query one at a time, {batch:.2f} ms/query "
                  f"batched; recall@{args.k} {recall(approx_d, exact_d):.3f}", flush=True)
        del ivf, quantizer, codes


if __name__ == "__main__":
    main()
