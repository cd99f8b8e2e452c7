"""Small trainings behind docs/measurements.md (issue 24): the ESRL scales, the proxy-code targets, and one vs
two torchrun processes, each over several seeds, with the final mAP@all (ties averaged) as mean ± sample std.

    OMP_NUM_THREADS=1 PYTHONPATH=. nice .venv/bin/python bench/faithful_runs.py esrl --root ../shared/data/CUB_200_2011
    OMP_NUM_THREADS=1 PYTHONPATH=. nice .venv/bin/python bench/faithful_runs.py proxy --root ../shared/data/CUB_200_2011
    OMP_NUM_THREADS=1 PYTHONPATH=. nice .venv/bin/python bench/faithful_runs.py targets --root ../shared/data/CUB_200_2011
    OMP_NUM_THREADS=1 PYTHONPATH=. nice .venv/bin/python bench/faithful_runs.py torchrun

Sized for a shared 2-core CPU, so the numbers compare options under one tiny budget (ResNet-18 from random
weights, small images, few epochs); they are not the papers' numbers. Every run trains in a temporary
FGHASH_HOME. `esrl` and `proxy` train in this process through core.training.driver; `torchrun` launches
`fghash train` once with one process and once under torch.distributed.run with two, per seed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from core.base.events import Log, TrainFinished
from core.config.train_config import AdshOptions, FcaeOptions, MultiFusOptions, TrainConfig
from core.evaluation.seed_groups import mean_std

REPO = Path(__file__).resolve().parents[1]


def _train(cfg: TrainConfig) -> tuple[float, list[str]]:
    """Final mAP@all and the log lines of one run in a fresh FGHASH_HOME."""
    from core.training.driver import train

    with tempfile.TemporaryDirectory() as home:
        os.environ["FGHASH_HOME"] = home
        logs, final = [], None
        for event in train(cfg):
            if isinstance(event, Log):
                logs.append(event.message)
            elif isinstance(event, TrainFinished):
                final = event
        if final is None or final.status != "finished" or final.final_map is None:
            raise SystemExit(f"run did not finish: {final}")
        return float(final.final_map), logs


def _report(name: str, values: list[float]) -> None:
    print(f"{name}: mAP@all {mean_std(values).format(100)}  [{', '.join(f'{100 * v:.2f}' for v in values)}]",
          flush=True)


def esrl(args: argparse.Namespace) -> None:
    """FCAENet with each ESRL scale on the same seeds ("off": the no-ESRL ablation, SREM kept)."""
    for scale in args.scales.split(","):
        values = []
        for seed in range(args.seeds):
            srem_size = max(1, round(32 * args.image_size / 224))  # the paper's 32 px at 224, scaled
            fcae = (FcaeOptions(use_esrl=False, srem_size=srem_size) if scale == "off" else
                    FcaeOptions(esrl_normalization=scale, srem_size=srem_size))
            cfg = TrainConfig(
                method="fcaenet", dataset_kind="cub", dataset_root=args.root, allow_missing=True, bits=args.bits,
                backbone="resnet18", weights="none", image_size=args.image_size,
                resize_size=round(args.image_size * 256 / 224), device="cpu", seed=seed, epochs=args.epochs,
                batch_size=32, lr=0.02, lr_milestones=(), eval_every=args.epochs, adsh=AdshOptions(
                    num_samples=args.samples, inner_epochs=args.inner_epochs, gamma=20.0), fcae=fcae)
            t0 = time.perf_counter()
            value, _ = _train(cfg)
            values.append(value)
            print(f"  esrl {scale} seed {seed}: {100 * value:.2f} ({time.perf_counter() - t0:.0f} s)", flush=True)
        _report(f"ESRL {scale}, {args.bits} bits", values)


def proxy(args: argparse.Namespace) -> None:
    """Multi-FusNet with the paper's per-image FISH targets and with the distinct-per-class repair. Where the
    two give identical targets (same labels, bits and seed) the runs are identical on the CPU, so that run is
    trained once and reported for both (the line says so)."""
    from core.data.registry import load_dataset
    from core.training.methods.proxy_codes import generate_proxy_codes

    train_labels = [r.label for r in load_dataset("cub", args.root, allow_missing=True).split("train")]
    small = dict(cascade_mid_channels=64, cascade_out_channels=128, attention_mlp_dim=256, cascade_bn_momentum=0.1)
    for bits in [int(b) for b in args.bits_list.split(",")]:
        values: dict[str, list[float]] = {"fish": [], "distinct": []}
        for seed in range(args.seeds):
            codes = {t: generate_proxy_codes(train_labels, 200, bits, seed=seed, targets=t) for t in values}
            same = torch.equal(codes["fish"].image_codes, codes["distinct"].image_codes)
            for targets in values:
                if same and targets == "distinct":
                    values["distinct"].append(values["fish"][-1])
                    print(f"  {bits} bits distinct seed {seed}: identical targets to fish, so the same run", flush=True)
                    continue
                cfg = TrainConfig(
                    method="multifusnet", dataset_kind="cub", dataset_root=args.root, allow_missing=True, bits=bits,
                    backbone="resnet18", weights="none", image_size=args.image_size, resize_size=args.image_size,
                    device="cpu", amp=False, seed=seed, epochs=args.epochs, batch_size=16, lr=0.05,
                    lr_milestones=(max(1, args.epochs - 1),), eval_every=args.epochs,
                    multifus=MultiFusOptions(proxy_codes=targets, **small))
                t0 = time.perf_counter()
                value, logs = _train(cfg)
                values[targets].append(value)
                summary = next((m for m in logs if m.startswith("proxy codes:")), "")
                print(f"  {bits} bits {targets} seed {seed}: {100 * value:.2f} ({time.perf_counter() - t0:.0f} s); "
                      f"{summary}", flush=True)
        for targets, got in values.items():
            _report(f"proxy codes {targets}, {bits} bits", got)


def targets(args: argparse.Namespace) -> None:
    """No training: the two kinds of targets on the CUB subset's train labels and on CUB-sized labels
    (200 classes, 5,994 images, 29-30 per class like CUB's train split)."""
    from core.data.registry import load_dataset
    from core.training.methods.proxy_codes import generate_proxy_codes

    subset = [r.label for r in load_dataset("cub", args.root, allow_missing=True).split("train")]
    cub_sized = torch.arange(200).repeat_interleave(30)[:5994].tolist()
    for name, labels in (("CUB subset", subset), ("CUB-sized", cub_sized)):
        print(f"{name}: {len(labels):,} train images, {len(set(labels))} classes")
        for bits in [int(b) for b in args.bits_list.split(",")]:
            for seed in range(args.seeds):
                fish = generate_proxy_codes(labels, 200, bits, seed=seed)
                distinct = generate_proxy_codes(labels, 200, bits, seed=seed, targets="distinct")
                changed = int((fish.image_codes != distinct.image_codes).any(dim=1).sum())
                print(f"  {bits} bits seed {seed}: fish: {fish.colliding_classes} classes collide, "
                      f"{fish.fish_images_off_class_code} images off their class's majority code, class-code min "
                      f"distance {fish.min_interclass_hamming}; distinct: {distinct.reassigned_classes} classes "
                      f"moved, {changed} image targets differ from fish, min distance "
                      f"{distinct.min_interclass_hamming}", flush=True)


TORCHRUN_ARGS = ["--dataset", "demo", "--method", "fcaenet", "--preset", "quick", "--bits", "12",
                 "--backbone", "resnet18", "--weights", "none", "--image-size", "32", "--num-samples", "120",
                 "--inner-epochs", "2", "--batch-size", "16", "--epochs", "3", "--device", "cpu"]


def _cli_map(seed: int, processes: int) -> float:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
               "FGHASH_HOME": home}
        launcher = (["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)]
                    if processes > 1 else [])
        out = subprocess.run([sys.executable, *launcher, "-m", "core.cli", "train", *TORCHRUN_ARGS,
                              "--seed", str(seed)], env=env, cwd=REPO, text=True, capture_output=True)
        found = re.findall(r"test mAP@all = ([0-9.]+)", out.stdout + out.stderr)
        if out.returncode != 0 or not found:
            raise SystemExit(f"fghash train failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        return float(found[-1]) / 100


def torchrun(args: argparse.Namespace) -> None:
    """The same config in one process and in two gloo processes (each its own slice and augmentation)."""
    print("fghash train " + " ".join(TORCHRUN_ARGS) + " --seed S", flush=True)
    for processes in (1, 2):
        values = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            values.append(_cli_map(seed, processes))
            print(f"  {processes} process(es) seed {seed}: {100 * values[-1]:.2f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
        _report(f"{processes} process(es)", values)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    e = sub.add_parser("esrl")
    e.add_argument("--root", required=True)
    e.add_argument("--scales", default="quant,m_k", help="comma-separated: quant, m_k, batch_k, off")
    e.add_argument("--bits", type=int, default=12)
    e.add_argument("--image-size", type=int, default=64)
    e.add_argument("--epochs", type=int, default=4)
    e.add_argument("--samples", type=int, default=150)
    e.add_argument("--inner-epochs", type=int, default=2)
    e.add_argument("--seeds", type=int, default=3)
    e.set_defaults(func=esrl)
    x = sub.add_parser("proxy")
    x.add_argument("--root", required=True)
    x.add_argument("--bits-list", default="12,48")
    x.add_argument("--image-size", type=int, default=48)
    x.add_argument("--epochs", type=int, default=4)
    x.add_argument("--seeds", type=int, default=3)
    x.set_defaults(func=proxy)
    g = sub.add_parser("targets")
    g.add_argument("--root", required=True)
    g.add_argument("--bits-list", default="12,24,32,48")
    g.add_argument("--seeds", type=int, default=3)
    g.set_defaults(func=targets)
    t = sub.add_parser("torchrun")
    t.add_argument("--seeds", type=int, default=3)
    t.set_defaults(func=torchrun)
    args = p.parse_args()
    torch.set_num_threads(1)
    args.func(args)


if __name__ == "__main__":
    main()
