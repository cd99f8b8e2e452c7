"""FISH (Chen et al. 2022, cited by Multi-FusNet; docs/baselines.md section 7). No official code or paper text was
found: this follows the only re-implementation, aassxun/DSH_Analysis fish.py + models/fish.py.

Offline: one +-1 proxy code per training image from the labels (core.training.methods.proxy_codes, the FISH
alternating optimisation, shared with Multi-FusNet). Each outer iteration samples m database images as ADSH does
(AdshMethod's sampling and batching are reused; there is no V, S or DCC step) and runs T_in epochs over them:

    (fmap, logits, b) = net(x);  A = sum_c fmap (detached), upsampled to the image size (bilinear, corners)
    x_hide = x * [A < tau max A],  tau ~ U(hide_low, 1) per image
    L = CE(logits, y) + MSE(b, proxy code) + CE(net(x_hide).logits, y)

Database: the proxy codes of the train images (asymmetric); queries: sign(b).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from core.base.errors import RunError
from core.base.events import BatchEnd, Event, Log
from core.config.train_config import TrainConfig
from core.data.loader import loader_batches
from core.data.records import DatasetIndex
from core.runtime import distributed
from core.training.methods.adsh import AdshMethod
from core.training.methods.common import Throughput, epoch_generator
from core.training.methods.proxy_codes import ProxyCodes, generate_proxy_codes


def hide_attended(images: torch.Tensor, fmap: torch.Tensor, low: float, g: torch.Generator) -> torch.Tensor:
    """images (B, 3, H, W) with the pixels where the upsampled channel sum of fmap (B, C, h, w) reaches tau x its
    maximum set to 0 (tau ~ U(low, 1) per image, drawn from the CPU generator g)."""
    attention = fmap.detach().float().sum(dim=1, keepdim=True)
    attention = F.interpolate(attention, size=tuple(images.shape[-2:]), mode="bilinear", align_corners=True)
    tau = (low + (1 - low) * torch.rand(images.shape[0], generator=g)).to(images.device)
    peak = attention.flatten(1).max(dim=1).values
    keep = attention < (tau * peak).view(-1, 1, 1, 1)
    return images * keep.to(images.dtype)


def fish_terms(logits: torch.Tensor, codes: torch.Tensor, targets: torch.Tensor, logits_hide: torch.Tensor,
               labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """{"ce", "hash", "ce_hide"}: the three (unweighted) terms of FISH's loss, scalar tensors."""
    return {"ce": F.cross_entropy(logits.float(), labels), "hash": F.mse_loss(codes.float(), targets),
            "ce_hide": F.cross_entropy(logits_hide.float(), labels)}


class FishMethod(AdshMethod):
    name = "fish"

    def __init__(self, cfg: TrainConfig, dataset: DatasetIndex, device: torch.device) -> None:
        super().__init__(cfg, dataset, device)
        self.v = None  # FISH has no learned database codes: the database is the proxy codes
        self.proxy: ProxyCodes = generate_proxy_codes(self.db_labels, dataset.num_classes, cfg.bits, seed=cfg.seed)
        self.targets = self.proxy.image_codes.to(device)
        self._announced = False

    def train_epoch(self, epoch: int, cancel: threading.Event) -> Iterator[BatchEnd | Event]:
        cfg = self.cfg
        if not self._announced:
            self._announced = True
            yield Log(self.proxy.summary())
        g = epoch_generator(cfg.seed, epoch)
        omega = torch.randperm(self.n, generator=g)[: self.m]
        batches = self._batches(omega, g, cfg.adsh.inner_epochs)
        local, shares = distributed.shard_batches(batches)
        loader = self._loader(local, epoch)
        hide_gen = epoch_generator(cfg.seed, epoch, 3)
        total = math.ceil(self.m / cfg.batch_size) * cfg.adsh.inner_epochs
        self.model.train()
        clock = Throughput()
        for i, batch in enumerate(loader_batches(loader)):
            if cancel.is_set():
                return
            terms = self._batch_terms(batch, hide_gen)
            loss = self.stepper.step(sum(terms.values()), shares[i])
            self.step_count += 1
            yield BatchEnd(epoch=epoch, batch=i + 1, batches_in_epoch=total, step=self.step_count, loss=loss,
                           loss_terms={k: v.detach() for k, v in terms.items()}, lr=self.stepper.lr,
                           images_per_s=clock.tick(len(batches[i])))
        if cancel.is_set():
            return
        self.stepper.end_epoch()  # lr x0.1 at outer iterations 5, 15, 35 (paper preset)

    def _batch_terms(self, batch: dict, hide_gen: torch.Generator) -> dict[str, torch.Tensor]:
        """The loss terms of one mini-batch (two forwards: the images, then their attention-hidden copies)."""
        x = self.stepper.to_device(batch["image"])
        labels = batch["label"].to(self.device, non_blocking=True)
        with self.stepper.autocast():
            out = self.model(x)
            hidden = hide_attended(x, out.feature_map, self.cfg.fish.hide_low, hide_gen)
            logits_hide = self.model(hidden).logits
        targets = self.targets[batch["db_index"].to(self.device, non_blocking=True)]
        return fish_terms(out.logits, out.codes, targets, logits_hide, labels)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        out = self.stepper.state_tensors()
        out["method.proxy_codes"] = self.proxy.image_codes.to(torch.int8).clone()
        out["method.step_count"] = torch.tensor(self.step_count, dtype=torch.int64)
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        codes = tensors["method.proxy_codes"]
        if tuple(codes.shape) != (self.n, self.cfg.bits) or not torch.equal(codes.float(), self.proxy.image_codes):
            raise RunError("checkpoint proxy codes differ from the ones regenerated for this dataset: the "
                           "training labels changed since the run started")
        self.stepper.load_state_tensors(tensors)
        self.step_count = int(tensors["method.step_count"])
        self._announced = True

    def database_codes(self) -> torch.Tensor:
        """The proxy codes of the train split (n, bits), +-1 on the CPU."""
        return self.proxy.image_codes.detach().cpu().clone()
