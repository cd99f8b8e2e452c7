"""AGMH (docs/baselines.md section 6): ADSH + the attention-diversity loss ADL over the branches' SIEA maps.

Per mini-batch, with the code u and the SIEA outputs A_1..A_n (B, C, h, w) of core.models.agmh.Agmh:
  p_i = softmax over the h w positions of the channel max of A_i              (B, h w)
  ADL = mean over the batch and the n (n - 1) / 2 pairs i < j of <p_i, p_j>  (15 pairs for n = 6)
  L = L_h + L_q (section 0: ADSH, "semicon" scale, gamma 200) + adl_weight * ADL   (adl_weight 0.5)
The attention modules feed only ADL: the codes do not depend on them.
"""

from __future__ import annotations

import torch

from core.training.methods.adsh import AdshMethod
from core.training.methods.asymmetric import SampledSimilarity


def attention_distributions(attn: list[torch.Tensor]) -> torch.Tensor:
    """[A_i (B, C, h, w)] -> p (B, n, h w): the softmax over positions of each channel-max map."""
    return torch.softmax(torch.stack([a.amax(dim=1).flatten(1) for a in attn], dim=1), dim=-1)


def attention_diversity_loss(p: torch.Tensor) -> torch.Tensor:
    """ADL for p (B, n, L): the mean over samples and pairs i < j of the inner product <p_i, p_j>."""
    i, j = torch.triu_indices(p.shape[1], p.shape[1], offset=1, device=p.device)
    return (p[:, i] * p[:, j]).sum(dim=-1).mean()


class AgmhMethod(AdshMethod):
    name = "agmh"

    def _batch_loss(self, batch: dict, sim: SampledSimilarity, share: float = 1.0,
                    ) -> tuple[torch.Tensor, torch.Tensor, dict]:
        images = self.stepper.to_device(batch["image"])
        with self.stepper.autocast():
            u, attn = self.model.branches(images)
        u = u.float()
        loss, terms = self._adsh_term(u, batch, sim)
        adl = self.cfg.agmh.adl_weight * attention_diversity_loss(
            attention_distributions([a.float() for a in attn]))
        return u, loss + adl, {**terms, "adl": adl.detach()}
