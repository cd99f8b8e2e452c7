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
    # SEMICON-family baselines (docs/baselines.md sections 3-6)
    "semicon": "core.training.methods.semicon:SemiconMethod",
    "a2net": "core.training.methods.a2net:A2NetMethod",
    "exchnet": "core.training.methods.exchnet:ExchNetMethod",
    "agmh": "core.training.methods.agmh:AgmhMethod",
}

# Where a method's database codes come from: "learned" = ADSH's free variables V (asymmetric: only the
# queries go through the network), "network" = sign of the network's codes for the train split (symmetric).
DATABASE_CODES: dict[str, str] = {
    "adsh": "learned", "fcaenet": "learned", "multifusnet": "network",
    "semicon": "learned", "a2net": "learned", "exchnet": "learned", "agmh": "learned",
}


def database_codes(name: str) -> str:
    """"learned" or "network" for method `name` (DATABASE_CODES); ConfigError for an unknown method."""
    if name not in DATABASE_CODES:
        raise ConfigError(f"no training method {name!r}; known: {', '.join(sorted(DATABASE_CODES))}")
    return DATABASE_CODES[name]


def register_method(name: str, cls: str | type[HashingMethod], database: str = "learned") -> None:
    """Make make_method(cfg) with cfg.method == name build `cls` ("module:Class" or the class); database:
    where its database codes come from (DATABASE_CODES)."""
    METHOD_CLASSES[name] = cls
    DATABASE_CODES[name] = database


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
