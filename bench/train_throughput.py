"""Training-step throughput of every method against a plain torchvision ResNet-50 step, measured in one
process on synthetic images (not a timed test).

    python3 bench/train_throughput.py --device cuda --json out.json           # the defaults below
    python3 bench/train_throughput.py --device cpu --backbone resnet18 --image-size 32 --multifus-size 32 \
        --batch-size 8 --steps 2 --warmup 1                                 # a dry run

Every step is the method's own (`_batch_loss` + NetworkStepper.step: AMP, channels-last, foreach SGD and
cudnn.benchmark on CUDA), from a pinned CPU batch copied to the device each step, as the loader delivers
it. "plain" is torchvision's ResNet-50 (or --backbone) with a linear classifier and cross-entropy, run
by the same NetworkStepper: the reference for what the hardware gives a standard step.

--compile-step off | reduce-overhead sets TrainConfig.compile_step for every configuration (the plain step
included); with reduce-overhead the first --warmup steps also compile (give it >= 3), and the rate counts
only the steps after them. --compile-backend NAME (CPU dry runs: aot_eager) compiles the same entry points
with that backend instead, on any device. FLOPs are counted on eager steps only (not with either option).

FCAENet forwards three views per anchor (anchor, positive, SREM-erased), so its rate counts anchors.
SEMICON, A2-Net (M = k parts), ExchNet and AGMH run their full training loss (A2-Net with L_rec and L_dec on,
as in its second half; ExchNet without the exchange, whose class centres cost a pass over the train split
per iteration, not per step). DPSH and HashNet run their pairwise step (HashNet's batch is two halves
paired with each other), FISH its two forwards (the images, then their attention-hidden copies).
The FLOPs of one training step per image (torch.utils.flop_counter: forward + backward of convolutions
and matrix products) give what each method's extra work allows: `flops_ratio` = plain FLOPs / method
FLOPs per image, and `efficiency` = (method rate / plain rate) / flops_ratio (1.0 = the method runs its
extra FLOPs as fast as the plain network runs its own).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from core.config.train_config import SEMICON_FAMILY, AdshOptions, MultiFusOptions, TrainConfig
from core.data.records import DatasetIndex, ImageRecord
from core.runtime.device import select_device
from core.training.methods.common import NetworkStepper

CLASSES = 200


def synthetic_dataset(n: int = 2000, classes: int = CLASSES) -> DatasetIndex:
    records = tuple(ImageRecord(f"/synthetic/{i}.jpg", i % classes, "train") for i in range(n))
    return DatasetIndex("synthetic", "/synthetic", records, tuple(map(str, range(classes))))


def method_config(method: str, args, image_size: int) -> TrainConfig:
    return TrainConfig(method=method, backbone=args.backbone, weights="none", image_size=image_size,
                       resize_size=image_size, batch_size=args.batch_size, device=args.device, amp=not args.no_amp,
                       compile_step=args.compile_step,
                       adsh=AdshOptions(num_samples=2000), multifus=MultiFusOptions(**args.multifus_options))


def make_step(name: str, args, device: torch.device):
    """(step(batch), make_batch(b), image_size) for one configuration; step runs forward, loss, backward, SGD."""
    from core.training.methods.asymmetric import SampledSimilarity
    from core.training.methods.common import epoch_generator
    from core.training.methods.registry import make_method

    size = args.multifus_size if name in ("multifusnet", "plain@multifus") else args.image_size

    def make_batch(batch: int) -> dict:
        out = {"image": torch.randn(batch, 3, size, size), "positive": torch.randn(batch, 3, size, size),
               "label": torch.arange(batch) % CLASSES, "db_index": torch.arange(batch)}
        return {k: v.pin_memory() for k, v in out.items()} if device.type == "cuda" else out

    if name.startswith("plain"):
        from torchvision import models

        model = getattr(models, args.backbone)(weights=None, num_classes=CLASSES).to(device)
        stepper = NetworkStepper(model, method_config("adsh", args, size), device)
        _compile_for_bench(stepper, args)
        model.train()
        loss_fn = nn.CrossEntropyLoss()

        def step(batch):
            x = stepper.to_device(batch["image"])
            with stepper.autocast():
                logits = model(x)
            loss = loss_fn(logits.float(), batch["label"].to(device, non_blocking=True))
            stepper.step(loss)
            return loss.detach()
        return step, make_batch, size

    method = make_method(method_config(name, args, size), synthetic_dataset(), device)
    _compile_for_bench(method.stepper, args)
    method.model.train()
    if name == "multifusnet":
        zoom_gen = epoch_generator(0, 1, 3)

        def step(batch):
            loss = method._batch_loss(batch["image"], batch["label"], batch["db_index"], zoom_gen)
            method.stepper.step(loss.total)
            return loss.total.detach()
        return step, make_batch, size

    if name == "dpsh":
        def step(batch):
            terms = method._batch_loss(batch["image"], batch["label"], batch["db_index"])
            return method.stepper.step(terms["likelihood"] + terms["quant"])
        return step, make_batch, size
    if name == "hashnet":
        def step(batch):
            return method.stepper.step(method._batch_loss(batch["image"], batch["label"]))
        return step, make_batch, size
    if name == "fish":
        hide_gen = epoch_generator(0, 1, 3)

        def step(batch):
            return method.stepper.step(sum(method._batch_terms(batch, hide_gen).values()))
        return step, make_batch, size

    sim = SampledSimilarity.build(torch.arange(2000, device=device), method.db_labels_device)
    if name == "a2net":
        method.outer = method.cfg.epochs  # the second half of training: L_rec and L_dec on

    def step(batch):
        _, loss, _ = method._batch_loss(batch, sim)
        method.stepper.step(loss)
        return loss.detach()
    return step, make_batch, size


def _compile_for_bench(stepper: NetworkStepper, args) -> None:
    """--compile-backend: compile with that backend; then print the stepper's notes (compile decisions)."""
    if args.compile_backend:
        stepper.compile_network(backend=args.compile_backend, mode=None)
    for note in stepper.take_notes():
        print(f"  [{note.level}] {note.message}", flush=True)


def flops_per_image(step, make_batch) -> float:
    """Forward + backward FLOPs of one step, per image (counted on a batch of 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step(make_batch(2))
    return counter.get_total_flops() / 2


def images_per_s(step, batch, device: torch.device, warmup: int, steps: int) -> tuple[float, float]:
    """(images per second over `steps` steps after `warmup` ones, seconds). Synchronises only at the ends."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        step(batch)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step(batch)
    sync()
    seconds = time.perf_counter() - start
    return steps * batch["image"].shape[0] / seconds, seconds


def run(args) -> list[dict]:
    device = select_device(args.device)
    rows = []
    for name in args.configs:
        step, make_batch, size = make_step(name, args, device)
        compiled = args.compile_step != "off" or bool(args.compile_backend)
        flops = None if compiled else flops_per_image(step, make_batch)  # a batch of 2 would recompile
        rate, seconds = images_per_s(step, make_batch(args.batch_size), device, args.warmup, args.steps)
        rows.append({"config": name, "image_size": size, "batch": args.batch_size, "images_per_s": rate,
                     "seconds": seconds, "steps": args.steps, "gflops_per_image": flops and flops / 1e9})
        print(f"  {name:15} {size:4d}px  {rate:9.1f} images/s"
              + (f"  {flops / 1e9:7.1f} GFLOP/image (fwd+bwd)" if flops else ""), flush=True)
        del step
        if device.type == "cuda":
            torch.cuda.empty_cache()
    by_name = {r["config"]: r for r in rows}
    for r in rows:
        plain = by_name.get("plain@multifus" if r["config"] == "multifusnet" else "plain")
        if plain is not None and not r["config"].startswith("plain") and r["gflops_per_image"]:
            r["vs_plain"] = r["images_per_s"] / plain["images_per_s"]
            r["flops_ratio"] = plain["gflops_per_image"] / r["gflops_per_image"]
            r["efficiency"] = r["vs_plain"] / r["flops_ratio"]
    return rows


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configs", nargs="+", default=["plain", "adsh", "fcaenet", "plain@multifus", "multifusnet",
                                                    "dpsh", "hashnet", "fish", *SEMICON_FAMILY],
                   help="plain = torchvision network + cross-entropy at --image-size; plain@multifus the same at "
                        "--multifus-size")
    p.add_argument("--backbone", default="resnet50")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--multifus-size", type=int, default=336, help="Multi-FusNet's paper crop")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=8)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--compile-step", default="off", choices=("off", "reduce-overhead"),
                   help="TrainConfig.compile_step of every configuration (reduce-overhead: CUDA only)")
    p.add_argument("--compile-backend", default=None,
                   help="compile with this torch.compile backend instead (e.g. aot_eager: CPU dry runs)")
    p.add_argument("--small-multifus", action="store_true",
                   help="narrow Multi-FusNet conv blocks (CPU dry runs only)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.add_argument("--json", default=None, help="also write every figure to this JSON file")
    args = p.parse_args()
    args.multifus_options = (dict(cascade_mid_channels=16, cascade_out_channels=32, attention_heads=4,
                                  attention_mlp_dim=32) if args.small_multifus else {})
    device = select_device(args.device)
    print(f"training step, synthetic images, {args.backbone}, batch {args.batch_size}, {device}"
          f"{' ' + torch.cuda.get_device_name(device) if device.type == 'cuda' else ''}, amp={not args.no_amp}, "
          f"compile_step={args.compile_step}"
          + (f", compile_backend={args.compile_backend}" if args.compile_backend else ""))
    rows = run(args)
    for r in rows:
        if "vs_plain" in r:
            print(f"  {r['config']:15} {r['vs_plain']:.2f}x the plain step; its FLOPs allow {r['flops_ratio']:.2f}x: "
                  f"efficiency {r['efficiency']:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": str(device), "backbone": args.backbone, "compile_step": args.compile_step,
                       "compile_backend": args.compile_backend,
                       "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
