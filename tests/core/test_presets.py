"""core.config.presets: the quick preset sizes its backbone and SREM square for its small images; the CLI uses it."""

from __future__ import annotations

import argparse

from core.cli.train import add_parsers, configs_from_args
from core.config.presets import PRESETS, preset_config, srem_size_for


def test_quick_uses_a_small_backbone_and_a_scaled_srem_square():
    paper, quick = preset_config("paper", "fcaenet", 12), preset_config("quick", "fcaenet", 12)
    assert (paper.backbone, paper.image_size, paper.fcae.srem_size) == ("resnet50", 224, 32)
    assert (quick.backbone, quick.image_size, quick.resize_size) == ("resnet18", 96, 110)
    assert quick.fcae.srem_size == srem_size_for(96) == 14  # 32/224 of the crop, as in the paper
    small = preset_config("quick", "fcaenet", 12, image_size=64)
    assert (small.image_size, small.resize_size, small.fcae.srem_size) == (64, 73, 9)
    assert preset_config("quick", "fcaenet", 12, fcae={"srem_size": 5}).fcae.srem_size == 5


def test_every_preset_follows_an_image_size_override():
    """Issue 23: the paper preset at 64 px kept 32 px SREM squares and a 256 px resize."""
    small = preset_config("paper", "fcaenet", 12, image_size=64)
    assert (small.image_size, small.resize_size, small.fcae.srem_size) == (64, 73, 9)
    kept = preset_config("paper", "fcaenet", 12, image_size=64, resize_size=80, fcae={"srem_size": 20})
    assert (kept.resize_size, kept.fcae.srem_size) == (80, 20)
    mf = preset_config("code", "multifusnet", 12, "cub", dataset_root="/data", image_size=112)
    assert (mf.resize_size, mf.batch_size) == (128, 128)


def test_cli_offers_the_same_presets():
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers())
    train = next(a for a in parser._subparsers._group_actions[0].choices["train"]._actions if a.dest == "preset")
    assert tuple(train.choices) == PRESETS
    (cfg,) = configs_from_args(parser.parse_args(["train", "--preset", "quick", "--image-size", "64"]))
    assert (cfg.backbone, cfg.image_size, cfg.fcae.srem_size) == ("resnet18", 64, 9)
