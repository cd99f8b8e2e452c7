"""core.models.backbones.stage_side: the feature-map side the Explain tab reports equals a real forward's."""

from __future__ import annotations

import pytest
import torch

from core.models.backbones import STAGES, build_backbone, stage_side


@pytest.mark.parametrize("size", [32, 64, 96, 100, 224])
def test_stage_side_matches_a_forward(size):
    backbone = build_backbone("resnet18", "none").eval()
    with torch.no_grad():
        x = backbone.maxpool(backbone.relu(backbone.bn1(backbone.conv1(torch.zeros(1, 3, size, size)))))
        outputs = {"layer1": backbone.layer1(x)}
        outputs["layer2"] = backbone.layer2(outputs["layer1"])
        outputs["layer3"] = backbone.layer3(outputs["layer2"])
        outputs["layer4"] = backbone.layer4(outputs["layer3"])
    for stage in STAGES:
        assert tuple(outputs[stage].shape[-2:]) == (stage_side(size, stage),) * 2, (size, stage)
    assert (stage_side(224), stage_side(64), stage_side(32)) == (7, 2, 1)
    with pytest.raises(ValueError, match="stage must be"):
        stage_side(64, "layer5")
