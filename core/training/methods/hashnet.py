"""HashNet: deep learning to hash by continuation (Cao, Long, Wang, Yu, ICCV 2017; docs/baselines.md section 2).

Written from thuml/HashNet pytorch/src (train.py, network.py, loss.py, lr_schedule.py). Each step draws two
independent batches of B images (two seeded shuffles of the train split) and runs ONE forward of all 2B; pairs
are formed only between the halves (B x B):

    s_ij = [labels share a class],  d_ij = alpha h_i^T h_j  (alpha = sigmoid_param, official 10 / bits)
    l_ij = log(1 + e^d) - s d   if d <= 15,   (1 - s) d   otherwise
    weighted (reconstructed default): mean over positive pairs + mean over negative pairs
    unweighted (train.py): (w_c sum_pos l + sum_neg l) / (w_c |pos| + |neg|)

h = tanh(beta z) with beta raised every 200 training forwards (core.models.pairwise.ContinuationHashNet).
SGD with Nesterov momentum; the hash layer learns at 10x the backbone's lr; lr x0.5 every 2000 steps (stepped
per step, not per epoch). One driver epoch is hashnet.iterations_per_epoch steps (0: one pass, n / B steps).
Database: symmetric (the network encodes the train split).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader

from core.base.events import BatchEnd, Event
from core.config.train_config import TrainConfig
from core.data.loader import loader_batches
from core.data.records import DatasetIndex
from core.data.transforms import train_transform
from core.training.methods.common import Throughput, epoch_generator
from core.training.methods.dpsh import softplus
from core.training.methods.pairwise import PairwiseMethod

LINEAR_REGION = 15.0  # above this d the official loss uses its linear asymptote (1 - s) d


def hashnet_pair_losses(h1: torch.Tensor, h2: torch.Tensor, s: torch.Tensor, alpha: float) -> torch.Tensor:
    """(B1, B2) per-pair losses l_ij for outputs h1 (B1, k), h2 (B2, k) and 0/1 similarities s (B1, B2)."""
    d = alpha * h1 @ h2.t()
    return torch.where(d <= LINEAR_REGION, softplus(d) - s * d, (1 - s) * d)


def hashnet_loss(h1: torch.Tensor, h2: torch.Tensor, s: torch.Tensor, alpha: float,
                 weighted: bool = True, class_weight: float = 1.0) -> torch.Tensor:
    """HashNet's pairwise loss (scalar). weighted: mean over positive pairs + mean over negative pairs (a class
    absent from the batch adds 0); unweighted: (w_c sum_pos + sum_neg) / (w_c |pos| + |neg|)."""
    losses = hashnet_pair_losses(h1, h2, s, alpha)
    pos = s > 0
    if weighted:
        total = losses.new_zeros(())
        for part in (pos, ~pos):
            if part.any():
                total = total + losses[part].mean()
        return total
    weights = torch.where(pos, torch.full_like(losses, class_weight), torch.ones_like(losses))
    return (weights * losses).sum() / weights.sum()


def sigmoid_param(cfg: TrainConfig) -> float:
    """alpha: hashnet.sigmoid_param, or the official 10 / bits when it is 0."""
    return cfg.hashnet.sigmoid_param or 10.0 / cfg.bits


def _param_groups(lr: float, multiplier: float):
    def groups(model) -> list[dict]:
        hash_params = list(model.hash_layer.parameters())
        ids = {id(p) for p in hash_params}
        return [{"params": [p for p in model.parameters() if id(p) not in ids]},
                {"params": hash_params, "lr": lr * multiplier}]
    return groups


class HashNetMethod(PairwiseMethod):
    name = "hashnet"

    def __init__(self, cfg: TrainConfig, dataset: DatasetIndex, device: torch.device) -> None:
        h = cfg.hashnet
        super().__init__(cfg, dataset, device, train_transform(cfg.image_size),
                         param_groups=_param_groups(cfg.lr, h.hash_lr_multiplier), nesterov=True)
        # lr x lr_decay every lr_step steps (lr_schedule.py "step"), replacing the per-epoch MultiStep schedule
        self.stepper.scheduler = torch.optim.lr_scheduler.StepLR(self.stepper.optimizer, h.lr_step, h.lr_decay)
        self.alpha = sigmoid_param(cfg)

    def steps_per_epoch(self) -> int:
        return self.cfg.hashnet.iterations_per_epoch or math.ceil(self.n / self.cfg.batch_size)

    def _halves(self, g: torch.Generator, count: int) -> torch.Tensor:
        """count indices from back-to-back seeded shuffles of the train split (one half's stream)."""
        parts, total = [], 0
        while total < count:
            parts.append(torch.randperm(self.n, generator=g))
            total += self.n
        return torch.cat(parts)[:count]

    def _batch_loss(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The loss of one mini-batch whose first half is paired with its second half, in its graph."""
        x = self.stepper.to_device(images)
        with self.stepper.autocast():
            h = self.model(x)  # one training forward of both halves: beta's iteration counter +1
        h = h.float()
        labels = labels.to(self.device, non_blocking=True)
        half = h.shape[0] // 2
        s = (labels[:half].view(-1, 1) == labels[half:].view(1, -1)).float()
        return hashnet_loss(h[:half], h[half:], s, self.alpha, self.cfg.hashnet.loss == "weighted",
                            self.cfg.hashnet.class_weight)

    def train_epoch(self, epoch: int, cancel: threading.Event) -> Iterator[BatchEnd | Event]:
        cfg = self.cfg
        b, steps = cfg.batch_size, self.steps_per_epoch()
        g = epoch_generator(cfg.seed, epoch)
        first, second = self._halves(g, steps * b), self._halves(g, steps * b)
        batches = [first[i * b:(i + 1) * b].tolist() + second[i * b:(i + 1) * b].tolist() for i in range(steps)]
        loader = DataLoader(self.train_data, batch_sampler=batches, num_workers=cfg.num_workers,
                            pin_memory=self.device.type == "cuda", generator=epoch_generator(cfg.seed, epoch, 2))
        self.model.train()
        clock = Throughput()
        for i, (images, labels, _index) in enumerate(loader_batches(loader)):
            if cancel.is_set():
                return
            loss = self.stepper.step(self._batch_loss(images, labels))
            self.stepper.scheduler.step()  # the lr schedule counts steps
            self.step_count += 1
            yield BatchEnd(epoch=epoch, batch=i + 1, batches_in_epoch=steps, step=self.step_count, loss=loss,
                           loss_terms={"beta": self.model.beta.detach().clone()}, lr=self.stepper.lr,
                           images_per_s=clock.tick(len(batches[i])))
