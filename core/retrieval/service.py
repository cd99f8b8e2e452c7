"""Engine entry points for retrieval on a trained run: build its index, evaluate its codes, query it.

All three work from the run's saved codes (`<run>/codes/{query,database}.npz`, written by training).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Generator, Sequence
from pathlib import Path

from core.base.errors import ConfigError, RunError
from core.base.events import Progress
from core.base.style import method_name, variant_label
from core.base.text import printable
from core.config.train_config import TrainConfig
from core.evaluation.chance import ChanceLevels, chance_levels, chance_map
from core.evaluation.metrics import (
    TIES_AVERAGED_LABEL,
    TIES_BY_INDEX_LABEL,
    RetrievalFigures,
    RetrievalReport,
    collapse_note,
    largest_code_share,
    summarize,
)
from core.evaluation.seed_groups import group_by_seed, mean_std
from core.retrieval.session import QueryResult, open_session
from core.runs.catalog import resolve_run
from core.runs.paths import RunPaths
from core.search.codes import load_codes
from core.search.index import HammingIndex

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
    """mAP@all, mAP@k, precision@k (tie-averaged headline and index-ordered twins), PR curve, per-query AP
    and the collapse check of a run's saved codes: test split (queries) against the database split."""
    from core.runtime.device import select_device

    if any(int(k) < 1 for k in ks):
        raise ConfigError(f"every cut-off k must be >= 1; got {', '.join(map(str, ks))}")
    device = str(select_device(device or "auto"))  # ConfigError for an unknown device or CUDA without a GPU
    paths = _paths(run)
    cfg = paths.load_config()
    queries = load_codes(paths, "query", expected_bits=cfg.bits)
    database = load_codes(paths, "database", expected_bits=cfg.bits)
    ks = tuple(int(k) for k in ks)
    # An empty split has no mAP: reporting 0.00 would read as a measured result
    for codes, split in ((queries, "query"), (database, "database")):
        if len(codes) == 0:
            raise RunError(f"{paths.codes / f'{split}.npz'} holds no codes, so there is nothing to evaluate: train "
                           f"the run again")
    summary = summarize(queries.codes, database.codes, queries.labels, database.labels, ks, device=device)
    figures = {f.name: getattr(summary, f.name) for f in dataclasses.fields(RetrievalFigures)}
    return RetrievalReport(run_id=paths.run_id, method=cfg.method, dataset_kind=cfg.dataset_kind, bits=database.bits,
                           num_queries=len(queries), num_database=len(database),
                           largest_code_share=largest_code_share(database.codes), **figures)


def query(image_or_path, run: str | Path | RunPaths, k: int = 20, label: int | None = None,
          approximate: bool = False, nprobe: int | None = None) -> QueryResult:
    """Top-k database images for one query: a test-split index (int), an image path, or a PIL image.

    The run's session (codes, index, network) is cached, so repeated queries are fast. approximate: use the
    run's IVF index (core/retrieval/approximate.py), scanning nprobe cells (default: the one it was built with).
    """
    return open_session(_paths(run)).query(image_or_path, k=k, label=label, approximate=approximate, nprobe=nprobe)


def add_images(run: str | Path | RunPaths, image_paths: Sequence[str | Path], labels: Sequence[int] | None = None,
               cancel=None) -> Generator[Progress, None, int]:
    """Encode images with the run's network and append them to its database codes and index."""
    return (yield from open_session(_paths(run)).add_images(image_paths, labels, cancel=cancel))


TIES_NOTE = f"mAP@all, mAP@k, P@k: {TIES_AVERAGED_LABEL}.\nby index: mAP@all with {TIES_BY_INDEX_LABEL}."


def report_table(reports: Sequence[RetrievalReport], ks: Sequence[int] | None = None,
                 configs: Sequence[TrainConfig] | None = None, chance: Sequence[ChanceLevels] | None = None) -> str:
    """A plain-text table, one row per run, values in percent (as the papers print them), then a note on
    ties. With `configs` (one per report) and several runs, also the seed table of `seed_table`.

    chance: each report's ChanceLevels (core.evaluation.chance.run_chance_levels, with these ks): adds one
    "chance (dataset)" row per distinct split under the runs, and "below chance: ..." after a run's row
    where a figure is below its split's level."""
    if not reports:
        return "no runs"
    ks = tuple(ks) if ks is not None else tuple(reports[0].map_at_k)
    head = (f"{'run':34} {'method':12} {'dataset':9} {'bits':>4} {'queries':>7} {'database':>8} "
            f"{'mAP@all':>8}" + "".join(f" {'mAP@' + str(k):>8}" for k in ks)
            + "".join(f" {'P@' + str(k):>7}" for k in ks) + f" {'by index':>8}")
    lines = [head, "-" * len(head)]
    for i, r in enumerate(reports):
        notes = [collapse_note(r.largest_code_share)]
        if chance is not None:
            notes.append(_below_chance(r, chance[i], ks))
        note = "; ".join(n for n in notes if n)
        lines.append(f"{printable(r.run_id)[:34]:34} {method_name(r.method):12} {printable(r.dataset_kind):9} "
                     f"{r.bits:>4} "
                     f"{r.num_queries:>7} {r.num_database:>8} {100 * r.map_all:8.2f}"
                     + "".join(f" {100 * r.map_at_k.get(k, float('nan')):8.2f}" for k in ks)
                     + "".join(f" {100 * r.precision_at_k.get(k, float('nan')):7.2f}" for k in ks)
                     + f" {100 * r.map_all_index_order:8.2f}" + (f"  ({note})" if note else ""))
    if chance is not None:
        shown = set()
        for r, level in zip(reports, chance, strict=True):
            values = (round(level.map_all, 9), *(round(level.map_at_k.get(k, -1), 9) for k in ks),
                      *(round(level.precision_at_k.get(k, -1), 9) for k in ks))
            if (level.dataset, values) in shown:
                continue
            shown.add((level.dataset, values))
            label = f"chance ({printable(level.dataset or r.dataset_kind)}, random codes)"
            lines.append(f"{label[:34]:34} {'':12} {'':9} {'':>4} {r.num_queries:>7} {r.num_database:>8} "
                         f"{100 * level.map_all:8.2f}"
                         + "".join(f" {100 * level.map_at_k.get(k, float('nan')):8.2f}" for k in ks)
                         + "".join(f" {100 * level.precision_at_k.get(k, float('nan')):7.2f}" for k in ks)
                         + f" {'-':>8}")
    lines.append(TIES_NOTE)
    if chance is not None:
        lines.append(CHANCE_NOTE)
    if configs is not None and len(reports) > 1:
        lines += ["", seed_table(reports, configs)]
    return "\n".join(lines)


CHANCE_NOTE = ("chance: the exact expected value of each figure for random codes on the same split (P@k and the "
               "PR curve's precision: the class prior; the same for every code length).")


def _below_chance(report: RetrievalReport, level: ChanceLevels, ks: Sequence[int]) -> str:
    """"below chance: mAP@all, P@10" naming the report's figures below `level`, or ""."""
    below = (["mAP@all"] if level.below("map_all", report.map_all) else []) + [
        f"mAP@{k}" for k in ks if k in level.map_at_k and k in report.map_at_k
        and level.below("map_at_k", report.map_at_k[k], k)] + [
        f"P@{k}" for k in ks if k in level.precision_at_k and k in report.precision_at_k
        and level.below("precision_at_k", report.precision_at_k[k], k)]
    return f"below chance: {', '.join(below)}" if below else ""


def seed_table(reports: Sequence[RetrievalReport], configs: Sequence[TrainConfig]) -> str:
    """mAP@all (%) as mean ± sample std (ddof=1) (n runs) over runs that differ only in their seed: one row
    per (dataset, method, variant), one column per code length (core.evaluation.seed_groups); methods by the
    papers' names, variants in words (core.base.style)."""
    by_run = {r.run_id: r for r in reports}
    groups = group_by_seed([(r.run_id, cfg) for r, cfg in zip(reports, configs, strict=True)])
    bits = sorted({g.bits for g in groups})
    rows: dict[tuple[str, str, str], dict[int, str]] = {}
    for g in groups:
        cell = mean_std(by_run[run_id].map_all for run_id in g.run_ids).format(scale=100)
        rows.setdefault((g.dataset_kind, method_name(g.method), variant_label(g.variant)), {})[g.bits] = cell
    width = max(len(variant) for _, _, variant in rows) if rows else 0
    lines = ["mAP@all (%) over seeds: mean ± sample std (n runs) of runs that differ only in their seed "
             "(one run: its value)",
             f"{'dataset':9} {'method':12} {'variant':{width}}" + "".join(f" {str(b) + ' bits':>20}" for b in bits)]
    for (kind, method, variant), cells in rows.items():
        lines.append(f"{kind:9} {method:12} {variant:{width}}" + "".join(f" {cells.get(b, '-'):>20}" for b in bits))
    return "\n".join(lines)


def _run_labels(run) -> tuple:
    """(paths, query labels, database labels) of a trained run's saved codes."""
    paths = run if isinstance(run, RunPaths) else resolve_run(run if isinstance(run, (str, Path)) else str(run))
    return paths, load_codes(paths, "query").labels, load_codes(paths, "database").labels


def run_chance_map(run) -> float:
    """chance_map of a trained run's saved split labels (codes/query.npz vs codes/database.npz).

    run: RunPaths, run folder, id, unique id prefix or "latest". Raises RunError when its codes are missing."""
    _, query, database = _run_labels(run)
    return chance_map(query, database)


def run_chance_levels(run, ks: Sequence[int] = (10, 20, 50, 100)) -> ChanceLevels:
    """chance_levels of a trained run's saved split labels, named by its dataset kind (reads two small
    files and sums over the distinct class counts: safe off the GUI thread, milliseconds)."""
    paths, query, database = _run_labels(run)
    return chance_levels(query, database, ks, dataset=paths.load_config().dataset_kind)
