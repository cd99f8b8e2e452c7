"""`fghash train`: one run per bit length and seed, driven under a tqdm progress bar.

At the end it prints each run's final test mAP@all (the reported number), the epoch selected on the
validation split with its test mAP when a validation split is used, and with several seeds the mean and
sample standard deviation per bit length."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.engine import (
    BACKBONES,
    CHANCE_DESCRIPTION,
    COMPILE_STEP_MODES,
    DEVICES,
    METHODS,
    PRESET_HELP,
    PRESETS,
    printable,
)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a hashing model (one run per bit length)")
    p.add_argument("--dataset", default="demo", help="dataset kind (see `fghash datasets list`); default demo")
    p.add_argument("--root", default=None, help="dataset folder (not needed for demo)")
    p.add_argument("--allow-missing", action="store_true", help="train on the images present if some are missing")
    p.add_argument("--method", default="fcaenet", choices=METHODS)
    p.add_argument("--bits", default="12", help="comma-separated code lengths, e.g. 12,24,32,48")
    p.add_argument("--preset", default="paper", choices=PRESETS,
                   help="; ".join(f"{name}: {text}" for name, text in PRESET_HELP.items()))
    p.add_argument("--resume", default=None, metavar="RUN", help="continue a run (id, prefix, folder or 'latest')")
    p.add_argument("--seeds", default=None, metavar="S,S,...",
                   help="comma-separated seeds: one run per seed and bit length, then mean +- std per bit length")
    p.add_argument("--select-on-val", action="store_true",
                   help="also report the epoch that is best on a validation split (taken out of training), with "
                        "its test mAP: the dataset's official split (flowers, aircraft, vegfru), otherwise "
                        "--val-fraction of the training split")
    p.add_argument("--val-fraction", type=float, default=None, metavar="F",
                   help="select on a stratified, seeded fraction F of the training split (implies "
                        "--select-on-val; default 0.1 where the dataset has no official validation split)")
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
    p.add_argument("--per-rank-batch-size", type=int, default=None, metavar="B",
                   help="under torchrun: images per process per step; the global batch (saved as the run's "
                        "batch size) is B x processes. Without it --batch-size is the global batch, split "
                        "over the processes")
    p.add_argument("--lr-scaling", default="none", choices=("none", "linear", "sqrt"),
                   help="learning rate for the global batch: none keeps --lr (or the preset's), linear "
                        "multiplies it by global batch / the preset's batch, sqrt by the square root of that")
    p.add_argument("--backbone", default=None, choices=BACKBONES)
    p.add_argument("--weights", default=None, help="imagenet (default), none, or a local .safetensors/.pth file")
    p.add_argument("--device", default=None, choices=DEVICES)
    p.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    p.add_argument("--compile-step", default=None, choices=COMPILE_STEP_MODES,
                   help="CUDA: compile the network with torch.compile(mode='reduce-overhead') (CUDA graphs; for "
                        "small batches, whose steps are bound by Python launching kernels). auto (default) = on "
                        "only where a GPU run measured a win: none has yet, so auto is eager for now")
    p.add_argument("--data-cache", action="store_true",
                   help="decode each image once into a uint8 cache and augment on the device (keeps a GPU fed)")
    p.add_argument("--no-srem", action="store_true", help="FCAENet ablation: no SREM-erased view")
    p.add_argument("--no-esrl", action="store_true", help="FCAENet ablation: no positive-pair term")
    p.add_argument("--esrl-normalization", default=None, choices=("quant", "m_k", "batch_k"),
                   help="FCAENet ESRL scale: quant [RECON] (default) = the quantisation term's scale, "
                        "fghash's reconstruction chosen on measured gradient shares; m_k = 1/(m k), the paper's "
                        "Eq. 7-9 read literally (m sampled images, k bits); batch_k [RECON] = 1/(batch k)")
    p.add_argument("--no-cascade", action="store_true", help="Multi-FusNet ablation: top level only, no conv blocks")
    p.add_argument("--no-fusion", action="store_true", help="Multi-FusNet ablation: no ECA branch (F = X)")
    p.add_argument("--no-attention", action="store_true", help="Multi-FusNet ablation: no transformer enhancement")
    p.add_argument("--no-zoom", action="store_true", help="Multi-FusNet: no saliency-zoomed view")
    p.add_argument("--eca-kernel", default=None, choices=("adaptive", "shared_k3"),
                   help="Multi-FusNet ECA: per-level adaptive k (paper) or one shared k=3 (published code)")
    p.add_argument("--procrustes", default=None, choices=("fish_correct", "as_in_muiltnet"),
                   help="Multi-FusNet proxy codes R-step: R = P Q^T (correct) or R = P Q (published code)")
    p.add_argument("--proxy-codes", default=None, choices=("fish", "distinct"),
                   help="Multi-FusNet hash targets: fish = every image's own FISH code, the paper's (default); "
                        "distinct = fghash's repair, one distinct code per class (majority vote, then classes "
                        "that share a code moved apart; not in the paper)")
    p.add_argument("--fusion-attention", default=None,
                   choices=("eca", "se", "cbam", "ca", "psa", "psa-polarized", "cbam-muiltnet"),
                   help="Multi-FusNet attention swap (paper Fig. 9): the A of F = X + A(X), one per level; default "
                        "eca; psa = EPSANet's pyramid squeeze attention (reconstructed reading), psa-polarized = "
                        "Polarized Self-Attention; cbam-muiltnet = the published code's CBAM try (in-line, one "
                        "shared spatial gate)")
    # baselines (docs/baselines.md): each option names its method; config groups dpsh / hashnet / fish
    for flag, group, field, typ, choices, helptext in BASELINE_FLAGS:
        p.add_argument(flag, dest=f"{group}__{field}", type=typ, choices=choices, default=None, help=helptext)
    p.add_argument("--method-option", action="append", default=[], metavar="NAME=VALUE",
                   help="an option of the method's own block (semicon, a2net, exchnet, agmh; see TrainConfig), "
                        "e.g. --method-option alpha=0.3 for SEMICON; repeatable")
    p.set_defaults(func=_cmd_train)


# (flag, config group, field, type, choices, help) of the baselines' options
BASELINE_FLAGS = (
    ("--dpsh-eta", "dpsh", "eta", float, None, "DPSH quantisation weight (the paper's eta; official demo 10)"),
    ("--dpsh-network", "dpsh", "network", str, ("resnet", "alexnet"),
     "DPSH network: resnet (the --backbone, GAP + Linear; reconstructed default) or alexnet (official fc7 + Linear)"),
    ("--dpsh-augment", "dpsh", "augment", str, ("crop_flip", "none"),
     "DPSH training augmentation: crop_flip (reconstructed ResNet-50 preset, default) or none (official code)"),
    ("--hashnet-loss", "hashnet", "loss", str, ("weighted", "unweighted"),
     "HashNet pairwise loss: weighted (reconstructed default) or unweighted (train.py)"),
    ("--hashnet-alpha", "hashnet", "sigmoid_param", float, None,
     "HashNet alpha in d = alpha h^T h (default 10/bits, official; DSH_Analysis 0.1)"),
    ("--hashnet-iterations-per-epoch", "hashnet", "iterations_per_epoch", int, None,
     "HashNet steps per epoch (0 = one pass over the train split; paper preset 500 x 20 epochs)"),
    ("--fish-hide-low", "fish", "hide_low", float, None, "FISH attention-hide threshold tau ~ U(this, 1)"),
)


def configs_from_args(args: argparse.Namespace) -> list:
    """One TrainConfig per requested bit length."""
    from core.engine import ConfigError, env_world_size, global_batch, preset_config

    top: dict[str, Any] = {"dataset_root": args.root}
    if args.allow_missing:
        top["allow_missing"] = True
    for name in ("epochs", "batch_size", "lr", "image_size", "resize_size", "seed", "eval_every", "num_workers",
                 "backbone", "weights", "device", "compile_step"):
        if getattr(args, name) is not None:
            top[name] = getattr(args, name)
    if args.num_workers is None and not args.resume:
        top["num_workers"] = _default_workers(args.device)
    if args.no_amp:
        top["amp"] = False
    if args.data_cache:
        top["data_cache"] = True
    adsh = {k: getattr(args, k) for k in ("num_samples", "inner_epochs", "gamma") if getattr(args, k) is not None}
    fcae = {k: getattr(args, k) for k in ("alpha", "beta", "esrl_normalization") if getattr(args, k) is not None}
    if args.no_srem:
        fcae["use_srem"] = False
    if args.no_esrl:
        fcae["use_esrl"] = False
    multifus: dict[str, Any] = {k: getattr(args, k) for k in ("eca_kernel", "procrustes", "proxy_codes")
                                if getattr(args, k) is not None}
    for flag, field in (("no_cascade", "use_cascade"), ("no_fusion", "use_fusion"),
                        ("no_attention", "use_attention"), ("no_zoom", "use_zoom")):
        if getattr(args, flag):
            multifus[field] = False
    if multifus and args.method != "multifusnet":
        raise ConfigError(f"--{next(iter(multifus)).replace('_', '-')} and the other Multi-FusNet options need "
                          f"--method multifusnet (got {args.method})")
    baselines: dict[str, dict[str, Any]] = {}
    for _flag, group, field, *_ in BASELINE_FLAGS:
        value = getattr(args, f"{group}__{field}")
        if value is not None:
            if args.method != group:
                raise ConfigError(f"{_flag} is a {group} option; it needs --method {group} (got {args.method})")
            baselines.setdefault(group, {})[field] = value
    if args.fusion_attention is not None:
        if args.method != "multifusnet":
            raise ConfigError(f"--fusion-attention needs --method multifusnet (got {args.method})")
        multifus["fusion_attention"] = args.fusion_attention
    top.update(_validation_options(args))
    for group, values in _method_options(args.method, args.method_option).items():
        baselines.setdefault(group, {}).update(values)  # --method-option NAME=VALUE on top of the named flags
    bits = _int_list(args.bits, "--bits", "12,24,32,48")
    if args.seeds is not None and args.seed is not None:
        raise ConfigError("give either --seed (one run) or --seeds (one run per seed), not both")
    if args.per_rank_batch_size is not None and args.batch_size is not None:
        raise ConfigError("give either --batch-size (the global batch) or --per-rank-batch-size, not both")
    seeds = _int_list(args.seeds, "--seeds", "0,1,2") if args.seeds is not None else [top.pop("seed", None)]
    return [global_batch(
                preset_config(args.preset, args.method, b, args.dataset, adsh=dict(adsh), fcae=dict(fcae),
                              multifus=dict(multifus), **{g: dict(v) for g, v in baselines.items()},
                              **top, **({} if seed is None else {"seed": seed})),
                preset_config(args.preset, args.method, b, args.dataset, dataset_root=args.root).batch_size,
                args.per_rank_batch_size, env_world_size(), args.lr_scaling)
            for b in bits for seed in seeds]


def _method_options(method: str, items: list[str]) -> dict[str, dict[str, Any]]:
    """--method-option NAME=VALUE pairs as {block: {field: typed value}} for the method's own option block
    (the block named like the method: TrainConfig.semicon, .a2net, .exchnet, .agmh)."""
    import dataclasses
    import typing

    from core.engine import ConfigError, TrainConfig

    if not items:
        return {}
    blocks = {f.name: f.default_factory for f in dataclasses.fields(TrainConfig) if f.name == method}
    if method not in blocks:
        raise ConfigError(f"--method-option: method {method} has no option block of its own")
    options = blocks[method]()
    hints = typing.get_type_hints(type(options))
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in hints:
            known = ", ".join(sorted(hints))
            raise ConfigError(f"--method-option {item!r}: expected NAME=VALUE with NAME one of {known}")
        out[name] = _typed(text.strip(), hints[name], f"--method-option {name}")
    return {method: out}


def _typed(text: str, hint: Any, where: str) -> Any:
    """text as the field type: bool (true/false/1/0), int, float, or a string checked against a Literal."""
    import typing

    from core.engine import ConfigError

    try:
        if hint is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text.lower() in ("true", "1", "yes")
        if hint in (int, float):
            return hint(text)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a {hint.__name__}") from None
    choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else ()
    if choices and text not in choices:
        raise ConfigError(f"{where} must be one of {', '.join(choices)}; got {text!r}")
    return text


def _int_list(text: str, flag: str, example: str) -> list[int]:
    from core.engine import ConfigError

    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or len(set(values)) != len(values):
        raise ConfigError(f"{flag} must be distinct comma-separated integers such as {example}; got {text!r}")
    return values


def _validation_options(args: argparse.Namespace) -> dict[str, Any]:
    """TrainConfig.validation / val_fraction from --select-on-val and --val-fraction (core/training/validation.py)."""
    from core.engine import has_official_validation

    if args.val_fraction is not None:
        return {"validation": "fraction", "val_fraction": args.val_fraction}
    if args.select_on_val:
        return {"validation": "official" if has_official_validation(args.dataset) else "fraction"}
    return {}


def _cmd_train(args: argparse.Namespace) -> int:
    """Under torchrun (WORLD_SIZE > 1) rank 0 trains and writes as below; the other ranks follow it."""
    from core.engine import (
        LOST_PEER_MESSAGE,
        check_same_options,
        finish_followers,
        follow_rank_zero,
        lost_peer,
        setup_ranks,
        teardown_ranks,
    )

    rank = setup_ranks(args.device)
    if not rank.active:
        return _train_runs(args)
    try:
        check_same_options({k: v for k, v in vars(args).items() if not callable(v)})
        code = _train_runs(args) if rank.is_main else follow_rank_zero()
        if rank.is_main:
            finish_followers()
        teardown_ranks()
        return code
    except Exception as exc:  # one line naming the rank; torchrun then stops the other processes
        from core.engine import FghashError

        if lost_peer(exc):
            what = LOST_PEER_MESSAGE
        elif isinstance(exc, FghashError):
            what = str(exc)
        else:  # a bug: keep its traceback above the one-line message
            import traceback

            traceback.print_exc()
            what = f"{type(exc).__name__}: {exc}"
        print(f"fghash: error: {rank.label()}: {' '.join(what.split())[:2000]}", file=sys.stderr, flush=True)
        return 2 if isinstance(exc, FghashError) else 1


def _train_runs(args: argparse.Namespace) -> int:
    from core import engine
    from core.engine import TIES_NOTE

    if args.resume:
        if args.seeds is not None:
            from core.engine import ConfigError

            raise ConfigError("--resume continues one run with its saved seed; --seeds starts new runs")
        paths = engine.open_run(args.resume)
        epochs = paths.load_config().epochs
        results = [drive_training(engine.train(None, resume=paths), f"resume {paths.run_id}", epochs)]
        print_results(results)
    else:
        configs = configs_from_args(args)
        results = []
        for cfg in configs:
            label = f"{cfg.method} {cfg.bits} bits" + (f" seed {cfg.seed}" if args.seeds is not None else "")
            results.append(drive_training(engine.train(cfg), label, cfg.epochs))
            print_results(results[-1:], header=len(results) == 1)  # each run's result as soon as it ends
        if args.seeds is not None:
            print_seed_spread(configs, results)
    print(TIES_NOTE)
    print(f"({CHANCE_DESCRIPTION}; in %)")
    return 0 if all(r.status == "finished" for r in results) else 1


def _percent(value: float | None, width: int = 9) -> str:
    return f"{100 * value:{width}.2f}" if value is not None else f"{'-':>{width}}"


def print_results(results: list, header: bool = True) -> None:
    """One line per run: status, final test mAP@all (ties averaged), the same with ties by index, the chance
    level (core.evaluation.chance) and, with a validation split, the selected epoch; a collapse note when the final
    codes collapsed."""
    if header:
        print(f"{'run id':48} {'status':10} {'test mAP':>9} {'by index':>8} {'chance':>7}  selected on validation "
              f"(epoch: val mAP, test mAP)")
    for r in results:
        best = r.best_on_val
        selected = (f"epoch {best.epoch}: {100 * best.val_map:.2f}, {100 * best.test_map:.2f}" if best
                    else "- (no validation split)")
        by_index, note = _index_order_and_note(r)
        chance = _chance_cell(r.run_dir)
        print(f"{r.run_id:48} {r.status:10} {_percent(r.final_map)} {by_index} {chance}  {selected}"
              + (f"  ({note})" if note else ""))


def print_seed_spread(configs: list, results: list) -> None:
    """Mean +- sample standard deviation (n) of the final test mAP@all per bit length over the seeds, and of
    the validation-selected test mAP when the runs have one; unfinished runs are left out."""
    print("\nover seeds (finished runs): mean ± sample std (n), percent")
    for bits in sorted({cfg.bits for cfg in configs}):
        done = [r for cfg, r in zip(configs, results) if cfg.bits == bits and r.status == "finished"]
        line = f"{configs[0].method} {bits:>3} bits  test mAP {_spread([r.final_map for r in done])}"
        selected = [r.best_on_val.test_map for r in done if r.best_on_val is not None]
        if selected:
            line += f"; test mAP at the epoch selected on validation {_spread(selected)}"
        print(line)


def _spread(values: list) -> str:
    from core.engine import mean_std

    values = [v for v in values if v is not None]
    return mean_std(values).format(scale=100) if values else "- (n=0)"


def _index_order_and_note(finished) -> tuple[str, str]:
    """(the final evaluation's mAP@all with ties by index, formatted; its collapse note or ""), as training
    recorded them in the store next to final_map (a run that never evaluated has neither)."""
    from core import engine
    from core.engine import collapse_note

    last = engine.last_metrics(("map_all_index_order", "largest_code_share")).get(finished.run_id, {})
    if "map_all_index_order" not in last:
        return f"{'-':>8}", ""
    return f"{100 * last['map_all_index_order']:8.2f}", collapse_note(last.get("largest_code_share", 0.0))


def _chance_cell(run_dir: str) -> str:
    """The run's chance level in % (7 wide), or '-' when it has no saved codes (failed or cancelled early)."""
    from core.engine import FghashError, run_chance_map

    try:
        return f"{100 * run_chance_map(run_dir):7.2f}"
    except FghashError:
        return f"{'-':>7}"


def drive_training(gen, label: str, epochs: int):
    """Consume one training generator under a tqdm bar over all batches of the run.

    The time left shown is the driver's (core/training/eta.py): training and the evaluations still to
    come, naming the phase it times; tqdm's own estimate (batches only) is left out of the bar."""
    from core.cli.progress import LazyBar
    from core.engine import BatchEnd, EpochStart, EvalResult, Log, Progress, TrainFinished, ValidationResult

    last_map = None
    finished = None
    eta = ""
    # no {remaining}: tqdm would extrapolate batches only and leave the evaluations out
    bar_format = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
    with LazyBar(desc=printable(label), unit="batch", dynamic_ncols=True, bar_format=bar_format) as bars:
        for event in gen:
            bar = bars.get()
            if isinstance(event, BatchEnd):
                if bar.total is None:  # batches still to run, counted from the first batch seen
                    bar.total = event.batches_in_epoch * (epochs - event.epoch + 1) - (event.batch - 1)
                    bar.refresh()
                bar.update(1)
                eta = event.eta_note
                post = {"epoch": event.epoch, "loss": f"{event.loss:.4g}", "lr": f"{event.lr:.2g}",
                        "img/s": f"{event.images_per_s:.0f}"}
                if last_map is not None:
                    post["mAP"] = f"{100 * last_map:.2f}"
                if eta:
                    post["ETA"] = eta
                bar.set_postfix(post, refresh=False)
            elif isinstance(event, EpochStart):
                if event.resumed_at_batch:
                    bar.write(f"{event.unit} {event.epoch} of {event.epochs}: resumed after batch "
                              f"{event.resumed_at_batch}")
            elif isinstance(event, EvalResult):
                last_map = event.map_all
                by_index = (f" (ties by index: {100 * event.map_all_index_order:.2f})"
                            if event.map_all_index_order is not None else "")
                bar.write(f"epoch {event.epoch}: test mAP@all = {100 * event.map_all:.2f}{by_index}")
            elif isinstance(event, ValidationResult):
                bar.write(f"epoch {event.epoch}: validation mAP@all = {100 * event.map_all:.2f} (best on "
                          f"validation so far: epoch {event.best_epoch})")
            elif isinstance(event, Log):
                if event.level != "info" or not event.message.startswith("epoch "):
                    bar.write(printable(event.message))
            elif isinstance(event, Progress):  # encoding for an evaluation, or after training
                note = f", ETA {event.run_eta_note}" if event.run_eta_note else ""
                bar.set_postfix_str(f"{event.phase} {event.done}/{event.total}{note}")
            elif isinstance(event, TrainFinished):
                finished = event
    return finished


def _default_workers(device: str | None) -> int:
    """Loader workers when --num-workers is not given: a GPU outruns one decoding process, the CPU does not."""
    import os

    import torch

    if device == "cpu" or not torch.cuda.is_available():
        return 0
    return max(1, min(8, (os.cpu_count() or 2) - 1))
