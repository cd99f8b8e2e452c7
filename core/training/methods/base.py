"""The interface every training method implements; core/training/driver.py drives it.

One "epoch" is whatever a method calls its outer unit: an outer ADSH iteration (sample m images,
T_in inner epochs, update the database codes V) or one pass over the train split (Multi-FusNet).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator

import torch
from torch import nn

from core.base.events import BatchEnd, Event
from core.config.train_config import TrainConfig
from core.data.records import DatasetIndex


class HashingMethod(ABC):
    """A trainable hashing method over one dataset.

    Subclasses own the network (`self.model`, whose `encode(images)` returns real-valued codes of
    shape (B, bits)), the optimiser and the LR scheduler, and any method state (ADSH's V).
    """

    name: str = ""

    def __init__(self, cfg: TrainConfig, dataset: DatasetIndex, device: torch.device) -> None:
        self.cfg = cfg
        self.dataset = dataset
        self.device = device
        self.model: nn.Module

    @abstractmethod
    def train_epoch(self, epoch: int, cancel: threading.Event) -> Iterator[BatchEnd | Event]:
        """Run epoch `epoch` (1-based), yielding a BatchEnd per optimiser step.

        Checks `cancel` between batches and returns early when it is set (the epoch is then
        incomplete and the driver does not checkpoint it). Calls self.model.train() first (the
        driver's evaluation leaves the model in eval mode). BatchEnd.images_per_s is measured by the
        method (core.training.methods.common.Throughput); the driver fills in eta_s.
        """

    @abstractmethod
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Everything needed to resume bit-exactly: weights, optimiser, scheduler, method state, RNG.

        The network weights go under "model.<state_dict key>" (core.runs.checkpoint.load_run_model reads
        them); NetworkStepper.state_tensors() does this. Global RNG states are saved by the driver.
        """

    @abstractmethod
    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of state_tensors."""

    @abstractmethod
    def database_codes(self) -> torch.Tensor:
        """±1 codes (n_train, bits) for the database (= train split), in dataset order, on the CPU.

        ADSH methods return the learned V; symmetric methods encode the train split.
        """

    def encode_database(self) -> Generator[Event, None, torch.Tensor]:
        """database_codes() as an event generator: methods that encode the train split (minutes on a large
        set) yield its Progress("encode database", ...) so the user sees the end of training move."""
        yield from ()
        return self.database_codes()

    @property
    @abstractmethod
    def current_lr(self) -> float:
        """Learning rate of the first parameter group."""

    # ---- mid-epoch resume (core/runs/partial.py) ------------------------------------------------
    # A method that sets supports_partial replays its epoch's seeded batch order, skips the first
    # `skip_batches` batches (set by the driver before train_epoch, then reset by the method), and counts
    # `batches_done` / `batches_in_epoch` of the epoch as it trains; state that lives only inside an epoch
    # (ADSH's recorded U) travels through partial_state_tensors / load_partial_state_tensors.
    supports_partial: bool = False
    skip_batches: int = 0
    batches_done: int = 0
    batches_in_epoch: int = 0

    def partial_state_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors that exist only inside an epoch (names start with "partial."); {} when none."""
        return {}

    def load_partial_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of partial_state_tensors (the driver calls it before the resumed epoch)."""

    def take_skip(self) -> int:
        """The batches to skip in this epoch (once: the next epoch starts at its first batch)."""
        skip, self.skip_batches = self.skip_batches, 0
        return skip

    def skipped_train_images(self) -> dict[int, str]:
        """{train-split position: decode error} of the training images found undecodable so far in this
        process (each was replaced by another image of its class; core/data/dataset.py). Methods that read
        their training images through a core.data.dataset.ImageDataset in `self.train_data` (all of ours)
        need not override this."""
        data = getattr(self, "train_data", None)
        return data.undecodable() if data is not None else {}
