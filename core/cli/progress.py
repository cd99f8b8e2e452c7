"""The CLI's progress bars: one tqdm bar, made at the first event and cleared when an error ends the job."""

from __future__ import annotations

from typing import Any


class LazyBar:
    """`with LazyBar(desc=...) as bars: bars.get().update(1)`.

    The bar is made on the first `get()`, so an error raised before any progress (a bad option, a missing
    run) stays the only line on stderr; when an exception ends the block, the bar clears its line instead of
    leaving a half-drawn one above the one-line error. Options go to tqdm unchanged.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self.bar = None

    def get(self):
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(**self._options)
        return self.bar

    def __enter__(self) -> LazyBar:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.bar is not None:
            if exc_type is not None:
                self.bar.leave = False
            self.bar.close()
        return False
