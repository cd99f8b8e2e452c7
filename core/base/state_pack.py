"""Pack nested state (optimizer/scheduler state_dicts, RNG states) into a flat {name: tensor} dict.

safetensors stores only tensors, so the non-tensor skeleton (dict keys with their types, ints, floats,
bools, None, strings, tuples) is written as JSON into a uint8 tensor next to the tensors it refers to.
Python floats survive JSON exactly (repr round-trip), so resuming is bit-exact.
"""

from __future__ import annotations

import json
from typing import Any

import torch

SKELETON = "__skeleton__"  # key suffix of the JSON skeleton tensor of one packed state


def pack_state(prefix: str, obj: Any) -> dict[str, torch.Tensor]:
    """Flatten obj into {f"{prefix}.{i}": tensor, f"{prefix}.__skeleton__": uint8 JSON}."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(o: Any) -> Any:
        if isinstance(o, torch.Tensor):
            key = f"{prefix}.{len(tensors)}"
            tensors[key] = o.detach().cpu().contiguous().clone()
            return {"t": key}
        if isinstance(o, dict):
            return {"d": [[walk(k), walk(v)] for k, v in o.items()]}
        if isinstance(o, tuple):
            return {"tu": [walk(v) for v in o]}
        if isinstance(o, list):
            return {"l": [walk(v) for v in o]}
        if o is None or isinstance(o, (bool, int, float, str)):
            return {"v": o}
        raise TypeError(f"cannot pack {type(o).__name__} into a checkpoint")

    skeleton = walk(obj)
    tensors[f"{prefix}.{SKELETON}"] = torch.frombuffer(
        bytearray(json.dumps(skeleton).encode("utf-8")), dtype=torch.uint8
    ).clone()
    return tensors


def unpack_state(prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of pack_state. KeyError if the prefix is absent."""
    skeleton = json.loads(bytes(tensors[f"{prefix}.{SKELETON}"].tolist()).decode("utf-8"))

    def build(node: dict) -> Any:
        (tag, value), = node.items()
        if tag == "t":
            return tensors[value]
        if tag == "d":
            return {build(k): build(v) for k, v in value}
        if tag == "tu":
            return tuple(build(v) for v in value)
        if tag == "l":
            return [build(v) for v in value]
        return value

    return build(skeleton)


def select(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The entries under `prefix.` with the prefix removed (e.g. the model weights under "model.")."""
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
