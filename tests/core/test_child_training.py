"""Training in a child process (core/training/child.py, what the app runs): the same events and results as
in-process, Stop and early close cancel it, a killed child ends with a one-line error naming the signal
and leaves its run interrupted, and the child's exceptions come back with their type and message.

Each spawned child imports torch and the engine (about 4 s here), so the runs are tiny (ADSH, ResNet-18
from scratch, 32 px, 32 sampled images, one torch thread).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from test_training import _tiny, events_and_result  # pytest puts tests/core on sys.path

from core import engine
from core.base.errors import FghashError, RunError, TrainingProcessError
from core.base.events import BatchEnd, EpochEnd, EvalResult, TrainFinished
from core.config.train_config import AdshOptions
from core.runs.paths import RunPaths
from core.search.codes import load_codes
from core.training.child import _rebuilt, send_exception, train_in_child

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LONG = dict(epochs=50, adsh=AdshOptions(num_samples=32, inner_epochs=1))  # stopped long before its end


def _status(run_id: str) -> str:
    return next(r.status for r in engine.list_runs() if r.run_id == run_id)


def _training_children() -> list:
    return [p for p in multiprocessing.active_children() if p.name == "fghash-training"]


def holds_tensor(value) -> bool:
    """True when an event (or a field of it, or a dict value) is a torch tensor: events must reach the app
    as plain numbers, not as tensors pickled out of the child (a CUDA one would initialise CUDA there)."""
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, dict):
        return any(holds_tensor(v) for v in value.values())
    if dataclasses.is_dataclass(value):
        return any(holds_tensor(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def _same_figures(event):
    """An event without its timings (images/s, ETA, seconds) and run-specific paths: what must not change
    when the same run trains in another process."""
    if isinstance(event, BatchEnd):
        return (event.epoch, event.batch, event.step, event.loss, event.loss_terms, event.lr)
    if isinstance(event, EpochEnd):
        return (event.epoch, event.mean_loss, event.lr)
    if isinstance(event, EvalResult):
        return event
    return type(event).__name__


@pytest.mark.slow
def test_child_yields_the_same_events_codes_and_map_as_in_process():
    cfg = _tiny("adsh", epochs=2, adsh=AdshOptions(num_samples=32, inner_epochs=1))
    child_events, child_done = events_and_result(train_in_child(cfg))
    own_events, own_done = events_and_result(engine.train(cfg))
    assert [type(e) for e in child_events] == [type(e) for e in own_events]
    assert not any(holds_tensor(e) for e in child_events)
    assert [_same_figures(e) for e in child_events] == [_same_figures(e) for e in own_events]
    assert isinstance(child_done, TrainFinished) and child_done == child_events[-1]
    assert (child_done.status, child_done.final_map) == ("finished", own_done.final_map)
    assert child_done.run_id != own_done.run_id and _status(child_done.run_id) == "finished"
    for split in ("query", "database"):
        ours, theirs = (load_codes(RunPaths(Path(done.run_dir)), split) for done in (child_done, own_done))
        assert np.array_equal(ours.codes, theirs.codes)
    assert not _training_children()


@pytest.mark.slow
def test_stop_cancels_the_child_after_its_batch():
    cancel = threading.Event()
    generator = train_in_child(_tiny("adsh", **LONG), cancel=cancel)
    events = []
    for event in generator:
        events.append(event)
        if isinstance(event, BatchEnd):
            cancel.set()
    done = events[-1]
    assert isinstance(done, TrainFinished) and done.status == "cancelled"
    assert _status(done.run_id) == "cancelled"  # resumable from the Train tab
    assert not _training_children()


@pytest.mark.slow
def test_closing_the_generator_cancels_and_joins_the_child():
    generator = train_in_child(_tiny("adsh", **LONG))
    while not isinstance(next(generator), BatchEnd):
        pass
    generator.close()
    assert not _training_children()  # joined: no zombie, nothing left training
    (run,) = engine.list_runs()
    assert run.status == "cancelled"


@pytest.mark.slow
def test_a_killed_child_ends_with_one_line_naming_the_signal_and_its_run_interrupted():
    # With a loader worker: forked from the child, it holds the run's lock until it notices its parent died.
    generator = train_in_child(_tiny("adsh", num_workers=1, **LONG))
    with pytest.raises(TrainingProcessError) as raised:
        for event in generator:
            if isinstance(event, BatchEnd):
                (child,) = _training_children()
                os.kill(child.pid, signal.SIGKILL)
    message = str(raised.value)
    (run,) = engine.list_runs()
    assert "\n" not in message and "killed by SIGKILL" in message
    assert f"run {run.run_id} is interrupted" in message
    assert run.status == "interrupted" and _status(run.run_id) == "interrupted"
    assert not _training_children()


@pytest.mark.slow
def test_a_child_error_comes_back_with_its_type_and_message():
    with pytest.raises(RunError) as in_process:
        events_and_result(engine.train(None, resume="no-such-run"))
    with pytest.raises(RunError) as in_child:
        events_and_result(train_in_child(None, resume="no-such-run"))
    assert str(in_child.value) == str(in_process.value)
    assert "Traceback" in str(in_child.value.__cause__)  # the child's traceback, for the app's log view


class _NeedsKeyword(Exception):
    def __init__(self, *, detail: str) -> None:
        super().__init__(f"bad {detail}")


def _through_a_pipe(exc: BaseException) -> BaseException:
    """exc raised, sent as the child sends it, and rebuilt as the parent does."""
    receive, send = multiprocessing.Pipe(duplex=False)
    try:
        raise exc
    except BaseException as raised:  # noqa: BLE001
        send_exception(send, raised)
    kind, payload = receive.recv()
    assert kind == "raise"
    return _rebuilt(receive, *payload)


def test_an_exception_that_does_not_unpickle_comes_back_as_a_fghash_error_with_its_message():
    rebuilt = _through_a_pipe(_NeedsKeyword(detail="thing"))
    assert type(rebuilt) is FghashError and str(rebuilt) == "_NeedsKeyword: bad thing"
    rebuilt = _through_a_pipe(RunError("run x is broken"))
    assert type(rebuilt) is RunError and str(rebuilt) == "run x is broken"
    assert "RunError: run x is broken" in str(rebuilt.__cause__)
