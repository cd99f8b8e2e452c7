"""The checkpoint Stop leaves in the middle of an epoch: `checkpoints/partial.safetensors` + `partial.json`.

Written by the training driver when a run is cancelled after some batches of an epoch: the method's full
state after its last finished batch (weights, optimiser and scheduler state, method state such as ADSH's
V and the codes U recorded so far) and the RNG states, plus where the epoch stood: `in_epoch` (1-based),
`batches_done` of `batches_in_epoch`. Resume loads it, replays the epoch's seeded batch order and skips
the finished batches, so the remaining batches are exactly those an uninterrupted run would have trained
on, in the same order (the sampler position). What is not replayed: the random augmentations of the
remaining images, drawn afresh.

It does not match the `epoch-*` pattern of complete checkpoints, so nothing that loads "the run's newest
checkpoint" (browsing, explaining, encoding) ever reads a half epoch; it is removed as soon as the epoch
it belongs to completes. Same file format and checks as core.runs.checkpoint (sha256, schema, config).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.base.errors import RunError
from core.config.train_config import TrainConfig
from core.runs.checkpoint import read_checkpoint, read_checkpoint_meta, write_checkpoint

STEM = "partial"


@dataclass(frozen=True)
class ResumePoint:
    """Where `Resume` continues a run: after `completed` whole epochs, and, when a partial checkpoint
    exists, inside epoch `in_epoch` after `batches_done` of its `batches_in_epoch` batches."""

    completed: int
    epochs: int
    in_epoch: int | None = None
    batches_done: int = 0
    batches_in_epoch: int = 0

    def describe(self) -> str:
        """One sentence for the CLI, the quit dialog and the Train panel."""
        if self.in_epoch is not None and self.batches_done >= self.batches_in_epoch:
            return (f"Resume finishes epoch {self.in_epoch} of {self.epochs}: all its {self.batches_in_epoch} "
                    f"batches are done and kept; its end-of-epoch steps follow")
        if self.in_epoch is not None:
            return (f"Resume continues epoch {self.in_epoch} of {self.epochs} at batch {self.batches_done + 1} of "
                    f"{self.batches_in_epoch} (weights, optimiser state and the batch order of the "
                    f"{self.batches_done} finished batch(es) are kept)")
        if self.completed >= self.epochs:
            return f"all {self.epochs} epochs are complete; Resume only saves the codes again"
        if self.completed:
            return (f"Resume continues with epoch {self.completed + 1} of {self.epochs} (after the checkpoint of "
                    f"epoch {self.completed})")
        return "no batch finished yet: Resume starts from epoch 1"


def partial_path(run_paths) -> Path:
    """The partial checkpoint's weights file (it may not exist)."""
    return Path(run_paths.checkpoints) / f"{STEM}.safetensors"


def save_partial(run_paths, completed: int, in_epoch: int, batches_done: int, batches_in_epoch: int,
                 cfg: TrainConfig, tensors: dict[str, torch.Tensor], *, num_classes: int, fingerprint: str,
                 driver: dict[str, Any]) -> Path:
    """Write the partial checkpoint (atomically, the JSON last) over any older one; returns its path."""
    extra = {"partial": {"in_epoch": int(in_epoch), "batches_done": int(batches_done),
                         "batches_in_epoch": int(batches_in_epoch)}}
    return write_checkpoint(Path(run_paths.checkpoints) / STEM, completed, cfg, tensors, num_classes=num_classes,
                            fingerprint=fingerprint, driver=driver, extra=extra)


def read_partial(run_paths, cfg: TrainConfig) -> tuple[dict[str, torch.Tensor], dict] | None:
    """(tensors, metadata) of a complete partial checkpoint that continues the run's newest complete one,
    or None (none there, its JSON missing, or stale: an epoch completed after it). RunError for a damaged file."""
    meta = _partial_meta(run_paths)
    if meta is None:
        return None
    return read_checkpoint(partial_path(run_paths), cfg)[0], meta


def clear_partial(run_paths) -> None:
    """Remove the partial checkpoint (metadata first, so a half-removed one is never complete)."""
    weights = partial_path(run_paths)
    weights.with_suffix(".json").unlink(missing_ok=True)
    weights.unlink(missing_ok=True)


def resume_point(run_paths) -> ResumePoint:
    """Where Resume would continue this run (reads two small JSON files; safe off the GUI thread)."""
    cfg = run_paths.load_config()
    newest = run_paths.last_checkpoint()
    completed = int(read_checkpoint_meta(newest)["epoch"]) if newest is not None else 0
    meta = _partial_meta(run_paths)
    if meta is None:
        return ResumePoint(completed, cfg.epochs)
    part = meta["partial"]
    return ResumePoint(completed, cfg.epochs, part["in_epoch"], part["batches_done"], part["batches_in_epoch"])


def _partial_meta(run_paths) -> dict | None:
    weights = partial_path(run_paths)
    if not weights.exists() or not weights.with_suffix(".json").exists():
        return None
    meta = read_checkpoint_meta(weights)
    part = meta.get("partial")
    if not (isinstance(part, dict) and all(isinstance(part.get(k), int) and not isinstance(part.get(k), bool)
                                           for k in ("in_epoch", "batches_done", "batches_in_epoch"))):
        raise RunError(f"{weights.with_suffix('.json')}: field 'partial' is damaged; delete {weights.name} and its "
                       f".json to resume from the last complete epoch")
    newest = run_paths.last_checkpoint()
    completed = int(read_checkpoint_meta(newest)["epoch"]) if newest is not None else 0
    if part["in_epoch"] != completed + 1 or meta["epoch"] != completed:
        return None  # stale: written before the epoch it belongs to completed
    return meta
