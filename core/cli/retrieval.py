"""`fghash index|query|eval`: retrieval on trained runs (engine.build_index / query / evaluate)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from core.config import DEVICES
from core.text import printable


def _cmd_index(args: argparse.Namespace) -> int:
    index_with_progress(args.run, quiet=args.quiet)
    return 0


def index_with_progress(run, quiet: bool = False) -> Path:
    """Build a run's index under a progress bar and print what was written."""
    from core import engine
    from core.cli.progress import LazyBar

    gen = engine.build_index(run)
    with LazyBar(desc="index", unit="code", disable=quiet) as bars:
        while True:
            try:
                event = next(gen)
            except StopIteration as stop:
                path = stop.value
                break
            bar = bars.get()
            bar.total, bar.n = event.total, event.done
            bar.refresh()
    from core.index import read_index_header

    header = read_index_header(path)
    print(f"index: {header['count']} codes of {header['bits']} bits -> {printable(path)}")
    return path


def _cmd_query(args: argparse.Namespace) -> int:
    from core import engine

    image = args.image
    if not Path(image).exists() and re.fullmatch(r"-?[0-9]+", image):
        image = int(image)  # a test-split index (a negative one is refused as out of range)
    print_query_result(engine.query_with_stats(image, args.run, k=args.k, label=args.label))
    return 0


def print_query_result(stats) -> None:
    """A query's top k (a QueryStats) as a table: rank, Hamming distance, database index, +/x, class, path;
    then its AP and P@k, tie-averaged and as listed (ties by database index)."""
    result = stats.result
    known = f"class {result.query_class!r} (label {result.query_label})" if result.query_label is not None \
        else "class unknown"
    known = printable(known)
    print(f"query: {printable(result.query_path or '<image>')} [{result.source}; {known}]  run "
          f"{printable(result.run_id)}, {result.bits} bits, {1000 * result.seconds:.0f} ms")
    print(f"{'rank':>4} {'dist':>4} {'db idx':>7} {'ok':>2}  {'class':24} path")
    for hit in result.hits:
        mark = "" if hit.correct is None else ("+" if hit.correct else "x")
        print(f"{hit.rank:>4} {hit.distance:>4} {hit.database_index:>7} {mark:>2}  "
              f"{printable(hit.class_name)[:24]:24} {printable(hit.path)}")
    if stats.average_precision is not None and stats.precision_at_k is not None:
        k = stats.k
        print(f"AP {100 * stats.average_precision:.1f}%, precision@{k} {100 * stats.precision_at_k:.1f}% "
              f"(ties averaged); as listed, ties by database index: AP {100 * stats.average_precision_index_order:.1f}%, "
              f"precision@{k} {100 * stats.precision_at_k_index_order:.1f}%")


def _cmd_eval(args: argparse.Namespace) -> int:
    from core import engine
    from core.errors import FghashError
    from core.retrieval import report_table

    reports, configs, failed = [], [], []
    for run in args.runs:  # one run without codes must not hide the others' rows
        try:
            paths = engine.open_run(run)
            reports.append(engine.evaluate(paths, ks=tuple(args.ks), device=args.device))
            configs.append(paths.load_config())
        except FghashError as exc:
            failed.append((run, str(exc)))
    if reports:
        print(report_table(reports, args.ks, configs=configs))
        print_chance_levels(args.runs)
    if args.pr:
        for r in reports:
            print(f"\nPR curve of {printable(r.run_id)} (radius: precision / recall, %)")
            print("  ".join(f"{rad}: {100 * p:.1f}/{100 * rc:.1f}" for rad, p, rc in r.pr_curve))
    for run, message in failed:
        print(f"fghash: error: {printable(run)}: {printable(message)}", file=sys.stderr)
    return 2 if failed else 0


def print_chance_levels(runs) -> None:
    """One line per distinct chance level of the runs (runs on the same split share one); runs without
    readable codes are left out (the table above says what is wrong with them).

    runs: what the user named (folders, ids, prefixes, 'latest')."""
    from core.chance import CHANCE_DESCRIPTION, run_chance_map
    from core.errors import FghashError
    from core.runs import resolve_run

    by_value: dict[float, list[str]] = {}
    for run in runs:
        try:
            paths = resolve_run(run)
            by_value.setdefault(round(100 * run_chance_map(paths), 2), []).append(paths.run_id)
        except FghashError:
            continue
    if by_value:
        print()
    for value, run_ids in by_value.items():
        which = "every run" if len(by_value) == 1 else ", ".join(run_ids)
        print(f"chance: mAP@all {value:.2f} ({which}); {CHANCE_DESCRIPTION}")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (k, cut-offs)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; got {value}")
    return value


def add_parsers(sub: argparse._SubParsersAction) -> None:
    index = sub.add_parser("index", help="build a run's Hamming index from its database codes")
    index.add_argument("run", help="run folder, run id, unique id prefix, or 'latest'")
    index.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    index.set_defaults(func=_cmd_index)

    query = sub.add_parser("query", help="retrieve the database images nearest to an image")
    query.add_argument("run", help="run folder, run id, unique id prefix, or 'latest'")
    query.add_argument("image", help="an image file, or a test-split index (an integer)")
    query.add_argument("-k", type=positive_int, default=20, help="how many results (default 20)")
    query.add_argument("--label", type=int, default=None, help="the query's class label, to mark hits +/x")
    query.set_defaults(func=_cmd_query)

    ev = sub.add_parser("eval", help="mAP@all, mAP@k and precision@k of one or more runs (one row per run; "
                                     "runs that differ only in their seed also as mean ± sample std)")
    ev.add_argument("runs", nargs="+", help="run folders, ids, prefixes, or 'latest'")
    ev.add_argument("--ks", type=positive_int, nargs="+", default=[10, 20, 50, 100],
                    help="cut-offs for mAP@k and P@k")
    ev.add_argument("--device", default=None, choices=DEVICES, help="cpu or cuda (default: cuda when present)")
    ev.add_argument("--pr", action="store_true", help="also print each run's precision-recall curve")
    ev.set_defaults(func=_cmd_eval)
