"""Benchmark: a run's approximate (IVF) index through the product (`fghash index RUN --approximate`,
`fghash query RUN --approximate`), on a run whose codes are synthetic.

Creates a run in $FGHASH_HOME whose database and test-split codes are drawn like bench/index_scale.py's
(--clusters centre codes, every bit flipped with probability 1/8), builds its approximate index with
`core.engine.build_approximate` (what `fghash index RUN --approximate` calls; its recall@k is printed), then
times single queries by test-split index through `engine.query` with a warm session (the index loaded once):
exact, and approximate at the build's nprobe (by default the smallest reaching recall@20 >= 0.95).

    FGHASH_HOME=/tmp/bench-home .venv/bin/python bench/approximate_run.py --size 1000000
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np
from index_scale import synthetic_codes  # bench/ is on sys.path when run as a script

from core import engine
from core.config.train_config import TrainConfig
from core.encoding.encode import drain
from core.runs.catalog import create_run
from core.search.codes import save_codes, unpack_codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000, help="database codes")
    parser.add_argument("--queries", type=int, default=1000, help="test-split codes")
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--nprobe", type=int, default=None, help="fixed nprobe (default: the build's choice)")
    parser.add_argument("--target-recall", type=float, default=None,
                        help="recall@k the build's nprobe must reach (default: the product's, 0.95)")
    parser.add_argument("--timed", type=int, default=50, help="queries timed, each alone")
    parser.add_argument("-k", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    centres = rng.integers(0, 256, (args.clusters, args.bits // 8), dtype=np.uint8)
    paths = create_run(TrainConfig(backbone="resnet18", weights="none", bits=args.bits))
    for split, n in (("database", args.size), ("query", args.queries)):
        packed = np.concatenate(list(synthetic_codes(rng, centres, n)))
        names = [f"/synthetic/{i}.jpg" for i in range(n)]
        save_codes(paths, split, unpack_codes(packed, args.bits), np.full(n, -1), names)
    print(f"run {paths.run_id}: {args.size:,} database and {args.queries:,} test-split codes of {args.bits} bits "
          f"around {args.clusters:,} centres; {args.threads} faiss threads")

    start = time.perf_counter()
    given = {"nprobe": args.nprobe, "target_recall": args.target_recall}
    info = drain(engine.build_approximate(paths, **{k: v for k, v in given.items() if v is not None}))
    print(f"fghash index {paths.run_id} --approximate: {time.perf_counter() - start:.1f} s, nlist {info.nlist}")
    print("  recall@{} on {} {} queries: {}".format(
        info.recall_k, info.recall_queries, info.recall_source,
        "   ".join(f"nprobe {p}: {r:.3f}" for p, r in info.recall)))
    target = "" if info.target_recall is None else (
        f" (target {info.target_recall:g}: {'met' if info.meets_target else 'NOT met'})")
    print(f"  chosen nprobe {info.nprobe}: recall@{info.recall_k} {info.recall_at():.3f}{target}, "
          f"{info.latency_ms:.2f} ms per single query at build")

    rows = range(args.timed)
    for approximate in (False, True):
        engine.query(0, paths, k=args.k, approximate=approximate)  # loads the index
        seconds = [engine.query(r, paths, k=args.k, approximate=approximate).seconds for r in rows]
        name = f"approximate (nprobe {info.nprobe})" if approximate else "exact"
        print(f"{name:24} query, k {args.k}: median {1000 * np.median(seconds):.2f} ms over {args.timed} queries")


if __name__ == "__main__":
    main()
