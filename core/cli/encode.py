"""`fghash encode RUN (FOLDER | --dataset KIND)`: codes for any image collection, resumable, torchrun-sharded."""

from __future__ import annotations

import argparse
import sys

from core.engine import printable


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="encode a folder tree of images or a dataset split with a trained run "
                                      "(resumable; shards over processes under torchrun)")
    p.add_argument("run", help="run id, prefix, folder or 'latest'")
    p.add_argument("folder", nargs="?", default=None, help="folder tree of images (labels unknown)")
    p.add_argument("--dataset", default=None, help="encode a dataset split instead (kind, see `fghash datasets list`)")
    p.add_argument("--root", default=None, help="dataset folder (not needed for demo)")
    p.add_argument("--split", default="test", choices=("train", "test", "all"), help="dataset split (default test)")
    p.add_argument("--out", required=True, help="output folder; encoding again into it continues where it stopped")
    p.add_argument("--chunk-size", type=int, default=1024, help="images per resumable chunk (default 1024)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num-workers", type=int, default=0, help="data loader workers per process")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--add", action="store_true", help="append the codes to the run's database and index (Browse)")
    p.set_defaults(func=_cmd_encode)


def _cmd_encode(args: argparse.Namespace) -> int:
    from core.cli.progress import LazyBar
    from core.engine import (
        ConfigError,
        Log,
        Progress,
        dataset_collection,
        drain,
        encode_collection,
        folder_collection,
        load_encoded,
        setup_ranks,
        teardown_ranks,
    )

    if (args.folder is None) == (args.dataset is None):
        raise ConfigError("give either a FOLDER of images or --dataset KIND to encode, not both or neither")
    if args.chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1; got {args.chunk_size}")
    rank = setup_ranks(args.device)
    collection = (folder_collection(args.folder) if args.folder is not None
                  else dataset_collection(args.dataset, args.root, args.split))
    gen = encode_collection(args.run, collection, args.out, chunk_size=args.chunk_size, batch_size=args.batch_size,
                            device=args.device, num_workers=args.num_workers)
    with LazyBar(desc=f"encode ({rank.label()})" if rank.active else "encode", unit="img", dynamic_ncols=True,
                 disable=not rank.is_main) as bars:
        def show(event) -> None:
            bar = bars.get()
            if isinstance(event, Progress):
                bar.total, bar.n = event.total, event.done
                bar.refresh()
            elif isinstance(event, Log):
                bar.write(printable(event.message), file=sys.stderr)

        result = drain(gen, show)
    if rank.is_main:
        rate = result.encoded / max(result.seconds, 1e-9)
        print(f"encoded {result.encoded} image(s) in {result.seconds:.1f} s ({rate:.1f} images/s on this process, "
              f"{rank.world_size} process(es)); {result.skipped} were already done; {result.total} in all")
        if result.codes is not None:
            print(f"codes: {result.codes}")
            if args.add:
                from core import engine

                codes = load_encoded(args.out)
                added = engine.session(args.run).add_codes(codes.codes, codes.labels, codes.paths)
                skipped = len(codes.paths) - added
                print(f"added {added} code(s) to the database and index of run {args.run}"
                      + (f"; skipped {skipped} image(s) already in it" if skipped else ""))
    teardown_ranks()
    return 0
