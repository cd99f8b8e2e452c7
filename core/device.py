"""Device selection: CUDA when present (or asked for), else the CPU. No .cuda() literals anywhere."""

from __future__ import annotations

import torch

from core.errors import ConfigError


def select_device(name: str = "auto") -> torch.device:
    """"auto" -> cuda if torch sees a GPU, else cpu; "cuda"/"cuda:N"/"cpu" as asked (ConfigError if absent)."""
    if name in ("auto", "", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {name!r} was requested but torch sees no CUDA GPU "
                f"(torch {torch.__version__}); use --device cpu or auto"
            )
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"device must be auto, cpu or cuda; got {name!r}")


def uses_amp(device: torch.device, amp: bool) -> bool:
    """Mixed precision only on CUDA: CPU autocast (bfloat16) is slower and changes results."""
    return bool(amp) and device.type == "cuda"
