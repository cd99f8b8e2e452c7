"""Timing helper shared by the benchmarks (run as `python bench/<name>.py`, so bench/ is on sys.path)."""

from __future__ import annotations

import time


def best_of(repeat: int, fn, sync=None):
    """(shortest wall time of `repeat` calls in seconds, the last call's result): a shared machine is noisy.
    sync: called after each call before the clock stops (torch.cuda.synchronize for GPU work)."""
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - start)
    return best, result
