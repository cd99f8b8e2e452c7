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
    # During training (core/training/eta.py): the whole run's time left, this phase included, and what it
    # counts ("0:41 left (encode queries; then 2 evaluations, ~0:20 measured)"); None / "" elsewhere.
    run_eta_s: float | None = None
    run_eta_note: str = ""


@dataclass(frozen=True)
class BatchEnd:
    """One optimiser step. epoch is 1-based; step counts batches across the whole run.

    Consumers always get floats in loss and loss_terms. Methods yield detached 0-dim tensors there (no
    device synchronisation per batch); the driver converts them (core.training.methods.common.LazyBatchLosses).
    """

    epoch: int
    batch: int
    batches_in_epoch: int
    step: int
    loss: float
    loss_terms: dict[str, float] = field(default_factory=dict)
    lr: float = 0.0
    images_per_s: float = 0.0
    eta_s: float | None = None  # the whole run's time left: training batches and evaluations (core/training/eta.py)
    eta_note: str = ""  # what eta_s counts, naming the phase: "3:02 left (training; then 4 evaluations, ~0:40 estimated)"


@dataclass(frozen=True)
class EpochStart:
    """An epoch (an outer iteration for ADSH methods) begins: the GUI marks the boundary on the loss curve
    (the loss may jump there: ADSH's database codes V change between outer iterations).

    step: optimiser steps done before it (its first batch is step + 1); unit: "outer iteration" or "epoch";
    resumed_at_batch: > 0 when a mid-epoch resume continues this epoch after that many batches."""

    epoch: int
    epochs: int
    step: int
    unit: str = "epoch"
    resumed_at_batch: int = 0


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
    eta_note: str = ""


# The evaluation flags codes as collapsed when more than this fraction of the database shares one code:
# the ranking is then mostly one tie group and mAP measures the label mix more than the hashing.
COLLAPSE_SHARE = 0.5


def is_collapsed(share: float) -> bool:
    """True when `largest_code_share` exceeds COLLAPSE_SHARE: the codes no longer separate the database."""
    return share > COLLAPSE_SHARE


@dataclass(frozen=True)
class EvalResult:
    """Retrieval quality after an epoch (test split against the database).

    map_all, map_at_k, precision_at_k: the headline, exact expectations over random orders inside Hamming
    tie groups (independent of the database order). map_all_index_order: mAP@all with ties ranked by
    database index, as the published code does (None when not computed). largest_code_share: fraction of
    the database holding its most common code; `collapsed` when above COLLAPSE_SHARE.
    chance_map: the expected mAP@all of random codes on the same split (core.evaluation.chance.chance_map, exact), the
    level the curve has to rise above; None from producers that do not compute it.
    """

    epoch: int
    map_all: float
    map_at_k: dict[int, float] = field(default_factory=dict)
    precision_at_k: dict[int, float] = field(default_factory=dict)
    map_all_index_order: float | None = None
    largest_code_share: float = 0.0
    chance_map: float | None = None

    @property
    def collapsed(self) -> bool:
        return is_collapsed(self.largest_code_share)

    def metrics_record(self) -> dict[str, float]:
        """The figures as flat metrics.jsonl / store names: map_all, map_at_K, precision_at_K,
        map_all_index_order, largest_code_share."""
        record = {"map_all": self.map_all}
        record.update({f"map_at_{k}": v for k, v in self.map_at_k.items()})
        record.update({f"precision_at_{k}": v for k, v in self.precision_at_k.items()})
        if self.map_all_index_order is not None:
            record["map_all_index_order"] = self.map_all_index_order
        record["largest_code_share"] = self.largest_code_share
        return record


@dataclass(frozen=True)
class ValidationResult:
    """Model selection after an epoch: mAP@all of the validation queries against the rest of the training
    split (never the test split). best_epoch: the epoch with the highest validation mAP so far (ties: the
    earliest)."""

    epoch: int
    map_all: float
    best_epoch: int


@dataclass(frozen=True)
class BestOnValidation:
    """The model selected on the validation split: its epoch, its validation mAP@all, and the test mAP@all
    of that epoch's evaluation on the test queries (which played no part in the choice)."""

    epoch: int
    val_map: float
    test_map: float

    def to_dict(self) -> dict[str, float | int]:
        return {"epoch": self.epoch, "val_map": self.val_map, "test_map": self.test_map}

    @classmethod
    def from_dict(cls, data: object) -> "BestOnValidation | None":
        """Tolerant reader for checkpoint driver state: None for anything that is not a complete record."""
        try:
            return cls(int(data["epoch"]), float(data["val_map"]), float(data["test_map"]))  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            return None


@dataclass(frozen=True)
class CheckpointSaved:
    epoch: int
    path: str


@dataclass(frozen=True)
class TrainFinished:
    """Last event of a training run. status: "finished", "cancelled" or "failed".

    final_map: the test mAP@all of the last evaluated epoch (the reported number: a fixed schedule, no
    selection). best_on_val: the epoch chosen on the validation split and its test mAP, when the run used
    one (TrainConfig.validation); None otherwise. Nothing is ever chosen on the test queries."""

    run_id: str
    run_dir: str
    status: str
    final_map: float | None
    message: str = ""
    best_on_val: BestOnValidation | None = None


Event = (Log | Progress | BatchEnd | EpochStart | EpochEnd | EvalResult | ValidationResult | CheckpointSaved
         | TrainFinished)
