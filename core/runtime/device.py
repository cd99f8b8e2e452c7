"""Device selection: CUDA when present (or asked for), else the CPU. No .cuda() literals anywhere."""

from __future__ import annotations

import torch

from core.base.errors import ConfigError, RunError


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


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.OutOfMemoryError, or the RuntimeError older code paths (cuDNN, cuBLAS) raise for it."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def out_of_memory_error(device: torch.device, batch_size: int, image_size: int) -> RunError:
    """Frees what the failed step left in the CUDA cache; the RunError says what to lower."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    or_cpu = ", or --device cpu" if device.type == "cuda" else ""
    return RunError(f"{device} ran out of memory at batch size {batch_size} and image size {image_size}; "
                    f"try a smaller --batch-size (e.g. {max(1, batch_size // 2)}) or --image-size{or_cpu}. "
                    f"The last checkpoint is unchanged; --resume continues from it")
