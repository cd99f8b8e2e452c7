"""ADSH: asymmetric deep supervised hashing (docs/methods.md section 1). FCAENet subclasses it (fcaenet.py).

One driver "epoch" is one outer iteration:
  (a) sample Omega, m database indices (seeded by (seed, epoch));  (b) S for Omega x Gamma (labels + r);
  (c) T_in epochs of SGD over the m images, recording u_i in the last one;  (d) one DCC sweep over V.
The database codes V (n, k) are free variables; queries are sign(network output).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader

from core.base.events import BatchEnd, Event, Log
from core.config.train_config import TrainConfig
from core.data.dataset import ImageDataset
from core.data.records import DatasetIndex
from core.data.transforms import train_transform
from core.models.factory import build_model
from core.runtime import distributed
from core.search.codes import to_pm1
from core.training.methods.asymmetric import SampledSimilarity, adsh_loss, dcc_update
from core.training.methods.base import HashingMethod
from core.training.methods.common import (
    NetworkStepper,
    Throughput,
    batches_until_cancel,
    epoch_generator,
    rank_generator,
    train_images,
)


class AdshMethod(HashingMethod):
    """The ADSH baseline: ResNet + Linear + tanh, asymmetric loss against the learned V."""

    name = "adsh"
    supports_partial = True

    def __init__(self, cfg: TrainConfig, dataset: DatasetIndex, device: torch.device) -> None:
        super().__init__(cfg, dataset, device)
        self.train_records = dataset.split("train")
        if not self.train_records:
            from core.base.errors import DatasetError

            raise DatasetError(f"dataset {dataset.kind} at {dataset.root} has no training images")
        self.db_labels = torch.tensor([r.label for r in self.train_records], dtype=torch.long)
        self.db_labels_device = self.db_labels.to(device)
        self.n = len(self.train_records)
        self.m = min(cfg.adsh.num_samples, self.n)
        self.model = build_model(cfg, dataset.num_classes).to(device)
        self.stepper = NetworkStepper(self.model, cfg, device)
        self.train_data = train_images(cfg, self.train_records, train_transform(cfg.image_size))
        if cfg.adsh.v_init == "randn":
            self.v = torch.randn(self.n, cfg.bits, generator=epoch_generator(cfg.seed, 0, 1))
        else:
            self.v = torch.zeros(self.n, cfg.bits)
        self.v = self.v.to(device)
        self.step_count = 0
        self._u_record: torch.Tensor | None = None  # U recorded in the current outer iteration
        self._u_resumed: torch.Tensor | None = None  # U of a partial checkpoint, for the resumed epoch

    # ---- HashingMethod -------------------------------------------------------------------------
    def train_epoch(self, epoch: int, cancel: threading.Event) -> Iterator[BatchEnd | Event]:
        cfg, opts = self.cfg, self.cfg.adsh
        g = epoch_generator(cfg.seed, epoch)
        omega = torch.randperm(self.n, generator=g)[: self.m]
        # labels and Omega live on the training device: no per-batch host->device copies on CUDA
        sim = SampledSimilarity.build(omega.to(self.device), self.db_labels_device)
        position = torch.full((self.n,), -1, dtype=torch.long)
        position[omega] = torch.arange(self.m)
        skip = self.take_skip()
        u_record = self._u_resumed if skip and self._u_resumed is not None else torch.zeros(
            self.m, cfg.bits, device=self.device)
        self._u_resumed = None
        self._u_record = u_record
        per_inner = math.ceil(self.m / cfg.batch_size)
        total = per_inner * opts.inner_epochs
        batches = self._batches(omega, g, opts.inner_epochs)  # the whole epoch's seeded order, also when resuming
        local, shares = distributed.shard_batches(batches)  # torchrun: this process's slice of each batch
        loader = self._loader(local[skip:], epoch)
        self.batches_done, self.batches_in_epoch = skip, total
        self.model.train()
        clock = Throughput()
        for i, batch in batches_until_cancel(loader, cancel, skip):
            inner = i // per_inner
            u, loss, terms = self._batch_loss(batch, sim, shares[i])
            loss = self.stepper.step(loss, shares[i])
            if inner == opts.inner_epochs - 1 and shares[i] > 0:  # U of the last inner epoch feeds the DCC step
                u_record[position[batch["db_index"]].to(self.device)] = u.detach().float()
            self.step_count += 1
            self.batches_done = i + 1
            yield BatchEnd(
                epoch=epoch, batch=i + 1, batches_in_epoch=total, step=self.step_count, loss=loss,
                loss_terms=terms, lr=self.stepper.lr, images_per_s=clock.tick(len(batches[i])),
            )
        if cancel.is_set():
            return
        u_record = distributed.sum_rows(u_record)  # torchrun: each process recorded only its own rows
        self.v = dcc_update(self.v, u_record, sim, self._dcc_gamma(), opts.dcc_sign_u_in_s_term)
        checksum = distributed.check_identical(self.v, f"database codes V after outer iteration {epoch}")
        self.stepper.end_epoch()
        world = distributed.current().world_size
        yield Log(f"epoch {epoch}: updated database codes V ({self.n} x {cfg.bits}) from m = {self.m} "
                  f"samples; dissimilar target -r = {-sim.r:.4g}"
                  + (f"; V sign checksum {checksum}, identical on all {world} processes" if world > 1 else ""))

    def state_tensors(self) -> dict[str, torch.Tensor]:
        out = self.stepper.state_tensors()
        out["method.v"] = self.v.detach().cpu().clone()
        out["method.step_count"] = torch.tensor(self.step_count, dtype=torch.int64)
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.stepper.load_state_tensors(tensors)
        v = tensors["method.v"]
        if tuple(v.shape) != (self.n, self.cfg.bits):
            from core.base.errors import RunError

            raise RunError(f"checkpoint database codes have shape {tuple(v.shape)}; this dataset needs "
                           f"({self.n}, {self.cfg.bits}): the dataset changed since the run started")
        self.v = v.to(self.device, dtype=torch.float32).clone()
        self.step_count = int(tensors["method.step_count"])

    def partial_state_tensors(self) -> dict[str, torch.Tensor]:
        """U recorded so far in this outer iteration (its last inner epoch feeds the DCC step)."""
        return {} if self._u_record is None else {"partial.u_record": self._u_record.detach().cpu().clone()}

    def load_partial_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        u = tensors.get("partial.u_record")
        if u is not None and tuple(u.shape) == (self.m, self.cfg.bits):
            self._u_resumed = u.to(self.device, dtype=torch.float32).clone()

    def database_codes(self) -> torch.Tensor:
        return to_pm1(self.v.detach().cpu())

    @property
    def current_lr(self) -> float:
        return self.stepper.lr

    # ---- hooks FCAENet overrides -------------------------------------------------------------
    def _item_keys(self, anchors: torch.Tensor, g: torch.Generator) -> list[Any]:
        """Dataset keys for one inner epoch's anchors (database indices, in visiting order)."""
        return anchors.tolist()

    def _dataset(self) -> torch.utils.data.Dataset:
        return _AnchorDataset(self.train_data)

    def _batch_loss(self, batch: dict, sim: SampledSimilarity, share: float = 1.0,
                    ) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """(u (B, k) float, loss, loss terms as detached 0-dim tensors) for one mini-batch; share: its fraction
        of the global batch (core.runtime.distributed.shard_batches), for loss terms that are sums rather than means."""
        images = self.stepper.to_device(batch["image"])
        with self.stepper.autocast():
            u = self.model(images)
        u = u.float()  # the loss (and the recorded U) in float32 even under AMP
        loss, terms = self._adsh_term(u, batch, sim)
        return u, loss, terms

    def _dcc_gamma(self) -> float:
        """gamma of the DCC step's gamma U-bar term (ExchNet without its quantisation loss: 0)."""
        return self.cfg.adsh.gamma

    # ---- helpers -----------------------------------------------------------------------------
    def _adsh_term(self, u: torch.Tensor, batch: dict, sim: SampledSimilarity) -> tuple[torch.Tensor, dict]:
        opts = self.cfg.adsh
        labels = batch["label"].to(self.device, non_blocking=True)
        db_index = batch["db_index"].to(self.device, non_blocking=True)
        return adsh_loss(u, labels, db_index, self.v, sim, opts.gamma, opts.loss_normalization)

    def _batches(self, omega: torch.Tensor, g: torch.Generator, inner_epochs: int) -> list[list[Any]]:
        """All batches of one outer iteration: each inner epoch visits Omega in a fresh seeded order,
        and batches never straddle two inner epochs."""
        batches: list[list[Any]] = []
        for _ in range(inner_epochs):
            anchors = omega[torch.randperm(self.m, generator=g)]
            keys = self._item_keys(anchors, g)
            batches += [keys[i:i + self.cfg.batch_size] for i in range(0, len(keys), self.cfg.batch_size)]
        return batches

    def _loader(self, batches: list[list[Any]], epoch: int) -> DataLoader:
        return DataLoader(
            self._dataset(), batch_sampler=batches, num_workers=self.cfg.num_workers,
            pin_memory=self.device.type == "cuda", collate_fn=_collate,
            # workers (if any) seed their augmentation RNG from this generator: deterministic per epoch,
            # and each torchrun rank's own
            generator=rank_generator(self.cfg.seed, epoch, 2),
            persistent_workers=False,
        )


class _AnchorDataset(torch.utils.data.Dataset):
    """Items {"image", "label", "db_index"} for database index keys."""

    def __init__(self, base: ImageDataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: int) -> dict:
        image, label, index = self.base[key]
        return {"image": image, "label": label, "db_index": index}


def _collate(items: list[dict]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) if isinstance(items[0][k], torch.Tensor)
            else torch.tensor([it[k] for it in items]) for k in items[0]}

