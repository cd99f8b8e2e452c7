"""`fghash train`: one run per bit length, driven under a tqdm progress bar; prints mAP@all at the end."""

from __future__ import annotations

import argparse
from typing import Any

from core.chance import CHANCE_DESCRIPTION
from core.config import BACKBONES, DEVICES, METHODS


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a hashing model (one run per bit length)")
    p.add_argument("--dataset", default="demo", help="dataset kind (see `fghash datasets list`); default demo")
    p.add_argument("--root", default=None, help="dataset folder (not needed for demo)")
    p.add_argument("--allow-missing", action="store_true", help="train on the images present if some are missing")
    p.add_argument("--method", default="fcaenet", choices=METHODS)
    p.add_argument("--bits", default="12", help="comma-separated code lengths, e.g. 12,24,32,48")
    p.add_argument("--preset", default="paper", choices=("paper", "code", "quick"),
                   help="paper: the papers' schedules; code: Multi-FusNet's published-code settings; "
                        "quick: a few short epochs to try the pipeline")
    p.add_argument("--resume", default=None, metavar="RUN", help="continue a run (id, prefix, folder or 'latest')")
    for flag, typ, helptext in (
        ("--epochs", int, "outer iterations (ADSH/FCAENet) or epochs"), ("--batch-size", int, None),
        ("--lr", float, None), ("--image-size", int, "training crop / evaluation centre crop"),
        ("--resize-size", int, "evaluation resize before the centre crop"), ("--seed", int, None),
        ("--eval-every", int, "evaluate mAP every N epochs"), ("--num-workers", int, "data loader workers"),
        ("--num-samples", int, "ADSH m: images sampled per outer iteration"),
        ("--inner-epochs", int, "ADSH T_in: epochs over the m samples per outer iteration"),
        ("--gamma", float, "ADSH quantisation weight"), ("--alpha", float, "FCAENet L_pos weight"),
        ("--beta", float, "FCAENet L_era weight"),
    ):
        p.add_argument(flag, type=typ, default=None, help=helptext)
    p.add_argument("--backbone", default=None, choices=BACKBONES)
    p.add_argument("--weights", default=None, help="imagenet (default), none, or a local .safetensors/.pth file")
    p.add_argument("--device", default=None, choices=DEVICES)
    p.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    p.add_argument("--no-srem", action="store_true", help="FCAENet ablation: no SREM-erased view")
    p.add_argument("--no-esrl", action="store_true", help="FCAENet ablation: no positive-pair term")
    p.add_argument("--no-cascade", action="store_true", help="Multi-FusNet ablation: top level only, no conv blocks")
    p.add_argument("--no-fusion", action="store_true", help="Multi-FusNet ablation: no ECA branch (F = X)")
    p.add_argument("--no-attention", action="store_true", help="Multi-FusNet ablation: no transformer enhancement")
    p.add_argument("--no-zoom", action="store_true", help="Multi-FusNet: no saliency-zoomed view")
    p.add_argument("--eca-kernel", default=None, choices=("adaptive", "shared_k3"),
                   help="Multi-FusNet ECA: per-level adaptive k (paper) or one shared k=3 (published code)")
    p.add_argument("--procrustes", default=None, choices=("fish_correct", "as_in_muiltnet"),
                   help="Multi-FusNet proxy codes R-step: R = P Q^T (correct) or R = P Q (published code)")
    p.set_defaults(func=_cmd_train)


def configs_from_args(args: argparse.Namespace) -> list:
    """One TrainConfig per requested bit length."""
    from core.errors import ConfigError
    from core.presets import preset_config

    top: dict[str, Any] = {"dataset_root": args.root}
    if args.allow_missing:
        top["allow_missing"] = True
    for name in ("epochs", "batch_size", "lr", "image_size", "resize_size", "seed", "eval_every", "num_workers",
                 "backbone", "weights", "device"):
        if getattr(args, name) is not None:
            top[name] = getattr(args, name)
    if args.num_workers is None and not args.resume:
        top["num_workers"] = _default_workers(args.device)
    if args.image_size is not None and args.resize_size is None:
        top["resize_size"] = max(args.image_size, round(args.image_size * 256 / 224))
    if args.no_amp:
        top["amp"] = False
    adsh = {k: getattr(args, k) for k in ("num_samples", "inner_epochs", "gamma") if getattr(args, k) is not None}
    fcae = {k: getattr(args, k) for k in ("alpha", "beta") if getattr(args, k) is not None}
    if args.no_srem:
        fcae["use_srem"] = False
    if args.no_esrl:
        fcae["use_esrl"] = False
    multifus: dict[str, Any] = {k: getattr(args, k) for k in ("eca_kernel", "procrustes") if getattr(args, k) is not None}
    for flag, field in (("no_cascade", "use_cascade"), ("no_fusion", "use_fusion"),
                        ("no_attention", "use_attention"), ("no_zoom", "use_zoom")):
        if getattr(args, flag):
            multifus[field] = False
    if multifus and args.method != "multifusnet":
        raise ConfigError(f"--{next(iter(multifus)).replace('_', '-')} and the other Multi-FusNet options need "
                          f"--method multifusnet (got {args.method})")
    try:
        bits = [int(b) for b in str(args.bits).split(",") if b.strip()]
    except ValueError:
        raise ConfigError(f"--bits must be comma-separated integers such as 12,24,32,48; got {args.bits!r}") from None
    return [preset_config(args.preset, args.method, b, args.dataset, adsh=dict(adsh), fcae=dict(fcae),
                          multifus=dict(multifus), **top)
            for b in bits]


def _cmd_train(args: argparse.Namespace) -> int:
    from core import engine

    if args.resume:
        paths = engine.open_run(args.resume)
        epochs = paths.load_config().epochs
        results = [drive_training(engine.train(None, resume=paths), f"resume {paths.run_id}", epochs)]
    else:
        results = [drive_training(engine.train(cfg), f"{cfg.method} {cfg.bits} bits", cfg.epochs)
                   for cfg in configs_from_args(args)]
    print(f"{'run id':48} {'status':10} {'final mAP':>9} {'best mAP':>9} {'chance':>7}")
    for r in results:
        final = f"{100 * r.final_map:9.2f}" if r.final_map is not None else f"{'-':>9}"
        best = f"{100 * r.best_map:9.2f}" if r.best_map is not None else f"{'-':>9}"
        chance = _chance_cell(r.run_dir)
        print(f"{r.run_id:48} {r.status:10} {final} {best} {chance}")
    print(f"({CHANCE_DESCRIPTION}; mAP in %)")
    return 0 if all(r.status == "finished" for r in results) else 1


def _chance_cell(run_dir: str) -> str:
    """The run's chance level in % (7 wide), or '-' when it has no saved codes (failed or cancelled early)."""
    from core.chance import run_chance_map
    from core.errors import FghashError

    try:
        return f"{100 * run_chance_map(run_dir):7.2f}"
    except FghashError:
        return f"{'-':>7}"


def drive_training(gen, label: str, epochs: int):
    """Consume one training generator under a tqdm bar over all batches of the run."""
    from tqdm import tqdm

    from core.events import BatchEnd, EvalResult, Log, TrainFinished

    bar = tqdm(desc=label, unit="batch", dynamic_ncols=True)
    last_map = None
    finished = None
    try:
        for event in gen:
            if isinstance(event, BatchEnd):
                if bar.total is None:  # batches still to run, counted from the first batch seen
                    bar.total = event.batches_in_epoch * (epochs - event.epoch + 1)
                    bar.refresh()
                bar.update(1)
                post = {"epoch": event.epoch, "loss": f"{event.loss:.4g}", "lr": f"{event.lr:.2g}",
                        "img/s": f"{event.images_per_s:.0f}"}
                if last_map is not None:
                    post["mAP"] = f"{100 * last_map:.2f}"
                bar.set_postfix(post, refresh=False)
            elif isinstance(event, EvalResult):
                last_map = event.map_all
                bar.write(f"epoch {event.epoch}: mAP@all = {100 * event.map_all:.2f}")
            elif isinstance(event, Log):
                if event.level != "info" or not event.message.startswith("epoch "):
                    bar.write(event.message)
            elif isinstance(event, TrainFinished):
                finished = event
    finally:
        bar.close()
    return finished


def _default_workers(device: str | None) -> int:
    """Loader workers when --num-workers is not given: a GPU outruns one decoding process, the CPU does not."""
    import os

    import torch

    if device == "cpu" or not torch.cuda.is_available():
        return 0
    return max(1, min(8, (os.cpu_count() or 2) - 1))
