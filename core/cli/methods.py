"""`fghash methods`: every registered training method with its paper, the code its spec was written from, how it
encodes the database, and what is reconstructed (each a config option); from the method registry."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("methods", help="list the training methods: paper, code source, database encoding, "
                                       "reconstructed items, reported CUB 12/48-bit mAP")
    p.set_defaults(func=_cmd_methods)


def _cmd_methods(args: argparse.Namespace) -> int:
    from core import engine

    for name in engine.method_names():
        info = engine.method_info(name)
        cub = [engine.reported(name, "cub", b) for b in (12, 48)]
        cub_text = " / ".join(f"{r.value:.2f}" if r is not None and r.value is not None else "-" for r in cub)
        print(f"{name}: {info.label}")
        print(f"  paper:         {info.paper}")
        print(f"  code:          {info.code}" + (f"  (spec: {info.spec})" if info.spec else ""))
        print(f"  database:      {info.database_note}")
        print(f"  reconstructed: " + ("; ".join(info.reconstructed) if info.reconstructed else "nothing"))
        print(f"  reported CUB 12 / 48 bits: {cub_text}")
    return 0
