"""Engine entry points for retrieval on a trained run: build its index, evaluate its codes, query it.

All three work from the run's saved codes (`<run>/codes/{query,database}.npz`, written by training).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from pathlib import Path

import numpy as np

from core.codes import load_codes
from core.errors import ConfigError
from core.events import Progress
from core.index import HammingIndex
from core.metrics import RetrievalReport, summarize
from core.runs import RunPaths, resolve_run
from core.session import QueryResult, open_session
from core.text import printable

_ADD_BATCH = 200_000  # codes per add() call while building, so progress moves on big databases


def _paths(run: str | Path | RunPaths) -> RunPaths:
    return run if isinstance(run, RunPaths) else resolve_run(run)


def build_index(run: str | Path | RunPaths) -> Generator[Progress, None, Path]:
    """Build `<run>/index.faiss` from the run's database codes. Yields Progress("index", done, total);
    returns the index path. The file records the codes' checksum, so a stale index is detected."""
    paths = _paths(run)
    cfg = paths.load_config()  # a folder without a valid config.json is not a run: say so first
    database = load_codes(paths, "database", expected_bits=cfg.bits)
    index = HammingIndex(database.bits, use_gpu=False)  # the file is backend-neutral; CPU builds it
    total = len(database)
    start = time.perf_counter()
    yield Progress("index", 0, total, None)
    for lo in range(0, total, _ADD_BATCH):
        hi = min(total, lo + _ADD_BATCH)
        index.add_packed(database.packed[lo:hi])
        elapsed = time.perf_counter() - start
        yield Progress("index", hi, total, elapsed / hi * (total - hi))
    return index.save(paths.index, source_checksum=database.checksum)


def evaluate(run: str | Path | RunPaths, ks: Sequence[int] = (10, 20, 50, 100), device: str | None = None,
             ) -> RetrievalReport:
    """mAP@all (stable and tie-averaged), mAP@k, precision@k, PR curve and per-query AP of a run's saved
    codes: test split (queries) against the database split."""
    from core.device import select_device

    if any(int(k) < 1 for k in ks):
        raise ConfigError(f"every cut-off k must be >= 1; got {', '.join(map(str, ks))}")
    device = str(select_device(device or "auto"))  # ConfigError for an unknown device or CUDA without a GPU
    paths = _paths(run)
    cfg = paths.load_config()
    queries = load_codes(paths, "query", expected_bits=cfg.bits)
    database = load_codes(paths, "database", expected_bits=cfg.bits)
    if len(queries) == 0:
        summary = None
    else:
        summary = summarize(queries.codes, database.codes, queries.labels, database.labels, ks, device=device)
    return RetrievalReport(
        run_id=paths.run_id, method=cfg.method, dataset_kind=cfg.dataset_kind, bits=database.bits,
        num_queries=len(queries), num_database=len(database),
        map_all=summary.map_all if summary else 0.0,
        map_all_tie_averaged=summary.map_all_tie_averaged if summary else 0.0,
        map_at_k=dict(summary.map_at_k) if summary else {int(k): 0.0 for k in ks},
        precision_at_k=dict(summary.precision_at_k) if summary else {int(k): 0.0 for k in ks},
        pr_curve=summary.pr_curve if summary else (),
        per_query_ap=summary.per_query_ap if summary else (),
    )


def query(image_or_path, run: str | Path | RunPaths, k: int = 20, label: int | None = None) -> QueryResult:
    """Top-k database images for one query: a test-split index (int), an image path, or a PIL image.

    The run's session (codes, index, network) is cached, so repeated queries are fast.
    """
    return open_session(_paths(run)).query(image_or_path, k=k, label=label)


def add_images(run: str | Path | RunPaths, image_paths: Sequence[str | Path], labels: Sequence[int] | None = None,
               cancel=None) -> Generator[Progress, None, int]:
    """Encode images with the run's network and append them to its database codes and index."""
    return (yield from open_session(_paths(run)).add_images(image_paths, labels, cancel=cancel))


def report_table(reports: Sequence[RetrievalReport], ks: Sequence[int] | None = None) -> str:
    """A plain-text table, one row per run, values in percent (as the papers print them)."""
    if not reports:
        return "no runs"
    ks = tuple(ks) if ks is not None else tuple(reports[0].map_at_k)
    head = (f"{'run':34} {'method':11} {'dataset':9} {'bits':>4} {'queries':>7} {'database':>8} "
            f"{'mAP@all':>8} {'tie-avg':>8}" + "".join(f" {'mAP@' + str(k):>8}" for k in ks)
            + "".join(f" {'P@' + str(k):>7}" for k in ks))
    lines = [head, "-" * len(head)]
    for r in reports:
        lines.append(f"{printable(r.run_id)[:34]:34} {r.method:11} {printable(r.dataset_kind):9} {r.bits:>4} {r.num_queries:>7} "
                     f"{r.num_database:>8} {100 * r.map_all:8.2f} {100 * r.map_all_tie_averaged:8.2f}"
                     + "".join(f" {100 * r.map_at_k.get(k, float('nan')):8.2f}" for k in ks)
                     + "".join(f" {100 * r.precision_at_k.get(k, float('nan')):7.2f}" for k in ks))
    groups = sorted({(r.method, r.dataset_kind) for r in reports})
    bits = sorted({r.bits for r in reports})
    if len(reports) > 1 and len(bits) > 1:  # the papers' layout: method x bits, mAP@all in %
        lines += ["", "mAP@all (%) by code length", f"{'method':11} {'dataset':9}" + "".join(f" {b:>6}b" for b in bits)]
        for method, kind in groups:
            cells = []
            for b in bits:
                vals = [r.map_all for r in reports if (r.method, r.dataset_kind, r.bits) == (method, kind, b)]
                cells.append(f" {100 * float(np.mean(vals)):7.2f}" if vals else f" {'-':>7}")
            lines.append(f"{method:11} {kind:9}" + "".join(cells))
    return "\n".join(lines)
