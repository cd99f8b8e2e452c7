"""End to end from JPEG files: training images/s with decoding and augmentation included (PIL workers, or
the pre-decoded uint8 cache with augmentation on the device) against the synthetic step rate of the same
method in the same run, and encoding images/s from files (not a timed test).

    python3 bench/train_e2e.py --device cuda --train 3000 --test 3000 --json out.json
    python3 bench/train_e2e.py --device cpu --backbone resnet18 --image-size 32 --train 96 --test 32 \
        --batch-size 16 --workers 1 --epochs 1                            # a dry run

The dataset is a `folder` dataset written to --root: --jpeg-source DIR replicates the JPEGs found there
(e.g. ../shared/data/CUB_200_2011/images) to the requested count; without it, 64 photo-like images
(smooth random colour fields with fine noise, 500 x 375, quality 90: about the size and decoding cost
of a CUB image) are encoded and replicated. The training rate is taken over one outer iteration of the
method (m = every training image, --epochs inner epochs), from the end of the --warm-batch'th batch to
the last, with the device synchronised at both ends.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import torch

from core.base.events import BatchEnd
from core.config.train_config import AdshOptions, TrainConfig
from core.runtime.device import select_device


def make_jpeg_folder(root: Path, train: int, test: int, classes: int, source: Path | None) -> Path:
    """ROOT/{train,test}/c<k>/<i>.jpg with train + test files; returns ROOT. Reuses a complete folder."""
    marker = root / f".complete-{train}-{test}-{classes}"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    blobs = _source_blobs(source) if source else _synthetic_blobs(64)
    for split, count in (("train", train), ("test", test)):
        for i in range(count):
            folder = root / split / f"c{i % classes:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i:06d}.jpg").write_bytes(blobs[i % len(blobs)])
    marker.touch()
    return root


def _source_blobs(source: Path) -> list[bytes]:
    files = sorted(p for p in Path(source).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    if not files:
        raise SystemExit(f"no JPEG files under {source}")
    return [p.read_bytes() for p in files]


def _synthetic_blobs(count: int, size: tuple[int, int] = (500, 375)) -> list[bytes]:
    from PIL import Image

    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(count):
        coarse = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
        pixels = np.asarray(coarse, dtype=np.int16) + rng.integers(-12, 13, (size[1], size[0], 3))
        buf = io.BytesIO()
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
        blobs.append(buf.getvalue())
    return blobs


def config(args, method: str, data_cache: bool, root: Path, train: int) -> TrainConfig:
    resize = round(args.image_size * 256 / 224)
    return TrainConfig(dataset_kind="folder", dataset_root=str(root), method=method, backbone=args.backbone,
                       weights="none", image_size=args.image_size, resize_size=resize, batch_size=args.batch_size,
                       device=args.device, num_workers=args.workers, data_cache=data_cache,
                       adsh=AdshOptions(num_samples=train, inner_epochs=args.epochs))


def epoch_rate(cfg: TrainConfig, dataset, device: torch.device, warm_batch: int):
    """(anchor images/s over one outer iteration after warm_batch batches, the method)."""
    from core.training.methods.registry import make_method

    method = make_method(cfg, dataset, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    start, counted = None, 0
    for event in method.train_epoch(1, threading.Event()):
        if not isinstance(event, BatchEnd):
            continue
        if event.batch == warm_batch:
            sync()
            start = time.perf_counter()
        elif start is not None:
            counted += 1
    sync()
    return counted * cfg.batch_size / (time.perf_counter() - start), method


def warm_encoder(model, device: torch.device, batch_size: int, crop: int, amp: bool) -> None:
    """One forward pass at this batch shape and precision before timing: with cudnn.benchmark (set by
    training on CUDA) a new shape starts with seconds of autotuning, which a short timed pass would count
    (the first H200 check timed 2,000 images at batch 256 and measured mostly that)."""
    x = torch.zeros(batch_size, 3, crop, crop, device=device)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    model.eval()
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16, enabled=amp):
        model.encode(x)
    if device.type == "cuda":
        torch.cuda.synchronize()


def encode_rate(model, records, cfg: TrainConfig, device: torch.device, decoded=None,
                batch_size: int | None = None) -> float:
    """images/s of fghash's own encoding (core.encoding.encode.encode_records: float32, autocast off)."""
    from core.data.transforms import eval_transform
    from core.encoding.encode import drain, encode_records

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    warm_encoder(model, device, batch_size or cfg.batch_size, cfg.image_size, amp=False)
    start = time.perf_counter()
    drain(encode_records(model, records, eval_transform(cfg.image_size, cfg.resize_size), device,
                         batch_size=batch_size or cfg.batch_size, num_workers=cfg.num_workers, decoded=decoded,
                         crop=cfg.image_size))
    sync()
    return len(records) / (time.perf_counter() - start)


def amp_encode_rate(model, decoded, device: torch.device, crop: int, batch_size: int, workers: int) -> float:
    """images/s of the same network outputs under float16 autocast, from the decoded cache: what AMP would
    give. fghash does not encode this way (codes are signs; core.encoding.encode keeps float32); tests/core/test_cuda.py
    measures how many bits AMP would flip."""
    from core.data.gpu_augment import center_crop_normalize

    loader = torch.utils.data.DataLoader(decoded, batch_size=batch_size, num_workers=workers,
                                         pin_memory=device.type == "cuda")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    warm_encoder(model, device, batch_size, crop, amp=device.type == "cuda")
    start, count = time.perf_counter(), 0
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
        for images, _labels, _index in loader:
            images = center_crop_normalize(images.to(device, non_blocking=True), crop)
            if device.type == "cuda":
                images = images.contiguous(memory_format=torch.channels_last)
            model.encode(images)
            count += images.shape[0]
    sync()
    return count / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default="/tmp/fghash_jpegs")
    p.add_argument("--jpeg-source", default=None)
    p.add_argument("--train", type=int, default=3000)
    p.add_argument("--test", type=int, default=3000)
    p.add_argument("--classes", type=int, default=100)
    p.add_argument("--methods", nargs="+", default=["adsh", "fcaenet"])
    p.add_argument("--backbone", default="resnet50")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=2, help="inner epochs over the training images")
    p.add_argument("--warm-batch", type=int, default=5)
    p.add_argument("--encode-batch", type=int, default=256, help="the larger encoding batch also measured")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    p.add_argument("--device", default="auto")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    from train_throughput import images_per_s, make_step  # bench/ is the script's folder: on sys.path

    from core.data.decoded_cache import ensure_decoded
    from core.data.registry import load_dataset
    from core.encoding.encode import drain

    device = select_device(args.device)
    t0 = time.perf_counter()
    root = make_jpeg_folder(Path(args.root), args.train, args.test, args.classes,
                            Path(args.jpeg_source) if args.jpeg_source else None)
    dataset = load_dataset("folder", str(root))
    print(f"end to end from {len(dataset.records)} JPEG files in {root} ({time.perf_counter() - t0:.1f} s to write), "
          f"{args.backbone} {args.image_size}px batch {args.batch_size}, {args.workers} loader workers, {device}")
    out = {"device": str(device), "train": args.train, "test": args.test, "workers": args.workers,
           "batch": args.batch_size, "rows": []}
    for method in args.methods:
        cfg = config(args, method, False, root, args.train)
        synth_args = argparse.Namespace(backbone=args.backbone, image_size=args.image_size,
                                        multifus_size=args.image_size, batch_size=args.batch_size,
                                        device=args.device, no_amp=False, multifus_options={},
                                        compile_step="off", compile_backend=None)
        step, make_batch, _ = make_step(method, synth_args, device)
        synthetic, _ = images_per_s(step, make_batch(args.batch_size), device, warmup=3,
                                    steps=max(4, 2 * args.warm_batch))
        del step
        pil, trained = epoch_rate(cfg, dataset, device, args.warm_batch)
        start = time.perf_counter()
        drain(ensure_decoded(dataset.split("train"), cfg.resize_size, num_workers=args.workers))
        build = time.perf_counter() - start
        cached, _ = epoch_rate(config(args, method, True, root, args.train), dataset, device, args.warm_batch)
        row = {"method": method, "synthetic": synthetic, "pil": pil, "cache": cached, "cache_build_s": build,
               "pil_vs_synthetic": pil / synthetic, "cache_vs_synthetic": cached / synthetic}
        out["rows"].append(row)
        print(f"  {method:8} synthetic {synthetic:8.1f}  PIL workers {pil:8.1f} ({pil / synthetic:.2f}x)  "
              f"cache {cached:8.1f} ({cached / synthetic:.2f}x) anchor images/s; cache built in {build:.1f} s",
              flush=True)
    # encoding from files: the last method's network, test split
    model = trained.model
    records = dataset.split("test")
    pil_enc = encode_rate(model, records, cfg, device)
    start = time.perf_counter()
    decoded = drain(ensure_decoded(records, cfg.resize_size, num_workers=args.workers, substitute="blank"))
    build = time.perf_counter() - start
    cache_enc = encode_rate(model, records, cfg, device, decoded=decoded)
    big = args.encode_batch
    cache_big = encode_rate(model, records, cfg, device, decoded=decoded, batch_size=big)
    amp_big = amp_encode_rate(model, decoded, device, cfg.image_size, big, args.workers)
    out["encode"] = {"pil": pil_enc, "cache": cache_enc, "cache_build_s": build, "images": len(records),
                     "batch": cfg.batch_size, "large_batch": big, "cache_large_batch": cache_big,
                     "amp_cache_large_batch": amp_big}
    print(f"  encode   PIL workers {pil_enc:8.1f}  cache {cache_enc:8.1f} images/s (float32, as fghash "
          f"encodes; batch {cfg.batch_size}; {len(records)} images; cache built in {build:.1f} s)")
    amp_label = "with float16 autocast (AMP; not what fghash saves)" if device.type == "cuda" else \
        "in the AMP path, float32 here (no AMP on the CPU)"
    print(f"  encode   batch {big}: cache {cache_big:8.1f} images/s float32, {amp_big:8.1f} {amp_label}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
