"""Exact expectations of AP, AP@k and P@k over uniformly random orders inside Hamming tie groups.

A query's ranking by Hamming distance is a sequence of tie groups, one per distance value. For the group
at distance d let m = items in it, r = relevant items in it, A = items at smaller distances and R =
relevant items at smaller distances (all from the per-query histograms `hist_all` / `hist_relevant`,
shape (queries, bits + 1)). Every order inside every group is taken as equally likely; the functions
return the exact expectation of each measure under that model, so the result depends on the codes and
the labels only, never on the order in which the database is stored.

McSherry and Najork ("Computing information retrieval performance measures efficiently in the presence of
tied scores", ECIR 2008) give these closed forms for AP and P@k; mAP@k as fghash defines it (AP over the
top k, normalised by the relevant items *within* the top k) is a ratio of two random quantities, for which
`expected_at_k` sums the exact expectation over the hypergeometric count in the boundary group (below).
All arithmetic is float64; exact up to rounding (tests compare with exhaustive enumeration).
"""

from __future__ import annotations

import torch


def harmonic(upto: int, device: torch.device | str) -> torch.Tensor:
    """H[j] = sum_{i=1..j} 1/i for j = 0..upto (float64)."""
    h = torch.zeros(upto + 1, dtype=torch.float64, device=device)
    h[1:] = torch.cumsum(1.0 / torch.arange(1, upto + 1, dtype=torch.float64, device=device), 0)
    return h


def _before(hist: torch.Tensor) -> torch.Tensor:
    """Exclusive prefix sum along the distance axis: items at smaller distances."""
    return torch.cumsum(hist, 1) - hist


def _group_sum(m, r, a, r_before, h):
    """Expected sum, over the relevant items of a fully ranked tie group, of the precision at their position.

    Position p (1..m) of the group is relevant with probability r/m; given that, the relevant items before
    it are R plus on average (p-1)(r-1)/(m-1) from the group, and its precision divides by A + p:

        sum_p (r/m) (R + 1 + (p-1)(r-1)/(m-1)) / (A + p) = (r/m) [ (R + 1) dH + (r-1)/(m-1) (m - (A+1) dH) ]

    with dH = H(A + m) - H(A), since sum_p (p-1)/(A+p) = m - (A+1) dH. Zero when r = 0. Elementwise on
    broadcastable tensors: m and a int64 (they index the harmonic table `h`), r and r_before int or float.
    """
    m_f, r_f, a_f = m.to(torch.float64), r.to(torch.float64), a.to(torch.float64)
    d_h = h[a + m] - h[a]
    spread = torch.where(m > 1, (r_f - 1) / (m_f - 1).clamp(min=1), torch.zeros_like(m_f))
    value = (r_f / m_f.clamp(min=1)) * ((r_before.to(torch.float64) + 1) * d_h + spread * (m_f - (a_f + 1) * d_h))
    return torch.where(r > 0, value, torch.zeros_like(value))


def expected_ap(hist_all: torch.Tensor, hist_relevant: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """E[AP] per query (c,) float64: the sum of `_group_sum` over the groups / all relevant items; 0 if none."""
    groups = _group_sum(hist_all, hist_relevant, _before(hist_all), _before(hist_relevant), h)
    total = hist_relevant.sum(1).to(torch.float64)
    return torch.where(total > 0, groups.sum(1) / total.clamp(min=1), torch.zeros_like(total))


def _log_choose(n: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return torch.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)


def expected_at_k(hist_all: torch.Tensor, hist_relevant: torch.Tensor, h: torch.Tensor, k: int,
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(E[AP@k], E[P@k]) per query, each (c,) float64, under random orders inside tie groups.

    The top k holds every group that ends at or before k and the first k' = k - A items of the boundary
    group b (the last group with A < k; with k >= n the last non-empty group, wholly). With m, r, A, R of
    group b, the number X of relevant items among those k' is hypergeometric:
    P(X = x) = C(r, x) C(m - r, k' - x) / C(m, k').

    P@k = (R + E[X]) / k = (R + k' r / m) / k   (exact; also McSherry and Najork).

    AP@k = S / N, where N = R + X relevant items in the top k and S is the sum of their precisions; AP@k = 0
    when N = 0. S = S_full + S_b: S_full (the groups before b) is independent of the order inside b, with
    E[S_full] = sum of `_group_sum` over those groups. Given X = x, the x relevant items sit at a uniformly
    random x-subset of the k' positions, so E[S_b | X = x] is `_group_sum` with m -> k', r -> x. Hence the
    exact expectation of the ratio (no approximation):

        E[AP@k] = sum_x P(X = x) (E[S_full] + E[S_b | X = x]) / (R + x),   terms with R + x = 0 dropped.

    The hypergeometric weights come from lgamma and are renormalised to sum to 1.
    """
    a = _before(hist_all)
    r_before = _before(hist_relevant)
    taken = torch.minimum((k - a).clamp(min=0), hist_all)  # k' of every group (0 after the boundary)
    distance = torch.arange(hist_all.shape[1], device=hist_all.device)
    b = torch.where(taken > 0, distance, torch.zeros_like(distance)).max(dim=1, keepdim=True).values
    m, r, a_b, r_b, k_b = (t.gather(1, b) for t in (hist_all, hist_relevant, a, r_before, taken))  # (c, 1)
    full = _group_sum(hist_all, hist_relevant, a, r_before, h)
    s_full = torch.where(distance[None, :] < b, full, torch.zeros_like(full)).sum(1, keepdim=True)

    m_f, r_f, k_f, rb_f = (t.to(torch.float64) for t in (m, r, k_b, r_b))
    precision = ((rb_f + k_f * r_f / m_f.clamp(min=1)) / k)[:, 0]

    xs = torch.arange(int(min(k, int(hist_relevant.max()))) + 1, device=hist_all.device, dtype=torch.float64)[None, :]
    possible = (xs >= (k_f - (m_f - r_f)).clamp(min=0)) & (xs <= torch.minimum(r_f, k_f))
    log_w = _log_choose(r_f, torch.minimum(xs, r_f)) + _log_choose(m_f - r_f, (k_f - xs).clamp(0).minimum(m_f - r_f))
    log_w = torch.where(possible, log_w, torch.full_like(log_w, -torch.inf))
    weights = torch.exp(log_w - log_w.max(dim=1, keepdim=True).values)
    weights = weights / weights.sum(dim=1, keepdim=True)
    s_b = _group_sum(*torch.broadcast_tensors(k_b, xs, a_b, r_b), h)
    count = rb_f + xs
    terms = torch.where(count > 0, (s_full + s_b) / count.clamp(min=1), torch.zeros_like(count))
    return (weights * terms).sum(1), precision
