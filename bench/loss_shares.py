"""Each FCAENet loss term's share of the gradient on real batches, under each ESRL normalisation.

    PYTHONPATH=. .venv/bin/python bench/loss_shares.py --root ../shared/data/CUB_200_2011 --allow-missing \
        [--measure-at 1,3,6 --batches 3 --image-size 112 --backbone resnet18 --weights none --device cpu]

Trains FCAENet (the real method and data pipeline), outer iterations of one inner epoch each, so that
V comes from DCC and the network moves; after each outer iteration listed in --measure-at, on --batches
real batches, takes for every loss term t the gradient g_t of the weighted term with respect to the anchors'
network outputs u (B, k), the tanh codes where the terms meet. A term's share is ||g_t||_F over the sum
of the four norms (summed over the batches). The normalisation only rescales the ESRL terms (linearly),
so every normalisation is shown for the same state and batches. Also printed: the ESRL / quantisation pull per unit
of code difference, d(L_pos)/du over d(gamma ||v - u||^2)/du, on this data and on full CUB (n = 5,994,
m = 2,000).
"""

from __future__ import annotations

import argparse
import dataclasses
import threading

import torch

from core.config.train_config import AdshOptions, FcaeOptions, TrainConfig
from core.data.registry import load_dataset
from core.runtime.device import select_device
from core.training.methods.asymmetric import SampledSimilarity, adsh_scale
from core.training.methods.common import epoch_generator
from core.training.methods.registry import make_method

NORMALISATIONS = ("m_k", "batch_k", "quant")
TERMS = ("adsh_square", "adsh_quant", "esrl_pos", "esrl_era")
FULL_CUB = (5994, 2000)  # n (train split), m (num_samples)


def pull_ratio(normalisation: str, n: int, m: int, batch: int, bits: int, adsh: AdshOptions) -> float:
    """ESRL pull per unit code difference over the quantisation term's (alpha = 1)."""
    quant = adsh.gamma * adsh_scale(n, batch, bits, adsh.loss_normalization)
    esrl = {"m_k": 1.0 / (m * bits), "batch_k": 1.0 / (batch * bits), "quant": quant}[normalisation]
    return esrl / quant


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--kind", default="cub")
    p.add_argument("--allow-missing", action="store_true")
    p.add_argument("--bits", type=int, default=12)
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--weights", default="none")
    p.add_argument("--image-size", type=int, default=112)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--measure-at", default="1,3", help="outer iterations after which to measure")
    p.add_argument("--batches", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=68)
    args = p.parse_args()

    dataset = load_dataset(args.kind, args.root, allow_missing=args.allow_missing)
    srem_size = max(1, round(32 * args.image_size / 224))  # the paper's 32 px at 224, scaled
    cfg = TrainConfig(dataset_kind=args.kind, dataset_root=args.root, allow_missing=args.allow_missing,
                      method="fcaenet", bits=args.bits, backbone=args.backbone, weights=args.weights,
                      image_size=args.image_size, resize_size=args.image_size, batch_size=args.batch_size,
                      device=args.device, amp=False, seed=args.seed, lr_milestones=(),
                      adsh=AdshOptions(inner_epochs=1), fcae=FcaeOptions(srem_size=srem_size))
    device = select_device(args.device)
    torch.manual_seed(cfg.seed)
    method = make_method(cfg, dataset, device)
    n, m, b = method.n, method.m, cfg.batch_size
    print(f"{args.kind} at {args.root}: n = {n} train images, m = {m}, batch {b}, {cfg.bits} bits, "
          f"{cfg.backbone} weights={cfg.weights}, {cfg.image_size}px, gamma {cfg.adsh.gamma}, "
          f"ADSH normalisation {cfg.adsh.loss_normalization}, alpha = beta = 1")
    never = threading.Event()
    measure_at = sorted({int(x) for x in args.measure_at.split(",")})
    for outer in range(1, max(measure_at) + 1):
        losses = [e.loss for e in method.train_epoch(outer, never) if hasattr(e, "loss")]
        print(f"outer iteration {outer}: mean loss {sum(losses) / len(losses):.4f}")
        if outer in measure_at:
            measure(method, cfg, args.batches, outer)


def measure(method, cfg: TrainConfig, count: int, outer: int) -> None:
    """Print the shares table at the method's current state, on `count` real batches."""
    device, n, m, b = method.device, method.n, method.m, cfg.batch_size
    g = epoch_generator(cfg.seed, 10_000 + outer)
    omega = torch.randperm(n, generator=g)[:m]
    sim = SampledSimilarity.build(omega.to(device), method.db_labels_device)
    batches = list(method._loader(method._batches(omega, g, 1)[:count], 10_000 + outer))
    method.model.train()
    norms = dict.fromkeys(TERMS, 0.0)  # gradient norms under cfg's normalisation
    gaps = {"|v - u|": 0.0, "|u+ - u|": 0.0, "|u_e - u|": 0.0}
    for batch in batches:
        outputs, terms = method.loss_terms(batch, sim)
        u = outputs["anchor"]
        for term in TERMS:
            (grad,) = torch.autograd.grad(terms[term], u, retain_graph=True)
            norms[term] += float(grad.norm())
        v = method.v[batch["db_index"].to(device)]
        for key, other in (("|v - u|", v), ("|u+ - u|", outputs["positive"]), ("|u_e - u|", outputs["erased"])):
            gaps[key] += float((other - u).detach().norm(dim=1).mean()) / len(batches)
    print(f"after outer iteration {outer}, {len(batches)} batches; mean per-anchor distances: "
          + ", ".join(f"{k} {v:.3f}" for k, v in gaps.items()))
    print(f"{'normalisation':<14}" + "".join(f"{t:>13}" for t in TERMS) + f"{'ESRL total':>12}"
          f"{'pull/quant here':>17}{'on full CUB':>13}")
    base = method.esrl_scale(b)
    for name in NORMALISATIONS:
        # the ESRL terms are linear in their scale: rescale the measured gradients, same state and batches
        method.cfg = cfg.replace(fcae=dataclasses.replace(cfg.fcae, esrl_normalization=name))
        factor = method.esrl_scale(b) / base
        method.cfg = cfg
        scaled = {t: norms[t] * (factor if t.startswith("esrl") else 1.0) for t in TERMS}
        total = sum(scaled.values())
        shares = {t: scaled[t] / total for t in TERMS}
        print(f"{name:<14}" + "".join(f"{100 * shares[t]:>12.1f}%" for t in TERMS)
              + f"{100 * (shares['esrl_pos'] + shares['esrl_era']):>11.1f}%"
              + f"{pull_ratio(name, n, m, b, cfg.bits, cfg.adsh):>17.3f}"
              + f"{pull_ratio(name, *FULL_CUB, b, cfg.bits, cfg.adsh):>13.3f}")


if __name__ == "__main__":
    main()
