"""One cell in a process of its own: `python -m core.studies.cell STUDY_FOLDER CELL_KEY`.

What `local --max-parallel N` starts per cell, what a submitit job calls (run_cell), and, with
gpus_per_task > 1, what `torchrun --nproc_per_node G` runs on the node: rank 0 trains the cell, the other
ranks follow it (core.runtime.distributed, as `fghash train` under torchrun). The grid is read from the
study folder's copy of the file, so a job runs the cell it was submitted for even if the file changed since.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.base.errors import FghashError, RunError
from core.config.study_file import load_study
from core.runtime import distributed
from core.studies.grid import expand
from core.studies.runner import drain_cell


def find_cell(study_folder: str | Path, key: str):
    """(study id, the Cell with this key) from the folder's study.toml."""
    spec = load_study(Path(study_folder) / "study.toml")
    for cell in expand(spec):
        if cell.key == key:
            return spec.study_id, cell
    raise RunError(f"study {spec.study_id} has no cell {key!r} (its file changed since the job was submitted)")


def run_cell(study_folder: str, key: str) -> str:
    """Train one cell to its end in this process; returns its final state and run id ("finished RUN")."""
    study_id, cell = find_cell(study_folder, key)
    rank = distributed.setup(cell.config.device)
    if not rank.active:
        return _describe(drain_cell(study_id, cell))
    try:
        if rank.is_main:
            result = _describe(drain_cell(study_id, cell))
            distributed.finish_followers()
        else:
            distributed.follow()
            result = f"followed as {rank.label()}"
        return result
    finally:
        distributed.teardown()


def _describe(finished) -> str:
    return "finished (nothing to train)" if finished is None else f"{finished.status} {finished.run_id}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m core.studies.cell STUDY_FOLDER CELL_KEY", file=sys.stderr)
        return 2
    try:
        print(run_cell(*args), flush=True)
    except FghashError as exc:
        print(f"fghash: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the run is recorded as interrupted by the driver; a rerun resumes it
        print("fghash: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
