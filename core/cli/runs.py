"""`fghash runs [list]|delete|prune`: the run store as a table; delete a run (refused while it trains); drop
the entries of runs whose folders are gone.

mAP@all is the final model's test mAP; "val-sel." is the test mAP of the epoch chosen on a validation split
(with that epoch), for runs trained with one."""

from __future__ import annotations

import argparse

from core.engine import printable


def _cmd_runs_list(args: argparse.Namespace) -> int:
    from core import engine

    runs = engine.list_runs()
    if not runs:
        print("no runs yet: try `fghash demo`")
        return 0
    print(f"{'run id':48} {'method':12} {'dataset':10} {'bits':>4} {'mAP@all':>8} {'val-sel.':>15} status")
    for r in runs:
        m = f"{100 * r.final_map:8.2f}" if r.final_map is not None else f"{'-':>8}"
        sel = (f"{100 * r.val_best_test_map:.2f} (ep {r.val_best_epoch})" if r.val_best_test_map is not None
               else "-")
        print(f"{printable(r.run_id):48} {printable(r.method):12} {printable(r.dataset_kind):10} {r.bits:>4} {m} "
              f"{sel:>15} {r.status}")
    return 0


def _cmd_runs_delete(args: argparse.Namespace) -> int:
    from core import engine

    for run in args.runs:
        print(printable(engine.delete_run(run)))
    return 0


def _cmd_runs_prune(args: argparse.Namespace) -> int:
    from core import engine

    gone = engine.prune_missing_runs()
    print(f"removed {len(gone)} store entr{'y' if len(gone) == 1 else 'ies'} whose run folder is gone"
          + (": " + ", ".join(printable(g) for g in gone) if gone else ""))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser("runs", help="list (the default) or delete the runs in the run store")
    runs.set_defaults(func=_cmd_runs_list)  # `fghash runs` alone lists them, as before the subcommands
    runs_sub = runs.add_subparsers(dest="runs_command")
    runs_sub.add_parser("list", help="list runs").set_defaults(func=_cmd_runs_list)
    delete = runs_sub.add_parser("delete", help="delete runs (folder and store entry); refused while a run trains")
    delete.add_argument("runs", nargs="+", help="run folders, ids or unique id prefixes")
    delete.set_defaults(func=_cmd_runs_delete)
    runs_sub.add_parser("prune", help="remove store entries whose run folder is gone (listed as missing)"
                        ).set_defaults(func=_cmd_runs_prune)
