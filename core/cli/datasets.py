"""`fghash datasets list|check`: the dataset kinds and their layouts; validating a dataset folder."""

from __future__ import annotations

import argparse
import textwrap

from core.engine import printable


def add_parsers(sub: argparse._SubParsersAction) -> None:
    datasets = sub.add_parser("datasets", help="dataset kinds and folder validation")
    ds_sub = datasets.add_subparsers(dest="datasets_command", required=True)
    ds_sub.add_parser("list", help="list dataset kinds and their expected layouts").set_defaults(
        func=_cmd_datasets_list)
    check = ds_sub.add_parser("check", help="validate a dataset folder (exit code 0 = usable, 1 = problems)")
    check.add_argument("root", nargs="?", default=None, help="dataset root folder (not needed for --kind demo)")
    check.add_argument("--kind", required=True, help="dataset kind (see `fghash datasets list`)")
    check.add_argument("--allow-missing", action="store_true",
                       help="accept a subset: images listed in the metadata but absent are not a problem")
    check.add_argument("--decode-sample", type=int, default=32, metavar="N",
                       help="decode N images spread over the dataset (default 32; 0 = none)")
    check.add_argument("--content", action="store_true",
                       help="also compare the image files across splits (size, then SHA-256) and report test "
                            "images that are byte-identical copies of training images, with examples")
    check.set_defaults(func=_cmd_datasets_check)


def _cmd_datasets_list(args: argparse.Namespace) -> int:
    from core.engine import DATASET_KINDS, TITLES, layout_of

    for kind in DATASET_KINDS:
        print(f"{kind}: {TITLES[kind]}")
        print(textwrap.fill(layout_of(kind), width=100, initial_indent="    ", subsequent_indent="    "))
    return 0


def _cmd_datasets_check(args: argparse.Namespace) -> int:
    from core import engine

    report = engine.check_dataset(args.kind, args.root, allow_missing=args.allow_missing,
                                  decode_sample=args.decode_sample, content=args.content)
    print(f"dataset kind: {report.kind}")
    if report.root:
        print(f"root:         {printable(report.root)}")
    if report.class_names:
        shown = ", ".join(report.class_names[:5]) + (", ..." if report.num_classes > 5 else "")
        print(f"classes:      {report.num_classes} ({printable(shown)})")
        if report.official_splits:
            print("official:     " + " / ".join(f"{name} {count:,}" for name, count in report.official_splits)
                  + " present")
        for split, listed, present in zip(("train", "test"), report.listed, report.present):
            role = {"train": "database", "test": "queries"}[split]
            merged = (f", = official {' + '.join(n for n, _ in report.official_splits[:-1])}"
                      if split == "train" and report.official_splits else "")
            print(f"{split + ':':13} {present:,} present of {listed:,} listed ({role}{merged})")
        print(f"missing:      {report.missing:,}")
        print(f"complete:     {'yes (official totals match)' if report.complete else 'no'}")
        print(f"decoded:      {report.decoded} sampled images")
    for note in report.notes:
        print(f"note: {printable(note)}")
    for problem in report.problems:
        print(f"problem: {printable(problem)}")
    print("OK" if report.ok else f"{len(report.problems)} problem(s) found")
    return 0 if report.ok else 1
