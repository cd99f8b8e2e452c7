"""build_model(cfg, num_classes): the network of a method, by name.

Extend by adding one entry to MODEL_BUILDERS ("module:function", imported lazily so that a method's
heavy or optional code loads only when used) or by calling register_model at import time. A builder is
called as builder(cfg, num_classes) and returns an nn.Module with encode(x) -> (B, bits) real codes
and feature_map(x) -> (B, C, h, w) (see core/models/__init__.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from torch import nn

from core.base.errors import ConfigError
from core.config.train_config import TrainConfig

ModelBuilder = Callable[[TrainConfig, int], nn.Module]

MODEL_BUILDERS: dict[str, str | ModelBuilder] = {
    "adsh": "core.models.factory:build_adsh_model",
    "fcaenet": "core.models.factory:build_adsh_model",
    "multifusnet": "core.models.multifusnet:build_multifusnet_model",
    # baselines (docs/baselines.md)
    "dpsh": "core.models.pairwise:build_dpsh_model",
    "hashnet": "core.models.pairwise:build_hashnet_model",
    "fish": "core.models.fish:build_fish_model",
    # SEMICON-family baselines (docs/baselines.md sections 3-6)
    "semicon": "core.models.semicon:build_semicon_model",
    "a2net": "core.models.a2net:build_a2net_model",
    "exchnet": "core.models.a2net:build_exchnet_model",
    "agmh": "core.models.agmh:build_agmh_model",
}


def register_model(method: str, builder: str | ModelBuilder) -> None:
    """Make build_model(cfg) with cfg.method == method call `builder` ("module:function" or a callable)."""
    MODEL_BUILDERS[method] = builder


def build_model(cfg: TrainConfig, num_classes: int, weights: str | None = None) -> nn.Module:
    """The network for cfg.method. weights overrides cfg.weights (load_run_model passes "none")."""
    if cfg.method not in MODEL_BUILDERS:
        raise ConfigError(f"no model registered for method {cfg.method!r}; known: {', '.join(MODEL_BUILDERS)}")
    builder = _resolve(MODEL_BUILDERS[cfg.method])
    if weights is not None and weights != cfg.weights:
        cfg = cfg.replace(weights=weights)
    return builder(cfg, num_classes)


def build_adsh_model(cfg: TrainConfig, num_classes: int) -> nn.Module:
    """ADSH / FCAENet: ResNet + Linear(C -> bits) + tanh. num_classes is unused (no classifier)."""
    from core.models.hashnet import build_hashnet

    return build_hashnet(cfg.backbone, cfg.weights, cfg.bits)


def _resolve(builder: str | ModelBuilder) -> ModelBuilder:
    if callable(builder):
        return builder
    module, _, name = builder.partition(":")
    return getattr(importlib.import_module(module), name)
