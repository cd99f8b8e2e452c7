"""Explainer on real fghash networks (ResNet-18, random init, 64 px): resolutions, ranges, SREM parity, levels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.base.errors import ImageDecodeError
from core.config.train_config import MultiFusOptions, TrainConfig
from core.explain import Explainer, ExplainError, find_target_layer, render, render_panel
from core.explain.images import tensor_to_uint8
from core.models.factory import build_model
from core.models.multifusnet import build_multifusnet_model
from core.models.srem import activation_map, erase, srem_mask

torch.set_num_threads(2)
SIZE = 64


def _cfg(method: str, **kw) -> TrainConfig:
    return TrainConfig(method=method, backbone="resnet18", weights="none", bits=16,
                       image_size=SIZE, resize_size=72, **kw)


@pytest.fixture(scope="module")
def hash_explainer() -> Explainer:
    torch.manual_seed(0)
    cfg = _cfg("fcaenet")
    return Explainer(build_model(cfg, 5), cfg)


@pytest.fixture(scope="module")
def fus_explainer() -> Explainer:
    torch.manual_seed(0)
    cfg = _cfg("multifusnet", multifus=MultiFusOptions(attention_mlp_dim=256))
    return Explainer(build_multifusnet_model(cfg, 5), cfg)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 60, (90, 120, 3), dtype=np.uint8)
    img[20:50, 30:70] = 230  # a bright object so maps are not flat
    return img


def _check_map(m: np.ndarray) -> None:
    assert m.shape == (SIZE, SIZE) and m.dtype == np.float32
    assert np.isfinite(m).all() and m.min() >= 0.0 and m.max() <= 1.0


@pytest.mark.parametrize("kind,options", [
    ("cam", {}), ("gradcam", {}), ("gradcam", {"method": "gradcam++"}), ("gradcam", {"method": "eigencam"}),
    ("gradcam", {"similarity": "cosine", "target_image": np.zeros((20, 20, 3), np.uint8)}),
])
def test_maps_have_image_resolution_and_unit_range(hash_explainer: Explainer, photo, kind, options) -> None:
    e = hash_explainer.explain(photo, kind, **options)
    assert e.image.shape == (SIZE, SIZE, 3) and e.image.dtype == np.uint8
    _check_map(e.heatmap)
    assert e.heatmap.max() == pytest.approx(1.0, abs=1e-3)  # min-max normalised, not flat
    out = render(e, colormap="turbo", alpha=0.4)
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8


def test_cam_is_the_srem_activation_map(hash_explainer: Explainer, photo) -> None:
    p = hash_explainer.prepare(photo)
    with torch.no_grad():
        expected = activation_map(hash_explainer.model.feature_map(p.tensor), (SIZE, SIZE))
    np.testing.assert_allclose(hash_explainer.cam(p).heatmap, expected[0].numpy(), atol=1e-6)


@pytest.mark.parametrize("regions,size", [(50, 32), (10, 8), (3, 64), (0, 5)])
def test_srem_mask_equals_training_mask(hash_explainer: Explainer, photo, regions, size) -> None:
    p = hash_explainer.prepare(photo)
    e = hash_explainer.srem(p, regions=regions, size=size)
    with torch.no_grad():
        mask = srem_mask(hash_explainer.model.feature_map(p.tensor), (SIZE, SIZE), regions, size)
        erased = erase(p.tensor, mask, target="normalized_zero")
    assert e.mask.shape == (SIZE, SIZE) and e.mask.dtype == np.bool_
    np.testing.assert_array_equal(e.mask, mask[0].numpy() == 0)
    np.testing.assert_array_equal(e.extra("erased"), tensor_to_uint8(erased[0]))
    assert (e.regions, e.size) == (regions, size)
    assert (regions == 0) == (not e.mask.any())
    if regions:
        hottest = np.unravel_index(int(np.argmax(e.extra("activation"))), (SIZE, SIZE))
        assert e.mask[hottest]  # the top pixel is the top-left corner of an erased square


def test_srem_defaults_come_from_the_run_config(hash_explainer: Explainer, photo) -> None:
    e = hash_explainer.srem(photo)
    assert (e.regions, e.size) == (hash_explainer.cfg.fcae.srem_regions, hash_explainer.cfg.fcae.srem_size)
    black = hash_explainer.srem(photo, regions=5, size=8, erase_target="black")
    assert (black.extra("erased")[black.mask] == 0).all()
    with pytest.raises(ExplainError, match="regions"):
        hash_explainer.srem(photo, regions=-1)


def test_gradcam_target_image_and_code(hash_explainer: Explainer, photo) -> None:
    other = np.flipud(photo).copy()
    by_image = hash_explainer.gradcam(photo, target_image=other)
    by_code = hash_explainer.gradcam(photo, hash_explainer.code(other))
    np.testing.assert_allclose(by_image.heatmap, by_code.heatmap, atol=1e-5)
    assert by_image.score == pytest.approx(float(hash_explainer.code(photo) @ hash_explainer.code(other)), rel=1e-4)
    sign = hash_explainer.gradcam(photo, np.sign(hash_explainer.code(other)))  # a stored +-1 code works too
    _check_map(sign.heatmap)
    with pytest.raises(ExplainError, match="cosine"):
        hash_explainer.gradcam(photo, similarity="cosine")
    with pytest.raises(ExplainError, match="16"):
        hash_explainer.gradcam(photo, np.ones(12))


def test_levels_for_multifusnet(fus_explainer: Explainer, photo) -> None:
    assert find_target_layer(fus_explainer.model) is fus_explainer.model.backbone.layer4
    e = fus_explainer.levels(photo)
    assert e.extra_names == tuple(f"X{i}/{b}" for i in (1, 2, 3) for b in ("original", "eca", "fused"))
    for extra in e.extras:
        _check_map(extra.array)
    np.testing.assert_array_equal(e.heatmap, e.extra("X3/fused"))
    assert render_panel(e).shape[0] > 3 * SIZE  # three rows
    _check_map(fus_explainer.gradcam(photo).heatmap)


def test_levels_refused_for_single_level_nets(hash_explainer: Explainer, photo) -> None:
    with pytest.raises(ExplainError, match="Multi-FusNet"):
        hash_explainer.levels(photo)
    with pytest.raises(ExplainError, match="kind"):
        hash_explainer.explain(photo, "nope")


def test_odd_images(hash_explainer: Explainer, tmp_path) -> None:
    gray = tmp_path / "gray.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 30), dtype=np.uint8)).save(gray)
    rgba = tmp_path / "alpha.png"
    Image.new("RGBA", (33, 47), (255, 0, 0, 0)).save(rgba)
    big = tmp_path / "big.jpg"  # larger than load_rgb's 4096 px cap
    Image.new("RGB", (6000, 4500), (10, 200, 30)).save(big)
    sources = [gray, rgba, big, np.zeros((1, 1), np.uint8), np.full((5, 5, 3), 0.5),
               Image.new("L", (1, 1), 128), Image.new("RGB", (9000, 20))]
    for src in sources:
        assert hash_explainer.cam(src).image.shape == (SIZE, SIZE, 3)
    for src in sources[3:5]:  # tiny inputs: squares larger than the image, flat feature maps
        e = hash_explainer.srem(src, regions=50, size=100)
        assert e.mask.shape == (SIZE, SIZE) and e.mask.any()
    # a fully transparent red image is composited on white, like load_rgb does for files
    assert (hash_explainer.cam(rgba).image > 250).all()
    _check_map(hash_explainer.gradcam(np.zeros((1, 1), np.uint8)).heatmap)  # flat input: finite, in range
    with pytest.raises(ImageDecodeError, match="missing.jpg"):
        hash_explainer.cam(tmp_path / "missing.jpg")
    with pytest.raises(ImageDecodeError, match="shape"):
        hash_explainer.cam(np.zeros((4, 4, 2)))


def test_explainer_never_touches_the_callers_model() -> None:
    cfg = _cfg("adsh")
    model = build_model(cfg, 3).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ex = Explainer(model, cfg)
    ex.gradcam(np.zeros((8, 8, 3), np.uint8))
    ex.srem(np.zeros((8, 8, 3), np.uint8))
    assert model.training and ex.model is not model and not ex.model.training
    assert not ex.model.backbone.layer4._forward_hooks  # Grad-CAM hooks released from the private copy
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_real_images(hash_explainer: Explainer, shared_data) -> None:
    """Real CUB / Food-101 photos (some are grayscale JPEGs) explain without error."""
    files = sorted((shared_data / "CUB_200_2011" / "images").glob("00[12]*/*.jpg"))[:2]
    files += sorted((shared_data / "food-101" / "images").glob("*/*.jpg"))[:1]
    if not files:
        pytest.skip("no real images found")
    for path in files:
        e = hash_explainer.gradcam(path, method="gradcam++")
        _check_map(e.heatmap)
