"""Reading MATLAB .mat metadata (Oxford Flowers, Stanford Dogs) with readable errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import DatasetError


def load_mat(path: Path, kind: str, layout: str) -> dict[str, Any]:
    """scipy.io.loadmat(path) -> {variable: array}; DatasetError naming the file when it cannot be read."""
    import scipy.io

    try:
        return scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise DatasetError(f"{kind}: {path} is a MATLAB v7.3 (HDF5) file; save it with -v7 or older. "
                           f"Expected layout: {layout}") from None
    except Exception as exc:  # noqa: BLE001 - scipy raises MatReadError, ValueError, TypeError... on damaged files
        raise DatasetError(f"{kind}: cannot read {path} as a MATLAB .mat file ({exc}). "
                           f"Expected layout: {layout}") from None
