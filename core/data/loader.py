"""Iterate a DataLoader so that its worker processes stop as soon as the loop ends, however it ends.

A DataLoader iterator normally stops its workers when it is garbage collected. When a worker raised
(e.g. ImageDecodeError: no image of a class decodes), the iterator sits in a reference cycle of the
re-raised exception's traceback, so it is only collected by a later gc pass, after the queues it would
use to tell the workers to stop were finalised: each worker then costs a 5 s join timeout, and the
pause lands wherever gc happens to run (the CLI's exit, the GUI thread). Shutting the workers down in a
`finally` while the loop unwinds avoids that.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def loader_batches(loader: Iterable[T]) -> Iterator[T]:
    """The loader's batches; on exhaustion, an exception or close() its workers (if any) are stopped."""
    iterator = iter(loader)
    try:
        yield from iterator
    finally:
        # _shutdown_workers is what the iterator's own __del__ calls; single-process iterators lack it.
        shutdown = getattr(iterator, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
