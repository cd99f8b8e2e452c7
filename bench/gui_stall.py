"""How long the GUI thread stalls while the demo trains (issue 28: no visible stall; not a timed test).

    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 python bench/gui_stall.py
    xvfb-run -s "-screen 0 1400x900x24" python bench/gui_stall.py          # on a (virtual) X display

The real main window (1400 x 900) runs a 10 ms timer on its GUI thread and records the time between two of
its ticks: every millisecond beyond 10 is a millisecond the window could not repaint or answer. The phases,
in one run, one after the other:

* reference: the Train tab, no training (what the event loop, the garbage collector and the timer cost);
* train: the demo's config (`fghash demo`: ResNet-18 from scratch on the demo set, 64 px) training in the
  child process, the Train tab's curves visible and redrawn as its events arrive;
* browse: the same training going on, the Browse tab visible (the curves are not on screen);
* long history (--history N): the Train tab again after N more loss/learning-rate points were fed through
  the panel's own event handler, as a run of N steps would have drawn: what the curves cost when long.

Each phase is measured after --settle seconds (a tab's first paint after a switch is a one-off latency, not
a stall) and prints the largest and the 99th-percentile gap between ticks, in ms (10 = no stall), the number
of loss points on the curve, the CPU time the GUI thread and the process spent in the worst gap (a long gap
with little CPU of ours is the machine's other load: the OS ran something else), the largest GUI-thread
CPU time in any gap (the stall our own work causes), and the time spent in curve redraws, event handling
and garbage collections. The demo's training goes on in the child process and is cancelled at the
end. FGHASH_HOME is a temporary folder unless set.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, when run as a script

TICK_MS = 10
WIDTH, HEIGHT = 1400, 900


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


class StallMeter:
    """A 10 ms precise timer on the GUI thread. For each gap between two ticks it records the wall time and
    the CPU time the GUI thread and the whole process spent meanwhile: a long gap with little process CPU
    is the machine's other load (the OS ran something else), one with the GUI thread's CPU is our work, one
    with the process's CPU but not the GUI thread's is another thread of ours holding the GIL."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[tuple[float, float, float]] = []  # (wall, GUI-thread CPU, process CPU) in ms
        self._last: tuple[float, float, float] | None = None
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = (time.perf_counter(), time.thread_time(), time.process_time())
        if self._last is not None:
            self.gaps.append(tuple(1000 * (a - b) for a, b in zip(now, self._last)))
        self._last = now

    def measure(self, app, seconds: float) -> list[tuple[float, float, float]]:
        """Run the event loop for `seconds` and return the gaps seen meanwhile."""
        self.gaps, self._last = [], None
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.0005)  # not a busy loop: the timer's own precision is what is measured
        return list(self.gaps)


class Spans:
    """Wall time spent in named GUI-thread functions and in garbage collections during a phase."""

    def __init__(self) -> None:
        import gc

        self.totals: dict[str, list[float]] = {}
        self._gc_start = 0.0
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.totals.setdefault(f"gc gen {info['generation']}", []).append(
                1000 * (time.perf_counter() - self._gc_start))

    def wrap(self, owner, name: str, label: str) -> None:
        real = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.totals.setdefault(label, []).append(1000 * (time.perf_counter() - start))

        setattr(owner, name, timed)

    def report(self) -> str:
        parts = [f"{label} {len(v)}x max {max(v):.1f} ms" for label, v in sorted(self.totals.items())]
        self.totals = {}
        return "; ".join(parts)


def run_events(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def history_events(steps: int, start: int) -> list:
    """`steps` BatchEnd events continuing a run at step `start`: a noisy falling loss, a step-decayed lr."""
    import math
    import random

    from core.base.events import BatchEnd

    rng = random.Random(0)
    return [BatchEnd(epoch=1 + s // 50, batch=1 + s % 50, batches_in_epoch=50, step=s,
                     loss=2.0 * math.exp(-s / 4000) + 0.3 * rng.random(), lr=0.005 * 0.1 ** (s // 8000))
            for s in range(start, start + steps)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase (default 20)")
    parser.add_argument("--epochs", type=int, default=200, help="the demo run's epochs (it is cancelled anyway)")
    parser.add_argument("--history", type=int, default=20_000,
                        help="points fed to the curves for the last phase (0: skip it; default 20000)")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds of event loop before each phase is measured (default 1)")
    parser.add_argument("--in-process", action="store_true", help="train on a thread (`--train-in-process`)")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
    home = os.environ.get("FGHASH_HOME") or tempfile.mkdtemp(prefix="fghash-stall-")
    os.environ["FGHASH_HOME"] = home

    from fghash_gui.app import create_app

    app = create_app()
    from core.cli.demo import demo_config
    from fghash_gui import gui_gc
    from fghash_gui.main_window import MainWindow

    gui_gc.install()
    window = MainWindow(train_in_process=args.in_process)
    window.confirm_stop_training = lambda: True
    window.resize(WIDTH, HEIGHT)
    window.show()
    meter = StallMeter()
    panel = window.training
    print(f"platform {app.platformName()}, window {window.width()} x {window.height()}, tick {TICK_MS} ms, "
          f"{args.seconds:g} s a phase, FGHASH_HOME {home}")
    rows = []

    spans = Spans()
    spans.wrap(panel, "_redraw", "curve redraw")
    spans.wrap(panel, "_on_events", "training events")

    def phase(name: str) -> None:
        run_events(app, args.settle)  # the tab's first paint after a switch is a latency, not a stall
        spans.report()
        gaps = meter.measure(app, args.seconds)
        walls = [g[0] for g in gaps]
        worst = max(gaps)
        rows.append((name, worst[0], percentile(walls, 99), len(gaps), len(panel.loss_steps)))
        print(f"{name:<32} max {worst[0]:6.1f} ms   p99 {rows[-1][2]:5.1f} ms   ({len(gaps)} ticks, "
              f"{len(panel.loss_steps)} loss points); the worst gap: GUI thread CPU {worst[1]:.1f} ms, process CPU "
              f"{worst[2]:.1f} ms; largest GUI-thread CPU in a gap {max(g[1] for g in gaps):.1f} ms", flush=True)
        print(f"{'':<32} {spans.report()}", flush=True)

    run_events(app, 2.0)  # start-up: first paints, the run list's load
    window.tabs.setCurrentWidget(panel)
    phase("reference (idle, Train)")

    cfg = demo_config("fcaenet", 12, args.epochs, 64, "none", "cpu")
    panel.start_config(cfg)
    started = time.perf_counter()
    while not panel.loss_steps and time.perf_counter() - started < 600:
        run_events(app, 0.1)  # the child starts, builds the demo set, trains its first batch
    if not panel.loss_steps:
        print("the demo's first batch did not arrive within 10 minutes")
        return 1
    print(f"first batch after {time.perf_counter() - started:.1f} s")
    phase("training, Train tab")
    window.tabs.setCurrentWidget(window.browse)
    phase("training, Browse tab")
    if args.history:
        window.tabs.setCurrentWidget(panel)
        step = int(panel.loss_steps[-1]) + 1 if panel.loss_steps else 1
        panel._on_events(history_events(args.history, step))  # the panel's own handler, as a long run would
        phase(f"training, Train, +{args.history} points")

    panel.stop_and_wait()
    window.close()
    ref = rows[0]
    print("\nphase                            max (ms)  p99 (ms)  max / reference max")
    for name, worst, p99, _ticks, _points in rows:
        print(f"{name:<32} {worst:8.1f}  {p99:8.1f}  {worst / ref[1]:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
