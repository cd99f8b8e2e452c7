"""core.training.methods.common.LazyBatchLosses: batch losses read in groups (one device sync) without changing
the events, their order or their values."""

from __future__ import annotations

import torch

from core.base.events import BatchEnd, Log
from core.training.methods import common
from core.training.methods.common import LazyBatchLosses


def _batch(i: int, loss, **terms) -> BatchEnd:
    return BatchEnd(epoch=1, batch=i, batches_in_epoch=9, step=i, loss=loss, loss_terms=terms)


def test_cpu_values_pass_at_once_as_the_same_floats():
    lazy = LazyBatchLosses(interval_s=3600)
    loss = torch.tensor(0.1234567, dtype=torch.float32)
    square = torch.tensor(2.5, dtype=torch.float32).double() * (1 / 3)
    (out,) = list(lazy.push(_batch(1, loss, square=square, plain=0.5)))
    assert out.loss == float(loss) and out.loss_terms == {"square": float(square), "plain": 0.5}
    assert type(out.loss) is float and all(type(v) is float for v in out.loss_terms.values())


def test_device_values_are_held_and_converted_in_order(monkeypatch):
    """Pretend CPU tensors live on a GPU: events wait until the interval passes, another event comes or
    the epoch ends, then come out in order with exactly float(tensor)."""
    monkeypatch.setattr(common, "_on_device", lambda event: True)
    lazy = LazyBatchLosses(interval_s=3600)
    values = [torch.rand((), dtype=torch.float32) for _ in range(5)]
    events = [_batch(i + 1, v, t=v * 2) for i, v in enumerate(values)]
    assert list(lazy.push(events[0])) == [] and list(lazy.push(events[1])) == []
    log = Log("evaluation")
    out = list(lazy.push(log))  # anything else first releases the held batches
    assert [type(e).__name__ for e in out] == ["BatchEnd", "BatchEnd", "Log"]
    assert [e.loss for e in out[:2]] == [float(v) for v in values[:2]]
    assert [e.loss_terms["t"] for e in out[:2]] == [float(v * 2) for v in values[:2]]
    assert list(lazy.push(events[2])) == []
    flushed = list(lazy.flush())  # end of the epoch
    assert [e.batch for e in flushed] == [3] and flushed[0].loss == float(values[2])
    lazy.interval_s = 0.0  # the interval has passed: released with the event that arrived
    assert [e.batch for e in lazy.push(events[3])] == [4]
