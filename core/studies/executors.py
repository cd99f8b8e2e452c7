"""Running a study's cells: `local` (in this process, or N child processes with one GPU each), `slurm`
(a submitit job array, one cell per task, optionally a torchrun job over G GPUs per task) and
`submitit-local` (the same submitit code path with its local executor: what CI runs without a cluster).

    for event in run_study("study.toml", executor="local"): ...   # CellStarted, training events, CellEnded

No scheduler of our own: cells run one after another, through a thread pool of N child processes, or are
handed to submitit. Which cells run is decided first (plan_study): finished cells are skipped, stopped ones
resumed, failed ones retried only when asked, and a cell whose config changed is refused unless asked.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from core.base.errors import ConfigError, FghashError, one_line
from core.base.events import Event
from core.config.study_file import StudySpec
from core.runs.catalog import open_store
from core.studies.grid import Cell, expand
from core.studies.runner import CellEnded, CellStarted, train_cell
from core.studies.state import CellState, StudyFolder, cell_states, current_run, open_study

EXECUTORS = ("local", "slurm", "submitit-local")
POLL_S = 0.5  # how often submitted jobs are looked at while waiting for them


@dataclass(frozen=True)
class StudyPlan:
    """What a `study run` will do: to_run (grid order), and the cells it leaves alone, by reason."""

    to_run: tuple[Cell, ...]
    resuming: frozenset[str]  # keys of cells in to_run that continue a stopped run
    finished: int
    running: tuple[str, ...]  # another process trains them now, or their SLURM job is queued
    failed: tuple[str, ...]  # left alone without retry_failed
    changed: tuple[str, ...]  # retrained as new runs (rerun_changed) -- else plan_study refuses


@dataclass(frozen=True)
class StudySubmitted:
    """Cells handed to submitit: {cell key: job id}; folder: where the job logs are."""

    jobs: dict[str, str]
    cluster: str
    folder: str


@dataclass(frozen=True)
class StudySummary:
    """The end of a `study run`: how many cells it trained (or submitted) and how they ended."""

    study_id: str
    plan: StudyPlan
    ended: tuple[CellEnded, ...] = field(default_factory=tuple)
    submitted: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def plan_study(states: list[CellState], retry_failed: bool = False, rerun_changed: bool = False) -> StudyPlan:
    """Which cells to train. Refuses (ConfigError) when a cell's config changed and rerun_changed is not set:
    its old run is never reused silently, and never overwritten (a new run is trained; the old one stays)."""
    changed = tuple(s.cell.key for s in states if s.state == "changed")
    if changed and not rerun_changed:
        more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
        raise ConfigError(f"the config of cell {changed[0]}{more} changed since it was trained; pass "
                          f"--rerun-changed to train it anew (its old run stays in the store), or restore the file")
    run_states = {"pending", "interrupted", "changed"} | ({"failed"} if retry_failed else set())
    to_run = tuple(s.cell for s in states if s.state in run_states)
    return StudyPlan(to_run=to_run,
                     resuming=frozenset(s.cell.key for s in states if s.state in ("interrupted", "failed")
                                        and s.cell in to_run),
                     finished=sum(s.state == "finished" for s in states),
                     running=tuple(s.cell.key for s in states if s.state in ("running", "queued")),
                     failed=tuple(s.cell.key for s in states if s.state == "failed" and not retry_failed),
                     changed=changed)


def run_study(study: str | Path, executor: str = "local", *, max_parallel: int | None = None,
              retry_failed: bool = False,
              rerun_changed: bool = False, slurm: dict | None = None, wait: bool = True,
              cancel: threading.Event | None = None) -> Generator[object, None, StudySummary]:
    """Run a study file's grid; yields StudyPlan first, then CellStarted, the training events of in-process
    cells, CellEnded (and StudySubmitted for submitit); returns the StudySummary.

    max_parallel: cells at a time (local and submitit-local: 1 by default, more run in child processes
    with one GPU each; slurm: the array's parallelism, by default the file's [slurm] max_parallel, else
    submitit's default of 256 tasks at a time). slurm: overrides of the file's [slurm] table. wait: submitit executors follow the jobs
    to their end (slurm: False returns once submitted). cancel: stop after the current cell (in-process)
    or stop the child processes (they record their runs as interrupted)."""
    if executor not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}; got {executor!r}")
    spec, folder = open_study(study)
    slurm = {**spec.slurm, **(slurm or {})}
    if max_parallel is None:  # slurm without a limit: submitit's default array parallelism
        max_parallel = slurm.get("max_parallel") if executor == "slurm" else 1
    if max_parallel is not None and max_parallel < 1:
        raise ConfigError(f"max_parallel must be >= 1; got {max_parallel}")
    cells = expand(spec)
    plan = plan_study(cell_states(spec, cells, job_states=job_states(folder)), retry_failed, rerun_changed)
    folder.save_spec(spec)
    cancel = cancel or threading.Event()
    start = time.perf_counter()
    yield plan
    ended: list[CellEnded] = []
    submitted: dict[str, str] = {}
    if executor == "local" and max_parallel == 1:
        source = _run_in_process(spec, plan, cancel)
    elif executor == "local":
        source = _run_in_children(spec, folder, plan, max_parallel, cancel)
    else:
        source = _run_submitit(spec, folder, plan, "slurm" if executor == "slurm" else "local",
                               max_parallel, slurm, wait, cancel)
    for event in source:
        if isinstance(event, CellEnded):
            ended.append(event)
        elif isinstance(event, StudySubmitted):
            submitted.update(event.jobs)
        yield event
    return StudySummary(spec.study_id, plan, tuple(ended), submitted, time.perf_counter() - start)


# ---- local, one cell after another in this process ---------------------------------------------------------
def _run_in_process(spec: StudySpec, plan: StudyPlan, cancel: threading.Event) -> Generator[Event, None, None]:
    total = len(plan.to_run)
    for index, cell in enumerate(plan.to_run, 1):
        if cancel.is_set():
            return
        yield CellStarted(cell.key, index, total, cell.key in plan.resuming)
        t0 = time.perf_counter()
        try:
            finished = yield from train_cell(spec.study_id, cell, cancel)
        except FghashError as exc:  # this cell failed (recorded in the store); the others still run
            yield CellEnded(cell.key, "failed", None, None, time.perf_counter() - t0, str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - a bug in one cell must not stop the study; its run says failed
            yield CellEnded(cell.key, "failed", None, None, time.perf_counter() - t0,
                            f"{type(exc).__name__}: {one_line(exc)}")
            continue
        seconds = time.perf_counter() - t0
        if finished is None:
            yield CellEnded(cell.key, "finished", None, None, seconds, "already finished")
        else:
            state = "finished" if finished.status == "finished" else "interrupted"
            yield CellEnded(cell.key, state, finished.run_id, finished.final_map, seconds, finished.message)


# ---- local, N child processes (one GPU each) ---------------------------------------------------------------
def _gpu_slots(max_parallel: int) -> list[str | None]:
    """CUDA_VISIBLE_DEVICES of each of the N slots: one GPU each; None (unchanged) without GPUs."""
    import torch

    count = torch.cuda.device_count()
    if count == 0:
        return [None] * max_parallel
    if max_parallel > count:
        raise ConfigError(f"--max-parallel {max_parallel} but this machine has {count} GPU(s): each cell gets "
                          f"one GPU, so run at most {count} at a time")
    return [str(i) for i in range(max_parallel)]


def cell_command(folder: StudyFolder, key: str, gpus_per_task: int = 1) -> list[str]:
    """The command that trains one cell in a process of its own (torchrun over G processes when G > 1)."""
    if gpus_per_task > 1:
        return ["torchrun", "--standalone", f"--nproc_per_node={gpus_per_task}", "-m", "core.studies.cell",
                str(folder.root), key]
    return [sys.executable, "-m", "core.studies.cell", str(folder.root), key]


def log_name(key: str) -> str:
    """A file name for a cell's log ("cub|FCAENet|12b|seed0" -> "cub_FCAENet_12b_seed0.log")."""
    return "".join(c if c.isalnum() or c in "-=." else "_" for c in key) + ".log"


def _run_in_children(spec: StudySpec, folder: StudyFolder, plan: StudyPlan, max_parallel: int,
                     cancel: threading.Event) -> Generator[object, None, None]:
    slots: queue.Queue = queue.Queue()
    for gpu in _gpu_slots(max_parallel):
        slots.put(gpu)
    events: queue.Queue = queue.Queue()
    children: dict[str, subprocess.Popen] = {}
    total = len(plan.to_run)

    def one(index: int, cell: Cell) -> None:
        gpu = slots.get()
        try:
            if cancel.is_set():
                return
            env = dict(os.environ)
            if gpu is not None:
                env["CUDA_VISIBLE_DEVICES"] = gpu
            events.put(CellStarted(cell.key, index, total, cell.key in plan.resuming))
            t0 = time.perf_counter()
            with open(folder.logs / log_name(cell.key), "ab") as log:
                child = subprocess.Popen(cell_command(folder, cell.key), env=env, stdout=log,
                                         stderr=subprocess.STDOUT)
                children[cell.key] = child
                code = child.wait()
            events.put(_ended_from_store(spec, cell, time.perf_counter() - t0,
                                         f"exit code {code}; log {folder.logs / log_name(cell.key)}"))
        finally:
            slots.put(gpu)

    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="fghash-cell") as pool:
        futures = [pool.submit(one, i, cell) for i, cell in enumerate(plan.to_run, 1)]
        try:
            while not all(f.done() for f in futures) or not events.empty():
                try:
                    yield events.get(timeout=POLL_S)
                except queue.Empty:
                    if cancel.is_set():
                        _interrupt(children.values())
        except BaseException:  # Ctrl-C or the consumer stopped: the children stop, their runs say interrupted
            cancel.set()
            _interrupt(children.values())
            raise
        for future in futures:
            future.result()


def _interrupt(children) -> None:
    for child in list(children):
        if child.poll() is None:
            child.send_signal(signal.SIGINT)


def _ended_from_store(spec: StudySpec, cell: Cell, seconds: float, message: str) -> CellEnded:
    with open_store() as store:
        record = current_run(store, spec.study_id, cell)
    if record is None:
        return CellEnded(cell.key, "failed", None, None, seconds, f"no run was created ({message})")
    state = {"finished": "finished", "failed": "failed"}.get(record.status, "interrupted")
    return CellEnded(cell.key, state, record.run_id, record.final_map, seconds,
                     "" if state == "finished" else message)


# ---- submitit: SLURM job arrays, or its local executor ------------------------------------------------------
def submitit_parameters(spec: StudySpec, cluster: str, max_parallel: int | None, slurm: dict) -> dict:
    """update_parameters() of a submitit AutoExecutor from the [slurm] table (and its overrides); the
    submitit-local path sets its own (time limit, one GPU per job)."""
    params = {"name": f"fghash-{spec.study_id}", "timeout_min": int(slurm.get("time_min", 24 * 60)),
              "tasks_per_node": 1, "nodes": 1}
    if cluster == "slurm":  # local jobs get their GPU per job (_run_submitit)
        params["gpus_per_node"] = int(slurm.get("gpus_per_task", 1))
    for key in ("cpus_per_task", "mem_gb"):
        if key in slurm:
            params[key] = int(slurm[key])
    if cluster == "slurm":
        if max_parallel is not None:
            params["slurm_array_parallelism"] = max_parallel
        for key in ("partition", "account", "qos", "constraint", "setup"):
            if key in slurm:
                params[f"slurm_{key}"] = slurm[key]
    return params


def _run_submitit(spec: StudySpec, folder: StudyFolder, plan: StudyPlan, cluster: str, max_parallel: int,
                  slurm: dict, wait: bool, cancel: threading.Event) -> Generator[object, None, None]:
    try:
        import submitit
    except ImportError:
        raise ConfigError("the slurm and submitit-local executors need submitit: pip install submitit") from None
    from core.studies.cell import run_cell

    if not plan.to_run:
        return
    if cluster == "slurm":
        executor = submitit.AutoExecutor(folder=folder.logs / "%j", cluster="slurm")
        executor.update_parameters(**submitit_parameters(spec, cluster, max_parallel, slurm))
    else:  # the local executor itself: AutoExecutor passes it no GPU choice
        executor = submitit.LocalExecutor(folder=folder.logs / "%j")
        executor.update_parameters(timeout_min=int(slurm.get("time_min", 24 * 60)), tasks_per_node=1)
    gpus = int(slurm.get("gpus_per_task", 1))
    # submitit's local executor gives every job GPUs 0..G-1 (none: CUDA_VISIBLE_DEVICES="", the CPU), so a
    # local job gets one GPU of its own here, as `local --max-parallel` gives its child processes
    free_gpus = _gpu_slots(max_parallel) if cluster == "local" else []

    def submit(cell: Cell, gpu: str | None = None):
        if cluster == "local":
            executor.update_parameters(gpus_per_node=0 if gpu is None else 1,
                                       visible_gpus=() if gpu is None else (int(gpu),))
        if gpus > 1 and cluster == "slurm":  # one torchrun job over the task's GPUs
            return executor.submit(submitit.helpers.CommandFunction(cell_command(folder, cell.key, gpus)))
        return executor.submit(run_cell, str(folder.root), cell.key)

    cells = list(plan.to_run)
    total = len(cells)
    t0 = {cell.key: time.perf_counter() for cell in cells}
    active: list = []  # (cell, job, GPU slot) submitted and not yet seen done
    waiting = list(enumerate(cells, 1))  # local: not submitted yet
    if cluster == "slurm":
        with executor.batch():  # one job array, one cell per task
            jobs = [submit(cell) for cell in cells]
        yield _record(folder, cluster, cells, jobs)
        if not wait:
            return
        active, waiting = [(cell, job, None) for cell, job in zip(cells, jobs)], []
    try:
        while active or waiting:
            # submitit's local executor starts every job it gets at once: hand it max_parallel at a time
            while waiting and free_gpus and not cancel.is_set():
                index, cell = waiting.pop(0)
                gpu = free_gpus.pop(0)
                job = submit(cell, gpu)
                yield _record(folder, cluster, [cell], [job])
                yield CellStarted(cell.key, index, total, cell.key in plan.resuming)
                t0[cell.key] = time.perf_counter()
                active.append((cell, job, gpu))
            if cancel.is_set():
                waiting.clear()
                if cluster == "slurm":  # stop following; the jobs are the cluster's now
                    return
            for item in list(active):
                cell, job, gpu = item
                if job.done():
                    active.remove(item)
                    if cluster == "local":
                        free_gpus.append(gpu)
                    yield _job_ended(spec, cell, job, time.perf_counter() - t0[cell.key])
            if active or waiting:
                time.sleep(POLL_S)
    except BaseException:  # Ctrl-C: local jobs are stopped (their runs say interrupted); SLURM jobs go on
        if cluster == "local":
            for _cell, job, _gpu in active:
                job.cancel(check=False)
        raise


def _record(folder: StudyFolder, cluster: str, cells: list[Cell], jobs: list) -> StudySubmitted:
    ids = {cell.key: str(job.job_id) for cell, job in zip(cells, jobs)}
    folder.record_jobs({key: {"job_id": job_id, "cluster": cluster, "submitted": time.time()}
                        for key, job_id in ids.items()})
    return StudySubmitted(ids, cluster, str(folder.logs))


def _job_ended(spec: StudySpec, cell: Cell, job, seconds: float) -> CellEnded:
    try:
        job.result()
        message = f"job {job.job_id}"
    except Exception as exc:  # noqa: BLE001 - the job's own error, shown as one line for this cell
        message = f"job {job.job_id}: {one_line(exc, 300)}"
    return _ended_from_store(spec, cell, seconds, message)


def job_states(folder: StudyFolder) -> dict[str, str]:
    """{cell key: "JOBID STATE"} of the cells submitted to SLURM (sacct through submitit, one query for all);
    "JOBID ?" where the scheduler cannot be asked (no sacct here). Local jobs are left out: their runs say."""
    jobs = {k: v for k, v in folder.jobs().items() if isinstance(v, dict) and v.get("cluster") == "slurm"}
    if not jobs:
        return {}
    try:
        import submitit

        handles = {key: submitit.SlurmJob(folder=folder.logs / "%j", job_id=str(info["job_id"]))
                   for key, info in jobs.items()}
        return {key: f"{job.job_id} {job.state}" for key, job in handles.items()}
    except Exception:  # noqa: BLE001 - no sacct, no submitit: the run store still tells the cells' states
        return {key: f"{info.get('job_id')} ?" for key, info in jobs.items()}
