"""The symmetric pairwise baselines' networks (docs/baselines.md sections 1-2): ResNet + GAP + Linear(C -> bits).

* DPSH [CODE jiangqy/DPSH-pytorch CNN_model.py, RECON backbone]: u = W^T phi(x) + b, no activation; code sign(u).
  phi is the configured ResNet's GAP feature (default, reconstructed) or the official AlexNet's fc7 (AlexNetHash).
* HashNet [CODE thuml/HashNet network.py ResNetFc]: hash layer N(0, 0.01) weights, zero bias, y = tanh(beta z)
  with the continuation beta = (1 + gamma * iter) ** power, recomputed every `step_size` training forwards
  (iter counts training forwards only, so beta is unchanged in eval mode). Codes are sign(z).

Both reuse core.models.hashnet.HashNet (backbone, hash_layer, feature_map) and change only the activation.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision import models as tvm

from core.base.errors import WeightsError
from core.config.train_config import TrainConfig
from core.models.backbones import build_backbone, imagenet_state_dict, load_weights_file
from core.models.hashnet import HashNet


class LinearHashNet(HashNet):
    """DPSH: encode(x) = forward(x) = W^T GAP(F(x)) + b, (B, bits) real, unbounded."""

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fmap = self.backbone(x)
        return self.hash_layer(torch.flatten(nn.functional.adaptive_avg_pool2d(fmap, 1), 1)), fmap


class ContinuationHashNet(HashNet):
    """HashNet: forward(x) = tanh(beta z) (B, bits); each forward in training mode advances the iteration
    counter and, at multiples of step_size, sets beta = (1 + gamma * iter) ** power. encode(x) = z (the code
    is sign(z) = sign(tanh(beta z))). iter_num and beta are buffers: saved and resumed with the weights."""

    # TrainConfig.compile_step compiles pre_activation only: the training forward advances a host-side
    # counter (a Python int), which torch.compile would guard on and recompile at every step
    compile_entry_points = ("pre_activation",)

    def __init__(self, backbone: nn.Module, bits: int, step_size: int = 200, gamma: float = 0.005,
                 power: float = 0.5) -> None:
        super().__init__(backbone, bits)
        self.step_size, self.gamma, self.power = int(step_size), float(gamma), float(power)
        nn.init.normal_(self.hash_layer.weight, 0.0, 0.01)
        nn.init.zeros_(self.hash_layer.bias)
        self.register_buffer("iter_num", torch.zeros((), dtype=torch.int64))
        self.register_buffer("beta", torch.ones((), dtype=torch.float32))
        self._host_iter: int | None = None  # iter_num on the host: no device sync per forward

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._host_iter = None  # re-read from the loaded buffer
        super()._load_from_state_dict(*args, **kwargs)

    def advance(self) -> None:
        """One training forward: iter_num += 1, beta updated at multiples of step_size."""
        if self._host_iter is None:
            self._host_iter = int(self.iter_num)
        self._host_iter += 1
        self.iter_num.fill_(self._host_iter)
        if self._host_iter % self.step_size == 0:
            self.beta.fill_((1.0 + self.gamma * self._host_iter) ** self.power)

    def pre_activation(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fmap = self.backbone(x)
        return self.hash_layer(torch.flatten(nn.functional.adaptive_avg_pool2d(fmap, 1), 1)), fmap

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training:
            self.advance()
        z, fmap = self.pre_activation(x)
        return torch.tanh(self.beta.to(z.dtype) * z), fmap

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.pre_activation(x)[0]


class AlexNetHash(nn.Module):
    """DPSH's official network [CODE CNN_model.py]: torchvision AlexNet features -> avgpool -> fc6, fc7 (with
    their Dropout and ReLU) -> Linear(4096 -> bits), no activation. encode(x) = forward(x) (B, bits);
    feature_map(x): the last conv block's output (B, 256, h, w)."""

    def __init__(self, net: tvm.AlexNet, bits: int) -> None:
        super().__init__()
        self.bits = bits
        self.features, self.avgpool = net.features, net.avgpool
        self.classifier = nn.Sequential(*list(net.classifier.children())[:6])  # drop the ImageNet fc8
        self.hash_layer = nn.Linear(4096, bits)

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fmap = self.features(x)
        return self.hash_layer(self.classifier(torch.flatten(self.avgpool(fmap), 1))), fmap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[0]

    encode = forward

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def build_alexnet_hash(weights: str, bits: int) -> AlexNetHash:
    """AlexNetHash with weights "imagenet" (torchvision's file), "none" or a torchvision-AlexNet state dict file."""
    net = tvm.alexnet(weights=None)
    if weights not in ("none", "", None):
        state = imagenet_state_dict("alexnet") if weights == "imagenet" else load_weights_file(weights)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise WeightsError(f"{weights} does not hold torchvision AlexNet weights: "
                               f"{' '.join(str(exc).split())[:300]}") from None
    return AlexNetHash(net, bits)


def build_dpsh_model(cfg: TrainConfig, num_classes: int) -> nn.Module:
    """core.models.factory builder for DPSH (num_classes unused): dpsh.network picks ResNet or AlexNet."""
    if cfg.dpsh.network == "alexnet":
        return build_alexnet_hash(cfg.weights, cfg.bits)
    return LinearHashNet(build_backbone(cfg.backbone, cfg.weights), cfg.bits)


def build_hashnet_model(cfg: TrainConfig, num_classes: int) -> ContinuationHashNet:
    """core.models.factory builder for HashNet (num_classes unused)."""
    h = cfg.hashnet
    return ContinuationHashNet(build_backbone(cfg.backbone, cfg.weights), cfg.bits, h.step_size, h.gamma, h.power)
