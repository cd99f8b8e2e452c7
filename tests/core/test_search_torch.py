"""core.search.torch_search (the torch top-k Hamming path a GPU uses without faiss) equals core.search.index exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.search.index import HammingIndex
from core.search.torch_search import hamming_topk


@pytest.mark.parametrize("n,bits,k,batch", [(3000, 12, 50, None), (5000, 48, 100, 7), (40, 8, 100, None)])
def test_equals_the_faiss_index_including_tie_order(n, bits, k, batch):
    rng = np.random.default_rng(n + bits)
    database = rng.choice(np.array([-1, 1], dtype=np.int8), (n, bits))
    queries = rng.choice(np.array([-1, 1], dtype=np.int8), (60, bits))
    ours = hamming_topk(queries, database, k, query_batch=batch)
    faiss_result = HammingIndex.from_codes(database, use_gpu=False).search(queries, k)
    np.testing.assert_array_equal(ours.distances, faiss_result.distances)
    np.testing.assert_array_equal(ours.indices, faiss_result.indices)
    assert ours.distances.dtype == np.int32 and ours.indices.dtype == np.int64


def test_zero_codes_count_as_plus_one_and_shapes_are_checked():
    database = torch.tensor([[1.0, -1.0], [0.0, -1.0], [-1.0, 1.0]])
    result = hamming_topk(torch.tensor([[1.0, -1.0]]), database, 3)
    assert result.distances.tolist() == [[0, 0, 2]] and result.indices.tolist() == [[0, 1, 2]]
    with pytest.raises(ValueError, match="same bits"):
        hamming_topk(torch.ones(1, 3), database, 1)
