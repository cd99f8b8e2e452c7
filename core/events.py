"""Frozen events that long-running engine generators yield; the CLI and the GUI both consume them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Log:
    """A human-readable message. level: "info", "warning" or "error"."""

    message: str
    level: str = "info"


@dataclass(frozen=True)
class Progress:
    """Generic progress of a phase (encoding, indexing, proxy codes, ...). done/total in items."""

    phase: str
    done: int
    total: int
    eta_s: float | None = None


@dataclass(frozen=True)
class BatchEnd:
    """One optimiser step. epoch is 1-based; step counts batches across the whole run."""

    epoch: int
    batch: int
    batches_in_epoch: int
    step: int
    loss: float
    loss_terms: dict[str, float] = field(default_factory=dict)
    lr: float = 0.0
    images_per_s: float = 0.0
    eta_s: float | None = None


@dataclass(frozen=True)
class EpochEnd:
    """End of an epoch (an outer iteration for ADSH methods)."""

    epoch: int
    epochs: int
    mean_loss: float
    lr: float
    seconds: float
    images_per_s: float
    eta_s: float | None = None


@dataclass(frozen=True)
class EvalResult:
    """Retrieval quality after an epoch: mAP@all with the stable (distance, index) tie order.

    chance_map: the expected mAP@all of random codes on the same split (core.chance.chance_map), the
    level the curve has to rise above; None from producers that do not compute it."""

    epoch: int
    map_all: float
    map_at_k: dict[int, float] = field(default_factory=dict)
    precision_at_k: dict[int, float] = field(default_factory=dict)
    chance_map: float | None = None


@dataclass(frozen=True)
class CheckpointSaved:
    epoch: int
    path: str


@dataclass(frozen=True)
class TrainFinished:
    """Last event of a training run. status: "finished", "cancelled" or "failed"."""

    run_id: str
    run_dir: str
    status: str
    best_map: float | None
    final_map: float | None
    message: str = ""


Event = Log | Progress | BatchEnd | EpochEnd | EvalResult | CheckpointSaved | TrainFinished
