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


def run_notes(run_id: str, cfg: TrainConfig, map_all: float | None) -> list[str]:
    """Two lines for one run: its database encoding, and the reported figure (with source and any flag) next to
    the run's mAP@all (a fraction; None when not evaluated)."""
    info = method_info(cfg.method)
    lines = [f"{printable(run_id)}: {info.label}, database = {info.database_note}"]
    figure = reported(cfg.method, cfg.dataset_kind, cfg.bits)
    this = f"this run {100 * map_all:.2f}" if map_all is not None else "this run not evaluated"
    if figure is None:
        lines.append(f"  reported in the paper: none for {cfg.method} on {printable(cfg.dataset_kind)} at "
                     f"{cfg.bits} bits ({this})")
    else:
        flag = "  [FLAGGED: transcription error in one source]" if figure.flagged else ""
        lines.append(f"  reported in the paper: {figure.describe()}; {this}{flag}")
    return lines


def notes_table(run_ids: Sequence[str], configs: Sequence[TrainConfig], maps: Sequence[float | None]) -> str:
    """run_notes for several runs, under a heading (fghash eval prints it below the metrics table)."""
    lines = ["database encoding and the papers' reported mAP@all (%):"]
    for run_id, cfg, value in zip(run_ids, configs, maps, strict=True):
        lines += run_notes(run_id, cfg, value)
    return "\n".join(lines)
