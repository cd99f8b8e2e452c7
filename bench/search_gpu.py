"""Benchmark: top-k Hamming search on a GPU with torch (core.search.torch_search) against the CPU path, same run.

The CPU path is core.search.index.HammingIndex (faiss binary flat) when faiss imports, else core.search.torch_search on
the CPU. Both return the top k ordered by (distance, database index): the check is exact equality of
distances AND indices (ties broken by index), not only distances.

    python3 bench/search_gpu.py --device cuda --sizes 100000 1000000 --json out.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from timing import best_of  # bench/ is on sys.path when run as a script

from core.search.index import HammingIndex, faiss_importable
from core.search.torch_search import hamming_topk


def cpu_search(database: np.ndarray):
    """(name, search function) of the CPU path: faiss when present, else torch on the CPU."""
    if not faiss_importable():
        return "core.search.torch_search (cpu)", lambda q, k: hamming_topk(q, database, k, device="cpu")
    index = HammingIndex.from_codes(database, use_gpu=False)
    return "faiss HammingIndex (cpu)", lambda q, k: index.search(q, k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--bits", type=int, default=48)
    parser.add_argument("-k", type=int, default=100)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--repeat", type=int, default=3, help="timings of the device path (the best is kept)")
    parser.add_argument("--cpu-repeat", type=int, default=1, help="timings of the CPU path")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else None
    rng = np.random.default_rng(0)
    queries = rng.choice(np.array([-1, 1], dtype=np.int8), (args.queries, args.bits))
    rows = []
    print(f"top-{args.k} of {args.queries} queries, {args.bits}-bit codes; torch on {args.device} vs the CPU path")
    print(f"{'database':>10} {'device s':>9} {'cpu s':>9} {'ratio':>7}  cpu path / check")
    for size in args.sizes:
        database = rng.choice(np.array([-1, 1], dtype=np.int8), (size, args.bits))
        db_device = torch.as_tensor(database).to(args.device)  # codes stay on the device, as an index would
        hamming_topk(queries[:10], db_device, args.k, device=args.device)  # warm-up
        dev_s, ours = best_of(args.repeat, lambda: hamming_topk(queries, db_device, args.k, device=args.device), sync)
        name, search = cpu_search(database)
        cpu_s, ref = best_of(args.cpu_repeat, lambda: search(queries, args.k))
        equal = bool(np.array_equal(ours.distances, ref.distances) and np.array_equal(ours.indices, ref.indices))
        rows.append({"database": size, "device_s": dev_s, "cpu_s": cpu_s, "ratio": cpu_s / dev_s, "cpu_path": name,
                     "exactly_equal": equal})
        print(f"{size:>10} {dev_s:9.3f} {cpu_s:9.3f} {cpu_s / dev_s:6.1f}x  {name}; distances and indices equal: "
              f"{equal}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": args.device, "queries": args.queries, "bits": args.bits, "k": args.k, "rows": rows},
                      fh, indent=1)


if __name__ == "__main__":
    main()
