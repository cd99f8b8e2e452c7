"""Multi-FusNet pieces on the CPU: proxy codes, ECA, network shapes, saliency zoom, losses."""

from __future__ import annotations

import math

import pytest
import torch

from core.config.train_config import MultiFusOptions
from core.models.eca import ECA, eca_kernel_size, fuse
from core.models.multifusnet import build_multifusnet
from core.models.zoom import decide_map, saliency_map, saliency_zoom, sampling_grid
from core.training.methods.proxy_codes import _fish, generate_proxy_codes, procrustes_rotation
from core.training.methods.proxy_losses import balanced_total, multifus_loss, proxy_hash_loss, smoothed_cross_entropy

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# -- proxy codes ------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["fish_correct", "as_in_muiltnet"])
def test_proxy_codes_one_code_per_class(variant: str) -> None:
    labels = torch.arange(20).repeat_interleave(7)[torch.randperm(140, generator=torch.Generator().manual_seed(3))]
    codes = generate_proxy_codes(labels, 20, 16, procrustes=variant, seed=5, targets="distinct")
    assert codes.image_codes.shape == (140, 16)
    assert set(codes.image_codes.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(codes.image_codes, codes.class_codes[labels])  # every image carries its class's code
    assert codes.distinct_class_codes == 20
    # the reported minimum distance is the real one
    c = codes.class_codes
    ham = [(c[i] != c[j]).sum().item() for i in range(20) for j in range(i + 1, 20)]
    assert codes.min_interclass_hamming == min(ham) >= 1
    assert "min inter-class Hamming distance" in codes.summary()


@pytest.mark.parametrize("bits", [12, 24, 48])
@pytest.mark.parametrize("variant", ["fish_correct", "as_in_muiltnet"])
def test_proxy_codes_cub_sized_one_distinct_target_per_class(bits: int, variant: str) -> None:
    """200 classes x ~30 images (CUB's train split): FISH alone leaves images off their class code and, at
    12 bits, classes sharing a code; the final targets are one distinct code per class."""
    labels = torch.arange(200).repeat_interleave(30)[:5994]
    codes = generate_proxy_codes(labels, 200, bits, procrustes=variant, seed=68, targets="distinct")
    assert torch.equal(codes.image_codes, codes.class_codes[labels])
    assert codes.colliding_classes == 0
    assert codes.distinct_class_codes == 200 == torch.unique(codes.class_codes, dim=0).shape[0]
    c = codes.class_codes
    ham = 0.5 * (bits - c @ c.T)
    ham.fill_diagonal_(bits + 1)
    assert codes.min_interclass_hamming == int(ham.min()) >= 1
    if bits == 12:  # what FISH gives here before the repair (seed 68): shared codes, and for
        # fish_correct images off their class's majority code
        assert codes.reassigned_classes >= 1
        assert (codes.fish_images_off_class_code > 0) == (variant == "fish_correct")
    summary = codes.summary()
    assert "200 distinct class codes" in summary and f"{codes.reassigned_classes} classes moved" in summary
    assert "--proxy-codes distinct" in summary


@pytest.mark.parametrize("bits", [12, 48])
def test_proxy_codes_default_is_the_papers_per_image_fish_codes(bits: int) -> None:
    """Default targets: each image's own FISH code, untouched; the collisions are counted and reported."""
    labels = torch.arange(200).repeat_interleave(30)[:5994]
    codes = generate_proxy_codes(labels, 200, bits, seed=68)
    assert codes.targets == "fish" and codes.reassigned_classes == 0
    fish = _fish(labels, 200, bits, 1.0, 1e-4, 15, "fish_correct", torch.Generator().manual_seed(68))
    assert torch.equal(codes.image_codes, fish)
    # class_codes are the majority votes; count the classes sharing one by hand
    present = codes.class_codes
    shared = sum(any(torch.equal(present[c], present[d]) for d in range(200) if d != c) for c in range(200))
    assert codes.colliding_classes == codes.fish_colliding_classes == shared
    off = int((codes.image_codes != codes.class_codes[labels]).any(dim=1).sum())
    assert codes.fish_images_off_class_code == off
    summary = codes.summary()
    assert "per-image FISH targets" in summary and f"{off} images' FISH codes" in summary
    if bits == 12:  # 200 classes in 2^12 codes: FISH leaves some sharing (seed 68), and the log says how many
        assert shared > 0 and f"{shared} of 200 classes collide at 12 bits" in summary
        assert "--proxy-codes distinct gives every class its own code" in summary
    else:
        assert shared == 0 and "collide" not in summary


def test_proxy_codes_bad_targets_option() -> None:
    with pytest.raises(Exception, match="fish, distinct"):
        generate_proxy_codes([0, 1], 2, 8, targets="majority")


def test_proxy_codes_repair_moves_only_classes_that_shared_a_code() -> None:
    labels = torch.arange(200).repeat_interleave(30)[:5994]
    final = generate_proxy_codes(labels, 200, 12, seed=68, targets="distinct")
    assert torch.equal(final.class_codes, generate_proxy_codes(labels, 200, 12, seed=68, targets="distinct").class_codes)
    raw = generate_proxy_codes(labels, 200, 12, seed=68).class_codes  # FISH's majority codes, no repair
    assert final.fish_colliding_classes == generate_proxy_codes(labels, 200, 12, seed=68).colliding_classes
    changed = (final.class_codes != raw).any(dim=1).nonzero().flatten().tolist()
    assert len(changed) == final.reassigned_classes >= 1
    for c in changed:  # each moved class shared its FISH code with a class that kept it
        sharing = [d for d in range(200) if d != c and torch.equal(raw[d], raw[c])]
        assert any(torch.equal(final.class_codes[d], raw[c]) for d in sharing)


def test_proxy_codes_more_classes_than_codes_says_so() -> None:
    labels = torch.arange(20).repeat_interleave(3)
    for targets in ("fish", "distinct"):
        codes = generate_proxy_codes(labels, 20, 4, seed=0, targets=targets)  # 2^4 = 16 codes for 20 classes
        assert codes.distinct_class_codes <= 16 and codes.min_interclass_hamming == 0
        assert "2^4 codes cannot give 20 classes distinct ones" in codes.summary()
        assert f"{codes.colliding_classes} of 20 classes collide at 4 bits" in codes.summary()
        assert codes.colliding_classes >= 20 - 16 + 1
        assert "gives every class its own code" not in codes.summary()


def test_proxy_codes_deterministic_and_seed_dependent() -> None:
    labels = torch.arange(10).repeat(5)
    a = generate_proxy_codes(labels, 10, 12, seed=1)
    b = generate_proxy_codes(labels, 10, 12, seed=1)
    c = generate_proxy_codes(labels, 10, 12, seed=2)
    assert torch.equal(a.image_codes, b.image_codes)
    assert not torch.equal(a.image_codes, c.image_codes)


def test_proxy_codes_absent_class_and_bad_labels() -> None:
    codes = generate_proxy_codes([0, 0, 2, 2], 3, 8, seed=0)
    assert codes.class_present.tolist() == [True, False, True]
    assert codes.class_codes[1].abs().sum() == 0
    with pytest.raises(Exception, match=r"\[0, 3\)"):
        generate_proxy_codes([0, 3], 3, 8)


@pytest.mark.parametrize("variant", ["fish_correct", "as_in_muiltnet"])
def test_procrustes_rotation_is_orthogonal(variant: str) -> None:
    g = torch.Generator().manual_seed(0)
    b = torch.randn(12, 50, generator=g, dtype=torch.float64).sign()
    v = torch.randn(12, 50, generator=g, dtype=torch.float64)
    r = procrustes_rotation(b, v, variant)
    assert torch.allclose(r.T @ r, torch.eye(12, dtype=torch.float64), atol=1e-10)


def test_fish_correct_procrustes_minimises_and_variants_differ() -> None:
    g = torch.Generator().manual_seed(1)
    b = torch.randn(8, 40, generator=g, dtype=torch.float64).sign()
    v = torch.randn(8, 40, generator=g, dtype=torch.float64)
    correct = procrustes_rotation(b, v, "fish_correct")
    quirk = procrustes_rotation(b, v, "as_in_muiltnet")
    err = lambda r: torch.linalg.norm(b - r @ v).item()  # noqa: E731
    assert not torch.allclose(correct, quirk)
    assert err(correct) < err(quirk)
    for _ in range(20):  # no random rotation beats the Procrustes solution
        q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))
        assert err(correct) <= err(q) + 1e-9


# -- ECA and the network --------------------------------------------------------------------------

def test_eca_adaptive_kernel_sizes() -> None:
    assert [eca_kernel_size(c) for c in (512, 1024, 2048)] == [5, 5, 7]


def test_eca_weights_and_fusion() -> None:
    eca = ECA(5)
    x = torch.rand(2, 16, 4, 4)
    w = eca.weights(x)
    assert w.shape == (2, 16) and bool(((w > 0) & (w < 1)).all())
    assert torch.allclose(fuse(x, eca), x * (1 + w[:, :, None, None]))


@pytest.mark.parametrize("size,spatial", [(224, (28, 14, 7)), (336, (42, 21, 11))])
def test_network_shapes_resnet50(size: int, spatial: tuple[int, int, int]) -> None:
    net = build_multifusnet("resnet50", "none", 12, 7).eval()
    assert [e.kernel_size for e in net.eca] == [5, 5, 7]
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        out = net(x)
        levels = net.level_maps(x)
        fmap = net.feature_map(x)
    assert out.hash.shape == (1, 12) and out.logits.shape == (1, 7)
    assert out.top_map.shape == (1, 2048, spatial[2], spatial[2]) and not out.top_map.requires_grad
    assert fmap.shape == out.top_map.shape
    for lv, ch, s in zip(levels, (512, 1024, 2048), spatial):
        assert lv.original.shape == lv.eca.shape == lv.fused.shape == (1, ch, s, s)
        assert torch.allclose(lv.fused, lv.original + lv.eca)
    assert net.feature_dim == 3072


def test_network_ablations_and_shared_eca() -> None:
    x = torch.randn(2, 3, 64, 64)
    only = build_multifusnet("resnet18", "none", 12, 5, MultiFusOptions(
        use_cascade=False, use_fusion=False, use_attention=False)).eval()
    with torch.no_grad():
        levels = only.level_maps(x)
        h = only.encode(x)
    assert len(levels) == 1 and levels[0].eca is None and h.shape == (2, 12)
    assert only.feature_dim == 512 and len(only.eca) == 0
    shared = build_multifusnet("resnet18", "none", 12, 5, MultiFusOptions(eca_kernel="shared_k3"))
    assert len(shared.eca) == 1 and shared.eca[0].kernel_size == 3 and shared.eca_of_level == (0, 0, 0)
    no_attn = build_multifusnet("resnet18", "none", 12, 5, MultiFusOptions(use_attention=False))
    assert isinstance(no_attn.enhance, torch.nn.Identity)
    full = build_multifusnet("resnet18", "none", 12, 5)
    assert len(full.enhance.layers) == 1
    assert full.alpha1.item() == full.alpha2.item() == 1.0


# -- saliency zoom -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0.0, 3.0])
def test_zoom_is_identity_for_flat_map(value: float) -> None:
    images = torch.randn(3, 3, 48, 40)
    top = torch.full((3, 8, 5, 5), value)
    assert decide_map(top).abs().sum() == 0  # no contrast: no salient region
    for seed in range(3):  # every random mode
        out = saliency_zoom(images, top, torch.Generator().manual_seed(seed))
        assert out.shape == images.shape
        assert torch.allclose(out, images, atol=1e-4)


def test_constant_saliency_gives_ramp_grid_and_as_run_differs() -> None:
    grid = sampling_grid(torch.full((1, 31, 31), 0.09), 20, 30)
    assert torch.allclose(grid[0, 0, :, 0], torch.linspace(-1, 1, 30), atol=1e-6)
    assert torch.allclose(grid[0, :, 0, 1], torch.linspace(-1, 1, 20), atol=1e-6)
    images = torch.randn(1, 3, 20, 30)
    as_run = saliency_zoom(images, torch.zeros(1, 4, 3, 3), torch.Generator().manual_seed(0), pixel_centres=False)
    assert not torch.allclose(as_run, images, atol=1e-2)  # the align_corners=False call is not the identity


def test_zoom_magnifies_salient_region_deterministically() -> None:
    top = torch.zeros(2, 8, 7, 7)
    top[:, :, 3, 3] = 5.0  # one salient spot in the centre
    ramp = torch.linspace(0, 1, 64).expand(2, 3, 64, 64).clone()  # pixel value = source column
    out = saliency_zoom(ramp, top, torch.Generator().manual_seed(0))
    assert out.shape == ramp.shape
    centre = ((out[:, 0] > 0.4) & (out[:, 0] < 0.6)).float().mean().item()
    before = ((ramp[:, 0] > 0.4) & (ramp[:, 0] < 0.6)).float().mean().item()
    assert centre > 1.3 * before  # the centre band covers more output pixels
    again = saliency_zoom(ramp, top, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_saliency_modes() -> None:
    d = torch.zeros(31, 31)
    d[5, 5], d[20, 25] = 1.0, 0.5
    g0 = saliency_map(d, 0)
    g2 = saliency_map(d, 2)
    assert math.isclose(g0[5, 5].item(), 0.09 + 1.0 + 0.5 * math.exp(-(15**2 + 20**2) / (2 * (31 * 0.08 * 0.5**0.5) ** 2)),
                        rel_tol=1e-5)
    assert math.isclose(g0[20, 25].item(), 0.09 + 0.5 + math.exp(-(15**2 + 20**2) / (2 * (31 * 0.08) ** 2)), rel_tol=1e-5)
    assert math.isclose(g2[20, 25].item(), 0.09 + math.exp(-(15**2 + 20**2) / (2 * (31 * 0.08) ** 2)), rel_tol=1e-5)
    # mode 1 keeps a peak only when its score beats a uniform draw: the 0.5 peak survives some seeds only
    kept = [saliency_map(d, 1, torch.Generator().manual_seed(s))[20, 25].item() > 0.5 for s in range(20)]
    assert any(kept) and not all(kept)


# -- losses --------------------------------------------------------------------------------------

def test_losses_match_hand_computation() -> None:
    h = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    b = torch.tensor([[1.0, -1.0], [1.0, -1.0]])
    assert math.isclose(proxy_hash_loss(h, b).item(), (0.25 + 0 + 1 + 1) / 4)

    logits = torch.tensor([[2.0, 0.0, 0.0]])
    p = [math.exp(2) / (math.exp(2) + 2), 1 / (math.exp(2) + 2), 1 / (math.exp(2) + 2)]
    expected = -(0.9 * math.log(p[0]) + 0.05 * math.log(p[1]) + 0.05 * math.log(p[2]))
    assert math.isclose(smoothed_cross_entropy(logits, torch.tensor([0])).item(), expected, rel_tol=1e-6)

    a1, a2 = torch.tensor(2.0), torch.tensor(0.5)
    total = balanced_total(torch.tensor(1.0), torch.tensor(3.0), a1, a2)
    assert math.isclose(total.item(), 1 / 4 + 3 / 0.25 + math.log(3) + math.log(1.5), rel_tol=1e-6)

    zoom = torch.tensor([[0.0, 0.0, 2.0]])
    loss = multifus_loss(h[:1], b[:1], logits, zoom, torch.tensor([0]), torch.tensor(1.0), torch.tensor(1.0))
    avg = smoothed_cross_entropy(torch.tensor([[1.0, 0.0, 1.0]]), torch.tensor([0])).item()
    assert math.isclose(loss.cls, avg, rel_tol=1e-6)
    assert math.isclose(loss.total.item(), 0.125 + avg + 2 * math.log(2), rel_tol=1e-6)
