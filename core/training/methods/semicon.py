"""SEMICON (docs/baselines.md section 3): the ADSH loop of section 0 with the SEMICON network (core.models.semicon).

The loss is ADSH's alone (soft S, "semicon" normalisation, gamma = 200) on u, exactly as the code: the
network's second output (the local feature map) is unused and the paper adds no term. Everything else is
AdshMethod: sampling of Omega, the inner epochs, the DCC update of the learned database codes V, which are
the database (asymmetric). The protocol is core.config.train_config.semicon_family_preset.

Known defect handled: with all stage maps of a batch constant, the code's sigma is 0 and M is NaN;
SemiconOptions.sigma_eps (1e-12) is added to sigma, which makes M = 1 there (no suppression).
"""

from __future__ import annotations

from core.training.methods.adsh import AdshMethod


class SemiconMethod(AdshMethod):
    """ADSH training of the SEMICON network (the network comes from core.models.factory by cfg.method)."""

    name = "semicon"
