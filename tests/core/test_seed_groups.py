"""Seed groups: runs that differ only in their seed, their labels, and mean ± sample std."""

from __future__ import annotations

import statistics

import pytest

from core.config.train_config import FcaeOptions, MultiFusOptions, TrainConfig
from core.config.presets import preset_config
from core.evaluation.seed_groups import MeanStd, group_by_seed, mean_std


def test_mean_std_is_the_sample_std():
    values = [0.41, 0.45, 0.38, 0.50]
    result = mean_std(values)
    assert result.n == 4
    assert result.mean == pytest.approx(statistics.fmean(values), abs=1e-15)
    assert result.std == pytest.approx(statistics.stdev(values), abs=1e-15)  # ddof=1
    assert mean_std([0.3]) == MeanStd(0.3, 0.0, 1)
    assert mean_std(v for v in (1.0, 1.0)) == MeanStd(1.0, 0.0, 2)
    assert MeanStd(0.4321, 0.0123, 3).format(100) == "43.21 ± 1.23 (3)"
    assert MeanStd(0.4321, 0.0, 1).format(100) == "43.21"  # one run: no "± 0.00 (1)"
    with pytest.raises(ValueError):
        mean_std([])


def _cfg(**changes) -> TrainConfig:
    return TrainConfig(backbone="resnet18", weights="none", epochs=2).replace(**changes)


def test_runs_differing_only_in_seed_form_one_group():
    runs = [("r2", _cfg(seed=2)), ("r0", _cfg(seed=0)), ("r1", _cfg(seed=1)),
            ("b24", _cfg(seed=0, bits=24)), ("lr", _cfg(seed=0, lr=0.01))]
    groups = group_by_seed(runs)
    assert [(g.bits, g.run_ids, g.seeds) for g in groups] == [
        (12, ("r0", "r1", "r2"), (0, 1, 2)), (24, ("b24",), (0,)), (12, ("lr",), (0,))]
    # the two 12-bit groups differ in lr only: the label names it, for every bit length of that config
    assert [g.variant for g in groups] == ["ESRL quant [RECON], lr=0.001", "ESRL quant [RECON], lr=0.001",
                                          "ESRL quant [RECON], lr=0.01"]
    assert group_by_seed(list(reversed(runs))) == groups  # order of the input does not matter


def test_variant_names_ablations_and_method_options():
    runs = [("full", _cfg()), ("nosrem", _cfg(fcae=FcaeOptions(use_srem=False))),
            ("noboth", _cfg(fcae=FcaeOptions(use_srem=False, use_esrl=False, alpha=0.5))),
            ("mf", _cfg(method="multifusnet", multifus=MultiFusOptions(use_attention=False, eca_kernel="shared_k3")))]
    labels = {g.run_ids[0]: g.variant for g in group_by_seed(runs)}
    assert labels == {"full": "ESRL quant [RECON]", "nosrem": "no SREM, ESRL quant [RECON]",
                      "noboth": "no SREM, no ESRL, alpha=0.5", "mf": "no attention, eca_kernel=shared_k3"}


def test_esrl_scale_is_named_reconstructed_or_literal():
    """The default ESRL scale is a reconstruction and says so; the literal reading 1/(m k) says it is one."""
    runs = [(name, _cfg(fcae=FcaeOptions(esrl_normalization=name))) for name in ("quant", "m_k", "batch_k")]
    labels = {g.run_ids[0]: g.variant for g in group_by_seed(runs)}
    assert labels == {"quant": "ESRL quant [RECON]", "m_k": "ESRL m_k (Eq. 7-8 literal)",
                      "batch_k": "ESRL batch_k [RECON]"}


def test_fields_only_differing_between_bit_lengths_are_not_in_the_label():
    # the paper preset's schedule is longer at 32 bits; a 12/32-bit sweep is still one row per method
    runs = [(f"{bits}-{seed}", preset_config("paper", "fcaenet", bits).replace(seed=seed))
            for bits in (12, 32) for seed in (0, 1)]
    groups = group_by_seed(runs)
    assert [(g.bits, g.variant, g.seeds) for g in groups] == [(12, "ESRL quant [RECON]", (0, 1)),
                                                              (32, "ESRL quant [RECON]", (0, 1))]


def test_groups_are_unique_by_method_dataset_bits_variant():
    runs = [(f"{i}", _cfg(lr=lr, epochs=epochs, seed=seed))
            for i, (lr, epochs, seed) in enumerate([(1e-3, 2, 0), (1e-3, 3, 0), (1e-2, 2, 0), (1e-2, 2, 1)])]
    groups = group_by_seed(runs)
    keys = [(g.method, g.dataset_kind, g.bits, g.variant) for g in groups]
    assert len(keys) == len(set(keys)) == 3
    assert sum(len(g.run_ids) for g in groups) == 4
