"""Retrieval metrics on Hamming ranking: mAP@all (FCAENet Eq. 18), mAP@k, precision@k, PR over radii.

Ties (docs/methods.md section 4). Hamming distances take only bits + 1 values, so many database
items tie with each other, and on short codes whole classes can share a code. Any fixed order inside a tie
group then decides the score: the databases are stored class by class, so ranking ties by database index
puts same-class items together and inflates mAP (on 12-bit codes by up to 13 points, issue 12). The
headline figures here are therefore the exact expectations over uniformly random orders inside every tie
group (tie_mode="average"), in closed form from the per-query distance histograms: they depend only on the
codes and labels, never on the order of the database. The ranking by (Hamming distance, database index),
i.e. a stable sort, as the published code does (and as the index, the GUI grid and the exports list
results), stays available as the secondary "index order" figures (tie_mode="stable").

How it is fast without sorting (the reference code sorts n items per query in a Python loop): for a
relevant item t of query q,

    position(t) = 1 + #{j : d_j < d_t} + #{j < t : d_j = d_t}

The first count comes from the query's distance histogram. The second splits the database into blocks of
B consecutive indices: whole blocks before t come from an exclusive prefix sum of per-block histograms,
the rest from comparing t with the <= B items of its own block. One augmented matrix product yields, for
every (query, item) pair, the flat histogram bin `row * nblocks * V + block * V + distance` (V = bits + 1)
directly, exactly (all values are small integers), so one `bincount` builds every histogram of a chunk.
Queries are processed in chunks to bound memory; everything runs on the CPU or the GPU.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.base.events import is_collapsed
from core.evaluation.tie_expectation import expected_ap, expected_at_k, harmonic

TIE_MODES = ("stable", "average")  # "stable": ties by database index; "average": exact expectation
# How the two tie modes are labelled wherever a figure is shown (CLI tables, GUI tooltips).
TIES_AVERAGED_LABEL = ("ties averaged (the expected value over random orders of equally distant database items; "
                       "independent of the order of the database)")
TIES_BY_INDEX_LABEL = "ties by index (equally distant items ranked by database index, as the published code does)"
_CHUNK_ELEMENTS = 1 << 22  # pairs per chunk on the CPU: the (c, n) bin matrix stays around 16 MB
# float32 holds every multiple of 0.5 below 2^23 exactly: the bin numbers and every partial sum of the
# augmented product (terms of nblocks/2) stay exact below it, whatever order the BLAS sums in.
_FLOAT32_EXACT = 1 << 23
_BLOCK = 0  # 0: choose from the data (tests and tuning may fix it)


@dataclass(frozen=True)
class RetrievalReport:
    """Evaluation of one run's codes: query split vs database split.

    Headline figures (exact expectations over random orders inside Hamming tie groups, independent of the
    database order): map_all; map_at_k and precision_at_k ({k: value}); per_query_ap (query order).
    The *_index_order twins rank ties by database index, as the published code does (secondary; they
    change when the database is reordered). pr_curve: one (radius, precision, recall) per Hamming radius
    0..bits (order-free). largest_code_share: fraction of the database holding its most common code;
    `collapsed` when it exceeds core.base.events.COLLAPSE_SHARE.
    """

    run_id: str
    method: str
    dataset_kind: str
    bits: int
    num_queries: int
    num_database: int
    map_all: float
    map_all_index_order: float
    map_at_k: dict[int, float]
    map_at_k_index_order: dict[int, float]
    precision_at_k: dict[int, float]
    precision_at_k_index_order: dict[int, float]
    pr_curve: tuple[tuple[int, float, float], ...]
    per_query_ap: tuple[float, ...]
    per_query_ap_index_order: tuple[float, ...]
    largest_code_share: float

    @property
    def collapsed(self) -> bool:
        return is_collapsed(self.largest_code_share)


@dataclass(frozen=True)
class _ChunkStats:
    """Ranking facts of one chunk of queries (rows `start:stop`).

    positions: (c, r_max) int64, 1-based ranking positions of each query's relevant items, ascending;
    padding entries hold n + 1 and are excluded by `num_relevant`. hist_all / hist_relevant: (c, V) int64
    counts of database items (all / relevant) at each Hamming distance.
    """

    start: int
    stop: int
    positions: torch.Tensor
    num_relevant: torch.Tensor
    hist_all: torch.Tensor
    hist_relevant: torch.Tensor


def _as_tensor(x, name: str, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    return x.to(dtype)


def _check_codes(codes: torch.Tensor, name: str) -> None:
    if codes.ndim != 2:
        raise ValueError(f"{name} must be a (count, bits) array of ±1; got shape {tuple(codes.shape)}")
    if codes.numel() and not bool(((codes == 1) | (codes == -1)).all()):
        raise ValueError(f"{name} must contain only -1 and +1 (binarise with sign() first)")


def _iter_chunk_stats(query_codes, database_codes, query_labels, database_labels, *,
                      device: str | torch.device | None = None,
                      chunk_elements: int | None = None) -> Iterator[_ChunkStats]:
    """Yield `_ChunkStats` for consecutive chunks of queries. Codes ±1 (q, bits) / (n, bits); labels (q,) / (n,)."""
    qc = _as_tensor(query_codes, "query_codes", torch.float32)
    dc = _as_tensor(database_codes, "database_codes", torch.float32)
    _check_codes(qc, "query_codes")
    _check_codes(dc, "database_codes")
    if qc.shape[1] != dc.shape[1]:
        raise ValueError(f"query codes have {qc.shape[1]} bits but database codes {dc.shape[1]}")
    ql = _as_tensor(query_labels, "query_labels", torch.int64).reshape(-1)
    dl = _as_tensor(database_labels, "database_labels", torch.int64).reshape(-1)
    if ql.shape[0] != qc.shape[0] or dl.shape[0] != dc.shape[0]:
        raise ValueError(f"labels ({ql.shape[0]}, {dl.shape[0]}) do not match codes ({qc.shape[0]}, {dc.shape[0]})")
    dev = torch.device(device) if device is not None else qc.device
    q, bits = qc.shape
    n = dc.shape[0]
    v = bits + 1
    if n == 0:
        raise ValueError("the database is empty")

    # Relevant items of each class, ascending database index, padded to the largest class.
    dl = dl.to(dev)
    order = torch.argsort(dl, stable=True)
    classes, counts = torch.unique_consecutive(dl[order], return_counts=True)
    r_max = int(counts.max())
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(r_max, device=dev)
    members = order[(starts[:, None] + slot).clamp(max=n - 1)]  # (num_classes, r_max)
    member_ok = slot[None, :] < counts[:, None]

    # Block size balances the per-block histograms (V * n / B bins per query) against the in-block
    # comparisons (r_max * B per query); the factor 2 reflects that a bin costs more passes (measured).
    block = _BLOCK or int(2 ** round(math.log2(max(8.0, min(1024.0, math.sqrt(2 * n * v / max(1, r_max)))))))
    nblocks = -(-n // block)
    bins_per_row = nblocks * v
    # float64 on the GPU: TF32 could round the bin numbers; float32 on the CPU while it stays exact.
    per_chunk = chunk_elements or (_CHUNK_ELEMENTS if dev.type == "cpu" else 1 << 25)
    rows = max(1, per_chunk // max(n, r_max * block, bins_per_row))
    if dev.type == "cpu" and (rows + 1) * bins_per_row < _FLOAT32_EXACT:
        fdtype = torch.float32
    else:
        fdtype = torch.float64
        rows = min(rows, max(1, (1 << 52) // bins_per_row))
    rows = max(1, min(rows, q))

    # Database side of the augmented product: [codes, 1, block]. Bins are laid out (row, distance, block)
    # so the prefix sum over blocks runs along contiguous memory.
    # The database is padded to whole blocks with rows whose product is `trash`, a bin past every real
    # one, so the (c, n_padded) matrix views as (c, nblocks, block) without a copy.
    trash = rows * bins_per_row
    padded = nblocks * block
    db_index = torch.arange(padded, device=dev)
    real = (db_index < n).to(fdtype)[:, None]
    db_codes = torch.zeros(padded, bits, device=dev, dtype=fdtype)
    db_codes[:n] = dc.to(dev, fdtype)
    db_aug = torch.cat([db_codes, real, torch.where(real[:, 0] > 0, (db_index // block).to(fdtype),
                                                   torch.full((padded,), float(trash), device=dev, dtype=fdtype))[:, None]],
                       dim=1)
    in_block = torch.arange(block, device=dev)
    idtype = torch.int32 if dev.type == "cpu" and trash < (1 << 31) else torch.int64

    for start in range(0, q, rows):
        stop = min(q, start + rows)
        c = stop - start
        row_offset = torch.arange(c, device=dev, dtype=torch.int64) * bins_per_row
        # Query side: [-codes * nblocks/2, bits * nblocks/2 + row offset, 1]
        #   ->  row * V * nblocks + distance * nblocks + block   (exact small integers)
        q_aug = torch.cat([qc[start:stop].to(dev, fdtype) * (-0.5 * nblocks),
                           (bits * nblocks / 2 + row_offset.to(fdtype))[:, None],
                           torch.ones(c, 1, device=dev, dtype=fdtype)], dim=1)
        flat = (q_aug @ db_aug.T).to(idtype)  # (c, n_padded) flat bin of every pair
        hist_blocks = torch.bincount(flat.view(-1), minlength=trash + 1)[: c * bins_per_row].view(c, v, nblocks)
        upto_block = torch.cumsum(hist_blocks, dim=2)  # inclusive prefix over blocks
        hist_all = upto_block[:, :, -1]  # (c, V)
        closer = torch.cumsum(hist_all, dim=1) - hist_all  # #{j: d_j < value}

        # Relevant items of each query (padded; padding points at item 0 and is masked).
        cls = torch.searchsorted(classes, ql[start:stop].to(dev)).clamp(max=classes.numel() - 1)
        has_class = classes[cls] == ql[start:stop].to(dev)
        rel = members[cls]  # (c, r_max)
        ok = member_ok[cls] & has_class[:, None]
        rel_flat = flat.gather(1, rel)  # (c, r_max)
        local = rel_flat.to(torch.int64) - row_offset[:, None]
        dist = local // nblocks
        same_before = upto_block.view(c, -1).gather(1, local) - hist_blocks.view(c, -1).gather(1, local)
        # Equal distance, same block, smaller index: compare with the items of t's own block, copied as
        # whole block rows (padding holds `trash`, which equals no real bin).
        block_rows = (torch.arange(c, device=dev)[:, None] * nblocks + rel // block).view(-1)
        mates = flat.view(c * nblocks, block).index_select(0, block_rows).view(c, r_max, block)
        earlier = in_block[None, None, :] < (rel % block)[:, :, None]
        same_in_block = ((mates == rel_flat[:, :, None]) & earlier).sum(dim=2, dtype=torch.int32)
        positions = 1 + closer.gather(1, dist) + same_before + same_in_block
        positions = torch.where(ok, positions, torch.full_like(positions, n + 1))
        positions, _ = torch.sort(positions, dim=1)
        num_relevant = ok.sum(dim=1)
        hist_rel = torch.zeros(c, v, dtype=torch.int64, device=dev)
        hist_rel.scatter_add_(1, dist, ok.to(torch.int64))
        yield _ChunkStats(start, stop, positions, num_relevant, hist_all, hist_rel)


def _stable_ap(stats: _ChunkStats, k: int | None = None) -> torch.Tensor:
    """AP per query (float64), ranking truncated at k if given (normalised by relevant items in the top k)."""
    pos = stats.positions.to(torch.float64)
    rank = torch.arange(1, pos.shape[1] + 1, device=pos.device, dtype=torch.float64)
    valid = torch.arange(pos.shape[1], device=pos.device)[None, :] < stats.num_relevant[:, None]
    if k is not None:
        valid = valid & (stats.positions <= k)
    terms = torch.where(valid, rank / pos, torch.zeros_like(pos))
    count = valid.sum(dim=1).to(torch.float64)
    return torch.where(count > 0, terms.sum(dim=1) / count.clamp(min=1), torch.zeros_like(count))


def per_query_ap(query_codes, database_codes, query_labels, database_labels, *, tie_mode: str = "average",
                 device: str | torch.device | None = None) -> torch.Tensor:
    """AP of every query over the whole ranking: (q,) float64 on the CPU. Queries without relevant items get 0.

    tie_mode "average" (default): expected AP over random orders inside tie groups; "stable": ties by index.
    """
    if tie_mode not in TIE_MODES:
        raise ValueError(f"tie_mode must be one of {TIE_MODES}; got {tie_mode!r}")
    out = []
    h = None
    for stats in _iter_chunk_stats(query_codes, database_codes, query_labels, database_labels, device=device):
        if tie_mode == "stable":
            out.append(_stable_ap(stats).cpu())
        else:
            if h is None:
                h = harmonic(int(stats.hist_all[0].sum()), stats.hist_all.device)
            out.append(expected_ap(stats.hist_all, stats.hist_relevant, h).cpu())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


def map_all(query_codes, database_codes, query_labels, database_labels, *, tie_mode: str = "average",
            device: str | torch.device | None = None) -> float:
    """mAP@all (Eq. 18). Codes ±1 (q, bits) / (n, bits) as torch or numpy; labels int (q,) / (n,).

    Default: the exact tie-averaged mAP (the headline). tie_mode="stable": (distance, database index) order.
    Queries with no relevant database item contribute 0 and still count (as the reference code does).
    """
    aps = per_query_ap(query_codes, database_codes, query_labels, database_labels, tie_mode=tie_mode, device=device)
    return float(aps.mean()) if aps.numel() else 0.0


def largest_code_share(database_codes) -> float:
    """Fraction of the database (0..1) holding its most common code; 0.0 for an empty database."""
    codes = _as_tensor(database_codes, "database_codes", torch.float32)
    if codes.shape[0] == 0:
        return 0.0
    _, counts = torch.unique(codes > 0, dim=0, return_counts=True)
    return float(counts.max()) / codes.shape[0]


def collapse_note(share: float) -> str:
    """'' or a short warning to print next to an mAP computed on collapsed codes."""
    return (f"codes collapsed: {100 * share:.0f}% of the database shares one code" if is_collapsed(share) else "")


@dataclass(frozen=True)
class _Summary:
    map_all: float
    map_all_index_order: float
    map_at_k: dict[int, float]
    map_at_k_index_order: dict[int, float]
    precision_at_k: dict[int, float]
    precision_at_k_index_order: dict[int, float]
    pr_curve: tuple[tuple[int, float, float], ...]
    per_query_ap: tuple[float, ...]
    per_query_ap_index_order: tuple[float, ...]


def summarize(query_codes, database_codes, query_labels, database_labels, ks: Sequence[int] = (10, 20, 50, 100), *,
              device: str | torch.device | None = None) -> _Summary:
    """Every metric in one pass over the queries (see RetrievalReport for the fields), both tie modes.

    precision@k = relevant items in the top k / k (with k > n: all relevant items / k). mAP@k: AP over
    the top k, normalised by the relevant items within the top k (0 when there are none). PR curve at
    radius r (order-free): precision = relevant items within distance r / items within distance r,
    averaged over queries that retrieve at least one item; recall = relevant items within r / all
    relevant items, averaged over queries with relevant items.
    """
    ks = tuple(int(k) for k in ks)
    if any(k < 1 for k in ks):
        raise ValueError(f"every k must be >= 1; got {ks}")
    ap, ap_idx = [], []
    ap_k = {k: [] for k in ks}
    ap_k_idx = {k: [] for k in ks}
    p_k = {k: [] for k in ks}
    p_k_idx = {k: [] for k in ks}
    pr_prec = pr_prec_n = pr_rec = pr_rec_n = None
    h = None
    for stats in _iter_chunk_stats(query_codes, database_codes, query_labels, database_labels, device=device):
        if h is None:
            h = harmonic(int(stats.hist_all[0].sum()), stats.hist_all.device)
        ap_idx.append(_stable_ap(stats).cpu())
        ap.append(expected_ap(stats.hist_all, stats.hist_relevant, h).cpu())
        for k in ks:
            ap_k_idx[k].append(_stable_ap(stats, k).cpu())
            within = (stats.positions <= k) & (stats.positions <= stats.hist_all.sum(1, keepdim=True))
            p_k_idx[k].append((within.sum(1).to(torch.float64) / k).cpu())
            expected_ap_k, expected_p_k = expected_at_k(stats.hist_all, stats.hist_relevant, h, k)
            ap_k[k].append(expected_ap_k.cpu())
            p_k[k].append(expected_p_k.cpu())
        retrieved = torch.cumsum(stats.hist_all, 1).to(torch.float64)
        hits = torch.cumsum(stats.hist_relevant, 1).to(torch.float64)
        total = stats.num_relevant.to(torch.float64)[:, None]
        prec = torch.where(retrieved > 0, hits / retrieved.clamp(min=1), torch.zeros_like(hits))
        rec = torch.where(total > 0, hits / total.clamp(min=1), torch.zeros_like(hits))
        parts = (prec.sum(0), (retrieved > 0).sum(0), rec.sum(0), (total > 0).sum(0).expand(hits.shape[1]))
        if pr_prec is None:
            pr_prec, pr_prec_n, pr_rec, pr_rec_n = (p.cpu() for p in parts)
        else:
            pr_prec, pr_prec_n, pr_rec, pr_rec_n = (old + p.cpu() for old, p in
                                                    zip((pr_prec, pr_prec_n, pr_rec, pr_rec_n), parts))
    mean = (lambda xs: float(torch.cat(xs).mean()) if xs else 0.0)
    values = (lambda xs: tuple(float(x) for x in torch.cat(xs)) if xs else ())
    curve = tuple(
        (radius, float(pr_prec[radius] / max(1, int(pr_prec_n[radius]))),
         float(pr_rec[radius] / max(1, int(pr_rec_n[radius]))))
        for radius in range(pr_prec.shape[0])
    ) if pr_prec is not None else ()
    return _Summary(map_all=mean(ap), map_all_index_order=mean(ap_idx),
                    map_at_k={k: mean(ap_k[k]) for k in ks}, map_at_k_index_order={k: mean(ap_k_idx[k]) for k in ks},
                    precision_at_k={k: mean(p_k[k]) for k in ks},
                    precision_at_k_index_order={k: mean(p_k_idx[k]) for k in ks},
                    pr_curve=curve, per_query_ap=values(ap), per_query_ap_index_order=values(ap_idx))


def map_at_k(query_codes, database_codes, query_labels, database_labels, k: int, *,
             device: str | torch.device | None = None) -> float:
    """Expected mAP@k over random tie orders: ranking truncated at k, each AP normalised by the relevant
    items within the top k (SEMICON, jiangqy)."""
    return summarize(query_codes, database_codes, query_labels, database_labels, (k,), device=device).map_at_k[k]


def precision_at_k(query_codes, database_codes, query_labels, database_labels, k: int, *,
                   device: str | torch.device | None = None) -> float:
    """Expected mean fraction of relevant items among the top k, over random tie orders."""
    return summarize(query_codes, database_codes, query_labels, database_labels, (k,),
                     device=device).precision_at_k[k]
