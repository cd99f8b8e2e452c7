"""`fghash explain RUN IMAGE`: CAM / Grad-CAM / SREM / Multi-FusNet level maps / a method's attention parts of
one image, saved as PNG."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from core.engine import CAM_METHODS, COLORMAPS, EXPLANATION_KINDS, SIMILARITIES

    p = sub.add_parser(
        "explain", help="explain what a trained run looks at in an image (PNG)",
        description="Maps cover the region the network saw (resize + centre crop), drawn by default at the "
                    "file's own resolution; --with QUERY puts the query's map beside the image's.",
    )
    p.add_argument("run", help="run folder, run id, unique id prefix or 'latest'")
    p.add_argument("image", help="image file")
    p.add_argument("--kind", choices=EXPLANATION_KINDS, default="cam",
                   help="cam: channel-mean activation; gradcam: Grad-CAM family on code similarity; "
                        "srem: SREM erased squares; levels: Multi-FusNet per-level maps; parts: the method's own "
                        "attention maps, one tile each (SEMICON, A2-Net, ExchNet, AGMH) (default cam)")
    p.add_argument("--method", choices=CAM_METHODS, default="gradcam", help="Grad-CAM variant (--kind gradcam)")
    p.add_argument("--similarity", choices=SIMILARITIES, default="dot",
                   help="target: dot product or cosine of the image's code with the target code (default dot)")
    p.add_argument("--target-image", metavar="IMG",
                   help="explain closeness to this image's code (e.g. the query); default: the image's own code")
    p.add_argument("--regions", type=int, metavar="N", help="SREM: number of top pixels (default: the run's)")
    p.add_argument("--size", type=int, metavar="S", help="SREM: square side in pixels (default: the run's)")
    p.add_argument("--erase-target", choices=("normalized_zero", "black"), help="SREM: erased colour")
    p.add_argument("--colormap", choices=sorted(COLORMAPS), default="jet")
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity 0..1 (default 0.5)")
    p.add_argument("--overlay-only", action="store_true",
                   help="write only the overlay instead of the labelled panel with its colour bar")
    p.add_argument("--resolution", choices=("file", "eval"), default="file",
                   help="file: the crop's region at the file's resolution (default); eval: the network's "
                        "image_size crop")
    p.add_argument("--out-size", type=int, metavar="PX",
                   help="side of each square image in the output (default: the region's size in the file)")
    p.add_argument("--with", dest="with_image", metavar="QUERY",
                   help="also explain QUERY and draw its panel left of IMAGE's (gradcam: each map towards the "
                        "other image's code unless --target-image is given)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png",
                   help="PNG file to write; its own folder is created if missing, but not that folder's parents "
                        "(a mistyped path fails instead of growing a tree of folders)")
    p.set_defaults(func=_cmd_explain)


def _cmd_explain(args: argparse.Namespace) -> int:
    from core import engine
    from core.engine import ConfigError, label_image, render, render_panel, render_side_by_side, save_png

    if not 0.0 <= args.alpha <= 1.0:
        raise ConfigError(f"--alpha must be between 0 and 1; got {args.alpha}")
    output = Path(args.output)
    if output.suffix.lower() != ".png":
        raise ConfigError(f"--output must be a .png file; got {output}")
    if not output.parent.is_dir() and not output.parent.parent.is_dir():
        raise ConfigError(f"--output folder {output.parent.parent} does not exist: fghash explain creates only the "
                          f"output file's own folder ({output.parent.name}), not its parents")
    options = dict(method=args.method, similarity=args.similarity, regions=args.regions, size=args.size,
                   erase_target=args.erase_target, device=args.device, resolution=args.resolution,
                   out_size=args.out_size)
    expl = engine.explain(args.image, args.run, args.kind, target_image=args.target_image or args.with_image,
                          **options)
    if not output.parent.is_dir():  # its own folder only (its parent exists: checked above)
        try:
            output.parent.mkdir()
        except OSError as exc:
            raise ConfigError(f"cannot create the --output folder {output.parent}: {exc.strerror}") from None
    draw = render if args.overlay_only else render_panel
    picture = draw(expl, colormap=args.colormap, alpha=args.alpha)
    if args.with_image:  # the query at the image's size, so the two panels line up
        options["out_size"] = args.out_size or expl.hw[0]
        query = engine.explain(args.with_image, args.run, args.kind, target_image=args.target_image or args.image,
                               **options)
        picture = render_side_by_side([
            label_image(draw(query, colormap=args.colormap, alpha=args.alpha), "query"),
            label_image(picture, "result")])
    save_png(picture, output)
    h, w = expl.hw
    view = "region of the file" if args.resolution == "file" else "eval view"
    line = f"{expl.kind} ({expl.method}) on the {w}x{h} {view}"
    if expl.score is not None:
        line += f"; similarity {expl.score:.4g}"
    if expl.mask is not None:
        line += f"; N={expl.regions} s={expl.size} erase {100 * expl.mask.mean():.1f}% of the pixels"
    print(f"{line}\nwrote {output} ({picture.shape[1]}x{picture.shape[0]} px)")
    return 0
