"""ADSH math: label-trick similarity equals the dense matrix, the DCC sweep never increases J,
the loss matches a dense computation, and FCAENet positives/ablation switches behave."""

from __future__ import annotations

import threading

import pytest
import torch

from core.config.train_config import AdshOptions, FcaeOptions, TrainConfig
from core.search.codes import to_pm1
from core.training.methods.asymmetric import SampledSimilarity, adsh_loss, adsh_objective, dcc_update


def _problem(seed: int, n: int = 60, m: int = 20, k: int = 12, classes: int = 5):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=g)
    omega = torch.randperm(n, generator=g)[:m]
    u = torch.tanh(torch.randn(m, k, generator=g, dtype=torch.float64) * 2)
    v = to_pm1(torch.randn(n, k, generator=g, dtype=torch.float64))
    return labels, omega, u, v


def test_soft_similarity_matches_dense_definition():
    labels, omega, u, _ = _problem(0)
    sim = SampledSimilarity.build(omega, labels)
    s01 = (labels[omega][:, None] == labels[None, :]).double()
    r = float(s01.sum() / (1 - s01).sum())
    assert sim.r == pytest.approx(r, rel=1e-12)
    dense = s01 * (1 + r) - r
    assert torch.allclose(sim.dense_soft().double(), dense)
    assert torch.allclose(sim.soft_t_times(u), dense.t() @ u, atol=1e-10)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("gamma", [0.0, 200.0])
def test_dcc_sweep_never_increases_objective(seed, gamma):
    labels, omega, u, v = _problem(seed)
    sim = SampledSimilarity.build(omega, labels)
    before = adsh_objective(u, v, sim, gamma)
    new_v = dcc_update(v, u, sim, gamma)
    after = adsh_objective(u, new_v, sim, gamma)
    assert set(new_v.unique().tolist()) <= {-1.0, 1.0}  # sign(0) never leaves a 0 bit
    assert after <= before + 1e-9 * abs(before)
    # a second sweep from the new V cannot go up either (coordinate descent)
    assert adsh_objective(u, dcc_update(new_v, u, sim, gamma), sim, gamma) <= after + 1e-9 * abs(after)


def test_dcc_from_zero_init_and_each_column_is_optimal():
    labels, omega, u, _ = _problem(7)
    sim = SampledSimilarity.build(omega, labels)
    v = dcc_update(torch.zeros(60, 12, dtype=torch.float64), u, sim, 200.0)
    j = adsh_objective(u, v, sim, 200.0)
    # flipping any single bit of the last-updated column cannot lower J (exact minimiser given the rest)
    for i in range(0, 60, 7):
        flipped = v.clone()
        flipped[i, -1] *= -1
        assert adsh_objective(u, flipped, sim, 200.0) >= j - 1e-9


def test_to_pm1_maps_zero_to_plus_one():
    assert to_pm1(torch.tensor([-0.5, 0.0, 2.0])).tolist() == [-1.0, 1.0, 1.0]


def test_batch_loss_matches_dense_and_normalisations():
    labels, omega, u, v = _problem(3)
    sim = SampledSimilarity.build(omega, labels)
    batch = torch.arange(8)
    ub = u[batch].float()
    vb = v.float()
    dense = sim.dense_soft()[batch]
    k, n = 12, 60
    square = float(((ub @ vb.t() - k * dense) ** 2).sum())
    quant = float(200 * ((vb[omega[batch]] - ub) ** 2).sum())
    loss_j, _ = adsh_loss(ub, labels[omega[batch]], omega[batch], vb, sim, 200.0, "jiangqy")
    loss_s, terms = adsh_loss(ub, labels[omega[batch]], omega[batch], vb, sim, 200.0, "semicon")
    assert float(loss_j) == pytest.approx((square + quant) / (n * 8), rel=1e-5)
    assert float(loss_s) == pytest.approx((square + quant) / (n * 8) * 12 / k, rel=1e-5)
    assert float(terms["adsh_square"] + terms["adsh_quant"]) == pytest.approx(float(loss_s), rel=1e-5)


def test_single_class_similarity_is_defined():
    sim = SampledSimilarity.build(torch.tensor([0, 1]), torch.zeros(4, dtype=torch.long))
    assert sim.r == 0.0


def _tiny_cfg(method: str, **fcae) -> TrainConfig:
    return TrainConfig(method=method, backbone="resnet18", weights="none", image_size=32, resize_size=36,
                       bits=12, batch_size=8, epochs=1, device="cpu", seed=3,
                       adsh=AdshOptions(num_samples=16, inner_epochs=1), fcae=FcaeOptions(**fcae))


@pytest.mark.parametrize("switches", [dict(use_srem=False, use_esrl=False), dict(use_srem=True, use_esrl=False),
                                      dict(use_srem=False, use_esrl=True), dict(use_srem=True, use_esrl=True, srem_size=8)])
def test_fcaenet_ablation_switches_and_positives(switches):
    from core.data.registry import load_dataset
    from core.training.methods.registry import make_method

    torch.manual_seed(0)
    dataset = load_dataset("demo")
    method = make_method(_tiny_cfg("fcaenet", **switches), dataset, torch.device("cpu"))
    g = torch.Generator().manual_seed(1)
    anchors = torch.arange(0, 240, 7)
    pos = method.positives(anchors, g)
    assert torch.equal(method.db_labels[pos], method.db_labels[anchors]) and not torch.any(pos == anchors)
    events = list(method.train_epoch(1, threading.Event()))
    terms = [e.loss_terms for e in events if hasattr(e, "loss_terms")]
    assert len(terms) == 2  # 16 samples / batch 8, one inner epoch
    assert ("esrl_era" in terms[0]) == switches["use_srem"]
    assert ("esrl_pos" in terms[0]) == switches["use_esrl"]
    assert set(method.database_codes().unique().tolist()) <= {-1.0, 1.0}


@pytest.mark.parametrize("normalisation", ["m_k", "batch_k", "quant"])
def test_esrl_normalisations_and_terms_sum_to_the_loss(normalisation):
    """esrl_scale per option; "quant" pulls u toward u+ exactly as hard, per unit difference, as the
    quantisation term pulls u toward v; the weighted terms add up to the loss that is stepped on."""
    from core.data.registry import load_dataset
    from core.training.methods.asymmetric import adsh_scale
    from core.training.methods.registry import make_method

    torch.manual_seed(0)
    cfg = _tiny_cfg("fcaenet", esrl_normalization=normalisation, alpha=2.0, srem_size=8)
    method = make_method(cfg, load_dataset("demo"), torch.device("cpu"))
    n, m, k, b = method.n, method.m, cfg.bits, cfg.batch_size
    quant_scale = cfg.adsh.gamma * adsh_scale(n, b, k, cfg.adsh.loss_normalization)
    assert quant_scale == pytest.approx(200.0 / (n * b) * 12 / k)
    expected = {"m_k": 1 / (m * k), "batch_k": 1 / (b * k), "quant": quant_scale}[normalisation]
    assert method.esrl_scale(b) == pytest.approx(expected)

    g = torch.Generator().manual_seed(1)
    omega = torch.randperm(n, generator=g)[:m]
    sim = SampledSimilarity.build(omega, method.db_labels)
    batch = next(iter(method._loader(method._batches(omega, g, 1), 1)))
    outputs, terms = method.loss_terms(batch, sim)
    assert set(terms) == {"adsh_square", "adsh_quant", "esrl_pos", "esrl_era"}
    u = outputs["anchor"]
    diff = (u - outputs["positive"]).detach()
    (grad,) = torch.autograd.grad(terms["esrl_pos"], u, retain_graph=True)
    assert torch.allclose(grad, 2 * cfg.fcae.alpha * expected * diff, atol=1e-7)  # d/du of alpha c |u - u+|^2
    _, loss, detached = method._batch_loss(batch, sim)
    assert loss.item() == pytest.approx(sum(float(t) for t in detached.values()), rel=1e-5)
