"""How methods and variants are named and coloured in every figure, table, CLI listing and the app.

Method names as the papers write them (FCAENet, ADSH, Multi-FusNet), one colour per method (the same in
matplotlib figures and the GUI's pyqtgraph curves: both read METHOD_COLORS through core.engine), and
variant labels for people instead of raw config fields: core.evaluation.seed_groups names a variant by its
fields ("num_samples=300, inner_epochs=1, srem_size=9"); `variant_label` reads "m = 300, 1 inner epoch,
SREM s = 9 px".
"""

from __future__ import annotations

import re

METHOD_NAMES = {"adsh": "ADSH", "fcaenet": "FCAENet", "multifusnet": "Multi-FusNet"}
# Colour-blind-safe (Okabe-Ito) hues, one per method; further series (variants of one method) take the
# method's hue with another marker and line style, never another method's colour.
METHOD_COLORS = {"fcaenet": "#0072B2", "adsh": "#E69F00", "multifusnet": "#009E73"}
OTHER_COLORS = ("#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
CHANCE_COLOR = "#666666"  # dashed chance lines
LINE_STYLES = ("-", "--", "-.", ":")

# config field (as seed_groups writes it) -> (label, unit or formatter); unknown fields keep "name=value".
_FIELD_LABELS = {
    "num_samples": "m = {}", "inner_epochs": "{} inner epoch(s)", "gamma": "γ = {}",
    "loss_normalization": "{} normalisation", "srem_size": "SREM s = {} px", "srem_regions": "SREM N = {}",
    "alpha": "α = {}", "beta": "β = {}", "erase_target": "erased to {}", "esrl_normalization": "ESRL scale {}",
    "lr": "lr {}", "epochs": "{} iterations", "batch_size": "batch {}", "image_size": "{} px",
    "backbone": "{}", "weights": "{} weights", "lr_milestones": "lr steps at {}", "validation": "{} validation",
}


def method_name(method: str) -> str:
    """The paper's spelling of a method id ('fcaenet' -> 'FCAENet'); unknown ids unchanged."""
    return METHOD_NAMES.get(method, method)


def method_color(method: str, index: int = 0) -> str:
    """The method's colour as '#rrggbb'; an unknown method takes OTHER_COLORS[index] (cycling)."""
    return METHOD_COLORS.get(method) or OTHER_COLORS[index % len(OTHER_COLORS)]


def variant_label(variant: str) -> str:
    """A seed group's variant ('num_samples=300, inner_epochs=1, srem_size=9', 'no SREM') for people
    ('m = 300, 1 inner epoch(s), SREM s = 9 px', 'no SREM'). Parts without a known field stay as they are."""
    if not variant:
        return ""
    parts = []
    for part in _split_parts(variant):
        match = re.fullmatch(r"(?:[a-z_]+\.)?([a-z_]+)=(.*)", part.strip())
        if match and match.group(1) in _FIELD_LABELS:
            value = match.group(2)
            if match.group(1) == "inner_epochs" and value == "1":
                parts.append("1 inner epoch")
                continue
            parts.append(_FIELD_LABELS[match.group(1)].format(value).replace("(s)", "s"))
        else:
            parts.append(part.strip())
    return ", ".join(parts)


def series_label(method: str, variant: str = "", dataset: str = "", bits: int | None = None) -> str:
    """'FCAENet (m = 300) cub 12 bits': the method's paper name, the readable variant in brackets, then the
    dataset and code length where given."""
    text = method_name(method)
    readable = variant_label(variant)
    if readable:
        text += f" ({readable})"
    if dataset:
        text += f" {dataset}"
    if bits is not None:
        text += f" {bits} bits"
    return text


def _split_parts(variant: str) -> list[str]:
    """Split on the ', ' between parts, not on the commas inside a tuple value ('lr_milestones=20,30')."""
    return [p for p in re.split(r",\s+", variant) if p]
