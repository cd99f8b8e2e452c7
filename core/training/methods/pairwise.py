"""What the symmetric pairwise baselines (DPSH, HashNet) share: plain epoch training of one network over the
whole train split (no sampled subset, no learned database codes), database = the network's codes.

Not supported under torchrun: both losses pair every image of a step with images on other processes
(DPSH's buffer U, HashNet's two half-batches), which the engine's per-process batch slices do not give.
"""

from __future__ import annotations

import torch

from core.base.errors import ConfigError, DatasetError
from core.config.train_config import TrainConfig
from core.data.records import DatasetIndex
from core.models.factory import build_model
from core.runtime import distributed
from core.training.methods.base import HashingMethod
from core.training.methods.common import NetworkStepper, train_images
from core.training.methods.symmetric import NetworkDatabase


class PairwiseMethod(NetworkDatabase, HashingMethod):
    """Base of DPSH and HashNet: the network, the train split and its labels, the SGD stepper."""

    def __init__(self, cfg: TrainConfig, dataset: DatasetIndex, device: torch.device, transform,
                 param_groups=None, nesterov: bool = False) -> None:
        """param_groups: None (one group) or model -> list of SGD parameter groups."""
        super().__init__(cfg, dataset, device)
        if distributed.current().world_size > 1:
            raise ConfigError(f"{cfg.method} pairs images across the whole batch and is not supported under "
                              f"torchrun; train it in one process")
        self.train_records = dataset.split("train")
        if not self.train_records:
            raise DatasetError(f"dataset {dataset.kind} at {dataset.root} has no training images")
        self.labels = torch.tensor([r.label for r in self.train_records], dtype=torch.long)
        self.labels_device = self.labels.to(device)
        self.n = len(self.train_records)
        self.model = build_model(cfg, dataset.num_classes).to(device)
        self.stepper = NetworkStepper(self.model, cfg, device, params=param_groups(self.model) if param_groups else None,
                                      nesterov=nesterov)
        self.train_data = train_images(cfg, self.train_records, transform)
        self.step_count = 0

    def state_tensors(self) -> dict[str, torch.Tensor]:
        out = self.stepper.state_tensors()
        out["method.step_count"] = torch.tensor(self.step_count, dtype=torch.int64)
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.stepper.load_state_tensors(tensors)
        self.step_count = int(tensors["method.step_count"])

    @property
    def current_lr(self) -> float:
        return self.stepper.lr
