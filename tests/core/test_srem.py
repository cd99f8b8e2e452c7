"""SREM masks against hand-computed cases; erase targets; backbone weight loading (safe pickles only)."""

from __future__ import annotations

import pickle

import pytest
import torch

from core.base.errors import WeightsError
from core.models.backbones import build_backbone, load_weights_file
from core.models.srem import SREM, activation_map, erase, mask_from_anchors, srem_mask, top_pixels


def _reference_mask(saliency: torch.Tensor, n: int, s: int) -> torch.Tensor:
    """Algorithm 1 literally: pad right/bottom by s, erase s x s squares at the top-N pixels, crop."""
    h, w = saliency.shape
    m = torch.ones(h + s, w + s)
    order = sorted(range(h * w), key=lambda i: (-float(saliency.flatten()[i]), i))[:n]
    for i in order:
        y, x = divmod(i, w)
        m[y:y + s, x:x + s] = 0
    return m[:h, :w]


def _fmap_with_peak_values(values: torch.Tensor) -> torch.Tensor:
    """A (1, 4, H, W) feature map whose channel mean is `values` and that needs no upsampling."""
    return values.view(1, 1, *values.shape).repeat(1, 4, 1, 1)


def test_single_anchor_top_left_corner_and_border_clipping():
    sal = torch.zeros(6, 6)
    sal[4, 5] = 1.0  # near the bottom-right border: the square must be clipped, not shifted
    mask = srem_mask(_fmap_with_peak_values(sal), (6, 6), regions=1, size=3)[0]
    expected = torch.ones(6, 6)
    expected[4:6, 5:6] = 0  # rows 4-5 (6 would be padding), column 5 only
    assert torch.equal(mask, expected)


def test_overlapping_squares_and_count():
    sal = torch.zeros(8, 8)
    sal[1, 1], sal[1, 2], sal[6, 0] = 3.0, 2.0, 1.0
    fmap = _fmap_with_peak_values(sal)
    mask2 = srem_mask(fmap, (8, 8), regions=2, size=2)[0]
    expected = torch.ones(8, 8)
    expected[1:3, 1:4] = 0  # two overlapping 2x2 squares at (1,1) and (1,2) form a 2x3 blob
    assert torch.equal(mask2, expected)
    mask3 = srem_mask(fmap, (8, 8), regions=3, size=2)[0]
    expected[6:8, 0:2] = 0
    assert torch.equal(mask3, expected)
    assert int((mask3 == 0).sum()) == 6 + 4


def test_matches_literal_algorithm_on_random_maps():
    g = torch.Generator().manual_seed(0)
    for n, s, hw, fhw in [(1, 1, 16, 4), (5, 4, 16, 4), (50, 8, 32, 2), (10, 32, 24, 3), (400, 3, 20, 5)]:
        fmap = torch.rand(2, 6, fhw, fhw, generator=g)
        got = srem_mask(fmap, (hw, hw), regions=n, size=s)
        sal = activation_map(fmap, (hw, hw))
        for b in range(2):
            assert torch.equal(got[b], _reference_mask(sal[b], n, s)), (n, s, hw)


def test_zero_regions_and_constant_map():
    fmap = torch.ones(1, 3, 2, 2)  # constant map: min-max gives 0 everywhere (eps avoids 0/0)
    sal = activation_map(fmap, (8, 8))
    assert torch.isfinite(sal).all() and float(sal.max()) == 0.0
    assert torch.equal(srem_mask(fmap, (8, 8), regions=0, size=4), torch.ones(1, 8, 8))
    # all pixels tie: ties go to the lowest row-major index, so the anchor is (0, 0)
    assert torch.equal(top_pixels(sal, 1), torch.tensor([[0]]))
    m = srem_mask(fmap, (8, 8), regions=1, size=4)[0]
    assert int((m == 0).sum()) == 16 and float(m[:4, :4].sum()) == 0


def test_normalisation_range_and_upsampling_shape():
    fmap = torch.randn(3, 16, 7, 7)
    sal = activation_map(fmap, (64, 48))
    assert sal.shape == (3, 64, 48)
    assert float(sal.min()) == pytest.approx(0.0, abs=1e-6) and float(sal.max()) == pytest.approx(1.0, abs=1e-6)


def test_erase_targets():
    images = torch.randn(2, 3, 4, 4)
    mask = torch.ones(2, 4, 4)
    mask[:, 0, 0] = 0
    out = erase(images, mask)
    assert torch.all(out[:, :, 0, 0] == 0) and torch.equal(out[:, :, 1:, :], images[:, :, 1:, :])
    black = erase(images, mask, target="black", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert torch.allclose(black[:, :, 0, 0], torch.full((2, 3), -2.0))
    assert torch.equal(black[:, :, 1:, :], images[:, :, 1:, :])
    with pytest.raises(ValueError):
        erase(images, mask[:, :2])


def test_srem_object_matches_functions():
    g = torch.Generator().manual_seed(4)
    images, fmap = torch.randn(2, 3, 16, 16, generator=g), torch.rand(2, 5, 4, 4, generator=g)
    erased, mask = SREM(regions=6, size=3)(images, fmap)
    assert torch.equal(mask, srem_mask(fmap, (16, 16), 6, 3))
    assert torch.equal(erased, erase(images, mask))
    assert bool((mask == 0).any(dim=(1, 2)).all())  # every image lost some pixels


def test_mask_from_anchors_direct():
    anchors = torch.tensor([[0, 15]])  # (0,0) and (3,3) in a 4x4 image
    m = mask_from_anchors(anchors, (4, 4), 2)[0]
    expected = torch.ones(4, 4)
    expected[0:2, 0:2] = 0
    expected[3, 3] = 0
    assert torch.equal(m, expected)


def test_backbone_stages_and_weight_files(tmp_path):
    net = build_backbone("resnet18", "none")
    stages = net.stages(torch.randn(1, 3, 64, 64))
    assert {k: tuple(v.shape) for k, v in stages.items()} == {
        "layer2": (1, 128, 8, 8), "layer3": (1, 256, 4, 4), "layer4": (1, 512, 2, 2)}
    assert net.stage_channels["layer4"] == net.out_channels == 512
    # a plain state dict round-trips through .pth and .safetensors
    from safetensors.torch import save_file

    state = {k: v.clone() for k, v in net.state_dict().items()}
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}}, tmp_path / "w.pth")
    save_file(state, str(tmp_path / "w.safetensors"))
    for name in ("w.pth", "w.safetensors"):
        other = build_backbone("resnet18", str(tmp_path / name))
        assert all(torch.equal(other.state_dict()[k], v) for k, v in state.items())
    # a pickle holding an arbitrary object is refused, never executed
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "evil.pth", "wb") as fh:
        pickle.dump({"state_dict": Evil()}, fh)
    with pytest.raises(WeightsError, match="refused"):
        load_weights_file(tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="does not exist"):
        build_backbone("resnet18", str(tmp_path / "missing.pth"))
    with pytest.raises(WeightsError, match="does not match"):
        build_backbone("resnet34", str(tmp_path / "w.safetensors"))


def test_imagenet_weights_offline_message(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsError, match="hub"):
        build_backbone("resnet18", "imagenet")
    # with the file in the hub cache it loads without the network
    from core.models.backbones import hub_weights_path

    path = hub_weights_path("resnet18")
    path.parent.mkdir(parents=True, exist_ok=True)  # the failed download made it
    torch.save(build_backbone("resnet18", "none").state_dict(), path)
    assert build_backbone("resnet18", "imagenet").out_channels == 512
