"""The training evaluation flags collapsed codes beside its mAP (core.training.driver._Run._evaluate)."""

from __future__ import annotations

import types

import pytest
import torch

from core.base.events import EvalResult, Log
from core.evaluation.metrics import map_all
from core.training.driver import _Run


def _evaluate(database: torch.Tensor, query: torch.Tensor, db_labels, q_labels):
    """Drive the real _evaluate on given codes: the network and the data are replaced by the codes."""
    run = _Run.__new__(_Run)
    run.cancel = None
    run.final_map = None

    def query_codes(cancel):
        return query
        yield  # a generator, like the real encoder

    def encode_database():
        return database
        yield  # a generator, like the real method's

    run._query_codes = query_codes
    run.method = types.SimpleNamespace(database_codes=lambda: database, encode_database=encode_database)
    run.train_records = [types.SimpleNamespace(label=int(x)) for x in db_labels]
    run.test_records = [types.SimpleNamespace(label=int(x)) for x in q_labels]
    events = list(run._evaluate(epoch=3))
    return events, run


def test_collapsed_codes_are_flagged_and_the_headline_is_tie_averaged():
    g = torch.Generator().manual_seed(0)
    db_labels, q_labels = torch.arange(40) % 4, torch.arange(12) % 4
    collapsed = torch.ones(40, 12)
    collapsed[:10] = torch.randint(0, 2, (10, 12), generator=g).float() * 2 - 1  # 30 of 40 share one code
    query = torch.randint(0, 2, (12, 12), generator=g).float() * 2 - 1
    events, run = _evaluate(collapsed, query, db_labels, q_labels)
    result = events[-1]
    assert isinstance(result, EvalResult) and result.collapsed and result.largest_code_share == pytest.approx(0.75)
    warnings = [e for e in events if isinstance(e, Log) and e.level == "warning"]
    assert len(warnings) == 1 and "75% of the database shares one code" in warnings[0].message
    assert result.map_all == pytest.approx(map_all(query, collapsed, q_labels, db_labels), abs=1e-12)
    assert result.map_all_index_order == pytest.approx(
        map_all(query, collapsed, q_labels, db_labels, tie_mode="stable"), abs=1e-12)
    assert run.final_map == result.map_all
    record = result.metrics_record()
    assert record["largest_code_share"] == 0.75 and record["map_all_index_order"] == result.map_all_index_order

    healthy = torch.randint(0, 2, (40, 12), generator=g).float() * 2 - 1
    events, _ = _evaluate(healthy, query, db_labels, q_labels)
    assert not events[-1].collapsed and not [e for e in events if isinstance(e, Log)]
