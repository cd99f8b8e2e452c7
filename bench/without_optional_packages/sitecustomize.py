"""Used by `bench/gpu_check.sh --cpu-dry-run` only: makes this machine look like the GPU machine, whose image
has no faiss, platformdirs, grad-cam or Qt. Importing any of them raises ImportError, so the dry run proves
that the check's code path does not need them."""

import importlib.abc
import sys

_ABSENT = {"faiss", "platformdirs", "pytorch_grad_cam", "PySide6", "shiboken6", "pyqtgraph", "superqt"}


class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _ABSENT:
            raise ImportError(f"{name} is absent on the GPU machine (bench/without_optional_packages)")
        return None


sys.meta_path.insert(0, _Absent())
