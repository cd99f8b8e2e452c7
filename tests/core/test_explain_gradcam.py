"""Grad-CAM with a code-similarity target localises the region that drives the target code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.explain import CAM_METHODS, CodeSimilarityTarget, find_target_layer, gradcam_maps

torch.set_num_threads(2)


QUADRANTS = {"tl": (0, 0), "tr": (0, 1), "bl": (1, 0), "br": (1, 1)}


class RegionGate(nn.Module):
    """Channels 0..7 live only in quadrant regions[0], channels 8..15 only in regions[1] (None: dead)."""

    def __init__(self, regions: tuple[str | None, str | None]) -> None:
        super().__init__()
        self.regions = regions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        gate = torch.zeros_like(x)
        for group, region in enumerate(self.regions):
            if region is not None:
                qy, qx = QUADRANTS[region]
                gate[:, 8 * group: 8 * group + 8, qy * h // 2: (qy + 1) * h // 2, qx * w // 2: (qx + 1) * w // 2] = 1
        return x * gate


class ToyHash(nn.Module):
    """A tiny hashing net: bits 0..3 read only channels 0..7 (quadrant regions[0]), bits 4..7 only
    channels 8..15 (regions[1]). Top-right vs bottom-left by default, so a transposed map would fail."""

    def __init__(self, regions: tuple[str | None, str | None] = ("tr", "bl")) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Module()
        self.backbone.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU())
        self.backbone.layer4 = nn.Sequential(nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU(), RegionGate(regions))
        self.head = nn.Linear(16, 8)
        with torch.no_grad():  # positive block-diagonal head: each half of the code sees one quadrant
            weight = torch.zeros(8, 16)
            weight[:4, :8] = torch.rand(4, 8) + 0.5
            weight[4:, 8:] = torch.rand(4, 8) + 0.5
            self.head.weight.copy_(weight)
            self.head.bias.zero_()

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.layer4(self.backbone.stem(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.head(self.feature_map(x).mean(dim=(2, 3))))


def _quadrant_means(m: np.ndarray) -> dict[str, float]:
    h, w = m.shape
    return {
        "tl": float(m[: h // 2, : w // 2].mean()), "tr": float(m[: h // 2, w // 2 :].mean()),
        "bl": float(m[h // 2 :, : w // 2].mean()), "br": float(m[h // 2 :, w // 2 :].mean()),
    }


def _peak_quadrant(m: np.ndarray) -> str:
    y, x = np.unravel_index(int(np.argmax(m)), m.shape)
    return ("t" if y < m.shape[0] // 2 else "b") + ("l" if x < m.shape[1] // 2 else "r")


H, W = 64, 96  # not square: a swapped width/height would show


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(1, 3, H, W, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "hirescam"])
@pytest.mark.parametrize("quadrant", ["tr", "bl"])
def test_target_code_selects_the_driving_region(images: torch.Tensor, method: str, quadrant: str) -> None:
    # Target = +1 on the bits that only the chosen quadrant drives, 0 on the others.
    target = torch.zeros(8)
    target[slice(0, 4) if quadrant == "tr" else slice(4, 8)] = 1.0
    maps, scores = gradcam_maps(ToyHash(), images, target, method=method)
    assert maps.shape == (1, H, W) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0 and maps.max() > 0.99
    means = _quadrant_means(maps[0])
    assert _peak_quadrant(maps[0]) == quadrant
    others = [v for k, v in means.items() if k != quadrant]
    assert means[quadrant] > 5 * max(others + [1e-6])
    assert scores.shape == (1,) and scores[0] > 0


@pytest.mark.parametrize("quadrant", list(QUADRANTS))
def test_eigencam_follows_the_active_region(images: torch.Tensor, quadrant: str) -> None:
    # EigenCAM ignores the target; with only one quadrant's channels alive it must peak there
    # (pytorch-grad-cam's own EigenCAM, without the sign fix, peaks in "tr" for the "tl" case here).
    maps, _ = gradcam_maps(ToyHash((quadrant, None)), images, None, method="eigencam")
    assert maps.shape == (1, H, W)
    assert _peak_quadrant(maps[0]) == quadrant


def test_cam_does_not_touch_the_callers_model(images: torch.Tensor) -> None:
    net = ToyHash().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    gradcam_maps(net, images, None, method="gradcam")
    assert net.training  # still in train mode
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not net.backbone.layer4._forward_hooks  # no hook left behind


def test_similarity_metrics_and_own_code_default(images: torch.Tensor) -> None:
    net = ToyHash()
    code = net.encode(images)[0].detach()
    assert torch.isclose(CodeSimilarityTarget(code, "cosine")(code), torch.tensor(1.0))
    assert torch.isclose(CodeSimilarityTarget(code, "dot")(code), (code * code).sum())
    _, own = gradcam_maps(net, images, None)
    assert own[0] == pytest.approx(float((code * code).sum()), rel=1e-5)
    with pytest.raises(ValueError, match="bits"):
        gradcam_maps(net, images, torch.ones(5))
    with pytest.raises(ValueError, match="method"):
        gradcam_maps(net, images, None, method="nope")


def test_find_target_layer_resolution_order() -> None:
    net = ToyHash()
    assert find_target_layer(net) is net.backbone.layer4

    class Declared(ToyHash):
        @property
        def cam_target_layer(self) -> nn.Module:
            return self.backbone.stem

    d = Declared()
    assert find_target_layer(d) is d.backbone.stem

    class NoBackbone(nn.Module):  # feature_map is the output of `body`: the probe finds it
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
            self.tail = nn.Conv2d(4, 4, 1)

        def feature_map(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x)

    nb = NoBackbone()
    assert find_target_layer(nb, torch.zeros(1, 3, 8, 8)) is nb.body
    assert find_target_layer(nb) is nb.tail  # no probe: last conv
    assert set(CAM_METHODS) >= {"gradcam", "gradcam++", "eigencam"}
