"""ExchNet (docs/baselines.md section 5; ludics/fghash re-implementation with DSH_Analysis's settings).

Per mini-batch, with the part features ell (B, M, C4), their layer4 maps (B, M, C4, h, w) and g
(core.models.a2net.PartNet), H(p, q) = ||sqrt p - sqrt q||_2 / sqrt 2 in [0, 1]:
  sp_m = softmax over the h w positions of the channel mean of part m's map; ch_m = softmax over C4 of ell_m
  L_sp = sp_weight * mean_b (1 - mean_{i<j} H(sp_i, sp_j))
  L_ch = ch_weight * mean_b max(0, hinge - mean_{i<j} H(ch_i, ch_j))
  L_h  = ADSH's square term (section 0); L_q and the DCC step's gamma U-bar only with quant_loss (default off)
From the 0-based outer iteration align_step on: the class centres C[c, m] = mean ell_m over the train images of
class c are recomputed before the iteration (eval mode, eval transform: what the code computes after the
previous one), each ell_m of a training forward is replaced by C[y, m] with probability exchange_prob
(Bernoulli per sample and part, the "exchange"), and
  L_al = al_weight * ||ell' - C[y]||_F / B   (ell' after the exchange; whole batch, not squared)
Choices where the sources leave room: L_sp and L_ch see the network's own parts (before the exchange, whose
centres carry no gradient); the exchange draws come from a generator seeded by (seed, epoch), so a resumed
run draws what an uninterrupted one would. Eval forwards never exchange.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import torch
from torch import nn

from core.base.errors import Cancelled
from core.base.events import BatchEnd, Event, Log
from core.data.transforms import eval_transform
from core.encoding.encode import encode_records
from core.training.methods.adsh import AdshMethod
from core.training.methods.asymmetric import SampledSimilarity, adsh_terms
from core.training.methods.common import epoch_generator


def hellinger(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """H(p, q) = ||sqrt p - sqrt q||_2 / sqrt 2 over the last axis (distributions), in [0, 1]."""
    return torch.linalg.vector_norm(p.sqrt() - q.sqrt(), dim=-1) / math.sqrt(2.0)


def mean_pairwise_hellinger(dists: torch.Tensor) -> torch.Tensor:
    """(B, M, L) distributions -> (B,) mean of H over the M (M - 1) / 2 pairs i < j."""
    i, j = torch.triu_indices(dists.shape[1], dists.shape[1], offset=1, device=dists.device)
    return hellinger(dists[:, i], dists[:, j]).mean(dim=1)


def spatial_diversity_loss(local_maps: torch.Tensor) -> torch.Tensor:
    """L_sp (unweighted): local_maps (B, M, C, h, w) -> mean_b (1 - mean pair H of the spatial softmaxes)."""
    sp = torch.softmax(local_maps.mean(dim=2).flatten(2), dim=-1)
    return (1.0 - mean_pairwise_hellinger(sp)).mean()


def channel_diversity_loss(parts: torch.Tensor, hinge: float) -> torch.Tensor:
    """L_ch (unweighted): parts (B, M, C) -> mean_b max(0, hinge - mean pair H of the channel softmaxes)."""
    return torch.relu(hinge - mean_pairwise_hellinger(torch.softmax(parts, dim=-1))).mean()


def exchange(parts: torch.Tensor, centres: torch.Tensor, take: torch.Tensor) -> torch.Tensor:
    """parts (B, M, C) with part m of sample b replaced by centres (B, M, C) where take (B, M) is True."""
    return torch.where(take.unsqueeze(-1), centres, parts)


def alignment_loss(exchanged: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """L_al (unweighted) = ||exchanged - centres||_F / B (not squared)."""
    return torch.linalg.vector_norm((exchanged - centres).flatten()) / exchanged.shape[0]


class _PartFeatures(nn.Module):
    """encode(x) = the flattened part features (B, M C4): lets encode_records compute the class centres."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.parts(x)["local"].flatten(1)


class ExchNetMethod(AdshMethod):
    name = "exchnet"

    def __init__(self, cfg, dataset, device) -> None:
        super().__init__(cfg, dataset, device)
        self.centres: torch.Tensor | None = None  # (classes, M, C4) on the device, while the exchange is on
        self._exchange_generator: torch.Generator | None = None

    def exchange_active(self, epoch: int) -> bool:
        """Whether the exchange and L_al act in (1-based) epoch `epoch`: 0-based iteration >= align_step."""
        return epoch - 1 >= self.cfg.exchnet.align_step

    def train_epoch(self, epoch: int, cancel: threading.Event) -> Iterator[BatchEnd | Event]:
        self.centres = None
        if self.exchange_active(epoch):
            try:
                self.centres = yield from self._class_centres(cancel)
            except Cancelled:  # the epoch stops incomplete, like a cancel between batches
                return
            self._exchange_generator = epoch_generator(self.cfg.seed, epoch, 5)
            yield Log(f"epoch {epoch}: ExchNet class centres of {self.centres.shape[0]} classes x "
                      f"{self.centres.shape[1]} parts; exchange probability {self.cfg.exchnet.exchange_prob}")
        yield from super().train_epoch(epoch, cancel)

    def _class_centres(self, cancel: threading.Event):
        """(classes, M, C4): mean part features per class over the train split (eval mode, eval transform)."""
        cfg = self.cfg
        feats = yield from encode_records(
            _PartFeatures(self.model), self.train_records, eval_transform(cfg.image_size, cfg.resize_size),
            self.device, cfg.batch_size, cancel, binary=False, num_workers=cfg.num_workers,
            phase="exchnet class centres")
        feats = feats.view(self.n, cfg.exchnet.parts, -1)
        classes = int(self.db_labels.max()) + 1
        sums = torch.zeros(classes, *feats.shape[1:]).index_add_(0, self.db_labels, feats)
        counts = torch.bincount(self.db_labels, minlength=classes).clamp(min=1).view(-1, 1, 1)
        return (sums / counts).to(self.device)

    def _dcc_gamma(self) -> float:
        return self.cfg.adsh.gamma if self.cfg.exchnet.quant_loss else 0.0

    def _batch_loss(self, batch: dict, sim: SampledSimilarity, share: float = 1.0,
                    ) -> tuple[torch.Tensor, torch.Tensor, dict]:
        opts = self.cfg.exchnet
        images = self.stepper.to_device(batch["image"])
        with self.stepper.autocast():
            p = self.model.parts(images)
        local, g = p["local"].float(), p["g"].float()
        terms: dict[str, torch.Tensor] = {}
        if self.centres is not None:
            target = self.centres[batch["label"].to(self.device)]
            take = torch.rand(local.shape[:2], generator=self._exchange_generator) < opts.exchange_prob
            local_used = exchange(local, target, take.to(self.device))
            terms["align"] = opts.al_weight * alignment_loss(local_used, target)
        else:
            local_used = local
        u = self.model.hash_parts(local_used, g).float()
        labels = batch["label"].to(self.device)
        db_index = batch["db_index"].to(self.device)
        h = adsh_terms(u, labels, db_index, self.v, sim, self.cfg.adsh.gamma, self.cfg.adsh.loss_normalization)
        terms["adsh_square"] = h["adsh_square"]
        if opts.quant_loss:
            terms["adsh_quant"] = h["adsh_quant"]
        terms["spatial"] = opts.sp_weight * spatial_diversity_loss(p["local_maps"].float())
        terms["channel"] = opts.ch_weight * channel_diversity_loss(local, opts.hinge)
        loss = sum(terms.values())
        return u, loss, {name: t.detach() for name, t in terms.items()}
