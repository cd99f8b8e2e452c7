"""DPSH, HashNet, FISH (docs/baselines.md sections 1, 2, 7): the spec's hand-computed values, gradient checks of the
losses against autograd, the lr and beta staircases, the presets, the registry, the reported numbers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from core.cli import main
from core.config.presets import preset_config
from core.config.reported import BITS, reported, reported_rows
from core.config.train_config import METHODS, TrainConfig
from core.models.factory import MODEL_BUILDERS
from core.models.fish import FishNet
from core.models.pairwise import ContinuationHashNet
from core.training.methods.common import NetworkStepper
from core.training.methods.dpsh import dpsh_terms
from core.training.methods.fish import fish_terms, hide_attended
from core.training.methods.hashnet import hashnet_loss, hashnet_pair_losses
from core.training.methods.registry import METHOD_CLASSES, method_info

# the spec's 3-sample example: k = 2, n = B = 3
U = torch.tensor([[0.5, -0.5], [0.5, 0.5], [-1.0, 0.5]], dtype=torch.float64)
LABELS = torch.tensor([0, 0, 1])


class _StubBackbone(nn.Module):
    """(B, 3, H, W) -> (B, 8, 2, 2): a backbone with out_channels, cheap enough for counter tests."""

    out_channels = 8

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.adaptive_avg_pool2d(self.conv(x), 2)


# ---- DPSH ----------------------------------------------------------------------------------------------
def test_dpsh_loss_on_the_spec_example() -> None:
    terms = dpsh_terms(U, LABELS, U, LABELS, eta=10.0)
    assert float(terms["likelihood"]) == pytest.approx(0.586480, abs=1e-6)
    assert float(terms["quant"]) / 10 == pytest.approx(0.138889, abs=1e-6)
    assert float(terms["likelihood"] + terms["quant"]) == pytest.approx(1.975369, abs=1e-6)


def test_dpsh_gradient_is_the_spec_formula() -> None:
    """d L / d u_i = 1/(n B) [1/2 sum_j (sigma(theta_ij) - S_ij) U_j + 2 eta (u_i - sign u_i)], U a buffer."""
    eta, n, b = 10.0, 3, 3
    u = U.clone().requires_grad_(True)
    terms = dpsh_terms(u, LABELS, U, LABELS, eta)
    (grad,) = torch.autograd.grad(terms["likelihood"] + terms["quant"], u)
    theta = 0.5 * U @ U.t()
    s = (LABELS[:, None] == LABELS[None, :]).double()
    expected = (0.5 * (torch.sigmoid(theta) - s) @ U + 2 * eta * (U - torch.sign(U))) / (n * b)
    assert torch.allclose(grad, expected, atol=1e-12)


def test_dpsh_loss_gradcheck_and_no_overflow() -> None:
    g = torch.Generator().manual_seed(0)
    u = torch.randn(4, 5, dtype=torch.float64, generator=g).requires_grad_(True)
    buffer = torch.randn(7, 5, dtype=torch.float64, generator=g)
    batch_labels, db_labels = torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 1, 2, 0, 2, 1])
    assert torch.autograd.gradcheck(lambda x: sum(dpsh_terms(x, batch_labels, buffer, db_labels, 10.0).values()),
                                    (u,))
    big = dpsh_terms(torch.full((1, 2), 300.0), torch.tensor([1]), torch.full((1, 2), 300.0), torch.tensor([0]), 0)
    assert math.isfinite(float(big["likelihood"]))  # log(1 + e^theta) at theta = 90 000


def test_dpsh_paper_preset_lr_staircase() -> None:
    """lr 0.05 for epochs 0-50, 0.005 for 51-100, 5e-4 for 101-149 (0-based, as the spec counts)."""
    cfg = preset_config("paper", "dpsh", 12)
    assert (cfg.epochs, cfg.batch_size, cfg.momentum, cfg.weight_decay) == (150, 128, 0.0, 1e-5)
    stepper = NetworkStepper(nn.Linear(2, 2), cfg, torch.device("cpu"))
    lrs = []
    for _ in range(cfg.epochs):
        lrs.append(stepper.lr)
        stepper.optimizer.step()  # (no gradients: a no-op, in the order torch expects)
        stepper.end_epoch()
    assert all(lr == pytest.approx(0.05) for lr in lrs[:51])
    assert all(lr == pytest.approx(0.005) for lr in lrs[51:101])
    assert all(lr == pytest.approx(5e-4) for lr in lrs[101:150])


# ---- HashNet -------------------------------------------------------------------------------------------
def test_hashnet_loss_on_the_spec_example() -> None:
    """k = 2 (alpha = 10/k = 5), h1 = u[0:2], h2 = u, the same labels."""
    s = (LABELS[:2, None] == LABELS[None, :]).double()
    assert float(hashnet_loss(U[:2], U, s, 5.0, weighted=False)) == pytest.approx(0.303208, abs=1e-6)
    assert float(hashnet_loss(U[:2], U, s, 5.0, weighted=True)) == pytest.approx(0.523606, abs=1e-6)


def test_hashnet_linear_region_has_zero_loss_and_gradient_for_similar_pairs() -> None:
    h = torch.tensor([[1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    pair = hashnet_pair_losses(h, h.detach(), torch.ones(1, 1, dtype=torch.float64), alpha=10.0)  # d = 20 > 15
    assert float(pair.detach()) == 0.0
    (grad,) = torch.autograd.grad(pair.sum(), h)
    assert torch.equal(grad, torch.zeros_like(grad))


@pytest.mark.parametrize("weighted", [True, False])
def test_hashnet_loss_gradcheck(weighted: bool) -> None:
    g = torch.Generator().manual_seed(1)
    h1 = torch.tanh(torch.randn(3, 4, dtype=torch.float64, generator=g)).requires_grad_(True)
    h2 = torch.tanh(torch.randn(5, 4, dtype=torch.float64, generator=g)).requires_grad_(True)
    s = (torch.tensor([0, 1, 2])[:, None] == torch.tensor([0, 0, 1, 3, 2])[None, :]).double()
    assert torch.autograd.gradcheck(lambda a, b: hashnet_loss(a, b, s, 2.5, weighted, 1.0), (h1, h2))


def test_hashnet_beta_staircase_and_eval_mode() -> None:
    net = ContinuationHashNet(_StubBackbone(), bits=4)
    x = torch.randn(2, 3, 8, 8)
    net.train()
    for _ in range(199):
        net(x)
    assert int(net.iter_num) == 199 and float(net.beta) == 1.0  # iterations 1-199
    net.eval()
    z = net.encode(x)
    out = net(x)
    assert int(net.iter_num) == 199 and float(net.beta) == 1.0  # eval forwards change nothing
    assert torch.equal(torch.sign(z), torch.sign(out))  # code = sign(z) = sign(tanh(beta z))
    net.train()
    net(x)
    assert float(net.beta) == pytest.approx(math.sqrt(2), rel=1e-6)  # at 200
    for _ in range(200):
        net.advance()
    assert float(net.beta) == pytest.approx(math.sqrt(3), rel=1e-6)  # at 400
    for _ in range(10_000 - 400):
        net.advance()
    assert float(net.beta) == pytest.approx(math.sqrt(51), rel=1e-6)  # about 7.141 at 10 000
    state = net.state_dict()
    again = ContinuationHashNet(_StubBackbone(), bits=4)
    again.load_state_dict(state)  # resumes the counter and beta
    assert int(again.iter_num) == 10_000 and float(again.beta) == pytest.approx(math.sqrt(51), rel=1e-6)
    fresh = ContinuationHashNet(_StubBackbone(), bits=4)
    assert torch.equal(fresh.hash_layer.bias, torch.zeros(4))  # official init: bias 0, weights N(0, 0.01)
    assert float(fresh.hash_layer.weight.detach().std()) < 0.05


def test_hashnet_hash_layer_learns_ten_times_faster(fghash_home) -> None:
    from core.data.registry import load_dataset
    from core.training.methods.hashnet import HashNetMethod

    cfg = TrainConfig(method="hashnet", backbone="resnet18", weights="none", image_size=32, resize_size=36,
                      device="cpu", batch_size=4, lr=3e-4)
    method = HashNetMethod(cfg, load_dataset("demo"), torch.device("cpu"))
    backbone_group, hash_group = method.stepper.optimizer.param_groups
    assert hash_group["lr"] == pytest.approx(10 * backbone_group["lr"]) and backbone_group["lr"] == pytest.approx(3e-4)
    assert backbone_group["nesterov"] and hash_group["params"] == list(method.model.hash_layer.parameters())
    assert method.alpha == pytest.approx(10 / 12)


def test_hashnet_paper_preset_is_the_official_schedule() -> None:
    cfg = preset_config("paper", "hashnet", 48)
    assert cfg.epochs * cfg.hashnet.iterations_per_epoch == 10_000 and cfg.batch_size == 36
    assert (cfg.lr, cfg.momentum, cfg.weight_decay) == (3e-4, 0.9, 5e-4)
    assert (cfg.hashnet.lr_step, cfg.hashnet.lr_decay, cfg.hashnet.loss) == (2000, 0.5, "weighted")
    assert preset_config("quick", "hashnet", 12).hashnet.iterations_per_epoch == 0  # one pass per epoch


# ---- FISH ----------------------------------------------------------------------------------------------
def test_fish_network_masks_all_but_the_top_class() -> None:
    torch.manual_seed(0)
    net = FishNet(_StubBackbone(), bits=6, num_classes=5).eval()
    out = net(torch.randn(3, 3, 8, 8))
    mask = torch.full_like(out.logits, 0.7)
    mask[torch.arange(3), out.logits.argmax(dim=1)] = 1.0
    assert torch.allclose(out.codes, net.hash_layer(out.logits * mask))
    assert net.encode(torch.zeros(1, 3, 8, 8)).shape == (1, 6)


def test_fish_hide_removes_the_most_attended_pixels() -> None:
    images = torch.ones(2, 3, 16, 16)
    fmap = torch.zeros(2, 4, 4, 4)
    fmap[:, :, 1, 2] = 5.0  # one hot spot
    hidden = hide_attended(images, fmap, 0.9, torch.Generator().manual_seed(0))
    assert hidden.shape == images.shape
    upsampled = nn.functional.interpolate(fmap.sum(1, keepdim=True), size=(16, 16), mode="bilinear",
                                          align_corners=True)
    peak = upsampled.flatten(1).argmax(dim=1)
    assert all(float(hidden[i, 0].flatten()[peak[i]]) == 0.0 for i in range(2))  # the peak is always hidden
    assert float(hidden.mean()) > 0.8  # most of the image stays


def test_fish_loss_gradcheck() -> None:
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(3, 4, dtype=torch.float64, generator=g).requires_grad_(True)
    codes = torch.randn(3, 5, dtype=torch.float64, generator=g).requires_grad_(True)
    hide = torch.randn(3, 4, dtype=torch.float64, generator=g).requires_grad_(True)
    targets = torch.sign(torch.randn(3, 5, dtype=torch.float64, generator=g))
    labels = torch.tensor([0, 3, 1])

    def loss(a, b, c):
        terms = fish_terms(a, b, targets, c, labels)
        return terms["ce"] + terms["hash"] + terms["ce_hide"]

    # fish_terms computes in float32 (as under AMP); check it against autograd in float32 tolerances
    assert torch.autograd.gradcheck(loss, (logits, codes, hide), eps=1e-3, atol=1e-3, rtol=1e-2)


# ---- registry, presets, reported numbers ----------------------------------------------------------------
def test_every_method_is_registered_everywhere_with_its_provenance() -> None:
    assert set(METHODS) == set(METHOD_CLASSES) == set(MODEL_BUILDERS)
    for name in ("dpsh", "hashnet", "fish"):
        info = method_info(name)
        assert info.paper and info.code and info.spec.startswith("docs/baselines.md")
    assert method_info("dpsh").symmetric and method_info("hashnet").symmetric
    assert method_info("fish").database == "proxy" and method_info("adsh").database == "learned"


def test_fghash_methods_lists_every_method(capsys) -> None:
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in METHOD_CLASSES:
        assert f"{name}: " in out
    assert "jiangqy/DPSH-pytorch" in out and "thuml/HashNet" in out and "DSH_Analysis" in out
    assert "reported CUB 12 / 48 bits: 8.68 / 15.58" in out  # DPSH


def test_baseline_presets_follow_the_spec() -> None:
    fish = preset_config("paper", "fish", 12, "cub", dataset_root="/x")
    assert (fish.lr, fish.momentum, fish.weight_decay, fish.batch_size, fish.lr_milestones) == (
        1e-2, 0.9, 0.0, 16, (5, 15, 35))
    assert (fish.epochs, fish.adsh.inner_epochs, fish.adsh.num_samples) == (40, 30, 2000)
    assert preset_config("paper", "fish", 12, "vegfru", dataset_root="/x").adsh.num_samples == 4000
    assert preset_config("paper", "dpsh", 12).dpsh.eta == 10.0
    for name in ("dpsh", "hashnet", "fish"):
        quick = preset_config("quick", name, 12)
        assert quick.backbone == "resnet18" and quick.epochs == 5


def test_baseline_options_are_validated() -> None:
    from core.base.errors import ConfigError

    with pytest.raises(ConfigError, match="dpsh.eta"):
        TrainConfig(method="dpsh", dpsh=__import__("core.config.train_config", fromlist=["DpshOptions"])
                    .DpshOptions(eta=-1.0))
    with pytest.raises(ConfigError, match="must be one of"):
        TrainConfig.from_dict({"method": "hashnet", "hashnet": {"loss": "both"}})
    with pytest.raises(ConfigError, match="fish"):
        TrainConfig.from_dict({"method": "fish", "fish": {"hide_low": 1.5}})
    cfg = TrainConfig(method="hashnet", hashnet=TrainConfig().hashnet.__class__(loss="unweighted"))
    assert TrainConfig.from_json(cfg.to_json()) == cfg


def test_baseline_flag_needs_its_method(capsys) -> None:
    assert main(["train", "--method", "adsh", "--dpsh-eta", "5", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--dpsh-eta" in err and "--method dpsh" in err


def test_reported_numbers_and_the_flagged_transcription_error() -> None:
    assert reported("dpsh", "cub", 12).value == 8.68 and reported("agmh", "cub", 48).value == 83.69
    hashnet = reported("hashnet", "nabirds", 24)
    assert hashnet.value == 3.29 and hashnet.flagged and "x10" in hashnet.note  # M printed 32.90
    assert not reported("hashnet", "cub", 24).flagged
    assert reported("agmh", "nabirds", 12).value is None  # not reported
    assert reported("fish", "cub", 12) is None and reported("dpsh", "demo", 12) is None
    assert reported("dpsh", "cub", 16) is None  # no such column
    assert set(reported_rows("cub")) >= {"DPSH", "HashNet", "ADSH", "ExchNet", "A²-Net", "SEMICON", "AMGH"}
    assert len(BITS) == 4 and reported("fcaenet", "food101", 24).value == 76.56


def test_dpsh_official_alexnet_option(tmp_path) -> None:
    """dpsh.network = alexnet: torchvision AlexNet fc6/fc7 + Linear(4096 -> bits), weights from a state-dict file."""
    from safetensors.torch import save_file
    from torchvision import models as tvm

    from core.base.errors import ConfigError
    from core.config.train_config import DpshOptions
    from core.models.factory import build_model

    reference = tvm.alexnet(weights=None)
    path = tmp_path / "alexnet.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    cfg = TrainConfig(method="dpsh", weights=str(path), image_size=64, resize_size=73,
                      dpsh=DpshOptions(network="alexnet"))
    net = build_model(cfg, 5).eval()
    assert torch.equal(net.classifier[1].weight, reference.classifier[1].weight)  # fc6 loaded
    assert len(net.classifier) == 6 and net.hash_layer.in_features == 4096  # fc8 replaced by the hash layer
    x = torch.randn(2, 3, 64, 64)
    assert net.encode(x).shape == (2, 12) and net.feature_map(x).shape[1] == 256
    with pytest.raises(ConfigError, match="image_size >= 64"):
        cfg.replace(image_size=32, resize_size=36)


def test_eval_notes_put_the_reported_figure_beside_the_runs() -> None:
    from core.retrieval.provenance import database_kind, notes_table

    cub = dict(dataset_kind="cub", dataset_root="/x", bits=24)
    text = notes_table([TrainConfig(method="hashnet", **cub), TrainConfig(method="hashnet", **cub),
                        TrainConfig(method="hashnet", dataset_kind="nabirds", dataset_root="/x", bits=24)],
                       [0.2, 0.21, None])
    assert "hashnet on cub, 24 bits: HashNet, database = network codes (symmetric" in text
    assert "17.77 (FCAENet (Zhao et al. 2022) Table 1 and Multi-FusNet (Cui et al. 2024) Table 3); these runs " \
           "20.00, 21.00" in text
    nabirds = text.splitlines()[-1]
    assert "3.29" in nabirds and "x10" in nabirds and "FLAGGED" in nabirds and "this run -" in nabirds
    assert (database_kind("dpsh"), database_kind("fish"), database_kind("fcaenet")) == (
        "symmetric", "asymmetric", "asymmetric")
