"""Time the Classes tab's computations on random codes: the code map and the top-k class confusion.

    .venv/bin/python bench/class_views.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.evaluation.code_map import code_map  # noqa: E402
from core.retrieval.class_stats import top_k_class_counts  # noqa: E402


def main() -> None:
    rng = np.random.default_rng(0)
    codes = np.where(rng.random((200_000, 48)) < 0.5, -1, 1).astype(np.int8)
    start = time.perf_counter()
    cmap = code_map(codes)
    print(f"code map of 200,000 48-bit codes ({len(cmap.indices):,} sampled): {time.perf_counter() - start:.2f} s")
    labels = np.arange(len(codes)) % 200
    queries, database = slice(0, 5_794), slice(6_000, 11_994)  # CUB-200-2011's split sizes, 200 classes
    start = time.perf_counter()
    top_k_class_counts(codes[queries], codes[database], labels[queries], labels[database], 20, 200)
    print(f"top-20 class confusion, 5,794 queries x 5,994 database: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
