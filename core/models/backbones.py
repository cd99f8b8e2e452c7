"""torchvision ResNet-18/34/50 backbones with their stage outputs exposed, and safe weight loading.

Weights come from one of three sources (`TrainConfig.weights`):

* ``"imagenet"``: torchvision's ImageNet weights enum (IMAGENET1K_V1, the weights ADSH/SEMICON use).
  The file is taken from the torch hub cache when it is there, downloaded otherwise; with neither a
  cached file nor a network, a WeightsError says where to put the file.
* a path to a local weights file: ``.safetensors``, or a pickle (``.pth``/``.pt``/``.bin``/``.ckpt``)
  loaded only with ``torch.load(weights_only=True)``; a pickle holding arbitrary Python objects is refused.
* ``"none"``: random initialisation (tests, or training from scratch).

Security: `load_weights_file` is the ONE place in fghash where a pickle-based file is read (the ImageNet
download goes through it too). A pickle can name any Python callable to run while it is read, so it is
only ever opened with torch's restricted unpickler (`weights_only=True`, which an explicit argument keeps
even under TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD); a file that needs anything beyond tensors and plain
containers is refused with a WeightsError, before any of its code can run.
"""

from __future__ import annotations

import io
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm

from core.base.errors import WeightsError, one_line
from core.base.safe_read import MAX_WEIGHTS_BYTES, read_regular

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


STAGES = ("layer1", "layer2", "layer3", "layer4")


def stage_side(image_size: int, stage: str = "layer4") -> int:
    """Side (cells) of a torchvision ResNet stage's feature map for a square `image_size` px input, by the
    convolutions' arithmetic (conv1 7x7/2 pad 3, max-pool 3x3/2 pad 1, then a 3x3/2 pad 1 at each of layer2-4;
    the same for ResNet-18/34/50): 224 -> 7, 64 -> 2, 32 -> 1 at layer4. Every CAM of that stage is a blow-up of
    side x side numbers."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}; got {stage!r}")
    side = (int(image_size) + 2 * 3 - 7) // 2 + 1  # conv1
    side = (side + 2 - 3) // 2 + 1  # max-pool
    for _ in range(STAGES.index(stage)):  # layer2..: a stride-2 3x3 conv each
        side = (side + 2 - 3) // 2 + 1
    return side


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


# other torchvision networks whose ImageNet file imagenet_state_dict can fetch (not ResNet backbones)
OTHER_IMAGENET = {"alexnet": tvm.AlexNet_Weights.IMAGENET1K_V1}  # DPSH's official network


def _weights_enum(name: str):
    return OTHER_IMAGENET[name] if name in OTHER_IMAGENET else _ARCHS[name][1]


def hub_weights_path(name: str) -> Path:
    """Where torch's hub cache keeps (or would keep) the ImageNet weights file of `name`."""
    url = _weights_enum(name).url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def weights_problem(name: str, weights: str, timeout: float = 3.0) -> str | None:
    """Whether `build_backbone(name, weights)` would find its weights: None if so, else one line saying why not
    and what to choose instead. Quick (for a form's live check): "imagenet" is looked up in the hub cache and,
    when absent, the download server is asked for the file's header only, waiting at most `timeout` seconds;
    a file is read and matched against the backbone (a second or so for ResNet-50)."""
    if weights in ("none", "", None):
        return None
    if name not in _ARCHS:
        return f"unknown backbone {name!r}; choose one of {', '.join(_ARCHS)}"
    if weights == "imagenet":
        if hub_weights_path(name).exists():
            return None
        import urllib.request

        url = _ARCHS[name][1].url
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
                return None
        except Exception as exc:  # URLError, timeout, HTTP error: the download at Start would fail the same way
            return (f"ImageNet weights for {name} are not in the torch hub cache ({hub_weights_path(name)}) and "
                    f"cannot be downloaded now ({type(exc).__name__}): choose weights 'none' or a weights file")
    try:
        build_backbone(name, weights)
    except WeightsError as exc:
        return str(exc)
    return None


def imagenet_state_dict(name: str) -> dict[str, torch.Tensor]:
    """The torchvision ImageNet weights: from the hub cache, else downloaded; WeightsError if neither works.

    The download is checked against the hash prefix in torchvision's file name, then read by
    load_weights_file like any other pickle (never by an unrestricted unpickler)."""
    enum = _weights_enum(name)
    cached = hub_weights_path(name)
    if not cached.exists():
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            match = torch.hub.HASH_REGEX.search(cached.name)
            torch.hub.download_url_to_file(enum.url, str(cached), hash_prefix=match.group(1) if match else None,
                                           progress=False)
        except Exception as exc:  # URLError, timeouts, hash mismatch: all mean "no usable file"
            raise WeightsError(
                f"ImageNet weights for {name} are not in the torch hub cache and could not be downloaded "
                f"({type(exc).__name__}: {one_line(exc)}). Either copy {Path(enum.url).name} (from {enum.url}) "
                f"to {cached}, or pass a local weights file (.safetensors or .pth) with --weights PATH, or use "
                f"--weights none to train from random initialisation."
            ) from None
    return load_weights_file(cached)


def load_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from a .safetensors file or a tensors-only pickle (never arbitrary objects).

    Raises WeightsError naming the file: missing, unknown suffix, unreadable, or (for a pickle) holding
    Python objects/code that are not tensors. The file is only read, never modified."""
    path = Path(path)
    if path.suffix != ".safetensors" and path.suffix not in PICKLE_SUFFIXES and path.is_file():
        raise WeightsError(
            f"{path}: unknown weights format {path.suffix!r}; expected .safetensors or one of {', '.join(PICKLE_SUFFIXES)}"
        )
    # A regular file under the size cap, read from the descriptor that was checked (never a FIFO/device).
    data = read_regular(path, what="weights file", limit=MAX_WEIGHTS_BYTES, error=_WeightsPathError)
    if path.suffix == ".safetensors":
        from safetensors.torch import load as load_safetensors

        try:
            return load_safetensors(data)
        except Exception as exc:  # SafetensorError, or a pickle renamed to .safetensors
            raise WeightsError(f"{path} is not a readable safetensors file: {one_line(exc)}") from None
    try:
        # weights_only=True: torch's restricted unpickler; it refuses any global outside tensors and
        # plain containers BEFORE calling it, so a crafted __reduce__ never runs.
        stream = io.BytesIO(data)
        obj = torch.load(stream, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message is long and multi-line; keep only what the file tried to call.
        found = re.search(r"GLOBAL ([\w.]+)", str(exc)) or re.search(r"Unsupported operand \d+", str(exc))
        what = "" if not found else (f" (it names {found.group(1)})" if found.re.groups else f" ({found.group(0)})")
        raise WeightsError(
            f"refused to load {path}: it holds Python code/objects that are not tensors{what}, and unpickling "
            f"them could run arbitrary code. Expected tensors only: convert it to .safetensors or save a plain "
            f"state_dict."
        ) from None
    except Exception as exc:  # OSError, RuntimeError (bad zip/archive), EOFError, ValueError...
        raise WeightsError(f"{path} is not a readable PyTorch weights file: {one_line(exc)}") from None
    return _unwrap_state_dict(obj, path)



class _WeightsPathError(WeightsError):
    """A weights path that is missing, a folder or a special file: says what --weights accepts."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}; expected a .safetensors or .pth file, 'imagenet' or 'none'")


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
