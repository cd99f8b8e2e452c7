"""Training throughput of the ADSH / FCAENet step (images/s), for a GPU machine (not a timed test).

    .venv/bin/python bench/train_throughput.py --method fcaenet --backbone resnet50 --image-size 224 \
        --batch-size 64 --steps 30 [--no-amp] [--device cuda]

Synthetic images and labels (no dataset, no decoding) isolate the network step: forward, SREM,
ESRL, ADSH loss, backward, SGD. Reports images/s over the steps after a warm-up; FCAENet forwards
three views per anchor, so its images/s counts anchors.
"""

from __future__ import annotations

import argparse
import time

import torch

from core.config import AdshOptions, TrainConfig
from core.data.records import DatasetIndex, ImageRecord
from core.device import select_device
from core.methods.asymmetric import SampledSimilarity


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--method", default="fcaenet", choices=("adsh", "fcaenet"))
    p.add_argument("--backbone", default="resnet50")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-amp", action="store_true")
    args = p.parse_args()
    from core.methods.registry import make_method

    n, classes = 2000, 200
    records = tuple(ImageRecord(f"/synthetic/{i}.jpg", i % classes, "train") for i in range(n))
    dataset = DatasetIndex("synthetic", "/synthetic", records, tuple(map(str, range(classes))))
    cfg = TrainConfig(method=args.method, backbone=args.backbone, weights="none", image_size=args.image_size,
                      resize_size=args.image_size, batch_size=args.batch_size, device=args.device,
                      amp=not args.no_amp, adsh=AdshOptions(num_samples=n))
    device = select_device(args.device)
    method = make_method(cfg, dataset, device)
    sim = SampledSimilarity.build(torch.arange(n, device=device), method.db_labels_device)
    method.model.train()
    b = args.batch_size
    batch = {"image": torch.randn(b, 3, args.image_size, args.image_size),
             "positive": torch.randn(b, 3, args.image_size, args.image_size),
             "label": torch.arange(b) % classes, "db_index": torch.arange(b)}
    if device.type == "cuda":
        batch = {k: v.pin_memory() for k, v in batch.items()}
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        _, loss, _ = method._batch_loss(batch, sim)
        method.stepper.step(loss)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(f"{args.method} {args.backbone} {args.image_size}px batch {b} on {device} "
          f"(amp={method.stepper.amp}, channels_last={method.stepper.channels_last}): "
          f"{args.steps * b / seconds:.1f} anchor images/s")


if __name__ == "__main__":
    main()
