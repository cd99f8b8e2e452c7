"""torchvision ResNet-18/34/50 backbones with their stage outputs exposed, and safe weight loading.

Weights come from one of three sources (`TrainConfig.weights`):

* ``"imagenet"``: torchvision's ImageNet weights enum (IMAGENET1K_V1, the weights ADSH/SEMICON use).
  The file is taken from the torch hub cache when it is there, downloaded otherwise; with neither a
  cached file nor a network, a WeightsError says where to put the file.
* a path to a local weights file: ``.safetensors``, or a pickle (``.pth``/``.pt``/``.bin``/``.ckpt``)
  loaded only with ``torch.load(weights_only=True)``; a pickle holding arbitrary Python objects is refused.
* ``"none"``: random initialisation (tests, or training from scratch).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm

from core.errors import WeightsError

_ARCHS = {
    "resnet18": (tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (tvm.resnet34, tvm.ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (tvm.resnet50, tvm.ResNet50_Weights.IMAGENET1K_V1),
}
PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".pkl")


class ResNetBackbone(nn.Module):
    """A torchvision ResNet without avgpool/fc.

    forward(x) / feature_map(x): (B, 3, H, W) -> last conv map (B, out_channels, H/32, W/32).
    stages(x): dict with "layer2" (B, C2, H/8, W/8), "layer3" (B, C3, H/16, W/16), "layer4" (B, C4, H/32, W/32);
    each stage consumes the previous stage's unchanged output (Multi-FusNet reuses these).
    """

    def __init__(self, name: str, net: tvm.ResNet) -> None:
        super().__init__()
        self.name = name
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        expansion = 4 if name == "resnet50" else 1
        self.stage_channels = {"layer2": 128 * expansion, "layer3": 256 * expansion, "layer4": 512 * expansion}
        self.out_channels = self.stage_channels["layer4"]

    def stages(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x2 = self.layer2(self.layer1(x))
        x3 = self.layer3(x2)
        x4 = self.layer4(x3)
        return {"layer2": x2, "layer3": x3, "layer4": x4}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    feature_map = forward


def build_backbone(name: str, weights: str = "imagenet") -> ResNetBackbone:
    """A ResNet backbone (`name` in resnet18/34/50) with weights "imagenet", "none" or a local file path."""
    if name not in _ARCHS:
        raise WeightsError(f"unknown backbone {name!r}; choose one of {', '.join(_ARCHS)}")
    ctor, enum = _ARCHS[name]
    net = ctor(weights=None)
    backbone = ResNetBackbone(name, net)
    if weights in ("none", "", None):
        return backbone
    state = imagenet_state_dict(name) if weights == "imagenet" else load_weights_file(weights)
    _load_into(backbone, state, source=str(weights))
    return backbone


def hub_weights_path(name: str) -> Path:
    """Where torch's hub cache keeps (or would keep) the ImageNet weights file of `name`."""
    url = _ARCHS[name][1].url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def imagenet_state_dict(name: str) -> dict[str, torch.Tensor]:
    """The torchvision ImageNet weights: from the hub cache, else downloaded; WeightsError if neither works."""
    enum = _ARCHS[name][1]
    cached = hub_weights_path(name)
    if cached.exists():
        return load_weights_file(cached)
    try:
        return torch.hub.load_state_dict_from_url(enum.url, progress=False, check_hash=True, weights_only=True)
    except Exception as exc:  # URLError, timeouts, hash mismatch: all mean "no usable file"
        raise WeightsError(
            f"ImageNet weights for {name} are not in the torch hub cache and could not be downloaded "
            f"({type(exc).__name__}: {exc}). Either copy {Path(enum.url).name} (from {enum.url}) to {cached}, "
            f"or pass a local weights file (.safetensors or .pth) with --weights PATH, or use --weights none "
            f"to train from random initialisation."
        ) from None


def load_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from a .safetensors file or a tensors-only pickle (never arbitrary objects)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(
            f"weights file {path} does not exist; expected a .safetensors or .pth file, 'imagenet' or 'none'"
        )
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"{path} is not a readable safetensors file: {exc}") from None
    if path.suffix not in PICKLE_SUFFIXES:
        raise WeightsError(
            f"{path}: unknown weights format {path.suffix!r}; expected .safetensors or one of {', '.join(PICKLE_SUFFIXES)}"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsError(
            f"refused to load {path}: it contains Python objects other than tensors, and unpickling them "
            f"could run arbitrary code ({exc}). Convert it to .safetensors or save a plain state_dict."
        ) from None
    except (OSError, RuntimeError, EOFError) as exc:
        raise WeightsError(f"{path} is not a readable PyTorch weights file: {exc}") from None
    return _unwrap_state_dict(obj, path)


def _unwrap_state_dict(obj: object, path: Path) -> dict[str, torch.Tensor]:
    # Training scripts often save {"state_dict": ...} or {"model": ...} around the weights.
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path} does not hold a state dict (a mapping of parameter names to tensors)")
    return dict(obj)


def _load_into(backbone: ResNetBackbone, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load a torchvision-ResNet state dict (fc.* ignored, "module."/"backbone." prefixes stripped)."""
    cleaned: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for prefix in ("module.", "backbone."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        if key.startswith("fc."):
            continue  # the ImageNet classifier has no place in a hashing network
        cleaned[key] = value
    own = backbone.state_dict()
    missing = sorted(set(own) - set(cleaned))
    unexpected = sorted(set(cleaned) - set(own))
    if missing or unexpected:
        raise WeightsError(
            f"{source} does not match a torchvision {backbone.name}: "
            f"{len(missing)} missing key(s) {missing[:3]}, {len(unexpected)} unexpected key(s) {unexpected[:3]}"
        )
    bad = [k for k in own if own[k].shape != cleaned[k].shape]
    if bad:
        raise WeightsError(
            f"{source}: shape mismatch for {bad[0]} ({tuple(cleaned[bad[0]].shape)} in the file, "
            f"{tuple(own[bad[0]].shape)} in {backbone.name})"
        )
    backbone.load_state_dict(cleaned, strict=True)
