"""DPSH: deep pairwise-supervised hashing (Li, Wang, Kang, IJCAI 2016; docs/baselines.md section 1).

Written from jiangqy/DPSH-pytorch (DPSH_CIFAR_10*.py). One driver epoch is one shuffled pass over the train
split in batches of B. A buffer U (n, k) holds the latest detached output of every training image (zeros at the
start). For each batch the detached outputs are first written into their rows of U, then

    theta_ij = 1/2 u_i^T U_j                  (batch i x all n, the self pair included)
    L = 1/(n B) sum_i sum_j [log(1 + e^theta_ij) - S_ij theta_ij] + eta/(n B) sum_i ||sign(u_i) - u_i||^2

with S_ij = 1 when i and j share a class (0/1, not soft). Gradient only through the batch u_i.
Database: symmetric (the network encodes the train split).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader

from core.base.errors import RunError
from core.base.events import BatchEnd, Event
from core.config.train_config import TrainConfig
from core.data.loader import loader_batches
from core.data.records import DatasetIndex
from core.data.transforms import train_transform
from core.encoding.encode import run_eval_transform
from core.training.methods.common import Throughput, epoch_generator
from core.training.methods.pairwise import PairwiseMethod


def softplus(theta: torch.Tensor) -> torch.Tensor:
    """log(1 + e^theta) without overflow for large theta, with the exact gradient sigmoid(theta) everywhere.

    (The spec's log(1 + e^-|theta|) + max(theta, 0) has the same value, but autograd gives it the gradient 1
    instead of 1/2 at theta = 0 exactly, which the many zero rows of U at the start produce.)"""
    return torch.nn.functional.softplus(theta)


def dpsh_terms(u: torch.Tensor, batch_labels: torch.Tensor, U: torch.Tensor, db_labels: torch.Tensor,
               eta: float) -> dict[str, torch.Tensor]:
    """DPSH's batch loss, term by term: {"likelihood", "quant"} (quant already times eta), scalar tensors.

    u (B, k) the batch outputs (in the graph); U (n, k) the buffer, the batch rows already holding u.detach();
    labels (B,) and (n,). Both terms divided by n B."""
    n, b = U.shape[0], u.shape[0]
    theta = 0.5 * u @ U.t()
    s = (batch_labels.view(-1, 1) == db_labels.view(1, -1)).to(u.dtype)
    likelihood = (softplus(theta) - s * theta).sum() / (n * b)
    quant = eta * ((torch.sign(u).detach() - u) ** 2).sum() / (n * b)
    return {"likelihood": likelihood, "quant": quant}


class DpshMethod(PairwiseMethod):
    name = "dpsh"

    def __init__(self, cfg: TrainConfig, dataset: DatasetIndex, device: torch.device) -> None:
        augment = train_transform(cfg.image_size) if cfg.dpsh.augment == "crop_flip" else run_eval_transform(cfg)
        super().__init__(cfg, dataset, device, augment)
        self.u_buffer = torch.zeros(self.n, cfg.bits, device=device)

    def train_epoch(self, epoch: int, cancel: threading.Event) -> Iterator[BatchEnd | Event]:
        cfg = self.cfg
        order = torch.randperm(self.n, generator=epoch_generator(cfg.seed, epoch)).tolist()
        batches = [order[i:i + cfg.batch_size] for i in range(0, self.n, cfg.batch_size)]
        loader = DataLoader(self.train_data, batch_sampler=batches, num_workers=cfg.num_workers,
                            pin_memory=self.device.type == "cuda", generator=epoch_generator(cfg.seed, epoch, 2))
        self.model.train()
        clock = Throughput()
        for i, (images, labels, index) in enumerate(loader_batches(loader)):
            if cancel.is_set():
                return
            terms = self._batch_loss(images, labels, index)
            loss = self.stepper.step(terms["likelihood"] + terms["quant"])
            self.step_count += 1
            yield BatchEnd(epoch=epoch, batch=i + 1, batches_in_epoch=len(batches), step=self.step_count,
                           loss=loss, loss_terms={k: v.detach() for k, v in terms.items()}, lr=self.stepper.lr,
                           images_per_s=clock.tick(len(batches[i])))
        if cancel.is_set():
            return
        self.stepper.end_epoch()  # lr x0.1 after epochs 51 and 101 in the paper preset

    def _batch_loss(self, images: torch.Tensor, labels: torch.Tensor, index: torch.Tensor,
                    ) -> dict[str, torch.Tensor]:
        """The loss terms of one mini-batch (train-split indices `index`), in their graph; writes the batch's
        fresh codes into U first."""
        x = self.stepper.to_device(images)
        with self.stepper.autocast():
            u = self.model(x)
        u = u.float()
        index = index.to(self.device, non_blocking=True)
        self.u_buffer[index] = u.detach()  # the batch's own rows first (the self pair uses the fresh u)
        return dpsh_terms(u, labels.to(self.device, non_blocking=True), self.u_buffer, self.labels_device,
                          self.cfg.dpsh.eta)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        out = super().state_tensors()
        out["method.u_buffer"] = self.u_buffer.detach().cpu().clone()
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        u = tensors["method.u_buffer"]
        if tuple(u.shape) != (self.n, self.cfg.bits):
            raise RunError(f"checkpoint buffer U has shape {tuple(u.shape)}; this dataset needs "
                           f"({self.n}, {self.cfg.bits}): the dataset changed since the run started")
        super().load_state_tensors(tensors)
        self.u_buffer = u.to(self.device, dtype=torch.float32).clone()
