"""Hashing networks.

Every hashing network is an nn.Module with:

* ``encode(x) -> (B, bits)`` real-valued codes (tanh outputs in (-1, 1) for ADSH/FCAENet); the binary
  code is ``sign`` with 0 mapped to +1 (core.encoding.encode.to_pm1).
* ``feature_map(x) -> (B, C, h, w)``: the last conv block's output (CAM, SREM).

x is a normalised image batch (B, 3, H, W). Build one with core.models.factory.build_model(cfg, num_classes);
backbones (with their layer2/3/4 stage outputs) come from core.models.backbones.build_backbone.
"""
