"""`fghash demo`: the main job on the built-in demo data, end to end.

Trains a small FCAENet (ResNet-18) on the generated demo set (10 classes, 240 database / 160 query
images), builds the run's Hamming index, prints the evaluation table next to what random codes score,
and a sample query's top k. With a display (and the GUI installed) it then opens the app on the run;
without one (or with --no-gui) it stops after printing.

The demo schedule is small so that it finishes in about a minute on a 2-core CPU: 48-bit codes, 64 px crops,
4 outer x 3 inner iterations, SREM with N = 10 squares of s = 16 px. From random weights it uses gamma = 20 and
lr = 0.005 (the measured settings of tests/core/test_training.py: the paper's gamma = 200 assumes ImageNet
weights) and random initial database codes (measured over three seeds: demo_config); when torchvision's ImageNet ResNet-18 file is already in the torch hub cache it starts from those
weights and keeps the paper's gamma and schedule.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np

from core.engine import METHODS

# The demo's schedule and SREM settings (bench/demo_seeds.py measures them over seeds; README, Demo).
DEMO_BITS = 48
DEMO_EPOCHS = 4
DEMO_IMAGE_SIZE = 64
DEMO_INNER_EPOCHS = 3
DEMO_SREM_SIZE = 16
DEMO_SREM_REGIONS = 10


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train a small model on the built-in demo data, index, evaluate, open the app")
    p.add_argument("--method", default="fcaenet", choices=METHODS)
    p.add_argument("--bits", type=int, default=DEMO_BITS, help=f"code length (default {DEMO_BITS})")
    p.add_argument("--epochs", type=int, default=DEMO_EPOCHS,
                   help=f"outer iterations (ADSH/FCAENet) or epochs (default {DEMO_EPOCHS})")
    p.add_argument("--image-size", type=int, default=DEMO_IMAGE_SIZE,
                   help=f"training crop / evaluation centre crop (default {DEMO_IMAGE_SIZE})")
    p.add_argument("--weights", default="auto", help="auto (ImageNet when cached, else none), imagenet, none, FILE")
    p.add_argument("--device", default=None, choices=("auto", "cpu", "cuda"))
    p.add_argument("-k", type=int, default=10, help="results shown for the sample query (default 10)")
    p.add_argument("--no-gui", action="store_true", help="print the results only, even with a display")
    p.set_defaults(func=_cmd_demo)


def demo_config(method: str, bits: int, epochs: int, image_size: int, weights: str, device: str | None):
    """The demo's TrainConfig: the 'quick' preset on the demo set, sized for a CPU."""
    from core.engine import preset_config

    if weights == "auto":
        weights = "imagenet" if _imagenet_cached("resnet18") else "none"
    top = dict(backbone="resnet18", weights=weights, epochs=epochs, eval_every=1, image_size=image_size,
               resize_size=round(image_size * 256 / 224), batch_size=16, num_workers=0)
    if device:
        top["device"] = device
    adsh: dict = {}
    if method == "multifusnet":
        top["lr"] = 0.0035
    else:
        adsh = dict(num_samples=240, inner_epochs=DEMO_INNER_EPOCHS)
        if weights == "none":
            top["lr"] = 0.005
            adsh["gamma"] = 20.0
            adsh["v_init"] = "randn"  # from V = 0 the first outer iteration has no similarity signal to learn from
    # Issue 23, measured with bench/demo_seeds.py over seeds 0, 1, 2 (2 threads, idle 2-core CPU, random weights;
    # tie-averaged mAP@all, chance 11.91): the old demo (12 bits, V = 0 at the start, SREM s = 32, N = 50) scored
    # 24.37 / 34.81 / 43.64; these settings (48 bits, V random at the start, s = 16, N = 10) 45.48 / 39.11 / 47.38
    # in 59-63 s each. At 12 bits the 240 database codes take only 13 distances, so tie groups are large and the
    # order-free mAP pays for them. Tried on seed 0 (80 px and 5 outer iterations on seed 1 too) and not better:
    # 48, 80 or 96 px, 5 or 10 outer iterations, lr 0.01, gamma 5 or 200, batch 32, m = 120 with 8 iterations,
    # weight decay 5e-4; lr 0.02 with 6 x 2 iterations collapsed the codes; lr / 10 for the last outer iteration
    # gave 45.55 / 38.55 / 47.04, 6 outer x 2 inner iterations 47.00 / 36.39 / 46.89, and RandomResizedCrop's
    # smallest crop at 35 % of the image instead of 8 % (patched in for a test) 45.1 / 36.1 on seeds 1 / 2. The
    # same seed moves by up to 10 points with the number of threads (seed 1 at 6 x 2: 46.8 on one thread, 36.4 on
    # two), so single runs differ by that much. Every setting stayed near 44 % on average: the network then tells
    # the patch colours apart but hardly the head stripe or the spot's position (an encoder that knows the colour
    # only scores exactly 43.26 %: bench/demo_ceiling.py), and issue 23's goal of 50 % on every seed is not reached.
    # From random weights those details take far longer than the demo's minute: 20 outer iterations (585 s on one
    # thread) stayed at 45-50 % on seed 0.
    return preset_config("quick", method, bits, "demo", adsh=adsh, fcae={"srem_size": DEMO_SREM_SIZE, "srem_regions": DEMO_SREM_REGIONS}, **top)


def _imagenet_cached(backbone: str) -> bool:
    from core.engine import hub_weights_path

    return hub_weights_path(backbone).exists()


def typical_query(per_query_ap) -> int:
    """The test-split index of the query whose AP is the median one (the first of equals)."""
    aps = np.asarray(per_query_ap, dtype=float)
    return int(np.argsort(aps, kind="stable")[(len(aps) - 1) // 2])


def _cmd_demo(args: argparse.Namespace) -> int:
    from core import engine
    from core.cli.retrieval import index_with_progress, print_query_result
    from core.cli.train import drive_training
    from core.engine import report_table, run_chance_map

    cfg = demo_config(args.method, args.bits, args.epochs, args.image_size, args.weights, args.device)
    print(f"fghash demo: {cfg.method}, {cfg.bits} bits, {cfg.backbone} ({cfg.weights} weights), "
          f"{cfg.epochs} epochs at {cfg.image_size} px on the demo data")
    finished = drive_training(engine.train(cfg), f"{cfg.method} {cfg.bits} bits", cfg.epochs)
    if finished is None or finished.status != "finished":
        status = finished.status if finished is not None else "stopped"
        print(f"demo training {status}; nothing to index", file=sys.stderr)
        return 1
    run = engine.open_run(finished.run_id)
    index_with_progress(run)
    report = engine.evaluate(run)
    print()
    print(report_table([report], chance=[engine.chance_levels(run, tuple(report.map_at_k))]))
    print(f"(random {cfg.bits}-bit codes score mAP@all {100 * run_chance_map(run):.2f} on the same split: the exact "
          f"expectation, the same for every code length)")
    print()
    typical = typical_query(report.per_query_ap)
    print(f"a typical query (its AP {100 * report.per_query_ap[typical]:.1f} is the median):")
    print_query_result(engine.query_with_stats(typical, run, k=args.k))
    print(f"\nrun folder: {run.root}")
    if args.no_gui or not _has_display():
        print(f"open it in the app with: fghash-gui {finished.run_id}")
        return 0
    return _open_gui(finished.run_id)


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("win32", "darwin")


def _open_gui(run_id: str) -> int:
    """The app in its own process (core never imports Qt); its exit code is the demo's."""
    print("opening the app (close the window to finish) ...")
    return subprocess.call([sys.executable, "-m", "fghash_gui", run_id])
