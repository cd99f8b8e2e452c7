"""FCAENet (docs/methods.md section 2): ADSH + SREM-erased anchors + ESRL on (anchor, positive, erased) triplets.

Per mini-batch of anchors x (with same-class random positives x+ drawn from the labels):
  forward [x; x+] once -> u, u+ and the anchor's last-conv map F (detached for the mask);
  x_e = erase(x, srem_mask(F))  -> forward -> u_e;
  L = J_ADSH(u) + alpha * L_pos(u, u+) + beta * L_era(u, u_e)       (Eq. 7-13)
Ablations (paper Table 2): use_srem adds x_e and L_era, use_esrl adds x+ and L_pos; both off = ADSH.
ESRL normalisation (FcaeOptions.esrl_normalization): "quant" (default, [RECON], fghash's reconstruction) the
scale of ADSH's quantisation term, so alpha = 1 pulls u toward u+ as hard as gamma pulls u toward v; "m_k":
sum over the batch / (m k), Eq. 7-9 read literally (the paper names m and k as their symbols), whose pull is
only 0.08 of quantisation's on CUB; "batch_k" ([RECON]): the batch mean / k. bench/loss_shares.py measures each term's share of the gradient.
"""

from __future__ import annotations

from typing import Any

import torch

from core.config.train_config import TrainConfig
from core.data.records import DatasetIndex
from core.models.srem import erase, srem_mask
from core.training.methods.adsh import AdshMethod
from core.training.methods.asymmetric import SampledSimilarity, adsh_scale, adsh_terms


class FcaeNetMethod(AdshMethod):
    name = "fcaenet"

    def __init__(self, cfg: TrainConfig, dataset: DatasetIndex, device: torch.device) -> None:
        super().__init__(cfg, dataset, device)
        by_class: dict[int, list[int]] = {}
        for i, label in enumerate(self.db_labels.tolist()):
            by_class.setdefault(label, []).append(i)
        self._by_class = {c: torch.tensor(v, dtype=torch.long) for c, v in by_class.items()}

    def positives(self, anchors: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """A random same-class database image for each anchor (not the anchor itself unless it is
        alone in its class); drawn from g, so the choice is reproducible."""
        out = torch.empty_like(anchors)
        for j, (a, label) in enumerate(zip(anchors.tolist(), self.db_labels[anchors].tolist())):
            members = self._by_class[label]
            if len(members) == 1:
                out[j] = a
                continue
            pick = int(torch.randint(len(members) - 1, (1,), generator=g))
            candidate = int(members[pick])
            out[j] = int(members[-1]) if candidate == a else candidate  # skip the anchor, stay uniform
        return out

    def _item_keys(self, anchors: torch.Tensor, g: torch.Generator) -> list[Any]:
        if not self.cfg.fcae.use_esrl:
            return anchors.tolist()
        return list(zip(anchors.tolist(), self.positives(anchors, g).tolist()))

    def _dataset(self) -> torch.utils.data.Dataset:
        return _TripletDataset(self.train_data)

    def esrl_scale(self, batch: int, share: float = 1.0) -> float:
        """The factor ESRL's summed squared distances are multiplied by (before alpha / beta), per
        fcae.esrl_normalization (all reconstructed): "m_k" 1/(m k), Eq. 7-8 literally; "batch_k" 1/(B k);
        "quant" gamma times ADSH's own normalisation, i.e. exactly the scale of the quantisation term
        gamma ||v - u||^2, so alpha = 1 pulls u toward u+ as hard as quantisation pulls u toward v.

        share: this process's fraction of the global batch under torchrun. "m_k" is a sum over the global
        batch, so a process holding `share` of it scales by 1/share and the share-weighted gradient average
        equals the single-process gradient (share 0: a padding slice, weighted by 0 anyway). The other two
        are means over the local batch B already."""
        opts, k = self.cfg.fcae, self.cfg.bits
        if opts.esrl_normalization == "m_k":
            return 1.0 / (self.m * (share or 1.0) * k)
        if opts.esrl_normalization == "batch_k":
            return 1.0 / (batch * k)
        return self.cfg.adsh.gamma * adsh_scale(self.n, batch, k, self.cfg.adsh.loss_normalization)

    def loss_terms(self, batch: dict, sim: SampledSimilarity, share: float = 1.0,
                   ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The network outputs {"anchor": u, "positive": u+, "erased": u_e} (B, k) float (the last two only
        when their term is on) and the weighted loss terms {"adsh_square", "adsh_quant", "esrl_pos",
        "esrl_era"} as scalar tensors in their graph; the loss is their sum."""
        opts = self.cfg.fcae
        x = self.stepper.to_device(batch["image"])
        b = x.shape[0]
        inputs = torch.cat([x, self.stepper.to_device(batch["positive"])]) if opts.use_esrl else x
        with self.stepper.autocast():
            codes, fmap = self.model.forward_with_features(inputs)
        codes = codes.float()
        outputs = {"anchor": codes[:b]}
        u = outputs["anchor"]
        opts_adsh = self.cfg.adsh
        terms = adsh_terms(u, batch["label"].to(self.device), batch["db_index"].to(self.device), self.v, sim,
                           opts_adsh.gamma, opts_adsh.loss_normalization)
        scale = self.esrl_scale(b, share)
        if opts.use_esrl:
            outputs["positive"] = codes[b:]
            terms["esrl_pos"] = opts.alpha * scale * ((u - outputs["positive"]) ** 2).sum()  # Eq. 7
        if opts.use_srem:
            mask = srem_mask(fmap[:b].detach(), tuple(x.shape[-2:]), opts.srem_regions, opts.srem_size)
            erased = erase(x, mask, opts.erase_target)
            with self.stepper.autocast():
                outputs["erased"] = self.model(erased).float()
            terms["esrl_era"] = opts.beta * scale * ((u - outputs["erased"]) ** 2).sum()  # Eq. 8
        return outputs, terms

    def _batch_loss(self, batch: dict, sim: SampledSimilarity, share: float = 1.0,
                    ) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """(u, loss, terms): the terms detached 0-dim tensors, read lazily by the driver (no device sync)."""
        outputs, terms = self.loss_terms(batch, sim, share)
        loss = sum(terms.values())
        return outputs["anchor"], loss, {name: t.detach() for name, t in terms.items()}


class _TripletDataset(torch.utils.data.Dataset):
    """Keys are a database index (anchor only) or (anchor, positive) pairs of database indices."""

    def __init__(self, base) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: Any) -> dict:
        anchor, positive = (key, None) if isinstance(key, int) else key
        image, label, index = self.base[anchor]
        item = {"image": image, "label": label, "db_index": index}
        if positive is not None:
            item["positive"] = self.base[positive][0]
        return item
