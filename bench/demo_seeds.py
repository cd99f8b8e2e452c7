"""`fghash demo`'s configuration over several seeds: tie-averaged mAP@all, time, and how much SREM erases.

Trains the demo's run (core.cli.demo.demo_config, options on top) once per seed, evaluates it, and prints
per seed: tie-averaged mAP@all (the headline), ties by index, the chance level, wall and CPU seconds of
training + encoding + evaluation, and the mean fraction of the training crop that SREM erases on the test
images with the trained network (core.explain, the same srem_mask as training). The CPU seconds matter
on a shared machine: wall time there grows with the other jobs' load (printed at the start and end).

    OMP_NUM_THREADS=2 python bench/demo_seeds.py --seeds 0,1,2
    python bench/demo_seeds.py --seeds 0 --image-size 64 --srem-size 32 --srem-regions 50   # the old demo

Uses its own temporary FGHASH_HOME unless one is set.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--method", default="fcaenet")
    parser.add_argument("--bits", type=int, default=None, help="default: the demo's")
    parser.add_argument("--epochs", type=int, default=None, help="default: the demo's")
    parser.add_argument("--image-size", type=int, default=None, help="default: the demo's")
    parser.add_argument("--srem-size", type=int, default=None)
    parser.add_argument("--srem-regions", type=int, default=None)
    parser.add_argument("--inner-epochs", type=int, default=None)
    parser.add_argument("--num-samples", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--gamma", type=float, default=None)
    parser.add_argument("--v-init", choices=("zeros", "randn"), default=None, help="ADSH's initial database codes")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--eval-every", type=int, default=None)
    parser.add_argument("--erase-images", type=int, default=40, help="test images SREM's share is measured on")
    args = parser.parse_args()
    os.environ.setdefault("FGHASH_HOME", tempfile.mkdtemp(prefix="fghash-demo-seeds-"))

    import dataclasses

    import numpy as np
    import torch

    from core import engine
    from core.cli.demo import DEMO_BITS, DEMO_EPOCHS, DEMO_IMAGE_SIZE, demo_config
    from core.data.registry import load_dataset
    from core.engine import run_chance_map

    print(f"load average at start: {os.getloadavg()[0]:.2f} (torch threads {torch.get_num_threads()})")
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        cfg = demo_config(args.method, args.bits or DEMO_BITS, args.epochs or DEMO_EPOCHS, args.image_size or DEMO_IMAGE_SIZE,
                          "none", "cpu")
        adsh = {k: v for k, v in (("inner_epochs", args.inner_epochs), ("num_samples", args.num_samples),
                                  ("gamma", args.gamma), ("v_init", args.v_init)) if v is not None}
        fcae = {k: v for k, v in (("srem_size", args.srem_size), ("srem_regions", args.srem_regions)) if v is not None}
        top = {k: v for k, v in (("lr", args.lr), ("batch_size", args.batch_size), ("eval_every", args.eval_every))
               if v is not None}
        cfg = cfg.replace(seed=seed, adsh=dataclasses.replace(cfg.adsh, **adsh),
                          fcae=dataclasses.replace(cfg.fcae, **fcae), **top)
        wall, cpu = time.perf_counter(), _cpu_seconds()
        finished = None
        for event in engine.train(cfg):
            finished = event
        run = engine.open_run(finished.run_id)
        report = engine.evaluate(run)
        wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
        erased = _erased_share(run, cfg, load_dataset("demo").split("test"), args.erase_images) if cfg.method == "fcaenet" else float("nan")
        results.append((report.map_all, wall, cpu))
        print(f"seed {seed}: mAP@all {100 * report.map_all:.2f} (ties by index {100 * report.map_all_index_order:.2f}, "
              f"chance {100 * run_chance_map(run):.2f}); {wall:.0f} s wall, {cpu:.0f} s CPU; SREM erases "
              f"{100 * erased:.0f}% of the {cfg.image_size} px crop (s = {cfg.fcae.srem_size}, N = {cfg.fcae.srem_regions})",
              flush=True)
    maps = np.array([r[0] for r in results])
    print(f"mAP@all over {len(results)} seeds: {100 * maps.min():.2f}-{100 * maps.max():.2f} (mean {100 * maps.mean():.2f}); "
          f"wall {min(r[1] for r in results):.0f}-{max(r[1] for r in results):.0f} s, "
          f"CPU {min(r[2] for r in results):.0f}-{max(r[2] for r in results):.0f} s; "
          f"load average at end: {os.getloadavg()[0]:.2f}")
    print(f"config: {cfg.image_size} px, {cfg.epochs} outer x {cfg.adsh.inner_epochs} inner epochs (evaluated every "
          f"{cfg.eval_every}), m = "
          f"{cfg.adsh.num_samples}, batch {cfg.batch_size}, lr {cfg.lr}, gamma {cfg.adsh.gamma}, V init {cfg.adsh.v_init}, "
          f"{cfg.bits} bits, "
          f"SREM s = {cfg.fcae.srem_size} N = {cfg.fcae.srem_regions}")
    return 0


def _erased_share(run, cfg, records, count: int) -> float:
    """Mean erased fraction of the crop over the first `count` test images (spread over the classes)."""
    from core.explain.explainer import Explainer

    explainer = Explainer.from_run(run, "cpu")
    step = max(1, len(records) // max(1, count))
    shares = [float(explainer.srem(records[i].path).mask.mean()) for i in range(0, len(records), step)[:count]]
    return sum(shares) / len(shares)


if __name__ == "__main__":
    sys.exit(main())
