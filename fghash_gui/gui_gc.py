"""Python's cyclic garbage collection on the GUI thread only.

Qt objects must be destroyed on the thread they belong to. Python's collector runs in whichever thread
allocates past its threshold, and the app's worker threads (the training runner, the request runner)
allocate a lot: a widget, dialog or plot item left in a reference cycle could then be destroyed on a
worker thread and crash the app. The GUI tests hit exactly that once the training thread started
unpickling events from a child process (segfaults "Garbage-collecting" in a worker thread, about one
GUI session in four). pyqtgraph's GarbageCollector switches automatic collection off and collects on a
GUI-thread timer instead, generation by generation with Python's own thresholds; the app installs it at
start-up and the GUI tests for their whole session.
"""

from __future__ import annotations

import gc

INTERVAL_S = 1.0  # pyqtgraph's default: garbage of one second of work waits at most that long

_collector = None


def install(interval_s: float = INTERVAL_S) -> None:
    """Collect on a timer of the calling thread (the GUI thread, with a QApplication) from now on."""
    global _collector
    if _collector is not None:
        return
    from pyqtgraph.util.garbage_collector import GarbageCollector

    _collector = GarbageCollector(interval=interval_s)


def uninstall() -> None:
    """Automatic collection again, as Python does it (tests restore it for the suites after theirs)."""
    global _collector
    if _collector is None:
        return
    _collector.timer.stop()
    _collector = None
    gc.enable()
    gc.collect()
