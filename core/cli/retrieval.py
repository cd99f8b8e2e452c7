"""`fghash index|query|eval`: retrieval on trained runs (engine.build_index / build_approximate / query /
evaluate)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from core.engine import DEVICES, printable


def _cmd_index(args: argparse.Namespace) -> int:
    from core.engine import ConfigError

    if args.approximate:
        if args.nprobe is not None and args.target_recall is not None:
            raise ConfigError("give either --nprobe (a fixed nprobe) or --target-recall (the smallest nprobe "
                              "reaching it), not both")
        approximate_with_progress(args.run, nlist=args.nlist, nprobe=args.nprobe, recall_k=args.recall_k,
                                  recall_queries=args.recall_queries, target_recall=args.target_recall,
                                  quiet=args.quiet)
        return 0
    given = [name for name in ("nlist", "nprobe", "recall_k", "recall_queries", "target_recall")
             if getattr(args, name) is not None]
    if given:
        raise ConfigError(f"--{given[0].replace('_', '-')} applies to the approximate index: add --approximate")
    index_with_progress(args.run, quiet=args.quiet)
    return 0


def index_with_progress(run, quiet: bool = False) -> Path:
    """Build a run's index under a progress bar and print what was written."""
    from core import engine
    from core.cli.progress import LazyBar
    from core.engine import drain

    with LazyBar(desc="index", unit="code", disable=quiet) as bars:
        def show(event) -> None:
            bar = bars.get()
            bar.total, bar.n = event.total, event.done
            bar.refresh()

        path = drain(engine.build_index(run), show)
    from core.engine import read_index_header

    header = read_index_header(path)
    print(f"index: {header['count']} codes of {header['bits']} bits -> {printable(path)}")
    return path


def approximate_with_progress(run, nlist=None, nprobe=None, recall_k=None, recall_queries=None,
                              target_recall=None, quiet: bool = False):
    """Build a run's approximate (IVF) index under a progress bar (train, add, recall), then print what was
    written, the chosen nprobe with its recall@k against the exact search and its latency, and whether it
    meets the target recall (if not, or only by scanning every cell: use exact search)."""
    from core import engine
    from core.cli.progress import LazyBar
    from core.engine import RECALL_MEANING, drain

    given = dict(recall_k=recall_k, recall_queries=recall_queries, target_recall=target_recall)
    given = {name: v for name, v in given.items() if v is not None}  # left out: build_approximate's default
    if nprobe is not None:
        given["nprobe"] = nprobe
    gen = engine.build_approximate(run, nlist=nlist, **given)
    phase = ["train ivf"]
    with LazyBar(desc=phase[0], unit="step", disable=quiet) as bars:
        def show(event) -> None:
            bar = bars.get()
            if event.phase != phase[0]:
                phase[0] = event.phase
                bar.set_description(event.phase, refresh=False)
                bar.unit = "code" if event.phase == "index" else "step"
            bar.total, bar.n = event.total, event.done
            bar.refresh()

        info = drain(gen, show)
    how = ("--nprobe" if info.target_recall is None or not info.recall
           else f"the smallest reaching recall@{info.recall_k} >= {info.target_recall:g}")
    print(f"approximate index: {info.count} codes of {info.bits} bits in {info.nlist} cells, a query scans "
          f"{info.nprobe} ({how}) -> {printable(info.path)}")
    if not info.recall:
        print(f"recall: not measured ({info.describe()})")
        return info
    print(f"recall@{info.recall_k} against the exact search on {info.recall_queries} {info.recall_source} queries "
          f"(sampled with seed 0): {RECALL_MEANING.format(k=info.recall_k)}")
    print("  " + "   ".join(f"nprobe {p}: {r:.3f}" + (" (default)" if p == info.nprobe else "")
                            for p, r in info.recall))
    latency = "" if info.latency_ms is None else f", {info.latency_ms:.2f} ms per single query (median)"
    print(f"chosen: nprobe {info.nprobe}, recall@{info.recall_k} {info.recall_at():.3f}{latency}")
    if info.meets_target is False:
        print(f"no nprobe up to {info.nlist} meets the target recall {info.target_recall:g}: use exact search "
              f"(`fghash query` without --approximate)")
    elif info.exhaustive and info.nlist > 1:
        reason = ("no nprobe below it meets the target recall " f"{info.target_recall:g}"
                  if info.target_recall is not None else "--nprobe asked for it")
        print(f"nprobe {info.nlist} scans every cell ({reason}): the approximate search is then no faster than "
              f"exact search; use exact search (`fghash query` without --approximate)")
    return info


def _cmd_query(args: argparse.Namespace) -> int:
    from core import engine
    from core.engine import ConfigError

    if args.nprobe is not None and not args.approximate:
        raise ConfigError("--nprobe applies to the approximate index: add --approximate")

    image = args.image
    if not Path(image).exists() and re.fullmatch(r"-?[0-9]+", image):
        image = int(image)  # a test-split index (a negative one is refused as out of range)
    print_query_result(engine.query_with_stats(image, args.run, k=args.k, label=args.label,
                                               approximate=args.approximate, nprobe=args.nprobe))
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
    if result.approximate is not None:
        print(f"results are approximate: {result.approximate.describe(result.nprobe)}")
    print(f"{'rank':>4} {'dist':>4} {'db idx':>7} {'ok':>2}  {'class':24} path")
    for hit in result.hits:
        mark = "" if hit.correct is None else ("+" if hit.correct else "x")
        print(f"{hit.rank:>4} {hit.distance:>4} {hit.database_index:>7} {mark:>2}  "
              f"{printable(hit.class_name)[:24]:24} {printable(hit.path)}")
    if stats.average_precision is None or stats.precision_at_k is None:
        return
    k = stats.k
    if result.approximate is not None:
        print(f"of the exact ranking (ties averaged): AP {100 * stats.average_precision:.1f}%, precision@{k} "
              f"{100 * stats.precision_at_k:.1f}%; of the approximate list above: precision@{k} "
              f"{100 * stats.precision_at_k_index_order:.1f}%")
    else:
        print(f"AP {100 * stats.average_precision:.1f}%, precision@{k} {100 * stats.precision_at_k:.1f}% "
              f"(ties averaged); as listed, ties by database index: AP {100 * stats.average_precision_index_order:.1f}%, "
              f"precision@{k} {100 * stats.precision_at_k_index_order:.1f}%")


def _cmd_eval(args: argparse.Namespace) -> int:
    from core import engine
    from core.engine import FghashError, report_table

    reports, configs, chance, failed = [], [], [], []
    for run in args.runs:  # one run without codes must not hide the others' rows
        try:
            paths = engine.open_run(run)
            report = engine.evaluate(paths, ks=tuple(args.ks), device=args.device)
            level = engine.chance_levels(paths, ks=tuple(args.ks))
            reports.append(report)
            configs.append(paths.load_config())
            chance.append(level)
        except FghashError as exc:
            failed.append((run, str(exc)))
    if reports:
        print(report_table(reports, args.ks, configs=configs, chance=chance))
        print()
        print(engine.run_notes_table(configs, [r.map_all for r in reports]))
    if args.pr:
        for r, level in zip(reports, chance):
            print(f"\nPR curve of {printable(r.run_id)} (radius: precision / recall, %; chance precision "
                  f"{100 * level.pr_precision:.1f} at every radius)")
            print("  ".join(f"{rad}: {100 * p:.1f}/{100 * rc:.1f}" for rad, p, rc in r.pr_curve))
            below = [str(rad) for rad, p, rc in r.pr_curve if (p > 0 or rc > 0) and level.below("pr_precision", p)]
            if below:
                print(f"  below chance at radius {', '.join(below)}")
    for run, message in failed:
        print(f"fghash: error: {printable(run)}: {printable(message)}", file=sys.stderr)
    return 2 if failed else 0


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
    index.add_argument("--approximate", action="store_true",
                       help="build the approximate IVF index (faiss IndexBinaryIVF) instead, saved beside the exact "
                            "one as index-ivf.faiss, for `fghash query --approximate` and Browse; prints its "
                            "recall@k against the exact search")
    index.add_argument("--nlist", type=positive_int, default=None,
                       help="IVF cells the database is split into (default: about sqrt(database size), at most "
                            "1024, at least 39 codes per cell)")
    index.add_argument("--nprobe", type=positive_int, default=None,
                       help="cells a query scans by default (default: the smallest nprobe whose measured recall "
                            "reaches --target-recall; more: slower, higher recall)")
    index.add_argument("--target-recall", type=float, default=None, metavar="R",
                       help="recall@k (--recall-k, default 20) the chosen nprobe must reach, in (0, 1] (default "
                            "0.95); measured on test-split queries, or a database sample when there are none")
    index.add_argument("--recall-k", type=positive_int, default=None, help="k of the printed recall@k (default 20)")
    index.add_argument("--recall-queries", type=positive_int, default=None,
                       help="test-split queries the recall is measured on (default 256, sampled with seed 0; a "
                            "sample of the database when the run has no test split)")
    index.set_defaults(func=_cmd_index)

    query = sub.add_parser("query", help="retrieve the database images nearest to an image")
    query.add_argument("run", help="run folder, run id, unique id prefix, or 'latest'")
    query.add_argument("image", help="an image file, or a test-split index (an integer)")
    query.add_argument("-k", type=positive_int, default=20, help="how many results (default 20)")
    query.add_argument("--label", type=int, default=None, help="the query's class label, to mark hits +/x")
    query.add_argument("--approximate", action="store_true",
                       help="search the run's approximate IVF index (build it with `fghash index RUN --approximate`)")
    query.add_argument("--nprobe", type=positive_int, default=None,
                       help="with --approximate: IVF cells to scan (default: the one it was built with)")
    query.set_defaults(func=_cmd_query)

    ev = sub.add_parser("eval", help="mAP@all, mAP@k and precision@k of one or more runs (one row per run; "
                                     "runs that differ only in their seed also as mean ± sample std)")
    ev.add_argument("runs", nargs="+", help="run folders, ids, prefixes, or 'latest'")
    ev.add_argument("--ks", type=positive_int, nargs="+", default=[10, 20, 50, 100],
                    help="cut-offs for mAP@k and P@k")
    ev.add_argument("--device", default=None, choices=DEVICES, help="cpu or cuda (default: cuda when present)")
    ev.add_argument("--pr", action="store_true", help="also print each run's precision-recall curve")
    ev.set_defaults(func=_cmd_eval)
