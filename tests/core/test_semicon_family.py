"""SEMICON, A2-Net, ExchNet and AGMH: the "how to test" items of docs/baselines.md sections 3-6 with their
hand-computed values, a gradient check of each new loss, the options and presets."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from core.base.errors import ConfigError
from core.config.presets import preset_config
from core.config.train_config import (
    A2NetOptions,
    ExchNetOptions,
    SemiconOptions,
    TrainConfig,
    paper_preset,
)
from core.models.a2net import PartNet
from core.models.agmh import Agmh
from core.models.semicon import Icon, Semicon, bit_split, refine_layer4
from core.training.methods.a2net import decorrelation_loss, reconstruction_loss
from core.training.methods.agmh import attention_distributions, attention_diversity_loss
from core.training.methods.exchnet import (
    alignment_loss,
    channel_diversity_loss,
    exchange,
    hellinger,
    spatial_diversity_loss,
)
from core.training.methods.registry import database_codes

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---- SEMICON (section 3) ----------------------------------------------------------------------------------
def test_semicon_bit_splits_sum_to_k() -> None:
    assert [bit_split(k) for k in (12, 24, 32, 48)] == [(6, 2), (12, 4), (17, 5), (24, 8)]
    for k in range(6, 65):
        g, local = bit_split(k)
        assert g + 3 * local == k and local == k // 6


@pytest.fixture(scope="module")
def semicon50() -> Semicon:
    torch.manual_seed(0)
    return Semicon("resnet50", "none", 12, SemiconOptions()).eval()


def test_semicon_shapes_at_224(semicon50: Semicon) -> None:
    with torch.no_grad():
        x = torch.randn(2, 3, 224, 224)
        o = semicon50.stem(x)
        t = semicon50.trunk(o)
        p = semicon50.parts(x)
        u = semicon50(x)
    assert tuple(o.shape) == (2, 1024, 14, 14) and tuple(t.shape) == (2, 64, 14, 14)
    assert tuple(p["maps"].shape) == (2, 3, 14, 14)  # f_1..f_3, each 1 x 14 x 14
    assert tuple(p["g"].shape) == (2, 2048) and tuple(p["local"].shape) == (2, 3, 2048)
    assert tuple(u.shape) == (2, 12) and float(u.abs().max()) <= 1  # random weights saturate tanh
    heads = (semicon50.hash_global, *semicon50.hash_local)
    assert [tuple(m.weight.shape) for m in heads] == [(6, 2048)] + [(2, 2048)] * 3
    assert all(m.bias is None for m in heads)


def test_semicon_mask_range_no_gradient_and_constant_maps() -> None:
    model = Semicon("resnet18", "none", 12, SemiconOptions())
    f = (torch.randn(4, 1, 6, 6) * 3).relu().requires_grad_()
    mask = model.attention_mask(f)
    assert not mask.requires_grad and float(mask.min()) >= 0 and float(mask.max()) <= 2
    assert float(mask.min()) == 0 or float(mask.max()) == 2 or mask.std() > 0  # not a constant map
    # the official code's defect: a batch of constant maps has sigma = 0 and M = NaN; with eps, M = 1
    flat = model.attention_mask(torch.zeros(4, 1, 6, 6))
    assert torch.equal(flat, torch.ones_like(flat))
    raw = SemiconOptions(sigma_eps=0.0)
    assert torch.isnan(Semicon("resnet18", "none", 12, raw).attention_mask(torch.zeros(4, 1, 6, 6))).all()
    # batch statistics (the code): one image's mask depends on its batch-mates; "image" statistics do not
    per_image = Semicon("resnet18", "none", 12, SemiconOptions(attention_stats="image"))
    assert not torch.allclose(model.attention_mask(f[:1]), model.attention_mask(f)[:1])
    assert torch.allclose(per_image.attention_mask(f[:1]), per_image.attention_mask(f)[:1])


def test_semicon_mask_hand_computed() -> None:
    """Two positions, one image: p = softmax(0, ln 3) = (1/4, 3/4); mu = 1/2, sigma = sqrt(1/8) (unbiased)."""
    model = Semicon("resnet18", "none", 12, SemiconOptions(alpha=0.15))
    mask = model.attention_mask(torch.tensor([[[[0.0, math.log(3.0)]]]]))
    step = 0.25 / math.sqrt(0.125) ** 0.15
    assert mask.flatten().tolist() == pytest.approx([1 - step, 1 + step], abs=1e-6)


def test_icon_preserves_shape_and_zero_qkv_passes_x_through() -> None:
    torch.manual_seed(1)
    icon = Icon(64, heads=8).eval()  # d = 8
    x = torch.randn(2, 64, 3, 3)
    assert icon(x).shape == x.shape
    for conv in (icon.qkv1, icon.qkv2):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    with torch.no_grad():
        # (a) alone: A1 V with V = 0 is 0, so Z = X
        assert torch.equal(icon._attend(x, icon.qkv1, 8, 8), torch.zeros(2, 8, 8, 9))
        out = icon(x)
    # then Y = BN(Z permuted from a*d+b to b*h+a) (eval BN: divide by sqrt(1 + eps)) and (c) adds 0
    h, d = 8, 8
    expected = torch.empty_like(x)
    for a in range(h):
        for b in range(d):
            expected[:, b * h + a] = x[:, a * d + b]
    assert torch.allclose(out, expected / math.sqrt(1 + icon.bn.eps), atol=1e-6)


def test_semicon_pretrained_key_audit(tmp_path) -> None:
    """layer4.0 and layer4.1 come from the weights file, the block after the first ICON (index 3) does not;
    with load_third_block it gets layer4.2."""
    from torchvision.models import resnet50

    torch.manual_seed(2)
    weights = tmp_path / "r50.pth"
    reference = resnet50(weights=None).state_dict()
    torch.save(reference, weights)
    layer4 = {k[len("layer4."):]: v for k, v in reference.items() if k.startswith("layer4.")}
    for load_third in (False, True):
        model = Semicon("resnet50", str(weights), 12, SemiconOptions(load_third_block=load_third))
        for branch in (model.refine_global, model.refine_local):
            state = branch.state_dict()
            for block in ("0", "1"):
                keys = [k for k in layer4 if k.startswith(block + ".")]
                assert keys and all(torch.equal(state[k], layer4[k]) for k in keys)
            third = {k: v for k, v in layer4.items() if k.startswith("2.") and "num_batches" not in k}
            same = [torch.equal(state["3" + k[1:]], v) for k, v in third.items()]
            assert all(same) if load_third else not any(s for k, s in zip(third, same) if "conv" in k)
            assert isinstance(branch[2], Icon) and isinstance(branch[4], Icon)


def test_refine_layer4_on_a_two_block_layer4_adds_a_random_third() -> None:
    from torchvision.models import resnet18

    layer4 = resnet18(weights=None).layer4
    refined = refine_layer4(layer4, 512, load_third_block=False)
    assert len(refined) == 5 and torch.equal(refined[1].conv1.weight, layer4[1].conv1.weight)
    assert not torch.equal(refined[3].conv1.weight, layer4[1].conv1.weight)


# ---- A2-Net (section 4) ------------------------------------------------------------------------------------
def test_a2net_dimensions_with_four_parts() -> None:
    model = PartNet("resnet50", "none", 12, num_parts=4, hash_bias=False)
    assert tuple(model.hash_layer.weight.shape) == (12, 10240) and model.hash_layer.bias is None
    x = model.features(torch.zeros(2, 4, 2048), torch.zeros(2, 2048))
    assert tuple(x.shape) == (2, 10240)


def test_a2net_decorrelation_zero_for_hadamard_rows() -> None:
    h = torch.tensor([[1.0, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
    assert float(decorrelation_loss(h)) == 0.0
    assert float(decorrelation_loss(torch.ones(4, 4))) > 0


def test_a2net_reconstruction_toy_value() -> None:
    x = torch.tensor([[0.5, 0.2]])
    w = torch.tensor([[1.0, 0.0]])
    u = torch.tanh(x @ w.t())
    assert float(u) == pytest.approx(0.462117, abs=1e-6)
    assert float(reconstruction_loss(u, x, w)) == pytest.approx(0.020718, abs=1e-6)


# ---- ExchNet (section 5) -----------------------------------------------------------------------------------
def test_exchnet_hellinger_and_diversity_losses() -> None:
    p = torch.tensor([0.5, 0.5, 0.0, 0.0])
    q = torch.tensor([0.0, 0.0, 0.3, 0.7])
    assert float(hellinger(p, p)) == 0.0 and float(hellinger(p, q)) == pytest.approx(1.0)
    # all parts equal: L_sp = 1 per sample
    same = torch.randn(1, 1, 8, 3, 3).expand(3, 4, 8, 3, 3)
    assert float(spatial_diversity_loss(same)) == pytest.approx(1.0)
    # L_ch = 0 once the mean pair H reaches the hinge; > 0 below it
    disjoint = torch.full((2, 4, 8), -30.0)
    for m in range(4):
        disjoint[:, m, 2 * m:2 * m + 2] = 30.0  # each part's channel softmax on its own two channels
    assert float(channel_diversity_loss(disjoint, 0.4)) == 0.0
    assert float(channel_diversity_loss(torch.zeros(2, 4, 8), 0.4)) == pytest.approx(0.4)


def test_exchnet_exchange_with_probability_one_aligns_exactly() -> None:
    parts, centres = torch.randn(3, 4, 6), torch.randn(3, 4, 6)
    swapped = exchange(parts, centres, torch.ones(3, 4, dtype=torch.bool))
    assert float(alignment_loss(swapped, centres)) == 0.0
    kept = exchange(parts, centres, torch.zeros(3, 4, dtype=torch.bool))
    assert float(alignment_loss(kept, centres)) == pytest.approx(float((parts - centres).norm()) / 3)


# ---- AGMH (section 6) --------------------------------------------------------------------------------------
def test_agmh_codes_do_not_depend_on_the_attention_modules() -> None:
    torch.manual_seed(3)
    model = Agmh("resnet18", "none", 12).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        for p in model.attention.parameters():
            p.add_(torch.randn_like(p))
        after, attn = model.branches(x)
    assert torch.equal(before, after) and len(attn) == 6 and attn[0].shape[1] == 128  # 512 / 4 for ResNet-18
    assert tuple(model.hash_layer.weight.shape) == (12, 6 * 128) and model.hash_layer.bias is None


def test_agmh_adl_of_uniform_maps_is_one_over_hw() -> None:
    attn = [torch.full((2, 5, 7, 7), float(i)) for i in range(6)]  # constant maps: uniform p_i
    p = attention_distributions(attn)
    assert tuple(p.shape) == (2, 6, 49)
    assert float(attention_diversity_loss(p)) == pytest.approx(1 / 49)


# ---- every new loss against finite differences ------------------------------------------------------------
def test_new_losses_gradients_match_finite_differences() -> None:
    torch.manual_seed(4)
    d = dict(dtype=torch.float64, requires_grad=True)
    u, x, w = torch.rand(3, 2, **d) - 0.5, torch.randn(3, 5, **d), torch.randn(2, 5, **d)
    assert torch.autograd.gradcheck(reconstruction_loss, (u, x, w))
    assert torch.autograd.gradcheck(decorrelation_loss, (torch.rand(4, 3, **d) - 0.5,))
    assert torch.autograd.gradcheck(spatial_diversity_loss, (torch.randn(2, 3, 4, 2, 2, **d),))
    assert torch.autograd.gradcheck(lambda a: channel_diversity_loss(a, 0.9), (torch.randn(2, 3, 6, **d),))
    parts, centres = torch.randn(2, 3, 4, **d), torch.randn(2, 3, 4, dtype=torch.float64)
    take = torch.tensor([[True, False, False], [False, True, False]])
    assert torch.autograd.gradcheck(lambda a: alignment_loss(exchange(a, centres, take), centres), (parts,))
    assert torch.autograd.gradcheck(
        lambda *a: attention_diversity_loss(attention_distributions(list(a))),
        tuple(torch.randn(2, 3, 2, 2, **d) for _ in range(3)))
    # hand-derived: d L_rec / d u = 2 (u W - x) W^T / (B D)
    loss = reconstruction_loss(u, x, w)
    (grad,) = torch.autograd.grad(loss, u)
    assert torch.allclose(grad, 2 * (u @ w - x) @ w.t() / x.numel())


# ---- options, presets, registry ----------------------------------------------------------------------------
def test_paper_presets_follow_the_official_protocols() -> None:
    sc = paper_preset("semicon", 12, dataset_kind="cub", dataset_root="/x")
    assert (sc.lr, sc.epochs, sc.lr_milestones, sc.momentum, sc.nesterov, sc.weight_decay, sc.batch_size, sc.seed) == (
        2.5e-4, 40, (40,), 0.91, True, 1e-4, 16, 68)
    assert (sc.adsh.num_samples, sc.adsh.inner_epochs, sc.adsh.gamma, sc.adsh.v_init, sc.adsh.loss_normalization) == (
        2000, 30, 200.0, "randn", "semicon")
    nab = paper_preset("semicon", 12, dataset_kind="nabirds", dataset_root="/x")
    assert (nab.lr, nab.epochs, nab.lr_milestones, nab.adsh.num_samples) == (5e-4, 50, (45,), 4000)
    food = paper_preset("semicon", 12, dataset_kind="food101", dataset_root="/x")
    assert (food.lr, food.epochs, food.lr_milestones, food.adsh.num_samples) == (2.5e-4, 50, (45,), 2000)
    for method in ("a2net", "exchnet"):
        cfg = paper_preset(method, 24, dataset_kind="vegfru", dataset_root="/x")
        assert (cfg.lr, cfg.epochs, cfg.lr_milestones, cfg.momentum, cfg.nesterov, cfg.adsh.num_samples) == (
            1e-4, 40, (35,), 0.9, False, 4000)
    ag = paper_preset("agmh", 48)
    assert (ag.lr, ag.epochs, ag.lr_milestones, ag.nesterov, ag.adsh.num_samples) == (1e-3, 60, (40,), True, 2000)
    assert (TrainConfig().semicon.alpha, A2NetOptions().parts, ExchNetOptions().align_step) == (0.15, 0, 35)


def test_quick_preset_covers_the_new_methods() -> None:
    for method in ("semicon", "a2net", "exchnet", "agmh"):
        cfg = preset_config("quick", method, 12, semicon={"alpha": 0.3})
        assert (cfg.backbone, cfg.image_size, cfg.epochs, cfg.adsh.inner_epochs) == ("resnet18", 96, 5, 3)
        assert cfg.adsh.num_samples == 500 and cfg.semicon.alpha == 0.3
        assert database_codes(method) == "learned"
    assert database_codes("multifusnet") == "network"
    with pytest.raises(ConfigError, match="unknown semicon option"):
        preset_config("quick", "semicon", 12, semicon={"alpah": 0.3})


@pytest.mark.parametrize("change, message", [
    (dict(method="semicon", bits=5), "bits >= 6"),
    (dict(semicon=SemiconOptions(alpha=-1.0)), "semicon.alpha"),
    (dict(semicon=SemiconOptions(sigma_eps=float("nan"))), "finite"),
    (dict(a2net=A2NetOptions(aux_start=1.5)), "aux_start"),
    (dict(exchnet=ExchNetOptions(exchange_prob=2.0)), "exchange_prob"),
    (dict(exchnet=ExchNetOptions(parts=1)), "parts"),
    (dict(momentum=0.0, nesterov=True), "nesterov"),
])
def test_bad_options_are_refused(change, message) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**change)


def test_options_round_trip_through_json() -> None:
    cfg = paper_preset("exchnet", 12).replace(exchnet=dataclasses.replace(ExchNetOptions(), align_step=3))
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match="attention_stats"):
        TrainConfig.from_dict({**cfg.to_dict(), "semicon": {"attention_stats": "weird"}})


@pytest.mark.parametrize("method", ["semicon", "a2net", "exchnet", "agmh"])
def test_channels_last_gives_the_same_codes_and_maps(method) -> None:
    """CUDA training converts model and batches to channels-last (NetworkStepper): every reshape must cope."""
    from core.models.factory import build_model

    torch.manual_seed(5)
    net = build_model(TrainConfig(method=method, backbone="resnet18", weights="none", a2net=A2NetOptions(parts=3)),
                      10).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        codes, maps = net(x), net.part_maps(x)
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        again, maps_again = net(x), net.part_maps(x)
    assert torch.allclose(codes, again, atol=1e-4)
    for (name, a), (name_again, b) in zip(maps, maps_again):
        assert name == name_again and torch.allclose(a, b, rtol=1e-4, atol=1e-3 * float(a.abs().max()))
