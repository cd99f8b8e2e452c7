"""Per-run notes beside a run's figures: how its database is encoded (core.training.methods.registry.MethodInfo)
and what the method's paper reports for the same dataset and code length (core.config.reported)."""

from __future__ import annotations

from collections.abc import Sequence

from core.base.text import printable
from core.config.reported import reported
from core.config.train_config import TrainConfig
from core.training.methods.registry import method_info


def database_kind(method: str) -> str:
    """'symmetric' / 'asymmetric' / 'unknown' for a method name (the Runs table's column)."""
    info = method_info(method)
    if info.database == "unknown":
        return "unknown"
    return "symmetric" if info.symmetric else "asymmetric"


def method_notes(cfg: TrainConfig, maps: Sequence[float | None]) -> list[str]:
    """Two lines for the runs of one (method, dataset, bits): the method's database encoding, and the paper's
    figure (with its source and any flag) beside these runs' mAP@all (fractions; None = not evaluated)."""
    info = method_info(cfg.method)
    where = f"{cfg.method} on {printable(cfg.dataset_kind)}, {cfg.bits} bits"
    values = ", ".join(f"{100 * v:.2f}" if v is not None else "-" for v in maps)
    these = f"{'this run' if len(maps) == 1 else 'these runs'} {values}"
    lines = [f"  {where}: {info.label}, database = {info.database_note}"]
    figure = reported(cfg.method, cfg.dataset_kind, cfg.bits)
    if figure is None:
        lines.append(f"    reported in the paper: none ({these})")
    else:
        flag = "  [FLAGGED: transcription error in one source]" if figure.flagged else ""
        lines.append(f"    reported in the paper: {figure.describe()}; {these}{flag}")
    return lines


def notes_table(configs: Sequence[TrainConfig], maps: Sequence[float | None]) -> str:
    """method_notes once per (method, dataset, bits) of the runs, in first-seen order, under a heading (fghash
    eval prints it below the metrics table)."""
    groups: dict[tuple[str, str, int], tuple[TrainConfig, list[float | None]]] = {}
    for cfg, value in zip(configs, maps, strict=True):
        groups.setdefault((cfg.method, cfg.dataset_kind, cfg.bits), (cfg, []))[1].append(value)
    lines = ["database encoding and the papers' reported mAP@all (%):"]
    for cfg, values in groups.values():
        lines += method_notes(cfg, values)
    return "\n".join(lines)
