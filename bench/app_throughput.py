"""Training throughput started from the app vs from the CLI, same process, same data (not a timed test).

    python3 bench/app_throughput.py --device cuda --json out.json

CLI: the engine's generator consumed on the main thread by the CLI's own consumer
(core.cli.train.drive_training, the tqdm bar). App: the generator consumed on a worker thread (as the
app's training thread does) while the main thread runs an event loop standing in for the GUI thread:
at 60 frames/s it takes the worker's events from a queue, updates an EMA and the curve lists, and spends
--paint-ms of pure-Python work per frame holding the GIL (a repaint). No Qt is needed, so this runs on
the GPU machine. Each run is one ADSH outer iteration over a JPEG folder (bench/train_e2e.py writes it)
with the decoded cache; the figure is the run's EpochEnd.images_per_s. Runs alternate CLI, app, app, CLI
(--repeat times) so that drift (clocks, caches) falls on both sides.
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

from core.events import BatchEnd, EpochEnd


def train_cli(cfg) -> float:
    from core import engine
    from core.cli.train import drive_training

    rates = []
    drive_training(_recording(engine.train(cfg), rates), "cli", cfg.epochs)
    return rates[-1]


def _recording(gen, rates: list):
    for event in gen:
        if isinstance(event, EpochEnd):
            rates.append(event.images_per_s)
        yield event


def train_app(cfg, paint_ms: float) -> float:
    from core import engine

    events: queue.SimpleQueue = queue.SimpleQueue()
    done = threading.Event()

    def worker():
        try:
            for event in engine.train(cfg):
                events.put(event)
        finally:
            done.set()

    rates, losses, ema = [], [], [None]

    async def gui_loop():
        while not (done.is_set() and events.empty()):
            while not events.empty():
                event = events.get()
                if isinstance(event, BatchEnd):
                    losses.append(event.loss)
                    ema[0] = event.loss if ema[0] is None else 0.98 * ema[0] + 0.02 * event.loss
                elif isinstance(event, EpochEnd):
                    rates.append(event.images_per_s)
            end = time.perf_counter() + paint_ms / 1000  # a repaint: Python work holding the GIL
            while time.perf_counter() < end:
                sum(i * i for i in range(200))
            await asyncio.sleep(1 / 60)

    thread = threading.Thread(target=worker, name="training")
    thread.start()
    asyncio.run(gui_loop())
    thread.join()
    return rates[-1]


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

    from core.config import AdshOptions, TrainConfig

    root = make_jpeg_folder(Path(args.root), args.train, args.test, args.classes, None)
    cfg = TrainConfig(dataset_kind="folder", dataset_root=str(root), method="adsh", backbone=args.backbone,
                      weights="none", image_size=args.image_size, resize_size=round(args.image_size * 256 / 224),
                      batch_size=args.batch_size, device=args.device, num_workers=args.workers, data_cache=True,
                      epochs=1, adsh=AdshOptions(num_samples=args.train, inner_epochs=args.inner_epochs))
    train_cli(cfg.replace(adsh=AdshOptions(num_samples=min(args.train, 4 * args.batch_size), inner_epochs=1)))  # warm-up
    cli, app = [], []
    for _ in range(args.repeat):
        cli.append(train_cli(cfg))
        app.append(train_app(cfg, args.paint_ms))
        app.append(train_app(cfg, args.paint_ms))
        cli.append(train_cli(cfg))
    ratio = sum(app) / sum(cli)
    print(f"training from the app (worker thread + 60 Hz event loop, {args.paint_ms:g} ms paint per frame) vs CLI: "
          f"app {sum(app) / len(app):.1f}, CLI {sum(cli) / len(cli):.1f} images/s: {ratio:.3f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cli": cli, "app": app, "ratio": ratio, "paint_ms": args.paint_ms}, fh, indent=1)


if __name__ == "__main__":
    main()
