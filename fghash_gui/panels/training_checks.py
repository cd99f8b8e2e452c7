"""The Train form's logic that is not layout: the dataset and weights checks (run on the worker), and the form's
config as a preset plus the user's edits.

Edits are a dict {dotted field name: value}, e.g. {"epochs": 3, "fcae.srem_size": 8}: the leaf fields of a
TrainConfig that differ from the preset's. The form's config is always ``preset_plus_edits(...)``, so it is exactly
what the shown preset and the edits give, whatever the dataset kind, method or bits.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from core import engine
from core.engine import PRESETS, ConfigError, FghashError, TrainConfig, preset_config

# What the form asks for beside the preset; never an "edit" of it.
CHOICE_FIELDS = ("dataset_kind", "dataset_root", "allow_missing", "method", "bits", "schema_version")
# Every option block of the config (adsh, fcae, multifus and each baseline's): their fields are edited one by one.
NESTED = tuple(name for name, value in vars(TrainConfig()).items() if dataclasses.is_dataclass(value))
# The preset's values do not depend on the folder, but a config for a real dataset cannot be built without one:
# the values shown before a folder is chosen are computed with this stand-in (config() refuses it).
PENDING_ROOT = "(dataset folder)"


def preset_plus_edits(preset: str, method: str, bits: int, kind: str, edits: dict[str, Any],
                      root: str | None = None, allow_missing: bool = False) -> TrainConfig:
    """core.config.presets.preset_config with the edits as overrides; raises ConfigError (e.g. "code" for a
    method other than Multi-FusNet, or an edit the config refuses)."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for name, value in edits.items():
        group, _, leaf = name.rpartition(".")
        if group:
            nested.setdefault(group, {})[leaf] = value
        else:
            top[name] = value
    return preset_config(preset, method, bits, kind, dataset_root=root, allow_missing=allow_missing, **nested, **top)


def leaf_values(cfg: TrainConfig) -> dict[str, Any]:
    """{dotted field name: value} of every leaf option of a config except CHOICE_FIELDS."""
    values = {}
    for f in dataclasses.fields(cfg):
        if f.name in NESTED:
            group = getattr(cfg, f.name)
            values.update({f"{f.name}.{g.name}": getattr(group, g.name) for g in dataclasses.fields(group)})
        elif f.name not in CHOICE_FIELDS:
            values[f.name] = getattr(cfg, f.name)
    return values


def edits_between(base: TrainConfig, cfg: TrainConfig) -> dict[str, Any]:
    """The edits that turn `base` into `cfg` (leaf fields whose values differ)."""
    ours = leaf_values(cfg)
    return {name: ours[name] for name, value in leaf_values(base).items() if ours[name] != value}


def closest_preset(cfg: TrainConfig) -> tuple[str, dict[str, Any]]:
    """The preset that needs the fewest edits to give `cfg` (ties: core's order), with those edits."""
    best: tuple[str, dict[str, Any]] | None = None
    for name in PRESETS:
        try:
            base = preset_config(name, cfg.method, cfg.bits, cfg.dataset_kind, dataset_root=cfg.dataset_root,
                                 allow_missing=cfg.allow_missing)
        except ConfigError:
            continue
        edits = edits_between(base, cfg)
        try:  # an edited image_size re-derives resize and SREM size unless they are edits too: pin them
            edits.update(edits_between(preset_plus_edits(name, cfg.method, cfg.bits, cfg.dataset_kind, edits,
                                                         cfg.dataset_root, cfg.allow_missing), cfg))
        except ConfigError:
            continue
        if best is None or len(edits) < len(best[1]):
            best = (name, edits)
    assert best is not None  # "paper" exists for every method
    return best


def weights_check(backbone: str, weights: str) -> str | None:
    """Runs on the worker: None when the weights can be had, else the engine's one-line reason."""
    return engine.weights_problem(backbone, weights)


def dataset_check(kind: str, root: str | None, allow_missing: bool = False) -> tuple[list[str], str]:
    """Runs on the worker: the engine's dataset check as (problems, one-line summary)."""
    if kind != "demo" and not root:
        return [f"choose the {kind} dataset folder"], ""
    try:
        report = engine.check_dataset(kind, root, allow_missing=allow_missing)
    except FghashError as exc:
        return [str(exc)], ""
    (train, test) = report.present
    summary = (f"{report.num_classes} classes, {train:,} database (train) and {test:,} query (test) images; "
               f"{report.decoded} sampled images decoded")
    problems = list(report.problems)
    listed = sum(report.listed)
    counts = f"{train + test:,} of {listed:,} listed images present ({report.missing:,} missing)"
    if not allow_missing and any("allow_missing" in p for p in problems):
        # The loader's message says "pass allow_missing=True"; in the form that switch is the checkbox.
        problems = [f"{counts}: tick “allow missing” to train on the images present"] + [
            p for p in problems if "allow_missing" not in p]
    elif allow_missing and not report.complete:
        summary = f"{counts}, training on those present\n" + summary
    if report.notes:
        summary += "\n" + "\n".join(f"note: {n}" for n in report.notes)
    return problems, summary

