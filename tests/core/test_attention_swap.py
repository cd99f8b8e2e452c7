"""Multi-FusNet's attention swap (docs/baselines.md section 9): the modules' parameter counts at C = 512/1024/2048
equal the spec's table, every module keeps the shape, zero weights give the spec's X/2 and X/4, and the
network builds one instance per level."""

from __future__ import annotations

import pytest
import torch

from core.config.train_config import MultiFusOptions
from core.models.attention import ATTENTION_KINDS, build_attention
from core.models.multifusnet import build_multifusnet

SPEC_COUNTS = {  # docs/baselines.md section 9 table; ECA's row is its kernel size = its parameter count
    "eca": (5, 5, 7),
    "se": (33_312, 132_160, 526_464),
    "cbam": (33_412, 132_260, 526_564),
    "ca": (25_648, 100_448, 397_504),
    "psa": (1_734_792, 6_938_896, 27_755_040),
}


@pytest.mark.parametrize("kind", sorted(SPEC_COUNTS))
def test_parameter_counts_match_the_spec(kind: str) -> None:
    counts = tuple(sum(p.numel() for p in build_attention(kind, c).parameters()) for c in (512, 1024, 2048))
    assert counts == SPEC_COUNTS[kind]


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_every_module_preserves_shape(kind: str) -> None:
    x = torch.randn(2, 128, 5, 6)
    assert build_attention(kind, 128)(x).shape == x.shape


@pytest.mark.parametrize("kind, factor", [("eca", 0.5), ("se", 0.5), ("cbam", 0.25), ("ca", 0.25)])
def test_zero_weights_halve_or_quarter(kind: str, factor: float) -> None:
    """sigma(0) = 1/2 per gate; in CBAM the zeroed BN outputs 0."""
    module = build_attention(kind, 64)
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
    x = torch.randn(2, 64, 4, 4)
    for mode in (module.train, module.eval):
        mode()
        assert torch.allclose(module(x), factor * x, atol=1e-6)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown attention module"):
        build_attention("gam", 64)


@pytest.mark.parametrize("kind", ["se", "psa-polarized"])
def test_multifusnet_builds_one_instance_per_level(kind: str) -> None:
    opts = MultiFusOptions(fusion_attention=kind, cascade_mid_channels=8, cascade_out_channels=16,
                           attention_heads=2, attention_mlp_dim=16)
    net = build_multifusnet("resnet18", "none", 12, 5, opts).eval()
    assert len(net.eca) == 3 and len({id(m) for m in net.eca}) == 3
    assert [type(m).__name__ for m in net.eca] == [type(build_attention(kind, 8)).__name__] * 3
    out = net(torch.randn(2, 3, 32, 32))
    assert out.hash.shape == (2, 12)
    levels = net.level_maps(torch.randn(1, 3, 32, 32))
    assert all(torch.allclose(lv.fused, lv.original + lv.eca) for lv in levels)  # F = X + A(X)


def test_level_maps_name_the_swapped_attention() -> None:
    from core.explain.levels import level_heatmaps

    opts = MultiFusOptions(fusion_attention="cbam", cascade_mid_channels=8, cascade_out_channels=16,
                           attention_heads=2, attention_mlp_dim=16)
    net = build_multifusnet("resnet18", "none", 12, 5, opts).eval()
    names = [name for name, _ in level_heatmaps(net, torch.randn(1, 3, 32, 32))]
    assert names == [f"X{i}/{b}" for i in (1, 2, 3) for b in ("original", "cbam", "fused")]


def test_cbam_as_in_muiltnet_shares_one_spatial_gate_in_line() -> None:
    opts = MultiFusOptions(fusion_attention="cbam-muiltnet", cascade_mid_channels=8, cascade_out_channels=16,
                           attention_heads=2, attention_mlp_dim=16)
    net = build_multifusnet("resnet18", "none", 12, 5, opts).eval()
    spatial = [n for n, _ in net.named_modules() if n.endswith("shared_spatial")]
    assert spatial == ["shared_spatial"] and len(net.eca) == 3  # one spatial gate, a channel gate per level
    state = net.state_dict()
    assert len({t.data_ptr() for t in state.values() if t.numel()}) == len([t for t in state.values() if t.numel()])
    channels = [m.mlp[0].in_channels for m in net.eca]
    assert [m.mlp[0].out_channels for m in net.eca] == [c // 8 for c in channels]  # r = 8, no bias
    assert all(m.mlp[0].bias is None for m in net.eca)
    levels = net.level_maps(torch.randn(1, 3, 32, 32))
    assert all(torch.equal(lv.fused, lv.eca) for lv in levels)  # F = A(X), no residual sum
    assert net(torch.randn(2, 3, 32, 32)).hash.shape == (2, 12)
