"""The Train form's logic that is not layout: the dataset check (run on the worker) and which preset a
config matches."""

from __future__ import annotations

from core import engine
from core.config.train_config import TrainConfig
from core.base.errors import ConfigError, FghashError
from core.config.presets import PRESETS, preset_config

# The fields a preset sets and the form shows: a config equal on these is shown as that preset.
PRESET_FIELDS = ("epochs", "batch_size", "lr", "lr_milestones", "image_size", "backbone")


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


def matching_preset(cfg: TrainConfig) -> str:
    """The first of core's presets whose values for PRESET_FIELDS equal the config's, else "custom"."""
    for name in PRESETS:
        try:
            preset = preset_config(name, cfg.method, cfg.bits, cfg.dataset_kind)
        except ConfigError:
            continue
        if all(getattr(cfg, f) == getattr(preset, f) for f in PRESET_FIELDS):
            return name
    return "custom"
