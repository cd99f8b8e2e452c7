"""make_method(cfg, dataset, device): the HashingMethod for cfg.method.

Extend with one entry in METHOD_CLASSES ("module:Class", imported lazily) or register_method() at
import time. The driver (core/training/driver.py) knows methods only through core.training.methods.base.HashingMethod.
"""

from __future__ import annotations

import importlib

import torch

from core.config.train_config import TrainConfig
from core.data.records import DatasetIndex
from core.base.errors import ConfigError
from core.training.methods.base import HashingMethod

METHOD_CLASSES: dict[str, str | type[HashingMethod]] = {
    "adsh": "core.training.methods.adsh:AdshMethod",
    "fcaenet": "core.training.methods.fcaenet:FcaeNetMethod",
    "multifusnet": "core.training.methods.proxy:MultiFusNetMethod",
    # baselines (BASELINES.md sections 1, 2, 7)
    "dpsh": "core.training.methods.dpsh:DpshMethod",
    "hashnet": "core.training.methods.hashnet:HashNetMethod",
    "fish": "core.training.methods.fish:FishMethod",
}


def register_method(name: str, cls: str | type[HashingMethod]) -> None:
    """Make make_method(cfg) with cfg.method == name build `cls` ("module:Class" or the class)."""
    METHOD_CLASSES[name] = cls


def method_class(name: str) -> type[HashingMethod]:
    if name not in METHOD_CLASSES:
        raise ConfigError(f"no training method {name!r}; known: {', '.join(sorted(METHOD_CLASSES))}")
    entry = METHOD_CLASSES[name]
    if isinstance(entry, str):
        module, _, cls_name = entry.partition(":")
        entry = getattr(importlib.import_module(module), cls_name)
    return entry


def make_method(cfg: TrainConfig, dataset: DatasetIndex, device: torch.device) -> HashingMethod:
    return method_class(cfg.method)(cfg, dataset, device)
