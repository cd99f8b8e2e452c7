"""`fghash` command line: one subcommand per engine entry point, one module per command group."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core.errors import FghashError

# One module per command group; each defines add_parsers(subparsers).
_COMMAND_MODULES = ("runs", "demo", "train", "datasets", "explain", "retrieval", "figure")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fghash", description="Fine-grained image retrieval by deep hashing.")
    sub = parser.add_subparsers(dest="command", required=True)

    for module in _COMMAND_MODULES:
        importlib.import_module(f"core.cli.{module}").add_parsers(sub)
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

