"""`fghash` command line: one subcommand per engine entry point, one module per command group."""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from core import __version__

# The engine (torch, faiss, ...) is imported by the functions below, not here: `fghash --version` must answer
# without it (0.2 s instead of seconds and a GB).

# One module per command group; each defines add_parsers(subparsers).
_COMMAND_MODULES = ("runs", "demo", "train", "datasets", "explain", "retrieval", "encode", "figure", "study", "methods")


class _OneLineParser(argparse.ArgumentParser):
    """Usage mistakes are one line like every other error ("fghash train: error: ... (see --help)"), exit
    2; argparse's default prints the whole usage block first (16 lines for `fghash train`)."""

    def error(self, message: str):  # type: ignore[override]
        from core.engine import printable

        print(f"{self.prog}: error: {printable(message)} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="fghash", description="Fine-grained image retrieval by deep hashing.")
    parser.add_argument("--version", action="version", version=f"fghash {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    for module in _COMMAND_MODULES:
        importlib.import_module(f"core.cli.{module}").add_parsers(sub)
    return parser


class _StderrWarnings(logging.Handler):
    """Warnings of the "fghash" logger (e.g. a rebuilt run store) as "fghash: warning: ..." lines, written
    to whatever sys.stderr is at the time (pytest's capsys swaps it between tests)."""

    def emit(self, record: logging.LogRecord) -> None:
        from core.engine import printable

        print(f"fghash: {record.levelname.lower()}: {printable(record.getMessage())}", file=sys.stderr)


def _show_warnings() -> None:
    logger = logging.getLogger("fghash")
    if not any(isinstance(h, _StderrWarnings) for h in logger.handlers):
        logger.addHandler(_StderrWarnings(logging.WARNING))


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill PID`, a job scheduler, systemd) arrived: handled exactly like Ctrl-C (SIGINT), so a
    training run is recorded as interrupted and keeps its last checkpoint."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Exit codes: 0 done, 1 a training run did not finish, 2 a user error (one line
    on stderr), 130 interrupted by Ctrl-C (SIGINT), 143 terminated by SIGTERM (128 + the signal number)."""
    given = list(sys.argv[1:] if argv is None else argv)
    if given == ["--version"]:  # before build_parser, whose command modules import torch (5 s, 1.5 GB)
        print(f"fghash {__version__}")
        return 0
    from core.engine import FghashError, printable

    parser = build_parser()
    args = parser.parse_args(argv)
    _show_warnings()
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return int(args.func(args) or 0)
    except FghashError as exc:
        print(f"fghash: error: {printable(exc)}", file=sys.stderr)
        return 2
    except Terminated:
        print("fghash: terminated (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("fghash: interrupted", file=sys.stderr)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

