"""`fghash figure retrieval|attention|table|pr|bits` (bits also takes a study id): paper figures and tables from trained runs
(core.figures; the GUI's Export buttons call the same functions)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.engine import DEFAULT_DPI


def _query_arg(text: str):
    """A test-split index (digits that do not name a file) or an image path."""
    return int(text) if text.isdigit() and not Path(text).exists() else text


def _cmd_retrieval(args: argparse.Namespace) -> int:
    from core.engine import write_retrieval_figure

    out = write_retrieval_figure(args.runs, [_query_arg(q) for q in args.queries], args.output, k=args.k,
                                 show_distance=not args.no_distance, dpi=args.dpi)
    print(f"wrote {out}")
    return 0


def _cmd_attention(args: argparse.Namespace) -> int:
    from core.engine import write_attention_figure

    out = write_attention_figure(args.run, [_query_arg(i) for i in args.images], args.output,
                                 target=None if args.target is None else _query_arg(args.target),
                                 cam_method=args.cam_method, colormap_name=args.colormap, alpha=args.alpha,
                                 regions=args.regions, size=args.size, dpi=args.dpi, device=args.device)
    print(f"wrote {out}")
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    from core.engine import table_format, table_text, write_table

    options = dict(metric=args.metric, by_dataset=args.by_dataset, timing=args.timing)
    if args.output:
        out = write_table(args.runs, args.output, args.format or table_format(args.output), args.digits, **options)
        print(f"wrote {out}")
    else:
        sys.stdout.write(table_text(args.runs, args.format or "markdown", args.digits, **options))
    return 0


def _cmd_pr(args: argparse.Namespace) -> int:
    from core.engine import write_pr_figure

    print(f"wrote {write_pr_figure(args.runs, args.output, dpi=args.dpi)}")
    return 0


def _cmd_bits(args: argparse.Namespace) -> int:
    from core import engine
    from core.engine import write_bits_figure

    if len(args.runs) == 1 and any(study_id == args.runs[0] for study_id, _t, _m in engine.list_studies()):
        # a study id: one line per method (table row), error bars over its seeds
        print(f"wrote {engine.write_study_figure(args.runs[0], args.output, dpi=args.dpi)}")
        return 0
    print(f"wrote {write_bits_figure(args.runs, args.output, dpi=args.dpi)}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from core.engine import CAM_METHODS, COLORMAPS, TABLE_FORMATS

    fig = sub.add_parser("figure", help="paper figures and tables: retrieval, attention, table, pr, bits")
    kinds = fig.add_subparsers(dest="figure_kind", required=True)
    out_help = "output file: .pdf, .svg or .png (the suffix picks the format)"
    dpi_help = f"PNG resolution, and of the photographs inside PDF/SVG (default {DEFAULT_DPI})"

    ret = kinds.add_parser("retrieval", help="queries as rows, the top k of each run, green/red frames")
    ret.add_argument("runs", nargs="+", help="one or more runs (ids, prefixes, folders, 'latest'), side by side")
    ret.add_argument("--queries", nargs="+", required=True, help="test-split indices or image files, one row each")
    ret.add_argument("-k", type=int, default=10, help="results per row (default 10)")
    ret.add_argument("--no-distance", action="store_true", help="do not print the Hamming distance under results")
    ret.add_argument("-o", "--output", required=True, help=out_help)
    ret.add_argument("--dpi", type=int, default=DEFAULT_DPI, help=dpi_help)
    ret.set_defaults(func=_cmd_retrieval)

    att = kinds.add_parser("attention", help="rows of images: original / CAM / Grad-CAM / SREM mask / erased "
                                             "(Multi-FusNet: per-level maps; SEMICON, A2-Net, ExchNet, AGMH: "
                                             "their own attention maps), with a colour bar")
    att.add_argument("run", help="run id, prefix, folder or 'latest'")
    att.add_argument("images", nargs="+", help="test-split indices or image files, one row each")
    att.add_argument("--target", default=None, help="the query (index or file) Grad-CAM explains similarity to "
                                                    "(default: each image's own code)")
    att.add_argument("--cam-method", default="gradcam", choices=CAM_METHODS)
    att.add_argument("--colormap", default="jet", choices=sorted(COLORMAPS))
    att.add_argument("--alpha", type=float, default=0.5, help="heat-map opacity 0..1 (default 0.5)")
    att.add_argument("--regions", type=int, default=None, help="SREM N (default: the run's)")
    att.add_argument("--size", type=int, default=None, help="SREM square size s in px (default: the run's)")
    att.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    att.add_argument("-o", "--output", required=True, help=out_help)
    att.add_argument("--dpi", type=int, default=DEFAULT_DPI, help=dpi_help)
    att.set_defaults(func=_cmd_attention)

    tab = kinds.add_parser("table", help="method x bits mAP@all table (mean ± std over seeds), chance as footnote")
    tab.add_argument("runs", nargs="+", help="runs (ids, prefixes, folders)")
    tab.add_argument("--format", default=None, choices=TABLE_FORMATS,
                     help="default: from the -o suffix (.md, .tex, .csv), else markdown")
    tab.add_argument("--digits", type=int, default=2, help="decimals of the percentages (default 2)")
    tab.add_argument("-o", "--output", default=None, help="write to this file instead of printing")
    tab.add_argument("--metric", default="test", choices=("test", "validation"),
                     help="test: the final epoch's test mAP@all (default); validation: the test mAP@all of the "
                          "epoch selected on each run's validation split")
    tab.add_argument("--by-dataset", action="store_true", help="group the columns by dataset (rows: methods)")
    tab.add_argument("--timing", action="store_true", help="add training time and images/s columns")
    tab.set_defaults(func=_cmd_table)

    for name, func, helptext in (("pr", _cmd_pr, "precision-recall curves over Hamming radius"),
                                 ("bits", _cmd_bits, "mAP@all against code length, chance level dashed")):
        p = kinds.add_parser(name, help=helptext)
        p.add_argument("runs", nargs="+", help="runs (ids, prefixes, folders)" + (
            "; or one study id (`fghash study list`): its finished cells" if name == "bits" else ""))
        p.add_argument("-o", "--output", required=True, help=out_help)
        p.add_argument("--dpi", type=int, default=DEFAULT_DPI, help=dpi_help)
        p.set_defaults(func=func)
