"""Encode any image collection (a dataset split, or a folder tree of photos) with a trained run: resumable
in chunks, sharded over the processes torchrun starts (core/runtime/distributed.py).

Output folder OUT (`fghash encode RUN SOURCE --out OUT`):
  manifest.json          run id, bits, source, image count, chunk size, sha256 of the path list
  paths.json             the image paths, a JSON list: row i of the codes is image i (a file name may
                         hold a newline, so one path per line could be split)
  chunks/<i>.npz         packed codes and labels of rows [i * chunk_size, (i + 1) * chunk_size), atomic
  codes/database.npz     every row, in the core.search.codes format (written once all chunks exist)
A chunk file that exists is done, so a killed encode restarts with the missing chunks only; a chunk is
encoded under a lock of its own, so two encodes into one folder share the work instead of both doing all.
Chunk i is encoded by rank i % world_size. Images that cannot be decoded are encoded from a blank image (as in
core.encoding.encode.encode_records) and counted in a warning. Labels: the dataset's, or -1 (unknown) for a folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from core.base.atomic import atomic_write, atomic_write_text
from core.base.errors import DatasetError, OutputError, RunError, one_line
from core.base.events import Log, Progress
from core.base.safe_read import MAX_CODES_BYTES, MAX_JSON_BYTES, open_regular, read_regular
from core.runs.lock import ChunkLocks
from core.runs.paths import refuse_output_in_runs
from core.search.codes import load_codes, pack_codes, save_codes, unpack_codes


@dataclass(frozen=True)
class Collection:
    """Images to encode, in row order. labels: class per image, -1 when unknown."""

    source: str
    paths: tuple[str, ...]
    labels: tuple[int, ...]


@dataclass(frozen=True)
class EncodeResult:
    """What one encode call did. encoded: images this process encoded now; skipped: images of chunks
    found already done; seconds: wall time of this call; codes: OUT/codes/database.npz, or None while
    chunks of other processes are missing."""

    total: int
    encoded: int
    skipped: int
    seconds: float
    codes: Path | None


def folder_collection(folder: str | Path) -> Collection:
    """Every image file under `folder` (recursively, by extension, hidden entries skipped), sorted."""
    from core.data.common import IMAGE_EXTENSIONS

    root = Path(os.path.abspath(folder))  # absolute: the paths are stored, and used from any folder later
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder of images")
    found = []
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(here, f) for f in sorted(files)
                  if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)]
    if not found:
        raise DatasetError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) under {root}")
    return Collection(source=f"folder {root.resolve()}", paths=tuple(found), labels=(-1,) * len(found))


def dataset_collection(kind: str, root: str | None, split: str) -> Collection:
    """A dataset split ("train", "test" or "all") with its labels."""
    from core.data.registry import load_dataset

    dataset = load_dataset(kind, root)
    records = [r for s in ("train", "test") for r in dataset.split(s)] if split == "all" else dataset.split(split)
    if not records:
        raise DatasetError(f"dataset {kind} has no {split} images")
    return Collection(source=f"dataset {kind} {dataset.root} split {split}", paths=tuple(str(r.path) for r in records),
                      labels=tuple(int(r.label) for r in records))


def encode_collection(run, collection: Collection, out: str | Path, *, chunk_size: int = 1024,
                      batch_size: int = 64, device: str = "auto", num_workers: int = 0, cancel=None,
                      ) -> Generator[Progress | Log, None, EncodeResult]:
    """Encode `collection` with run's network into `out` (layout in the module docstring).

    Yields Progress("encode", done, total, eta_s) over this process's pending images, and Log
    warnings; returns an EncodeResult. Under torchrun each rank encodes its chunks; rank 0 writes the
    manifest first and the assembled codes last.
    """
    from core.runtime import distributed
    from core.runs.checkpoint import load_run_model
    from core.data.records import ImageRecord
    from core.runtime.device import select_device
    from core.encoding.encode import encode_records, run_eval_transform
    from core.runs.catalog import resolve_run

    start = time.perf_counter()
    rank = distributed.current()
    paths = resolve_run(run)
    out = Path(out)
    check_encode_folder(out)
    torch_device = select_device(device)
    model, cfg = load_run_model(paths, torch_device)
    chunks = (len(collection.paths) + chunk_size - 1) // chunk_size
    digest = hashlib.sha256("\0".join(collection.paths).encode("utf-8", "surrogatepass")).hexdigest()
    manifest = {"run_id": paths.run_id, "bits": cfg.bits, "source": collection.source,
                "count": len(collection.paths), "chunk_size": chunk_size, "paths_sha256": digest}
    if rank.is_main:
        _open_manifest(out, manifest, collection)
    distributed.barrier()
    mine = [i for i in range(chunks) if i % rank.world_size == rank.rank]
    pending = [i for i in mine if not _chunk_path(out, i).exists()]
    todo = sum(len(_rows(i, chunk_size, len(collection.paths))) for i in pending)
    skipped = sum(len(_rows(i, chunk_size, len(collection.paths))) for i in mine) - todo
    if skipped:
        yield Log(f"{skipped} image(s) of this process were encoded by an earlier call; continuing with {todo}")
    transform = run_eval_transform(cfg)
    done, clock = 0, time.perf_counter()

    def encode_chunk(i: int) -> Generator[Progress | Log, None, None]:
        nonlocal done
        rows = _rows(i, chunk_size, len(collection.paths))
        records = [ImageRecord(path=collection.paths[r], label=max(0, collection.labels[r]), split="train")
                   for r in rows]
        gen = encode_records(model, records, transform, torch_device, batch_size, cancel,
                             num_workers=num_workers, phase="encode")
        while True:
            try:
                event = next(gen)
            except StopIteration as stop:
                codes = stop.value
                break
            if isinstance(event, Progress):
                now = done + event.done
                rate = now / max(time.perf_counter() - clock, 1e-9)
                yield Progress("encode", now, todo, (todo - now) / rate if now else None)
            else:
                yield event
        labels = np.asarray([collection.labels[r] for r in rows], dtype=np.int64)
        packed = pack_codes(codes.numpy())
        atomic_write(_chunk_path(out, i), lambda tmp, p=packed, lab=labels: _write_chunk(tmp, p, lab))
        done += len(rows)

    # Each chunk is encoded under a lock of its own (a byte of chunks/.lock): a second encode into the same
    # folder takes the chunks nobody holds and waits for the others instead of encoding them twice.
    (out / "chunks").mkdir(parents=True, exist_ok=True)  # a chunks folder deleted since the manifest was written
    with ChunkLocks(out / "chunks" / ".lock") as locks:
        deferred = []
        for i in pending:
            if not locks.try_acquire(i):
                deferred.append(i)  # another process is encoding it now
                continue
            try:
                if not _chunk_path(out, i).exists():
                    yield from encode_chunk(i)
            finally:
                locks.release(i)
        for i in deferred:
            locks.acquire(i)  # until the other process has written it (or died)
            try:
                if not _chunk_path(out, i).exists():
                    yield from encode_chunk(i)
            finally:
                locks.release(i)
    skipped += todo - done
    distributed.barrier()
    result_path = _assemble(out, collection, cfg.bits, chunks, chunk_size) if rank.is_main else None
    distributed.barrier()
    return EncodeResult(total=len(collection.paths), encoded=done, skipped=skipped,
                        seconds=time.perf_counter() - start, codes=result_path)


def load_encoded(out: str | Path):
    """The assembled codes of an encode folder (core.search.codes.CodeSet)."""
    return load_codes(SimpleNamespace(codes=Path(out) / "codes"), "database")


def check_encode_folder(out: Path) -> None:
    """OutputError unless `out` is a folder or a new name outside the run store and every run folder."""
    refuse_output_in_runs(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder: encode writes a folder of chunks and codes there")


def _open_manifest(out: Path, manifest: dict, collection: Collection) -> None:
    file = out / "manifest.json"
    if file.exists() or file.is_symlink():
        data = read_regular(file, what="encode manifest", limit=MAX_JSON_BYTES, error=RunError)
        try:
            saved = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise RunError(f"{file} is not an fghash encode manifest ({one_line(exc)}); delete {out} or choose "
                           f"another --out") from None
        if not isinstance(saved, dict):
            raise RunError(f"{file} is not an fghash encode manifest (not a JSON object); delete {out} or choose "
                           f"another --out")
        if saved != manifest:
            differ = sorted(k for k in manifest if saved.get(k) != manifest[k])
            raise RunError(f"{out} holds an encode of something else (different {', '.join(differ)}); choose "
                           f"another --out or delete that folder")
        return
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "paths.json", json.dumps(list(collection.paths), indent=0))
    atomic_write_text(file, json.dumps(manifest, indent=2))


def _assemble(out: Path, collection: Collection, bits: int, chunks: int, chunk_size: int) -> Path | None:
    missing = [i for i in range(chunks) if not _chunk_path(out, i).exists()]
    if missing:
        return None
    packed = [_read_chunk(_chunk_path(out, i), len(_rows(i, chunk_size, len(collection.paths))), bits)
              for i in range(chunks)]
    codes = unpack_codes(np.concatenate(packed), bits)
    return save_codes(SimpleNamespace(codes=out / "codes"), "database", codes,
                      np.asarray(collection.labels, dtype=np.int64), list(collection.paths))


def _read_chunk(chunk: Path, rows: int, bits: int) -> np.ndarray:
    """The packed codes (rows, ceil(bits/8)) uint8 of one chunk file; RunError naming it when it is not a
    regular file (a FIFO or a link to /dev/zero is refused before it is read), is damaged or foreign."""
    redo = "delete it and encode again (only that chunk is redone)"
    try:
        with open_regular(chunk, what="encode chunk", limit=MAX_CODES_BYTES, error=RunError) as fh, \
                np.load(fh, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("a single array, not an .npz archive")
            packed = data["packed"]
    except RunError:
        raise
    except KeyError:
        raise RunError(f"{chunk} is not an encode chunk (no 'packed' field); {redo}") from None
    except Exception as exc:  # ValueError (pickles), OSError, EOFError, BadZipFile, zlib errors...
        raise RunError(f"{chunk} is damaged or not an encode chunk ({one_line(exc)}); {redo}") from None
    if packed.dtype != np.uint8 or packed.shape != (rows, (bits + 7) // 8):
        raise RunError(f"{chunk} holds {packed.shape} {packed.dtype} codes, expected ({rows}, {(bits + 7) // 8}) "
                       f"uint8 for {bits}-bit codes; {redo}")
    return packed


def _write_chunk(tmp: Path, packed: np.ndarray, labels: np.ndarray) -> None:
    with open(tmp, "wb") as fh:
        np.savez(fh, packed=packed, labels=labels)


def _rows(chunk: int, chunk_size: int, count: int) -> range:
    return range(chunk * chunk_size, min((chunk + 1) * chunk_size, count))


def _chunk_path(out: Path, chunk: int) -> Path:
    return out / "chunks" / f"{chunk:08d}.npz"
