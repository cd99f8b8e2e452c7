"""Named training presets, the one definition the CLI (`--preset`) and the app's Train form both use.

"paper": the papers' schedules (for the baselines DPSH, HashNet, FISH: their official code's,
core.config.train_config.BASELINE_PAPER_PRESETS); "code": Multi-FusNet's published-code settings; "quick": minutes, to try
the pipeline (ResNet-18 at 96 px, 5 short epochs).

Every preset follows an image_size given as an override: the evaluation resize keeps the 256/224 ratio and the SREM
square covers the paper's 32/224 of the crop, unless resize_size or fcae srem_size are given too (so the paper's
own 224 px keep s = 32, and `--image-size 64` no longer erases half the crop with 32 px squares).

paper: core.config.train_config.paper_preset (FCAENet section 2.4 for adsh/fcaenet: 12/24 bits 40 outer iterations,
lr/10 at 20 and 30; 32/48 bits 60 with 30, 45, 55; 20 inner epochs; Multi-FusNet section 3.5), plus
m = 4000 sampled images for NABirds and VegFru (FCAENet section 4.2), 2000 otherwise.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from core.base.errors import ConfigError
from core.config.train_config import SEMICON_FAMILY, TrainConfig, multifusnet_preset, paper_preset

PRESETS = ("paper", "code", "quick")  # "code": Multi-FusNet's published-code settings (config.multifusnet_preset)
PRESET_HELP = {
    "paper": "the papers' schedules (FCAENet section 2.4, Multi-FusNet section 3.5; each baseline as its "
             "authors ran it: docs/baselines.md)",
    "code": "Multi-FusNet's published-code settings (multifusnet only)",
    "quick": "ResNet-18 at 96 px, 5 short epochs: to try the pipeline, not for numbers",
}
QUICK_BACKBONE = "resnet18"
QUICK_IMAGE_SIZE = 96
PAPER_SREM_FRACTION = 32 / 224  # FCAENet: s = 32 px squares on 224 px crops
BASELINE_GROUPS = ("dpsh", "hashnet", "fish")  # nested option groups of the baselines (docs/baselines.md)


def srem_size_for(image_size: int) -> int:
    """SREM square side (px) covering the same fraction of an `image_size` crop as the paper's 32 of 224."""
    return max(2, round(PAPER_SREM_FRACTION * image_size))


def resize_for(image_size: int) -> int:
    """The evaluation resize (px) before an `image_size` centre crop: the usual 256/224 ratio."""
    return max(image_size, round(image_size * 256 / 224))


def preset_config(preset: str, method: str, bits: int, dataset_kind: str = "demo", **overrides: Any) -> TrainConfig:
    """A TrainConfig from a named preset with `overrides` on top. Nested options may be given as
    adsh={...}, fcae={...}, multifus={...}, dpsh={...}, hashnet={...}, fish={...} dicts of field overrides."""
    if preset not in PRESETS:
        raise ConfigError(f"preset must be one of {', '.join(PRESETS)}; got {preset!r}")
    nested = {key: overrides.pop(key) for key in ("adsh", "fcae", "multifus", *BASELINE_GROUPS, *SEMICON_FAMILY)
              if isinstance(overrides.get(key), dict)}
    if "image_size" in overrides and "resize_size" not in overrides:
        overrides["resize_size"] = resize_for(int(overrides["image_size"]))
    if preset == "code":
        if method != "multifusnet":
            raise ConfigError(f"preset 'code' (the published Multi-FusNet code's settings) is for method "
                              f"multifusnet only; use 'paper' or 'quick' for {method}")
        base = multifusnet_preset("code", bits, dataset_kind, **_top_level_only(overrides))
    else:
        base = paper_preset(method, bits, dataset_kind=dataset_kind, **_top_level_only(overrides))
    adsh = dict(num_samples=base.adsh.num_samples)  # paper_preset: 4000 for NABirds/VegFru, else 2000
    if preset == "quick":
        quick = dict(epochs=5, eval_every=1, lr_milestones=(), batch_size=32, backbone=QUICK_BACKBONE,
                     image_size=QUICK_IMAGE_SIZE, resize_size=resize_for(QUICK_IMAGE_SIZE))
        if method == "multifusnet":
            quick.update(lr=0.0035)
        else:
            adsh.update(num_samples=min(adsh["num_samples"], 500), inner_epochs=3)
        base = base.replace(**{k: v for k, v in quick.items() if k not in overrides})
    adsh.update(nested.get("adsh", {}))
    changes: dict[str, Any] = {"adsh": dataclasses.replace(base.adsh, **adsh)}
    fcae = dict(nested.get("fcae", {}))
    if preset == "quick" or "image_size" in overrides:  # 32 px squares would erase most of a small crop
        fcae.setdefault("srem_size", srem_size_for(base.image_size))
    if fcae:
        changes["fcae"] = dataclasses.replace(base.fcae, **fcae)
    # baselines: quick HashNet epochs are one pass over the train split (the paper preset's are 500 steps)
    baseline = {key: dict(nested.get(key, {})) for key in BASELINE_GROUPS}
    if preset == "quick":
        baseline["hashnet"].setdefault("iterations_per_epoch", 0)
    for block in ("multifus", *BASELINE_GROUPS, *SEMICON_FAMILY):
        values = baseline.get(block, nested.get(block))
        if values:
            changes[block] = _replace_block(getattr(base, block), block, values)
    return base.replace(**changes)


def _replace_block(options: Any, block: str, changes: dict[str, Any]) -> Any:
    """options with `changes` (field -> value) applied; ConfigError naming an unknown field."""
    names = {f.name for f in dataclasses.fields(options)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ConfigError(f"unknown {block} option(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    return dataclasses.replace(options, **changes)


def _top_level_only(overrides: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"unknown training option(s): {', '.join(unknown)}")
    return overrides
