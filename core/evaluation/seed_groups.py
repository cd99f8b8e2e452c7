"""Runs that differ only in their seed, and the spread of a metric over them.

A seed group is a set of runs whose configs are identical once `seed` is set aside: same dataset (kind and
root), method, bits, schedule and every method option. Reports print one row per group as mean ± sample
standard deviation (n), so a reader can tell whether an ablation's gain exceeds the seed-to-seed spread.

`SeedGroup.variant` names what sets a group apart from the method's defaults (e.g. "no SREM"), so a table
can print one row per (method, variant) and one column per code length. FCAENet's ESRL scale is named even at
its default ("ESRL quant [RECON]"), because that default is a reconstruction and not the paper's Eq. 7-8.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.config.train_config import (
    ESRL_NORMALIZATION_LABELS,
    A2NetOptions,
    AdshOptions,
    AgmhOptions,
    DpshOptions,
    ExchNetOptions,
    FcaeOptions,
    FishOptions,
    HashNetOptions,
    MultiFusOptions,
    SemiconOptions,
    TrainConfig,
)

log = logging.getLogger("fghash")

# The option blocks each method reads (core/methods): the variant label describes these first.
_METHOD_OPTIONS: dict[str, tuple[tuple[str, Any], ...]] = {
    "adsh": (("adsh", AdshOptions()),),
    "fcaenet": (("adsh", AdshOptions()), ("fcae", FcaeOptions())),
    "multifusnet": (("multifus", MultiFusOptions()),),
    "dpsh": (("dpsh", DpshOptions()),), "hashnet": (("hashnet", HashNetOptions()),),
    "fish": (("adsh", AdshOptions()), ("fish", FishOptions())),
    # SEMICON-family baselines: their own block (their ADSH settings come from their paper preset)
    "semicon": (("semicon", SemiconOptions()),), "a2net": (("a2net", A2NetOptions()),),
    "exchnet": (("exchnet", ExchNetOptions()),), "agmh": (("agmh", AgmhOptions()),),
}
# Ablation switches (FCAENet Table 2, Multi-FusNet Table 6) get the papers' names when turned off.
_SWITCH_OFF_LABELS = {
    ("fcae", "use_srem"): "no SREM", ("fcae", "use_esrl"): "no ESRL",
    ("multifus", "use_cascade"): "no cascade", ("multifus", "use_fusion"): "no fusion",
    ("multifus", "use_attention"): "no attention", ("multifus", "use_zoom"): "no zoom",
}
# seed: the one field seed groups vary. compile_step: how fast a step runs, not what it computes (the compiled
# step equals eager: tests/core/test_compile_step.py); runs stored before it read as "off", new ones "auto"
_NOT_GROUPED = ("seed", "compile_step")
_NOT_IN_VARIANT = ("seed", "bits", "method", "dataset_kind", "compile_step")  # own columns / not a variant


@dataclass(frozen=True)
class MeanStd:
    """mean and sample standard deviation (ddof=1) of n values; std is 0.0 when n == 1."""

    mean: float
    std: float
    n: int

    def format(self, scale: float = 1.0, digits: int = 2) -> str:
        """'mean ± std (n)' with both multiplied by `scale` (100 for percent); one run: the mean alone
        (a std of one value is not 0, it is unknown)."""
        if self.n == 1:
            return f"{scale * self.mean:.{digits}f}"
        return f"{scale * self.mean:.{digits}f} ± {scale * self.std:.{digits}f} ({self.n})"


def mean_std(values: Iterable[float]) -> MeanStd:
    """Mean and sample standard deviation (ddof=1, the unbiased variance's root) of one or more values."""
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("mean_std needs at least one value")
    mean = math.fsum(xs) / len(xs)
    if len(xs) == 1:
        return MeanStd(mean, 0.0, 1)
    variance = math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1)
    return MeanStd(mean, math.sqrt(variance), len(xs))


@dataclass(frozen=True)
class SeedGroup:
    """Runs identical but for their seed. run_ids and seeds are aligned, ordered by (seed, run id).

    variant: short label of the config fields (other than seed and bits) that differ from the method's
    defaults, e.g. "no SREM" or "num_samples=500, inner_epochs=3"; "" when none. (method, dataset_kind,
    bits, variant) is unique within one `group_by_seed` result.
    """

    method: str
    dataset_kind: str
    bits: int
    variant: str
    run_ids: tuple[str, ...]
    seeds: tuple[int, ...]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _format_value(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(_format_value(v) for v in value) or "()"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _option_changes(cfg: TrainConfig) -> list[str]:
    """Labels for the method's own options that differ from their defaults, in declaration order."""
    labels = []
    for block, defaults in _METHOD_OPTIONS.get(cfg.method, ()):
        options = getattr(cfg, block)
        for f in dataclasses.fields(options):
            value, default = getattr(options, f.name), getattr(defaults, f.name)
            if (block, f.name) == ("fcae", "esrl_normalization"):
                # named even at its default: the default scale is a reconstruction, not the paper's Eq. 7-8
                if cfg.fcae.use_esrl:
                    labels.append(ESRL_NORMALIZATION_LABELS[value])
                continue
            if value == default:
                continue
            switch = _SWITCH_OFF_LABELS.get((block, f.name))
            labels.append(switch if switch and value is False else f"{f.name}={_format_value(value)}")
    return labels


def _one_per_seed(runs: list[tuple[int, str, TrainConfig]]) -> list[tuple[int, str, TrainConfig]]:
    """The first run (by id) of each seed: two runs of one config and one seed (a copied run folder) are one
    measurement, not n = 2 seeds; a warning names the runs left out."""
    kept: dict[int, tuple[int, str, TrainConfig]] = {}
    for run in runs:
        first = kept.setdefault(run[0], run)
        if first is not run:
            log.warning("runs %s and %s have the same config and seed %d (copies of one run?): %s is counted "
                        "once, as %s", first[1], run[1], run[0], run[1], first[1])
    return list(kept.values())


def _grouping_key(cfg: TrainConfig) -> str:
    data = _flatten(cfg.to_dict())
    for name in _NOT_GROUPED:
        data.pop(name, None)
    return repr(sorted(data.items()))


def group_by_seed(configs: Sequence[tuple[str, TrainConfig]]) -> list[SeedGroup]:
    """Group (run id, config) pairs into runs that differ only in `seed`.

    Output order: (dataset_kind, method, variant, bits); inside a group runs are ordered by (seed, run id).
    Two groups of one method and dataset whose method options match but which differ elsewhere (say lr or
    epochs) get those differing fields appended to their variant, so rows never merge silently.
    """
    members: dict[str, list[tuple[int, str, TrainConfig]]] = {}
    for run_id, cfg in configs:
        members.setdefault(_grouping_key(cfg), []).append((cfg.seed, run_id, cfg))
    base = {key: ", ".join(_option_changes(runs[0][2])) for key, runs in members.items()}

    # Groups of one bit length whose (method, dataset, base label) coincide although their configs differ:
    # name the fields in which they differ. The union over bit lengths is named for every bit length, so
    # a variant's rows line up across bits (while fields that differ only between bit lengths, like the
    # papers' longer schedule for 32/48 bits, are not named).
    by_label: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    for key, runs in members.items():
        cfg = runs[0][2]
        by_label.setdefault((cfg.method, cfg.dataset_kind, base[key], cfg.bits), []).append(_flatten(cfg.to_dict()))
    extra_fields: dict[tuple[str, str, str], list[str]] = {}
    for (method, kind, label, _), flats in by_label.items():
        names = extra_fields.setdefault((method, kind, label), [])
        names += [name for name in flats[0] if name not in _NOT_IN_VARIANT and name not in names
                  and len({repr(flat.get(name)) for flat in flats}) > 1]

    groups = []
    for key, runs in members.items():
        runs.sort(key=lambda item: (item[0], item[1]))
        runs = _one_per_seed(runs)
        cfg = runs[0][2]
        flat = _flatten(cfg.to_dict())
        label_key = (cfg.method, cfg.dataset_kind, base[key])
        parts = [base[key]] if base[key] else []
        parts += [f"{name}={_format_value(flat[name])}" for name in sorted(extra_fields[label_key], key=list(flat).index)]
        groups.append(SeedGroup(method=cfg.method, dataset_kind=cfg.dataset_kind, bits=cfg.bits,
                                variant=", ".join(parts), run_ids=tuple(r for _, r, _ in runs),
                                seeds=tuple(s for s, _, _ in runs)))
    groups.sort(key=lambda g: (g.dataset_kind, g.method, g.variant, g.bits, g.run_ids))
    return groups
