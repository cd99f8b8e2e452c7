"""`fghash study run|status|list|table`: a paper's experiment grid as one resumable command (docs/studies.md).

    fghash study run resources/studies/demo.toml            # or a shipped study by name: fghash study run demo
    fghash study run table1.toml --executor slurm --partition gpu --time-min 720 --max-parallel 32
    fghash study status demo
    fghash study table demo --format latex --significance fcaenet
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from core import engine
from core.engine import printable

_STATE_MARK = {"finished": "done", "running": "running", "interrupted": "stopped", "failed": "FAILED",
               "pending": "-", "queued": "queued", "changed": "CHANGED"}


def _study_file(name: str) -> Path:
    """A study file path, or the file of a shipped study named `name`."""

    path = Path(name)
    if path.is_file() or path.suffix == ".toml":
        return path
    return engine.example_study(name)


def _study_ref(name: str) -> str | Path:
    """For status/table: a study id that has a folder, else a study file (or shipped study) name."""

    if any(study_id == name for study_id, _title, _t in engine.list_studies()):
        return name
    return _study_file(name)


def _cmd_run(args: argparse.Namespace) -> int:

    slurm = {k: v for k, v in (("partition", args.partition), ("time_min", args.time_min),
                               ("gpus_per_task", args.gpus_per_task), ("account", args.account)) if v is not None}
    gen = engine.run_study(_study_file(args.study), args.executor, max_parallel=args.max_parallel,
                           retry_failed=args.retry_failed, rerun_changed=args.rerun_changed, slurm=slurm,
                           wait=not args.no_wait)
    summary = _drive(gen)
    return _print_summary(summary)


def _drive(gen):
    """Consume run_study under one tqdm bar over the cells, whose postfix follows the current cell."""
    from core.cli.progress import LazyBar

    current = ""
    with LazyBar(desc="cells", unit="cell", dynamic_ncols=True) as bars:
        try:
            while True:
                try:
                    event = next(gen)
                except StopIteration as stop:
                    return stop.value
                if isinstance(event, engine.StudyPlan):
                    _print_plan(event)
                    if event.to_run:
                        bar = bars.get()
                        bar.total = len(event.to_run)
                        bar.refresh()
                    continue
                bar = bars.get()
                if isinstance(event, engine.CellStarted):
                    current = event.key
                    bar.set_postfix_str(f"{current}{' (resuming)' if event.resuming else ''}")
                elif isinstance(event, engine.CellEnded):
                    bar.update(1)
                    value = "" if event.final_map is None else f" mAP@all {100 * event.final_map:.2f}"
                    bar.write(printable(f"{event.state}: {event.key}{value} ({event.seconds:.0f} s)"
                                        + (f"; {event.message}" if event.state != "finished" and event.message
                                           else "")))
                elif isinstance(event, engine.StudySubmitted):
                    bar.write(f"submitted {len(event.jobs)} cell(s) to {event.cluster} (jobs "
                              f"{_job_range(event.jobs)}); logs in {event.folder}")
                elif isinstance(event, engine.BatchEnd):
                    bar.set_postfix_str(f"{current} epoch {event.epoch} batch {event.batch}/"
                                        f"{event.batches_in_epoch}", refresh=False)
                elif isinstance(event, engine.EvalResult):
                    bar.set_postfix_str(f"{current} epoch {event.epoch} mAP@all {100 * event.map_all:.2f}")
                elif isinstance(event, engine.Progress):
                    bar.set_postfix_str(f"{current} {event.phase} {event.done}/{event.total}", refresh=False)
                elif isinstance(event, engine.Log) and event.level != "info":
                    bar.write(printable(f"{current}: {event.message}"))
        except KeyboardInterrupt:
            if current:
                print(f"stopped during cell {printable(current)}: its run is interrupted; `fghash study run` "
                      f"again resumes it from its last checkpoint", file=sys.stderr)
            raise


def _job_range(jobs: dict[str, str]) -> str:
    ids = sorted(set(jobs.values()))
    return ids[0] if len(ids) == 1 else f"{ids[0]} .. {ids[-1]}"


def _print_plan(plan) -> None:
    parts = [f"{len(plan.to_run)} cell(s) to train" + (f" ({len(plan.resuming)} resuming)" if plan.resuming else "")]
    if plan.finished:
        parts.append(f"{plan.finished} finished")
    if plan.running:
        parts.append(f"{len(plan.running)} running elsewhere")
    if plan.failed:
        parts.append(f"{len(plan.failed)} failed (left alone; --retry-failed retries them)")
    if plan.changed:
        parts.append(f"{len(plan.changed)} changed (trained anew)")
    print("; ".join(parts))


def _print_summary(summary) -> int:
    if summary is None:
        return 0
    ended = summary.ended
    bad = [e for e in ended if e.state != "finished"]
    if ended:
        print(f"study {summary.study_id}: {len(ended) - len(bad)} of {len(ended)} cell(s) finished in "
              f"{summary.seconds:.0f} s" + (f"; {len(bad)} did not (rerun to resume, --retry-failed for failed "
                                            f"ones)" if bad else ""))
    elif summary.submitted:
        print(f"study {summary.study_id}: {len(summary.submitted)} cell(s) submitted; follow them with "
              f"`fghash study status {summary.study_id}`")
    return 1 if bad else 0


def _cmd_status(args: argparse.Namespace) -> int:

    spec, states = engine.study_status(_study_ref(args.study))
    print(printable(f"study {spec.study_id}: {spec.title}"))
    width = max(len(s.cell.key) for s in states)
    for s in states:
        run = s.run.run_id if s.run is not None else ""
        value = f"{100 * s.final_map:6.2f}" if s.final_map is not None else " " * 6
        seconds = f"{s.seconds:7.0f} s" if s.seconds is not None else " " * 9
        job = f"  job {s.job}" if s.job else ""
        print(printable(f"{s.cell.key:<{width}}  {_STATE_MARK[s.state]:<8} {value} {seconds}  {run}{job}"))
    counts: dict[str, int] = {}
    for s in states:
        counts[s.state] = counts.get(s.state, 0) + 1
    print(", ".join(f"{n} {state}" for state, n in counts.items()) + f" (of {len(states)} cells; mAP@all in %)")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:

    if args.examples:
        for path, spec, problem in engine.list_examples():
            text = f"{path.stem:<22} {spec.title}" if spec is not None else f"{path.stem:<22} ({problem})"
            print(printable(text))
        print(f"(files in {engine.example_study('demo').parent}; run one with `fghash study run NAME`)")
        return 0
    studies = engine.list_studies()
    if not studies:
        print("no studies yet: `fghash study run demo` runs the demo study (`--examples` lists the shipped ones)")
    for study_id, title, modified in studies:
        print(printable(f"{study_id:<22} {time.strftime('%Y-%m-%d %H:%M', time.localtime(modified))}  {title}"))
    return 0


def _cmd_table(args: argparse.Namespace) -> int:

    ref = _study_ref(args.study)
    reported = () if args.no_reported else None
    table = engine.study_table(ref, args.significance, reported)
    if args.figure:
        print(f"wrote {engine.write_study_figure(ref, args.figure)}", file=sys.stderr)
    if args.output:
        print(f"wrote {engine.write_study_table(ref, args.output, args.format, args.significance, args.digits, reported)}")
    else:
        sys.stdout.write(engine.format_study_table(table, args.format or "markdown", args.digits))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    study = sub.add_parser("study", help="run a paper's grid of runs from a study file, resumably (docs/studies.md)")
    kinds = study.add_subparsers(dest="study_command", required=True)
    file_help = "a study file (.toml) or the name of a shipped study (`fghash study list --examples`)"

    run = kinds.add_parser("run", help="train the study's cells: finished ones are skipped, stopped ones resumed")
    run.add_argument("study", help=file_help)
    run.add_argument("--executor", default="local", choices=engine.EXECUTORS,
                     help="local: this machine; slurm: a submitit job array, one cell per task; submitit-local: "
                          "the same submitit path on this machine (default local)")
    run.add_argument("--max-parallel", type=int, default=None, metavar="N",
                     help="cells at a time: local child processes with one GPU each (default 1), or the job "
                          "array's limit (default: max_parallel of the file's [slurm] table, else submitit's 256)")
    run.add_argument("--retry-failed", action="store_true", help="train failed cells again (resuming their runs)")
    run.add_argument("--rerun-changed", action="store_true",
                     help="train anew the cells whose config changed since they ran (the old runs are kept)")
    run.add_argument("--partition", default=None, help="slurm: partition (default: the file's [slurm] table)")
    run.add_argument("--time-min", type=int, default=None, help="slurm: time limit per cell in minutes")
    run.add_argument("--gpus-per-task", type=int, default=None, metavar="G",
                     help="slurm: GPUs per cell; G > 1 runs each cell as a torchrun job over G GPUs")
    run.add_argument("--account", default=None, help="slurm: account to charge")
    run.add_argument("--no-wait", action="store_true", help="slurm: return once the jobs are submitted")
    run.set_defaults(func=_cmd_run)

    status = kinds.add_parser("status", help="the grid with each cell's state, mAP and time")
    status.add_argument("study", help="a study id, " + file_help)
    status.set_defaults(func=_cmd_status)

    lst = kinds.add_parser("list", help="the studies in the store (--examples: the shipped study files)")
    lst.add_argument("--examples", action="store_true", help="list the study files fghash ships")
    lst.set_defaults(func=_cmd_list)

    table = kinds.add_parser("table", help="the paper's layout: methods x (dataset, bits), mean ± std over seeds")
    table.add_argument("study", help="a study id, " + file_help)
    table.add_argument("--format", default=None, choices=engine.TABLE_FORMATS,
                       help="default: from the -o suffix (.md, .tex, .csv), else markdown")
    table.add_argument("--significance", default=None, metavar="REF",
                       help="paired t-test and Wilcoxon test of method REF against every other method")
    table.add_argument("--digits", type=int, default=2, help="decimals of the percentages (default 2)")
    table.add_argument("--no-reported", action="store_true",
                       help="leave out the papers' reported numbers (reference rows, shown by default)")
    table.add_argument("-o", "--output", default=None, help="write to this file instead of printing")
    table.add_argument("--figure", default=None, metavar="FILE",
                       help="also draw mAP against code length (.pdf, .svg, .png), as `fghash figure bits ID`")
    table.set_defaults(func=_cmd_table)
