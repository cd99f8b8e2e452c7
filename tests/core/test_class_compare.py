"""engine.class_ap_difference: per-class AP of two runs on the same queries (issue 23 item 10)."""

from __future__ import annotations

import numpy as np
import pytest
from test_retrieval import run  # noqa: F401  (the fixture: pytest puts tests/core on sys.path)

from core import engine
from core.base.errors import RunError
from core.retrieval.class_stats import per_class_ap
from core.runs.catalog import create_run
from core.search.codes import load_codes, save_codes


def _copy_run(paths, query_codes, keep=None):
    """A second run with the first one's database codes and the given query codes (rows `keep` only)."""
    cfg = paths.load_config().replace(seed=99)
    other = create_run(cfg)
    database, queries = load_codes(paths, "database"), load_codes(paths, "query")
    keep = np.arange(len(queries)) if keep is None else np.asarray(keep)
    save_codes(other, "database", database.codes, database.labels, list(database.paths))
    save_codes(other, "query", query_codes[keep], queries.labels[keep], [queries.paths[i] for i in keep])
    return other


def test_difference_is_the_change_of_each_classes_mean_ap(run):
    paths, dataset = run
    database, queries = load_codes(paths, "database"), load_codes(paths, "query")
    # run b: every query takes the code of a database image of its own class (a perfect hit at distance 0)
    first_of_class = {int(label): database.codes[i] for i, label in reversed(list(enumerate(database.labels)))}
    better = _copy_run(paths, np.stack([first_of_class[int(label)] for label in queries.labels]))
    diff = engine.class_ap_difference(paths, better, class_names=dataset.class_names)
    ap_a, counts = per_class_ap(np.asarray(engine.evaluate(paths).per_query_ap), queries.labels, 3)
    ap_b, _ = per_class_ap(np.asarray(engine.evaluate(better).per_query_ap), queries.labels, 3)
    assert np.allclose(diff.ap_a, ap_a) and np.allclose(diff.ap_b, ap_b) and np.allclose(diff.difference, ap_b - ap_a)
    assert list(diff.num_queries) == list(counts)
    assert [row[3] for row in diff.rows()] == sorted((row[3] for row in diff.rows()), reverse=True)
    assert {row[0] for row in diff.rows()} == set(dataset.class_names)
    assert diff.map_b == pytest.approx(engine.evaluate(better).map_all)

    fewer = _copy_run(paths, queries.codes, keep=[0, 1, 2])
    with pytest.raises(RunError, match="different query splits"):
        engine.class_ap_difference(paths, fewer)
