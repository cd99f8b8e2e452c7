"""Pieces every method shares: the SGD step with AMP on CUDA, the LR schedule, resumable state,
deterministic per-epoch random generators and throughput timing.

A method builds one NetworkStepper for its model and calls:
    images = stepper.to_device(images)
    with stepper.autocast(): out = model(images)
    stepper.step(loss, share)       # zero_grad + (scaled) backward + optimiser step; the global-batch loss
    stepper.end_epoch()             # MultiStep LR on the method's outer unit (TrainConfig.lr_milestones)
and puts stepper.state_tensors() into its own state_tensors().
"""

from __future__ import annotations

import contextlib
import hashlib
import time

import torch
from torch import nn

from core import distributed
from core.config import TrainConfig
from core.device import uses_amp
from core.state_pack import pack_state, select, unpack_state


class NetworkStepper:
    """SGD (momentum, weight decay) + MultiStepLR + GradScaler; channels_last and AMP on CUDA only."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, device: torch.device,
                 params: list | None = None) -> None:
        self.model = model
        self.device = device
        self.amp = uses_amp(device, cfg.amp)
        self.channels_last = bool(cfg.channels_last) and device.type == "cuda"
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(
            params if params is not None else model.parameters(),
            lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(cfg.lr_milestones), gamma=cfg.lr_gamma
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp)

    def to_device(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        if self.channels_last and images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.float16)

    def step(self, loss: torch.Tensor, share: float = 1.0) -> torch.Tensor:
        """One optimiser step; returns the loss of the whole global batch (detached).

        share: this process's fraction of the global batch under torchrun (core.distributed.shard_batches);
        the gradients are then averaged over the processes with these weights before the step.
        """
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        total = distributed.reduce_gradients(params, loss, share)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return total

    def end_epoch(self) -> None:
        self.scheduler.step()

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_tensors(self) -> dict[str, torch.Tensor]:
        out = {f"model.{k}": v.detach().cpu().contiguous().clone() for k, v in self.model.state_dict().items()}
        out.update(pack_state("optim", self.optimizer.state_dict()))
        out.update(pack_state("sched", self.scheduler.state_dict()))
        out.update(pack_state("scaler", self.scaler.state_dict()))
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(select("model", tensors), strict=True)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer.load_state_dict(unpack_state("optim", tensors))
        self.scheduler.load_state_dict(unpack_state("sched", tensors))
        scaler_state = unpack_state("scaler", tensors)
        if scaler_state:  # a disabled scaler saves {}; loading it into an enabled one is a no-op
            self.scaler.load_state_dict(scaler_state)


def epoch_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU torch.Generator seeded from (seed, *keys): each epoch's sampling and order depend only on
    these numbers, so a resumed run draws exactly what an uninterrupted one would."""
    digest = hashlib.sha256(repr((int(seed),) + tuple(int(k) for k in keys)).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


class Throughput:
    """images/s of the last batch interval (wall clock, including data loading)."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    def tick(self, images: int) -> float:
        now = time.perf_counter()
        rate = images / max(now - self._last, 1e-9)
        self._last = now
        return rate
