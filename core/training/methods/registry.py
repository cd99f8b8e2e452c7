"""make_method(cfg, dataset, device): the HashingMethod for cfg.method.

Extend with one entry in METHOD_CLASSES ("module:Class", imported lazily) or register_method() at
import time. The driver (core/training/driver.py) knows methods only through core.training.methods.base.HashingMethod.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Literal

import torch

from core.config.train_config import TrainConfig
from core.data.records import DatasetIndex
from core.base.errors import ConfigError
from core.training.methods.base import HashingMethod

METHOD_CLASSES: dict[str, str | type[HashingMethod]] = {
    "adsh": "core.training.methods.adsh:AdshMethod",
    "fcaenet": "core.training.methods.fcaenet:FcaeNetMethod",
    "multifusnet": "core.training.methods.proxy:MultiFusNetMethod",
    # baselines (docs/baselines.md sections 1, 2, 7)
    "dpsh": "core.training.methods.dpsh:DpshMethod",
    "hashnet": "core.training.methods.hashnet:HashNetMethod",
    "fish": "core.training.methods.fish:FishMethod",
    # SEMICON-family baselines (docs/baselines.md sections 3-6)
    "semicon": "core.training.methods.semicon:SemiconMethod",
    "a2net": "core.training.methods.a2net:A2NetMethod",
    "exchnet": "core.training.methods.exchnet:ExchNetMethod",
    "agmh": "core.training.methods.agmh:AgmhMethod",
}


# ---- what each method is: the source of `fghash methods`, the app's method menu, eval's database note ----------
DATABASE_KINDS = {
    "learned": "learned database codes V (asymmetric: the train split's codes are free variables, queries "
               "are encoded by the network)",
    "network": "network codes (symmetric: the network encodes the database and the queries alike)",
    "proxy": "class proxy codes (asymmetric: each train image's database code is its fixed proxy code, "
             "queries are encoded by the network)",
    "unknown": "not recorded for this method",
}


@dataclass(frozen=True)
class MethodInfo:
    """A method's provenance. paper: citation; code: the code the spec was written from; database: a
    DATABASE_KINDS key; reconstructed: the spec's [RECON] items, each a config option (group.field: choice);
    reported_as: its name in the papers' tables (core.config.reported); spec: the spec section."""

    label: str
    paper: str
    code: str
    database: Literal["learned", "network", "proxy", "unknown"]
    reconstructed: tuple[str, ...] = ()
    reported_as: str = ""
    spec: str = ""

    @property
    def symmetric(self) -> bool:
        return self.database == "network"

    @property
    def database_note(self) -> str:
        return DATABASE_KINDS[self.database]


METHOD_INFO: dict[str, MethodInfo] = {
    "adsh": MethodInfo(
        "ADSH (baseline)", "Jiang & Li, AAAI 2018", "jiangqy/ADSH-AAAI2018; aassxun/SEMICON ADSH_Loss.py",
        "learned", ("adsh.loss_normalization: semicon (x12/k) or jiangqy", "adsh.v_init: zeros or randn"),
        "ADSH", "docs/methods.md section 1"),
    "fcaenet": MethodInfo(
        "FCAENet", "Zhao et al., Pattern Recognition 2022 (arXiv 2110.04479)", "none public; the paper and ADSH",
        "learned", ("fcae.alpha = fcae.beta = 1 (lost values)", "fcae.esrl_normalization: quant (m_k = Eq. 7-8 "
                    "literally)", "fcae.erase_target: normalized_zero or black", "adsh.gamma = 200",
                    "image_size 224"), "FCAENet", "docs/methods.md section 2"),
    "multifusnet": MethodInfo(
        "Multi-FusNet", "Cui et al., PeerJ CS 10:e2025, 2024", "BJFU-CS2012/MuiltNet; kaiba007/FG-CHN", "network",
        ("multifus.use_attention: transformer over level tokens (attention_type mhsa)",
         "multifus.eca_kernel: adaptive (paper) or shared_k3 (code)",
         "multifus.fusion_attention: eca, se, cbam, ca, psa (EPSANet reading), psa-polarized or cbam-muiltnet",
         "multifus.zoom_grid: pixel_centres or as_in_muiltnet", "multifus.procrustes: fish_correct or "
         "as_in_muiltnet", "multifus.train_augment order (paper)"), "Multi-FusNet", "docs/methods.md section 3"),
    # baselines (docs/baselines.md sections 1, 2, 7)
    "dpsh": MethodInfo(
        "DPSH", "Li, Wang & Kang, IJCAI 2016", "jiangqy/DPSH-pytorch @0423181", "network",
        ("dpsh.network: resnet (GAP + Linear, no activation) or alexnet (official fc7 + Linear)",
         "dpsh.augment: crop_flip (ResNet-50 preset) or none (official)", "lr 0.05 kept for ResNet-50"),
        "DPSH", "docs/baselines.md section 1"),
    "hashnet": MethodInfo(
        "HashNet", "Cao, Long, Wang & Yu, ICCV 2017", "thuml/HashNet @85387b8 (pytorch/)", "network",
        ("hashnet.loss: weighted (default) or unweighted (train.py)",
         "hashnet.sigmoid_param: 10/bits (official, default) or e.g. 0.1 (DSH_Analysis)"),
        "HashNet", "docs/baselines.md section 2"),
    "fish": MethodInfo(
        "FISH", "Chen et al. 2022 (cited by Multi-FusNet; paper text not found)",
        "aassxun/DSH_Analysis fish.py, models/fish.py (re-implementation; no official code)", "proxy",
        ("everything: only a re-implementation exists", "proxy codes: each training image's own FISH code "
         "(the engine's generator, docs/methods.md section 3.1)"), "", "docs/baselines.md section 7"),
    # the SEMICON-family baselines
    "semicon": MethodInfo(
        "SEMICON", "Shen, Sun, Wei, Jiang & Yang, ECCV 2022", "aassxun/SEMICON @885cbfe", "learned",
        ("alpha = 0.15 (code; paper 0.3)", "epsilon 1e-12 added to sigma", "third layer4 block random (faithful)"),
        "SEMICON", "docs/baselines.md section 3"),
    "a2net": MethodInfo(
        "A²-Net", "Wei, Shen, Sun, Ye & Yang, NeurIPS 2021", "aassxun/DSH_Analysis @44271bc (no official code)",
        "learned", ("M = k attention maps (code), M = 4 fallback",), "A²-Net", "docs/baselines.md section 4"),
    "exchnet": MethodInfo(
        "ExchNet", "Cui, Jiang, Wei, Li & Yoshie, ECCV 2020",
        "ludics/fghash @077160f; aassxun/DSH_Analysis (no official code)", "learned",
        ("DSH_Analysis schedule (SGD 1e-4, 40 x 30, align_step 35)", "M = 4, t = 0.4, lambdas 1 (unverified)"),
        "ExchNet", "docs/baselines.md section 5"),
    "agmh": MethodInfo(
        "AGMH", "Lu, Chen, Cao, Zhou & Lu, ACM MM 2023", "Lx-zjwf/AGMH @a65c547; DSH_Analysis models/agmh.py",
        "learned", ("SIEA attention (the official file's CHExtAttn is undefined)",), "AMGH",
        "docs/baselines.md section 6"),
}


def method_info(name: str) -> MethodInfo:
    """The provenance of a registered method; a method registered without one gets an explicit
    'not recorded' entry."""
    if name in METHOD_INFO:
        return METHOD_INFO[name]
    if name not in METHOD_CLASSES:
        raise ConfigError(f"no training method {name!r}; known: {', '.join(sorted(METHOD_CLASSES))}")
    return MethodInfo(name, "not recorded", "not recorded", "unknown")


def database_codes(name: str) -> str:
    """Where method `name`'s database codes come from: "learned", "network" or "proxy" (MethodInfo.database);
    ConfigError for an unknown method."""
    return method_info(name).database


def method_names() -> tuple[str, ...]:
    """Every registered training method, in registration order."""
    return tuple(METHOD_CLASSES)


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
