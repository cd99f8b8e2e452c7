"""A2-Net (docs/baselines.md section 4; DSH_Analysis re-implementation): ADSH + a tied-weight reconstruction.

Per mini-batch, with x = [ell_1 .. ell_M ; g] (B, D), u = tanh(W x) (B, k), W (k, D) (core.models.a2net):
  L = L_h + L_q                                           (section 0: ADSH, "semicon" scale, gamma 200)
    + rec_weight * L_rec,  L_rec = mean over B x D of (W^T u - x)^2
    + dec_weight * L_dec,  L_dec = mean over k x k of (U^T U - B I)^2 / (B k),   U the batch's u (B, k)
L_rec and L_dec join from the 0-based outer iteration ceil(aux_start * T) (the code: it >= T / 2, so 20 of 40).
The two DCGAN-style generators of the code are computed there but their losses are commented out: omitted.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import torch

from core.base.events import BatchEnd, Event, Log
from core.models.a2net import a2net_parts
from core.training.methods.adsh import AdshMethod
from core.training.methods.asymmetric import SampledSimilarity


def reconstruction_loss(u: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L_rec = mean((W^T u - x)^2): u (B, k), x (B, D), weight W (k, D)."""
    return ((u @ weight - x) ** 2).mean()


def decorrelation_loss(u: torch.Tensor) -> torch.Tensor:
    """L_dec = mean over k x k of (U^T U - B I)^2, divided by B k: u (B, k)."""
    b, k = u.shape
    gram = u.t() @ u - b * torch.eye(k, dtype=u.dtype, device=u.device)
    return (gram ** 2).mean() / (b * k)


class A2NetMethod(AdshMethod):
    name = "a2net"

    def __init__(self, cfg, dataset, device) -> None:
        super().__init__(cfg, dataset, device)
        self.outer = 0  # 0-based outer iteration of the epoch being trained

    def aux_active(self, outer: int) -> bool:
        """Whether L_rec and L_dec are on in 0-based outer iteration `outer`."""
        return outer >= math.ceil(self.cfg.a2net.aux_start * self.cfg.epochs)

    def train_epoch(self, epoch: int, cancel: threading.Event) -> Iterator[BatchEnd | Event]:
        self.outer = epoch - 1
        if epoch == 1 or self.aux_active(self.outer) != self.aux_active(self.outer - 1):
            parts = a2net_parts(self.cfg)
            yield Log(f"epoch {epoch}: A2-Net with M = {parts} parts ({parts} local layer4 passes per image); "
                      + ("L_rec and L_dec on" if self.aux_active(self.outer) else "L_h + L_q only"))
        yield from super().train_epoch(epoch, cancel)

    def _batch_loss(self, batch: dict, sim: SampledSimilarity, share: float = 1.0,
                    ) -> tuple[torch.Tensor, torch.Tensor, dict]:
        images = self.stepper.to_device(batch["image"])
        with self.stepper.autocast():
            p = self.model.parts(images)
            x = self.model.features(p["local"], p["g"])
            u = torch.tanh(self.model.hash_layer(x))
        u, x = u.float(), x.float()
        loss, terms = self._adsh_term(u, batch, sim)
        if self.aux_active(self.outer):
            opts = self.cfg.a2net
            rec = opts.rec_weight * reconstruction_loss(u, x, self.model.hash_layer.weight.float())
            dec = opts.dec_weight * decorrelation_loss(u)
            loss = loss + rec + dec
            terms = {**terms, "rec": rec.detach(), "dec": dec.detach()}
        return u, loss, terms
