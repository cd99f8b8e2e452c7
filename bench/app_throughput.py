"""Training throughput started from the app vs from the CLI, same data (not a timed test).

    python3 bench/app_throughput.py --device cuda --json out.json

CLI: the engine's generator consumed on the main thread by the CLI's own consumer
(core.cli.train.drive_training, the tqdm bar). App: the generator consumed on a worker thread (as the
app's training thread does) while the main thread runs an event loop standing in for the GUI thread:
at 60 frames/s it takes the worker's events from a queue, updates an EMA and the curve lists, and spends
--paint-ms of pure-Python work per frame holding the GIL (a repaint). The app runs in two ways: "child",
its default, where that worker thread follows engine.train_in_child (the network trains in a spawned
process with its own GIL), and "thread" (`fghash-gui --train-in-process`), where the worker thread runs
engine.train itself. No Qt is needed, so this runs on the GPU machine. Each run is one ADSH outer
iteration over a JPEG folder (bench/train_e2e.py writes it) with the decoded cache. The figure is the
run's steady rate: images/s over its batches after the first 10% (the harmonic mean of BatchEnd's
per-batch images/s), because a fresh child process pays its start-up (cuDNN autotuning, loader start) inside
its first batches, as a `fghash train` command does, while this script's CLI runs share one warm process;
the whole epoch's EpochEnd rate is in the JSON too. Runs alternate CLI, thread, child, child, thread, CLI
(--repeat times) so that drift (clocks, caches) falls on every side alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import threading
import time
from pathlib import Path

from core.base.events import BatchEnd, EpochEnd

WARM_UP_SHARE = 0.1  # the first 10% of a run's batches are left out of its steady rate


class Rates:
    """What one run measured: its per-batch images/s and its EpochEnd images/s."""

    def __init__(self) -> None:
        self.batch: list[float] = []
        self.epoch: list[float] = []

    def record(self, event) -> None:
        if isinstance(event, BatchEnd):
            self.batch.append(event.images_per_s)
        elif isinstance(event, EpochEnd):
            self.epoch.append(event.images_per_s)

    def steady(self) -> float:
        """images/s over the batches after the first WARM_UP_SHARE: the per-batch rates' harmonic mean
        (each batch's 1 / rate is its seconds per image)."""
        kept = self.batch[max(1, round(WARM_UP_SHARE * len(self.batch))):]
        return len(kept) / sum(1 / r for r in kept)


def train_cli(cfg) -> Rates:
    from core import engine
    from core.cli.train import drive_training

    rates = Rates()
    drive_training(_recording(engine.train(cfg), rates), "cli", cfg.epochs)
    return rates


def _recording(gen, rates: Rates):
    for event in gen:
        rates.record(event)
        yield event


def train_app(cfg, paint_ms: float, child: bool) -> Rates:
    import torch

    from core import engine

    events: queue.SimpleQueue = queue.SimpleQueue()
    done = threading.Event()
    if child and torch.cuda.is_available():
        torch.cuda.empty_cache()  # the CLI runs' cached blocks would crowd the child's GPU memory
    train = engine.train_in_child if child else engine.train

    def worker():
        try:
            for event in train(cfg):
                events.put(event)
        finally:
            done.set()

    rates, losses, ema = Rates(), [], [None]

    async def gui_loop():
        while not (done.is_set() and events.empty()):
            while not events.empty():
                event = events.get()
                rates.record(event)
                if isinstance(event, BatchEnd):
                    losses.append(event.loss)
                    ema[0] = event.loss if ema[0] is None else 0.98 * ema[0] + 0.02 * event.loss
            end = time.perf_counter() + paint_ms / 1000  # a repaint: Python work holding the GIL
            while time.perf_counter() < end:
                sum(i * i for i in range(200))
            await asyncio.sleep(1 / 60)

    thread = threading.Thread(target=worker, name="training")
    thread.start()
    asyncio.run(gui_loop())
    thread.join()
    return rates


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default="/tmp/fghash_jpegs")
    p.add_argument("--train", type=int, default=3000)
    p.add_argument("--test", type=int, default=3000)
    p.add_argument("--classes", type=int, default=100)
    p.add_argument("--backbone", default="resnet50")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--inner-epochs", type=int, default=2)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    p.add_argument("--paint-ms", type=float, default=4.0)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    from train_e2e import make_jpeg_folder  # bench/ is the script's folder: on sys.path

    from core.config.train_config import AdshOptions, TrainConfig

    root = make_jpeg_folder(Path(args.root), args.train, args.test, args.classes, None)
    cfg = TrainConfig(dataset_kind="folder", dataset_root=str(root), method="adsh", backbone=args.backbone,
                      weights="none", image_size=args.image_size, resize_size=round(args.image_size * 256 / 224),
                      batch_size=args.batch_size, device=args.device, num_workers=args.workers, data_cache=True,
                      epochs=1, adsh=AdshOptions(num_samples=args.train, inner_epochs=args.inner_epochs))
    train_cli(cfg.replace(adsh=AdshOptions(num_samples=min(args.train, 4 * args.batch_size), inner_epochs=1)))  # warm-up
    runs: dict[str, list[Rates]] = {"cli": [], "thread": [], "child": []}
    for _ in range(args.repeat):
        runs["cli"].append(train_cli(cfg))
        runs["thread"].append(train_app(cfg, args.paint_ms, child=False))
        runs["child"].append(train_app(cfg, args.paint_ms, child=True))
        runs["child"].append(train_app(cfg, args.paint_ms, child=True))
        runs["thread"].append(train_app(cfg, args.paint_ms, child=False))
        runs["cli"].append(train_cli(cfg))
    steady = {mode: [r.steady() for r in rs] for mode, rs in runs.items()}
    epoch = {mode: [r.epoch[-1] for r in rs] for mode, rs in runs.items()}
    mean = {mode: sum(v) / len(v) for mode, v in steady.items()}
    ratio, thread_ratio = mean["child"] / mean["cli"], mean["thread"] / mean["cli"]
    print(f"training from the app (60 Hz GUI-like event loop, {args.paint_ms:g} ms paint per frame) vs the CLI, "
          f"steady images/s (after the first {WARM_UP_SHARE:.0%} of batches):\n"
          f"  app, child process (the app's default): {mean['child']:.1f} / CLI {mean['cli']:.1f} = {ratio:.3f}x\n"
          f"  app, worker thread (--train-in-process): {mean['thread']:.1f} / CLI {mean['cli']:.1f} = "
          f"{thread_ratio:.3f}x\n"
          f"  whole-epoch images/s (start-up included): "
          + ", ".join(f"{mode} {sum(v) / len(v):.1f}" for mode, v in epoch.items()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cli": steady["cli"], "app": steady["child"], "thread": steady["thread"], "ratio": ratio,
                       "thread_ratio": thread_ratio, "app_mode": "child process", "epoch_images_per_s": epoch,
                       "warm_up_share": WARM_UP_SHARE, "paint_ms": args.paint_ms}, fh, indent=1)


if __name__ == "__main__":
    main()
