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

Queries are taken class by class, so a group of queries shares its relevant items t_0 < t_1 < ... < t_{r-1}.
Those cut the database into r + 1 segments: segment(j) = #{i : t_i < j}, so t_s is the last item of segment
s. One `bincount` of `row * V * (r + 1) + distance * (r + 1) + segment` (V = bits + 1) gives every query's
histogram over (distance, segment); its cumulative sum over segments, read at (d_t, s), counts the items
j <= t_s with d_j = d_t (t_s included), and the cumulative sum over distances of the whole histogram
counts the items with d_j < d_t. Their sum is position(t_s): no sort, no comparison between items.
The distances come from popcounts on packed codes (faiss) on the CPU and from one matrix product on a
GPU; queries are processed in chunks that bound memory. A query costs its n distances plus V * (r + 1)
bins, so datasets with few classes (r large against n / V) pay mostly for the bins.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.base.events import is_collapsed
from core.evaluation.tie_expectation import expected_ap, expected_at_k, harmonic
from core.search.index import faiss_importable, hamming_distances, pack_padded

TIE_MODES = ("stable", "average")  # "stable": ties by database index; "average": exact expectation
# How the two tie modes are labelled wherever a figure is shown (CLI tables, GUI tooltips).
TIES_AVERAGED_LABEL = ("ties averaged (the expected value over random orders of equally distant database items; "
                       "independent of the order of the database)")
TIES_BY_INDEX_LABEL = "ties by index (equally distant items ranked by database index, as the published code does)"
_CHUNK_ELEMENTS = 1 << 22  # pairs per chunk on the CPU: the (c, n) bin matrix stays around 16 MB
_POPCOUNT_DEVICES = ("cpu",)  # device types whose distances come from faiss popcounts (else a matrix product)


@dataclass(frozen=True)
class RetrievalFigures:
    """Every metric of one evaluation (`summarize`), both tie modes.

    Headline figures (exact expectations over random orders inside Hamming tie groups, independent of the
    database order): map_all; map_at_k and precision_at_k ({k: value}); per_query_ap (query order).
    The *_index_order twins rank ties by database index, as the published code does (secondary; they
    change when the database is reordered). pr_curve: one (radius, precision, recall) per Hamming radius
    0..bits (order-free).
    """

    map_all: float
    map_all_index_order: float
    map_at_k: dict[int, float]
    map_at_k_index_order: dict[int, float]
    precision_at_k: dict[int, float]
    precision_at_k_index_order: dict[int, float]
    pr_curve: tuple[tuple[int, float, float], ...]
    per_query_ap: tuple[float, ...]
    per_query_ap_index_order: tuple[float, ...]


@dataclass(frozen=True)
class RetrievalReport(RetrievalFigures):
    """Evaluation of one run's codes, query split vs database split: the `RetrievalFigures`, the run they
    belong to, and largest_code_share, the fraction of the database holding its most common code
    (`collapsed` when it exceeds core.base.events.COLLAPSE_SHARE)."""

    run_id: str
    method: str
    dataset_kind: str
    bits: int
    num_queries: int
    num_database: int
    largest_code_share: float

    @property
    def collapsed(self) -> bool:
        return is_collapsed(self.largest_code_share)


@dataclass(frozen=True)
class _ChunkStats:
    """Ranking facts of one chunk of queries, all of one class: `rows` (c,) int64, their query indices (CPU).

    positions: (c, r) int64, 1-based ranking positions of each query's r relevant items, ascending (r = 0
    when the class has no database item). hist_all / hist_relevant: (c, V) int64 counts of database items
    (all / relevant) at each Hamming distance.
    """

    rows: torch.Tensor
    positions: torch.Tensor
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


class _Distances:
    """Hamming distances between chunks of queries and the whole database, as (c, n) int32 on `device`:
    popcounts on packed codes (faiss) on the CPU, one matrix product on a GPU or where faiss is absent (the
    ±1 entries and their integer sums are exact in float32, TF32 included). On the CPU the popcounts are
    6.8x faster than the product and its conversion to integers (bench/README.md)."""

    def __init__(self, qc: torch.Tensor, dc: torch.Tensor, device: torch.device):
        self.device = device
        self.bits = qc.shape[1]
        self.popcount = device.type in _POPCOUNT_DEVICES and faiss_importable()
        if self.popcount:
            self.query_packed = pack_padded(qc)
            self.database_packed = pack_padded(dc)
        else:
            self.query_codes = qc.to(device, torch.float32)
            self.database_codes_t = dc.to(device, torch.float32).T.contiguous()

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        if self.popcount:
            return torch.from_numpy(hamming_distances(self.query_packed[rows.numpy()], self.database_packed))
        inner = self.query_codes[rows.to(self.device)] @ self.database_codes_t
        return ((self.bits - inner) * 0.5).to(torch.int32)


def _iter_chunk_stats(query_codes, database_codes, query_labels, database_labels, *,
                      device: str | torch.device | None = None,
                      chunk_elements: int | None = None) -> Iterator[_ChunkStats]:
    """Yield `_ChunkStats` for chunks of queries, class by class. Codes ±1 (q, bits) / (n, bits); labels (q,) / (n,)."""
    qc = _as_tensor(query_codes, "query_codes", torch.float32)
    dc = _as_tensor(database_codes, "database_codes", torch.float32)
    _check_codes(qc, "query_codes")
    _check_codes(dc, "database_codes")
    if qc.shape[1] != dc.shape[1]:
        raise ValueError(f"query codes have {qc.shape[1]} bits but database codes {dc.shape[1]}")
    ql = _as_tensor(query_labels, "query_labels", torch.int64).reshape(-1).cpu()
    dl = _as_tensor(database_labels, "database_labels", torch.int64).reshape(-1).cpu()
    if ql.shape[0] != qc.shape[0] or dl.shape[0] != dc.shape[0]:
        raise ValueError(f"labels ({ql.shape[0]}, {dl.shape[0]}) do not match codes ({qc.shape[0]}, {dc.shape[0]})")
    dev = torch.device(device) if device is not None else qc.device
    n = dc.shape[0]
    v = qc.shape[1] + 1
    if n == 0:
        raise ValueError("the database is empty")
    distances = _Distances(qc, dc, dev)
    per_chunk = chunk_elements or (_CHUNK_ELEMENTS if dev.type == "cpu" else 1 << 25)

    # Relevant items of each class, ascending database index.
    order = torch.argsort(dl, stable=True)
    classes, counts = torch.unique_consecutive(dl[order], return_counts=True)
    relevant_of = dict(zip(classes.tolist(), torch.split(order, counts.tolist())))
    query_order = torch.argsort(ql, stable=True)
    query_classes, query_counts = torch.unique_consecutive(ql[query_order], return_counts=True)
    group_start = 0
    for label, group_size in zip(query_classes.tolist(), query_counts.tolist()):
        group = query_order[group_start:group_start + group_size]
        group_start += group_size
        relevant = relevant_of.get(label, order[:0]).to(dev)
        segments = relevant.numel() + 1
        is_relevant = torch.zeros(n, dtype=torch.int32, device=dev)
        is_relevant[relevant] = 1
        segment = torch.cumsum(is_relevant, 0, dtype=torch.int32) - is_relevant  # #{relevant i < j}
        bins_per_row = v * segments
        rows = max(1, min(per_chunk // max(n, bins_per_row), (1 << 31) // bins_per_row - 1))
        for chunk_start in range(0, group_size, rows):
            chunk = group[chunk_start:chunk_start + rows]
            c = chunk.numel()
            row_offset = torch.arange(c, device=dev, dtype=torch.int32)[:, None] * bins_per_row
            flat = distances(chunk)  # (c, n) int32, made into the bin of each pair in place
            flat.mul_(segments).add_(segment).add_(row_offset)
            hist = torch.bincount(flat.view(-1), minlength=c * bins_per_row).view(c, v, segments)
            upto = torch.cumsum(hist, dim=2)  # items j <= the segment's relevant item, per distance
            hist_all = upto[:, :, -1]
            closer = torch.cumsum(hist_all, dim=1) - hist_all  # #{j: d_j < value}
            local = (flat[:, relevant] - row_offset).to(torch.int64)  # d_t * (r + 1) + s
            dist = local // segments
            positions, _ = torch.sort(closer.gather(1, dist) + upto.view(c, -1).gather(1, local), dim=1)
            hist_rel = torch.zeros(c, v, dtype=torch.int64, device=dev)
            hist_rel.scatter_add_(1, dist, torch.ones_like(dist))
            yield _ChunkStats(chunk, positions, hist_all, hist_rel)


def _stable_ap(stats: _ChunkStats, k: int | None = None) -> torch.Tensor:
    """AP per query (float64), ranking truncated at k if given (normalised by relevant items in the top k)."""
    pos = stats.positions.to(torch.float64)
    rank = torch.arange(1, pos.shape[1] + 1, device=pos.device, dtype=torch.float64)
    valid = torch.ones_like(stats.positions, dtype=torch.bool) if k is None else stats.positions <= k
    terms = torch.where(valid, rank / pos, torch.zeros_like(pos))
    count = valid.sum(dim=1).to(torch.float64)
    return torch.where(count > 0, terms.sum(dim=1) / count.clamp(min=1), torch.zeros_like(count))


class _PerQuery:
    """One float64 value per query, in query order, filled chunk by chunk (chunks come class by class)."""

    def __init__(self, count: int):
        self.values = torch.zeros(count, dtype=torch.float64)

    def put(self, stats: _ChunkStats, values: torch.Tensor) -> None:
        self.values[stats.rows] = values.cpu()

    def mean(self) -> float:
        return float(self.values.mean()) if self.values.numel() else 0.0

    def as_tuple(self) -> tuple[float, ...]:
        return tuple(float(x) for x in self.values)


def per_query_ap(query_codes, database_codes, query_labels, database_labels, *, tie_mode: str = "average",
                 device: str | torch.device | None = None) -> torch.Tensor:
    """AP of every query over the whole ranking: (q,) float64 on the CPU. Queries without relevant items get 0.

    tie_mode "average" (default): expected AP over random orders inside tie groups; "stable": ties by index.
    """
    if tie_mode not in TIE_MODES:
        raise ValueError(f"tie_mode must be one of {TIE_MODES}; got {tie_mode!r}")
    out = _PerQuery(len(query_codes))
    h = None
    for stats in _iter_chunk_stats(query_codes, database_codes, query_labels, database_labels, device=device):
        if tie_mode == "stable":
            out.put(stats, _stable_ap(stats))
        else:
            if h is None:
                h = harmonic(int(stats.hist_all[0].sum()), stats.hist_all.device)
            out.put(stats, expected_ap(stats.hist_all, stats.hist_relevant, h))
    return out.values


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


def summarize(query_codes, database_codes, query_labels, database_labels, ks: Sequence[int] = (10, 20, 50, 100), *,
              device: str | torch.device | None = None) -> RetrievalFigures:
    """Every metric in one pass over the queries (the fields: RetrievalFigures), both tie modes.

    precision@k = relevant items in the top k / k (with k > n: all relevant items / k). mAP@k: AP over
    the top k, normalised by the relevant items within the top k (0 when there are none). PR curve at
    radius r (order-free): precision = relevant items within distance r / items within distance r,
    averaged over queries that retrieve at least one item; recall = relevant items within r / all
    relevant items, averaged over queries with relevant items.
    """
    ks = tuple(int(k) for k in ks)
    if any(k < 1 for k in ks):
        raise ValueError(f"every k must be >= 1; got {ks}")
    count = len(query_codes)
    ap, ap_idx = _PerQuery(count), _PerQuery(count)
    ap_k = {k: _PerQuery(count) for k in ks}
    ap_k_idx = {k: _PerQuery(count) for k in ks}
    p_k = {k: _PerQuery(count) for k in ks}
    p_k_idx = {k: _PerQuery(count) for k in ks}
    pr_prec = pr_prec_n = pr_rec = pr_rec_n = None
    h = None
    for stats in _iter_chunk_stats(query_codes, database_codes, query_labels, database_labels, device=device):
        if h is None:
            h = harmonic(int(stats.hist_all[0].sum()), stats.hist_all.device)
        ap_idx.put(stats, _stable_ap(stats))
        ap.put(stats, expected_ap(stats.hist_all, stats.hist_relevant, h))
        for k in ks:
            ap_k_idx[k].put(stats, _stable_ap(stats, k))
            within = (stats.positions <= k) & (stats.positions <= stats.hist_all.sum(1, keepdim=True))
            p_k_idx[k].put(stats, within.sum(1).to(torch.float64) / k)
            expected_ap_k, expected_p_k = expected_at_k(stats.hist_all, stats.hist_relevant, h, k)
            ap_k[k].put(stats, expected_ap_k)
            p_k[k].put(stats, expected_p_k)
        retrieved = torch.cumsum(stats.hist_all, 1).to(torch.float64)
        hits = torch.cumsum(stats.hist_relevant, 1).to(torch.float64)
        total = stats.hist_relevant.sum(1).to(torch.float64)[:, None]
        prec = torch.where(retrieved > 0, hits / retrieved.clamp(min=1), torch.zeros_like(hits))
        rec = torch.where(total > 0, hits / total.clamp(min=1), torch.zeros_like(hits))
        parts = (prec.sum(0), (retrieved > 0).sum(0), rec.sum(0), (total > 0).sum(0).expand(hits.shape[1]))
        if pr_prec is None:
            pr_prec, pr_prec_n, pr_rec, pr_rec_n = (p.cpu() for p in parts)
        else:
            pr_prec, pr_prec_n, pr_rec, pr_rec_n = (old + p.cpu() for old, p in
                                                    zip((pr_prec, pr_prec_n, pr_rec, pr_rec_n), parts))
    curve = tuple(
        (radius, float(pr_prec[radius] / max(1, int(pr_prec_n[radius]))),
         float(pr_rec[radius] / max(1, int(pr_rec_n[radius]))))
        for radius in range(pr_prec.shape[0])
    ) if pr_prec is not None else ()
    return RetrievalFigures(map_all=ap.mean(), map_all_index_order=ap_idx.mean(),
                            map_at_k={k: ap_k[k].mean() for k in ks},
                            map_at_k_index_order={k: ap_k_idx[k].mean() for k in ks},
                            precision_at_k={k: p_k[k].mean() for k in ks},
                            precision_at_k_index_order={k: p_k_idx[k].mean() for k in ks},
                            pr_curve=curve, per_query_ap=ap.as_tuple(), per_query_ap_index_order=ap_idx.as_tuple())


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
