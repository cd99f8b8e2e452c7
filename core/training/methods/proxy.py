"""Multi-FusNet training (docs/methods.md sections 3.1-3.6): regression to fixed proxy codes + zoomed classification.

Before training, generate_proxy_codes turns the training labels into fixed +-1 targets: by default every
image's own FISH code, as in the paper (multifus.proxy_codes = "fish"); with "distinct", fghash's repair,
one distinct code per class. The log says how many classes collide at the chosen length.
One driver epoch is one pass over the train split in a seeded order:

  forward x -> (h, y, F3) -> x_zoom = saliency_zoom(x, F3) -> forward -> y_zoom
  L = MSE(h, b) / a1^2 + CE_smooth((y + y_zoom) / 2) / a2^2 + ln(1 + a1) + ln(1 + a2)

Evaluation is symmetric: the database (= train split) is encoded by the network with the eval transform.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader
from torchvision import transforms as T

from core.base.errors import ConfigError, DatasetError, RunError
from core.base.events import BatchEnd, Event, Log
from core.config.train_config import TrainConfig
from core.data.records import DatasetIndex
from core.data.transforms import normalize, train_transform
from core.models.factory import build_model
from core.models.zoom import saliency_zoom
from core.runtime import distributed
from core.training.methods.base import HashingMethod
from core.training.methods.common import (
    NetworkStepper,
    Throughput,
    batches_until_cancel,
    epoch_generator,
    rank_generator,
    train_images,
)
from core.training.methods.proxy_codes import ProxyCodes, generate_proxy_codes
from core.training.methods.proxy_losses import MultiFusLoss, multifus_loss
from core.training.methods.symmetric import NetworkDatabase


def paper_train_transform(image_size: int, resize_size: int) -> T.Compose:
    """The Multi-FusNet paper's training augmentation (section 3.5; the exact order is reconstructed).

    Resize(resize_size) -> RandomCrop(image_size) -> RandomRotation(+-30 deg, expanded output) ->
    Resize back to image_size x image_size -> HFlip(p=0.7) -> ColorJitter(0.5, 0.5, 0.5, 0.5) -> normalise.
    """
    return T.Compose([
        T.Resize(resize_size),
        T.RandomCrop(image_size),
        T.RandomRotation(30, expand=True),  # the paper's "extended output"
        T.Resize((image_size, image_size)),
        T.RandomHorizontalFlip(p=0.7),
        T.ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.5),
        T.ToTensor(),
        normalize(),
    ])


class MultiFusNetMethod(NetworkDatabase, HashingMethod):
    """Multi-FusNet: symmetric hashing by regression to offline class proxy codes."""

    name = "multifusnet"
    supports_partial = True

    def __init__(self, cfg: TrainConfig, dataset: DatasetIndex, device: torch.device) -> None:
        super().__init__(cfg, dataset, device)
        opts = cfg.multifus
        self._zoom_gen: torch.Generator | None = None  # this epoch's zoom draws (core/models/zoom.py)
        self._zoom_resumed: torch.Tensor | None = None  # their state in a partial checkpoint
        self.train_records = dataset.split("train")
        if not self.train_records:
            raise DatasetError(f"dataset {dataset.kind} at {dataset.root} has no training images")
        if len(self.train_records) < 2 or cfg.batch_size < 2:
            # the hash head's BatchNorm1d cannot normalise a single sample in training mode
            raise ConfigError(f"Multi-FusNet needs at least 2 training images and batch_size >= 2; got "
                              f"{len(self.train_records)} image(s) and batch_size {cfg.batch_size}")
        self.labels = torch.tensor([r.label for r in self.train_records], dtype=torch.long)
        self.n = len(self.train_records)
        self.proxy: ProxyCodes = generate_proxy_codes(
            self.labels, dataset.num_classes, cfg.bits, sigma=opts.proxy_sigma, delta=opts.proxy_delta,
            iterations=opts.proxy_iterations, procrustes=opts.procrustes, seed=cfg.seed,
            targets=opts.proxy_codes,
        )
        self.targets = self.proxy.image_codes.to(device)  # (n, bits) +-1, fixed during training
        self.model = build_model(cfg, dataset.num_classes).to(device)
        # alpha1/alpha2 are ordinary parameters of the model: SGD with weight decay, as in the code
        self.stepper = NetworkStepper(self.model, cfg, device)
        augment = (paper_train_transform(cfg.image_size, cfg.resize_size) if opts.train_augment == "paper"
                   else train_transform(cfg.image_size))
        self.train_data = train_images(cfg, self.train_records, augment)
        self.step_count = 0
        self._announced = False

    # ---- HashingMethod -------------------------------------------------------------------------
    def train_epoch(self, epoch: int, cancel: threading.Event) -> Iterator[BatchEnd | Event]:
        cfg = self.cfg
        if not self._announced:
            self._announced = True
            yield Log(self.proxy.summary())
        order = torch.randperm(self.n, generator=epoch_generator(cfg.seed, epoch))
        batches = [order[i:i + cfg.batch_size].tolist() for i in range(0, self.n, cfg.batch_size)]
        if len(batches) > 1 and len(batches[-1]) < 2 * distributed.current().world_size:
            batches.pop()  # BatchNorm1d cannot train on one sample (per process); drop it (the order changes per epoch)
        local, shares = distributed.shard_batches(batches)  # torchrun: this process's slice of each batch
        zoom_gen = self.zoom_generator(epoch)
        skip = self.take_skip()  # resuming mid-epoch: the same seeded order, the finished batches left out
        if skip and self._zoom_resumed is not None:
            zoom_gen.set_state(self._zoom_resumed)  # where the zoom draws stood after the finished batches
        self._zoom_resumed = None
        self._zoom_gen = zoom_gen
        self.batches_done, self.batches_in_epoch = skip, len(batches)
        loader = self._loader(local[skip:], epoch)
        self.model.train()
        clock = Throughput()
        for i, (images, labels, index) in batches_until_cancel(loader, cancel, skip):
            loss = self._batch_loss(images, labels, index, zoom_gen)  # the driver checks that losses stay finite
            total = self.stepper.step(loss.total, shares[i])
            self.step_count += 1
            self.batches_done = i + 1
            yield BatchEnd(
                epoch=epoch, batch=i + 1, batches_in_epoch=len(batches), step=self.step_count,
                loss=total, loss_terms=loss.terms(), lr=self.stepper.lr,
                images_per_s=clock.tick(len(batches[i])),
            )
        if cancel.is_set():
            return
        self.stepper.end_epoch()

    def zoom_generator(self, epoch: int) -> torch.Generator:
        """The epoch's saliency-zoom draws: this rank's own (the batch order is shared by every rank; rank 0
        keeps the single-process stream)."""
        return rank_generator(self.cfg.seed, epoch, 3)

    def _loader(self, local: list[list[int]], epoch: int) -> DataLoader:
        """This rank's slices of the epoch's batches; loader workers (if any) seed their augmentation from
        a generator of this rank's own, so ranks draw different crops."""
        return DataLoader(
            self.train_data, batch_sampler=local, num_workers=self.cfg.num_workers,
            pin_memory=self.device.type == "cuda", generator=rank_generator(self.cfg.seed, epoch, 2),
        )

    def _batch_loss(self, images: torch.Tensor, labels: torch.Tensor, index: torch.Tensor,
                    zoom_gen: torch.Generator) -> MultiFusLoss:
        """The loss of one mini-batch (images as the loader gives them, labels, train-split indices)."""
        opts = self.cfg.multifus
        x = self.stepper.to_device(images)
        labels = labels.to(self.device, non_blocking=True)
        with self.stepper.autocast():
            out = self.model(x)
        logits_zoom = None
        if opts.use_zoom:
            # the zoom itself runs outside autocast: its grid is computed in float64
            zoomed = saliency_zoom(x, out.top_map, zoom_gen, pixel_centres=opts.zoom_grid == "pixel_centres")
            with self.stepper.autocast():
                logits_zoom = self.model(zoomed).logits.float()
        return multifus_loss(
            out.hash.float(), self.targets[index.to(self.device, non_blocking=True)], out.logits.float(), logits_zoom,
            labels, self.model.alpha1, self.model.alpha2, opts.label_smoothing,
        )

    def state_tensors(self) -> dict[str, torch.Tensor]:
        out = self.stepper.state_tensors()
        out["method.proxy_codes"] = self.proxy.image_codes.to(torch.int8).clone()
        out["method.step_count"] = torch.tensor(self.step_count, dtype=torch.int64)
        return out

    def partial_state_tensors(self) -> dict[str, torch.Tensor]:
        """The zoom generator's state after the finished batches (so the resumed batches zoom the same)."""
        return {} if self._zoom_gen is None else {"partial.zoom_gen": self._zoom_gen.get_state()}

    def load_partial_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        state = tensors.get("partial.zoom_gen")
        self._zoom_resumed = state.clone() if state is not None else None

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        codes = tensors["method.proxy_codes"]
        if tuple(codes.shape) != (self.n, self.cfg.bits):
            raise RunError(f"checkpoint proxy codes have shape {tuple(codes.shape)}; this dataset needs "
                           f"({self.n}, {self.cfg.bits}): the dataset changed since the run started")
        if not torch.equal(codes.float(), self.proxy.image_codes):
            # the codes are deterministic in (labels, seed); a difference means other labels or code
            raise RunError("checkpoint proxy codes differ from the ones regenerated for this dataset: "
                           "the training labels changed since the run started")
        self.stepper.load_state_tensors(tensors)
        self.step_count = int(tensors["method.step_count"])
        self._announced = True

    @property
    def current_lr(self) -> float:
        return self.stepper.lr
