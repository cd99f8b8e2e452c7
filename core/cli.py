"""`fghash` command line: one subcommand per engine entry point."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.errors import FghashError


def _cmd_runs_list(args: argparse.Namespace) -> int:
    from core import engine

    runs = engine.list_runs()
    if not runs:
        print("no runs yet: try `fghash demo`")
        return 0
    print(f"{'run id':48} {'method':12} {'dataset':10} {'bits':>4} {'mAP@all':>8} status")
    for r in runs:
        m = f"{100 * r.final_map:8.2f}" if r.final_map is not None else f"{'-':>8}"
        print(f"{r.run_id:48} {r.method:12} {r.dataset_kind:10} {r.bits:>4} {m} {r.status}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fghash", description="Fine-grained image retrieval by deep hashing.")
    sub = parser.add_subparsers(dest="command", required=True)

    runs = sub.add_parser("runs", help="list the runs in the run store")
    runs_sub = runs.add_subparsers(dest="runs_command", required=True)
    runs_sub.add_parser("list", help="list runs").set_defaults(func=_cmd_runs_list)

    from core.cli_demo import add_demo_parser

    add_demo_parser(sub)

    from core.cli_train import add_train_parser

    add_train_parser(sub)

    from core.cli_datasets import add_datasets_parser

    add_datasets_parser(sub)

    from core.cli_explain import add_explain_parser

    add_explain_parser(sub)

    from core.cli_retrieval import add_retrieval_parsers

    add_retrieval_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FghashError as exc:
        print(f"fghash: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fghash: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
