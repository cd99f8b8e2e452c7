"""An opened run for repeated retrieval: its saved codes, Hamming index, class names and (lazily) its
network, kept in memory so the GUI and `engine.query` can search again and again without reloading.

Query inputs: a test-split index (uses the saved query code, so the result matches `fghash eval`), an
image path (a path that is a record of the run's dataset keeps its label and is marked correct/incorrect),
or a PIL image. Any image Pillow reads works: it is decoded by core.data.images.load_rgb and encoded with
the run's evaluation transform.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.retrieval.approximate import ApproximateInfo, load_approximate
from core.search.codes import CodeSet, load_codes, save_codes
from core.base.errors import ConfigError, FghashError, RunError
from core.search.index import HammingIndex, load_index, pack_padded, read_index_header
from core.runs.catalog import resolve_run
from core.runs.lock import codes_lock, refuse_if_training
from core.runs.paths import RunPaths


@dataclass(frozen=True)
class QueryHit:
    """One retrieved database image. rank is 1-based; distance in bits; correct is None when the
    query's class is unknown."""

    rank: int
    database_index: int
    path: str
    label: int
    class_name: str
    distance: int
    correct: bool | None


@dataclass(frozen=True)
class QueryResult:
    """Top-k of one query, best first, ordered by (Hamming distance, database index).

    query_code: the query's ±1 code; query_label / query_class: None when unknown; source: "test split",
    "dataset record", "image" (a file or image outside the run's dataset) or "explicit label".
    """

    run_id: str
    bits: int
    query_path: str | None
    query_label: int | None
    query_class: str | None
    query_code: tuple[int, ...]
    source: str
    hits: tuple[QueryHit, ...]
    seconds: float
    approximate: ApproximateInfo | None = None  # set when the run's IVF index answered (else exact search)
    nprobe: int | None = None  # the IVF cells scanned for this query

    @property
    def precision(self) -> float | None:
        """Fraction of correct hits (None when the query's class is unknown)."""
        if self.query_label is None or not self.hits:
            return None
        return sum(bool(h.correct) for h in self.hits) / len(self.hits)


def _norm(path: str | Path) -> str:
    try:
        return str(Path(path).expanduser().resolve())
    except (OSError, RuntimeError):
        return str(path)


class RunSession:
    """An opened run. Thread-safe for concurrent queries (one lock around model and index use)."""

    def __init__(self, run: str | Path | RunPaths, device: str | torch.device | None = None,
                 use_gpu_index: bool | None = None):
        self.paths = run if isinstance(run, RunPaths) else resolve_run(run)
        self.cfg = self.paths.load_config()
        # Both splits are checked against config.json's bit length (codes copied from another run).
        self.database: CodeSet = load_codes(self.paths, "database", expected_bits=self.cfg.bits)
        if len(self.database) == 0:
            raise RunError(f"{self.paths.codes / 'database.npz'} holds no codes: the run's database is empty, so "
                           f"there is nothing to search; train the run again or add images to another run")
        try:
            self.queries: CodeSet | None = load_codes(self.paths, "query", expected_bits=self.cfg.bits)
        except RunError:
            if (self.paths.codes / "query.npz").exists():
                raise  # present but damaged: say so rather than silently losing the test split
            self.queries = None
        self._device = device
        self._use_gpu_index = use_gpu_index
        self._lock = threading.RLock()
        self._index: HammingIndex | None = None
        self._approximate = None  # (ApproximateHammingIndex, ApproximateInfo), loaded on the first use
        self._model = None
        self._class_names: tuple[str, ...] | None = None
        self._records: dict[str, tuple[str, int, int]] | None = None  # path -> (split, row, crop_bottom)

    @property
    def run_id(self) -> str:
        return self.paths.run_id

    # -- lazily loaded parts --------------------------------------------------------------------
    @property
    def index(self) -> HammingIndex:
        """The run's saved index when it matches the database codes, else one built in memory."""
        with self._lock:
            if self._index is None:
                self._index = self._load_or_build_index()
            return self._index

    def _load_or_build_index(self) -> HammingIndex:
        """The saved index when it was built from the current database codes; else one built in memory.

        A damaged index file (bad magic/header/payload/checksum) raises RunError naming it, even when it
        looks stale: a damaged file should be seen, not hidden. The file is never modified here."""
        if self.paths.index.exists():
            header = read_index_header(self.paths.index)
            if header.get("source_checksum") == self.database.checksum:
                index, _ = load_index(self.paths.index, use_gpu=self._use_gpu_index,
                                      database_packed=self.database.packed)
                if index.bits != self.database.bits or len(index) != len(self.database):
                    raise RunError(f"{self.paths.index} holds {len(index)} codes of {index.bits} bits but "
                                   f"{self.paths.codes / 'database.npz'} has {len(self.database)} of "
                                   f"{self.database.bits}; rebuild it with `fghash index`")
                return index
        # No index file, or one built from older codes (another bit length, re-encoded database): an
        # exact flat index builds in milliseconds, and the stale file stays as it is.
        return HammingIndex.from_packed(self.database.packed, self.database.bits, use_gpu=self._use_gpu_index)

    def approximate_index(self):
        """(ApproximateHammingIndex, ApproximateInfo) of the run's IVF file; RunError (with the command that
        builds it) when it is missing, damaged or stale."""
        with self._lock:
            if self._approximate is None:
                self._approximate = load_approximate(self.paths, self.database)
            return self._approximate

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names from the run's dataset; "class N" when the dataset cannot be read any more."""
        with self._lock:
            if self._class_names is None:
                self._load_dataset_facts()
            return self._class_names

    def _record_table(self) -> dict[str, tuple[str, int, int]]:
        """Normalised image path -> (split, row in that split's codes, crop_bottom)."""
        with self._lock:
            if self._records is None:
                self._load_dataset_facts()
            return self._records

    def dataset_crop(self, path: str | Path) -> int:
        """Pixels the run's dataset crops off the bottom of this image file (e.g. the aircraft banner);
        0 for files outside the dataset."""
        found = self._record_table().get(_norm(path))
        return found[2] if found is not None else 0

    def class_name(self, label: int) -> str:
        names = self.class_names
        if 0 <= label < len(names):
            return names[label]
        return f"class {label}" if label >= 0 else "unknown"

    def _load_dataset_facts(self) -> None:
        records: dict[str, tuple[str, int, int]] = {}
        names: tuple[str, ...] = ()
        crops: dict[str, int] = {}
        try:
            from core.data.registry import load_dataset

            dataset = load_dataset(self.cfg.dataset_kind, self.cfg.dataset_root, allow_missing=True)
            names = tuple(dataset.class_names)
            crops = {_norm(r.path): r.crop_bottom for r in dataset.records}
        except (FghashError, OSError):
            pass  # dataset moved or gone: the saved codes still carry paths and labels
        for split, codes in (("database", self.database), ("query", self.queries)):
            if codes is None:
                continue
            for row, path in enumerate(codes.paths):
                key = _norm(path)
                records.setdefault(key, (split, row, crops.get(key, 0)))
        top = int(max([self.database.labels.max(initial=-1)] + ([self.queries.labels.max(initial=-1)]
                                                                   if self.queries is not None else [])))
        if len(names) <= top:
            names = names + tuple(f"class {i}" for i in range(len(names), top + 1))
        self._class_names, self._records = names, records

    def _model_and_transform(self):
        with self._lock:
            if self._model is None:
                from core.runs.checkpoint import load_run_model
                from core.runtime.device import select_device
                from core.encoding.encode import run_eval_transform

                device = torch.device(self._device) if self._device is not None else select_device(self.cfg.device)
                model, cfg = load_run_model(self.paths, device)
                self._model = (model, run_eval_transform(cfg), device)
            return self._model

    # -- queries --------------------------------------------------------------------------------
    def encode_image(self, image, crop_bottom: int = 0) -> np.ndarray:
        """±1 code (bits,) int8 of a PIL image or an image file, with the run's evaluation transform."""
        from core.data.images import load_rgb
        from core.data.transforms import crop_bottom as cut
        from core.search.codes import to_pm1

        model, transform, device = self._model_and_transform()
        picture = image if not isinstance(image, (str, Path)) else load_rgb(image)
        picture = cut(picture.convert("RGB"), crop_bottom)
        with self._lock, torch.inference_mode():
            code = to_pm1(model.encode(transform(picture)[None].to(device)).float()).cpu().numpy()[0]
        if code.shape[0] != self.database.bits:
            raise RunError(f"the network of run {self.run_id} makes {code.shape[0]}-bit codes but its database "
                           f"codes have {self.database.bits} bits; re-encode the run")
        return code.astype(np.int8)

    def query(self, image_or_path, k: int = 20, label: int | None = None, approximate: bool = False,
              nprobe: int | None = None) -> QueryResult:
        """Search the database for one query (see the module docstring for accepted inputs).

        approximate: search the run's IVF index (`fghash index RUN --approximate`), scanning `nprobe` cells
        (default: the one saved with it); the hits then hold what those cells contain, at most k."""
        start = time.perf_counter()
        if k < 1:
            raise ConfigError(f"k must be >= 1; got {k}")
        path: str | None = None
        source = "image"
        known_label: int | None = None
        if isinstance(image_or_path, (int, np.integer)) and not isinstance(image_or_path, bool):
            if self.queries is None or len(self.queries) == 0:
                state = "is missing" if self.queries is None else "holds no rows"
                raise RunError(f"run {self.run_id} has no saved query codes ({self.paths.codes / 'query.npz'} {state})")
            row = int(image_or_path)
            if not 0 <= row < len(self.queries):
                raise ConfigError(f"test-split index {row} is out of range: run {self.run_id} has "
                                  f"{len(self.queries)} test images, 0..{len(self.queries) - 1}")
            code = self.queries.codes[row]
            path, known_label, source = self.queries.paths[row], int(self.queries.labels[row]), "test split"
        else:
            crop = 0
            if isinstance(image_or_path, (str, Path)):
                path = str(image_or_path)
                found = self._record_table().get(_norm(path))
                if found is not None:
                    split, row, crop = found
                    codes = self.database if split == "database" else self.queries
                    known_label, source = int(codes.labels[row]), "dataset record"
                    if split == "query":  # the saved code is what evaluation used
                        code = self.queries.codes[row]
                        source = "test split"
            if source != "test split":
                code = self.encode_image(image_or_path, crop_bottom=crop)
        if label is not None:
            known_label, source = int(label), ("explicit label" if source == "image" else source)
        info = None
        with self._lock:
            if approximate:
                ivf, info = self.approximate_index()
                ivf.nprobe = info.nprobe if nprobe is None else nprobe
                nprobe = ivf.nprobe
                result = ivf.search_packed(pack_padded(code[None, :], self.database.bits), k)
            else:
                nprobe = None
                result = self.index.search(code[None, :], k)
        found = result.indices[0] >= 0  # an IVF's scanned cells may hold fewer than k codes
        hits = []
        for rank, (dist, idx) in enumerate(zip(result.distances[0][found], result.indices[0][found]), 1):
            hit_label = int(self.database.labels[idx]) if idx < len(self.database) else -1
            hits.append(QueryHit(rank=rank, database_index=int(idx), path=self._db_path(int(idx)), label=hit_label,
                                 class_name=self.class_name(hit_label), distance=int(dist),
                                 correct=None if known_label is None else hit_label == known_label))
        return QueryResult(run_id=self.run_id, bits=self.database.bits, query_path=path, query_label=known_label,
                           query_class=None if known_label is None else self.class_name(known_label),
                           query_code=tuple(int(x) for x in code), source=source, hits=tuple(hits),
                           seconds=time.perf_counter() - start, approximate=info, nprobe=nprobe)

    def _db_path(self, idx: int) -> str:
        return self.database.paths[idx] if idx < len(self.database.paths) else ""

    # -- growing the database -------------------------------------------------------------------
    def add_images(self, paths, labels=None, cancel=None):
        """Encode image files with the network and append them to the database codes and the index.

        A generator of core.base.events.Progress; returns the number of images added. labels: one int per
        path, or None (-1 = unknown class, never counted as relevant). Writes codes and index atomically.
        """
        from core.data.records import ImageRecord
        from core.encoding.encode import encode_new_images

        paths = [str(p) for p in paths]
        labels = [-1] * len(paths) if labels is None else [int(x) for x in labels]
        if len(labels) != len(paths):
            raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
        if not paths:
            return 0
        from core.data.images import load_rgb

        for p in paths:  # fail before encoding: the dataset loader would silently substitute a bad image
            load_rgb(p)
        model, transform, device = self._model_and_transform()
        records = [ImageRecord(path=p, label=max(0, lab), split="train") for p, lab in zip(paths, labels)]
        codes = yield from encode_new_images(model, records, transform, device)
        return self.add_codes(codes.numpy().astype(np.int8), labels, paths)

    def add_codes(self, codes: np.ndarray, labels, paths) -> int:
        """Append already computed ±1 codes (count, bits) with their labels (-1 = unknown) and image paths
        to the database codes and the index (e.g. from `fghash encode`). Returns the count added.

        Idempotent per image: a path already in the database (as given or resolved), or given twice, is
        skipped, so the caller can report len(paths) - added as skipped. The whole read-modify-write runs
        under the run's codes lock (core/runs/lock.py) and starts from the codes on disk, not this
        session's copy: two processes adding at once both keep their rows. Refused while the run trains
        (its end would rewrite the database)."""
        codes = np.asarray(codes, dtype=np.int8)
        if codes.ndim != 2 or codes.shape[1] != self.database.bits:
            raise RunError(f"cannot add codes of shape {codes.shape} to run {self.run_id}: its database codes "
                           f"have {self.database.bits} bits")
        paths = [str(p) for p in paths]
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if not (len(paths) == len(labels) == codes.shape[0]):
            raise RunError(f"cannot add {codes.shape[0]} codes with {len(labels)} labels and {len(paths)} paths: "
                           f"one label and one path per code")
        with self._lock:
            with codes_lock(self.paths.root):
                # checked under the lock: a training that starts now saves its codes under it too
                refuse_if_training(self.paths.root, "add images to it")
                current = load_codes(self.paths, "database", expected_bits=self.cfg.bits)
                if current.checksum != self.database.checksum:  # another process changed them since we read
                    self.database, self._index = current, None
                known = set(current.paths)  # stored absolute (dataset records, encode's folders)
                keep = []
                for row, p in enumerate(paths):
                    if p not in known and _norm(p) not in known:
                        known.update((p, _norm(p)))
                        keep.append(row)
                if not keep:
                    return 0
                codes, labels, paths = codes[keep], labels[keep], [paths[r] for r in keep]
                # the index of the codes before this call: taken after saving, a lazily built one would
                # already hold the new codes and get them twice
                index = self.index
                save_codes(self.paths, "database", np.vstack([current.codes, codes]),
                           np.concatenate([current.labels, labels]), list(current.paths) + paths)
                self.database = load_codes(self.paths, "database")
                index.add(codes)
                index.save(self.paths.index, source_checksum=self.database.checksum)
            self._records = None
            self._class_names = None
            self._approximate = None  # its file is now stale: the next approximate query says to rebuild it
            self._stamp = _stamp(self.paths)
        return len(paths)


_CACHE: OrderedDict[str, RunSession] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 3


def open_session(run: str | Path | RunPaths) -> RunSession:
    """A cached RunSession per run folder (the few most recent are kept); reopened when its codes changed."""
    paths = run if isinstance(run, RunPaths) else resolve_run(run)
    key = str(paths.root)
    stamp = _stamp(paths)
    with _CACHE_LOCK:
        session = _CACHE.get(key)
        if session is not None and getattr(session, "_stamp", None) == stamp:
            _CACHE.move_to_end(key)
            return session
    session = RunSession(paths)
    session._stamp = stamp
    with _CACHE_LOCK:
        _CACHE[key] = session
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return session


def forget_session(run: str | Path | RunPaths | None = None) -> None:
    """Drop one cached session (or all): after deleting a run, or to free the network's memory."""
    with _CACHE_LOCK:
        if run is None:
            _CACHE.clear()
        else:
            paths = run if isinstance(run, RunPaths) else resolve_run(run)
            _CACHE.pop(str(paths.root), None)


def _stamp(paths: RunPaths) -> tuple:
    """Modification facts of the files a session depends on (a retrained run invalidates the cache)."""
    out = []
    for f in (paths.codes / "database.npz", paths.codes / "query.npz", paths.index, paths.approximate_index,
              paths.last_checkpoint()):
        try:
            st = f.stat() if f is not None else None
            out.append((st.st_mtime_ns, st.st_size) if st else None)
        except OSError:
            out.append(None)
    return tuple(out)
