"""Exact top-k Hamming search in torch, on any device (the GPU path where faiss is absent or CPU-only).

Same contract as core.search.index.HammingIndex.search: per query the k nearest database codes ordered by
(Hamming distance, database index), so ties are broken by index exactly as core.evaluation.metrics ranks.

Distances come from one matrix product of ±1 codes, d = (bits - q . x) / 2: every product and partial
sum is a small integer, exact in float32 and, on CUDA (float16 inputs, float32 accumulation, integer
results up to 2048), in float16 too. The order (d, index) is made total by the int64 key d * n + index,
and torch.topk of the smallest keys returns the top k in that order; the key holds both numbers back.
"""

from __future__ import annotations

import torch

from core.search.index import SearchResult

# Queries per matrix product: bounds the (queries x database) int64 key matrix to about 512 MB.
_KEY_ELEMENTS = 1 << 26


def hamming_topk(query_pm1, database_pm1, k: int, device: str | torch.device = "cpu",
                 query_batch: int | None = None) -> SearchResult:
    """Top-k of ±1 query codes (q, bits) among ±1 database codes (n, bits), torch or numpy.

    Returns SearchResult(distances (q, min(k, n)) int32, indices (q, min(k, n)) int64) on the CPU,
    ordered by (distance, database index). device: where the product and the selection run.
    """
    device = torch.device(device)
    queries = torch.as_tensor(query_pm1)
    database = torch.as_tensor(database_pm1)
    if queries.dim() != 2 or database.dim() != 2 or queries.shape[1] != database.shape[1]:
        raise ValueError(f"codes must be (q, bits) and (n, bits) with the same bits; got {tuple(queries.shape)} "
                         f"and {tuple(database.shape)}")
    bits, n = database.shape[1], database.shape[0]
    k = max(0, min(int(k), n))
    # float16 is exact here only while sums stay <= 2048; CPU float16 matrix products are slow anyway
    dtype = torch.float16 if device.type == "cuda" and bits <= 2048 else torch.float32
    db = torch.where(database.to(device) >= 0, 1.0, -1.0).to(dtype)
    index = torch.arange(n, device=device, dtype=torch.int64)
    step = query_batch or max(1, _KEY_ELEMENTS // max(n, 1))
    dist_out, index_out = [], []
    for start in range(0, queries.shape[0], step):
        q = torch.where(queries[start:start + step].to(device) >= 0, 1.0, -1.0).to(dtype)
        dot = (q @ db.t()).float()
        dist = ((bits - dot) * 0.5).round().to(torch.int64)
        keys = torch.topk(dist * n + index, k, dim=1, largest=False, sorted=True).values
        dist_out.append((keys // n).to(torch.int32).cpu())
        index_out.append((keys % n).cpu())
    if not dist_out:
        return SearchResult(torch.zeros(0, k, dtype=torch.int32).numpy(), torch.zeros(0, k, dtype=torch.int64).numpy())
    return SearchResult(torch.cat(dist_out).numpy(), torch.cat(index_out).numpy())
