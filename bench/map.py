"""Benchmark: mAP@all, ours (core.metrics) vs a per-query loop in the style of the reference codebases.

Reference (jiangqy/ADSH, DSH_Analysis `calc_map`): per query, Hamming distance by dot product, argsort,
cumulative count of relevant items. It uses kind="stable" here so both rank ties by database index and
the two numbers must agree; the reference repositories' default quicksort orders ties arbitrarily.

    .venv/bin/python bench/map.py                     # 5,000 x 30,000, 48 bits, 200 classes
    .venv/bin/python bench/map.py --queries 500 --reference-queries 500 --device cuda
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from core.metrics import map_all, per_query_ap


def reference_map(query_codes, database_codes, query_labels, database_labels):
    """Per-query numpy loop (float64) returning per-query AP."""
    bits = query_codes.shape[1]
    query_onehot = np.eye(int(max(query_labels.max(), database_labels.max())) + 1)[query_labels]
    database_onehot = np.eye(query_onehot.shape[1])[database_labels]
    aps = np.zeros(len(query_codes))
    for i in range(len(query_codes)):
        gnd = (query_onehot[i] @ database_onehot.T > 0).astype(np.float64)
        tsum = int(gnd.sum())
        if tsum == 0:
            continue
        hamm = 0.5 * (bits - database_codes @ query_codes[i])
        ind = np.argsort(hamm, kind="stable")
        gnd = gnd[ind]
        count = np.linspace(1, tsum, tsum)
        tindex = np.asarray(np.where(gnd == 1)).ravel() + 1.0
        aps[i] = np.mean(count / tindex)
    return aps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--database", type=int, default=30000)
    parser.add_argument("--bits", type=int, default=48)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--reference-queries", type=int, default=None,
                        help="time the reference on only this many queries and scale (default: all)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours; the best is reported")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    query_codes = rng.choice([-1.0, 1.0], (args.queries, args.bits)).astype(np.float32)
    database_codes = rng.choice([-1.0, 1.0], (args.database, args.bits)).astype(np.float32)
    query_labels = rng.integers(0, args.classes, args.queries)
    database_labels = rng.integers(0, args.classes, args.database)

    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        ours = map_all(query_codes, database_codes, query_labels, database_labels, tie_mode="stable",
                       device=args.device)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    ours_ap = per_query_ap(query_codes, database_codes, query_labels, database_labels, tie_mode="stable",
                           device=args.device).numpy()

    ref_q = args.reference_queries or args.queries
    start = time.perf_counter()
    ref_ap = reference_map(query_codes[:ref_q], database_codes, query_labels[:ref_q], database_labels)
    ref_time = (time.perf_counter() - start) * args.queries / ref_q

    diff = float(np.abs(ours_ap[:ref_q] - ref_ap).max())
    print(f"mAP@all {args.queries} queries x {args.database} database, {args.bits} bits, {args.classes} classes, "
          f"device {args.device}, {args.threads} threads")
    print(f"  ours      {best:8.3f} s   mAP {ours:.12f}")
    scaled = " (scaled from %d queries)" % ref_q if ref_q != args.queries else ""
    print(f"  reference {ref_time:8.3f} s   mAP {ref_ap.mean():.12f}{scaled}")
    print(f"  speed-up  {ref_time / best:8.1f} x   max |AP difference| {diff:.3e}")


if __name__ == "__main__":
    main()
