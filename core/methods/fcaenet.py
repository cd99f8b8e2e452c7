"""FCAENet (METHODS.md section 2): ADSH + SREM-erased anchors + ESRL on (anchor, positive, erased) triplets.

Per mini-batch of anchors x (with same-class random positives x+ drawn from the labels):
  forward [x; x+] once -> u, u+ and the anchor's last-conv map F (detached for the mask);
  x_e = erase(x, srem_mask(F))  -> forward -> u_e;
  L = J_ADSH(u) + alpha * L_pos(u, u+) + beta * L_era(u, u_e)       (Eq. 7-13)
Ablations (paper Table 2): use_srem adds x_e and L_era, use_esrl adds x+ and L_pos; both off = ADSH.
ESRL normalisation "m_k": sum over the batch / (m k), Eq. 7-8 literally (m = sampled images);
"batch_k": the batch mean / k. Both reconstructed.
"""

from __future__ import annotations

from typing import Any

import torch

from core.config import TrainConfig
from core.data.records import DatasetIndex
from core.methods.adsh import AdshMethod
from core.methods.asymmetric import SampledSimilarity
from core.models.srem import erase, srem_mask


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

    def _batch_loss(self, batch: dict, sim: SampledSimilarity, share: float = 1.0,
                    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        opts = self.cfg.fcae
        x = self.stepper.to_device(batch["image"])
        b = x.shape[0]
        inputs = torch.cat([x, self.stepper.to_device(batch["positive"])]) if opts.use_esrl else x
        with self.stepper.autocast():
            codes, fmap = self.model.forward_with_features(inputs)
        codes = codes.float()
        u = codes[:b]
        loss, terms = self._adsh_term(u, batch, sim)
        # "m_k" is a sum over the batch: a process holding `share` of it scales by 1/share, so that the
        # share-weighted gradient average under torchrun equals the single-process gradient (share 0:
        # a padding slice whose gradient is weighted by 0 anyway)
        denom = (self.m * (share or 1.0) if opts.esrl_normalization == "m_k" else b) * self.cfg.bits
        if opts.use_esrl:
            l_pos = ((u - codes[b:]) ** 2).sum() / denom  # Eq. 7
            loss = loss + opts.alpha * l_pos
            terms["esrl_pos"] = float(l_pos.detach())
        if opts.use_srem:
            mask = srem_mask(fmap[:b].detach(), tuple(x.shape[-2:]), opts.srem_regions, opts.srem_size)
            erased = erase(x, mask, opts.erase_target)
            with self.stepper.autocast():
                u_e = self.model(erased).float()
            l_era = ((u - u_e) ** 2).sum() / denom  # Eq. 8
            loss = loss + opts.beta * l_era
            terms["esrl_era"] = float(l_era.detach())
        return u, loss, terms


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
