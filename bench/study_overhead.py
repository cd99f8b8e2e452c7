"""The study's own bookkeeping against its cells' training time (issue 26: at most 1 % on the demo study).

Runs a study (default: the shipped `demo`, 8 cells on the demo data at 32 px) in a fresh FGHASH_HOME
through core.engine.run_study with the local executor, and times the engine's training generator of each
cell (core.training.driver.train, wrapped). Bookkeeping is everything else: reading the file, expanding the
grid, the cells' states from the store, the plan, tagging each run (store row + study-cell.json), the
events. It then reruns the finished study (pure bookkeeping: every cell skipped) and times the status
query and the store-only poll the app makes every second while a study runs.

    OMP_NUM_THREADS=1 nice .venv/bin/python bench/study_overhead.py              # the demo study, minutes
    .venv/bin/python bench/study_overhead.py --study resources/studies/demo.toml --home /tmp/h
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL = 0.01  # bookkeeping / training time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", default="demo", help="a study file or shipped study name (default demo)")
    parser.add_argument("--home", default=None, help="FGHASH_HOME to use (default: a new temporary folder)")
    args = parser.parse_args()
    os.environ["FGHASH_HOME"] = args.home or tempfile.mkdtemp(prefix="fghash-study-bench-")

    import core.studies.runner as runner
    from core import engine

    trained = []  # seconds inside the engine's training generator, per cell
    real_train = runner.train

    def timed_train(*a, **k):
        start = time.perf_counter()
        try:
            return (yield from real_train(*a, **k))
        finally:
            trained.append(time.perf_counter() - start)

    runner.train = timed_train
    path = Path(args.study) if Path(args.study).is_file() else engine.example_study(args.study)
    start = time.perf_counter()
    ended = [e for e in _drain(engine.run_study(path)) if isinstance(e, engine.CellEnded)]
    total = time.perf_counter() - start
    training = sum(trained)
    overhead = total - training
    start = time.perf_counter()
    _drain(engine.run_study(path))
    rerun = time.perf_counter() - start
    spec, states = engine.study_status(path)
    start = time.perf_counter()
    for _ in range(10):
        engine.study_status(path)
    status = (time.perf_counter() - start) / 10
    cells = [s.cell for s in states]
    start = time.perf_counter()
    for _ in range(10):
        engine.cell_states(spec, cells)
    poll = (time.perf_counter() - start) / 10

    print(f"study {spec.study_id}: {len(ended)} cells trained ({sum(e.state == 'finished' for e in ended)} finished) "
          f"in {total:.1f} s; FGHASH_HOME {os.environ['FGHASH_HOME']}")
    print(f"training generators      {training:9.2f} s")
    print(f"study bookkeeping        {overhead:9.3f} s  = {100 * overhead / training:.3f} % of training "
          f"(goal <= {100 * GOAL:.0f} %: {'yes' if overhead <= GOAL * training else 'NO'})")
    print(f"rerun, all {len(states)} cells finished  {rerun:6.3f} s (reads the file, the grid and the store; trains none)")
    print(f"study status (file + grid + store) {1000 * status:6.1f} ms, the app's 1/s poll (store only) "
          f"{1000 * poll:5.1f} ms, for {len(states)} cells")
    return 0 if overhead <= GOAL * training else 1


def _drain(gen):
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration:
            return events


if __name__ == "__main__":
    sys.exit(main())
