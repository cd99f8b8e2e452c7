"""Stop keeps work (issue 23 item 5): cancelled inside an epoch, the finished batches become a partial
checkpoint, Resume continues at the next batch, and the run ends exactly where an uninterrupted one does."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from core.base.events import BatchEnd, CheckpointSaved, EpochStart, Progress, TrainFinished
from core.config.train_config import AdshOptions, FcaeOptions, TrainConfig
from core.runs.checkpoint import read_checkpoint
from core.runs.partial import partial_path, resume_point
from core.runs.paths import RunPaths
from core.search.codes import load_codes
from core.training.driver import train

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.slow]


def _cfg(method: str = "adsh") -> TrainConfig:
    # 32 samples, batch 16, 2 inner epochs: 4 batches per outer iteration, 2 outer iterations
    return TrainConfig(method=method, backbone="resnet18", weights="none", image_size=32, resize_size=36, bits=8,
                       batch_size=16, epochs=2, lr=0.02, lr_milestones=(), device="cpu", seed=3, eval_every=1,
                       adsh=AdshOptions(num_samples=32, inner_epochs=2), fcae=FcaeOptions(srem_regions=5, srem_size=6))


def _stop_at(cfg, step: int):
    cancel = threading.Event()
    events = []
    for event in train(cfg, cancel=cancel):
        events.append(event)
        if isinstance(event, BatchEnd) and event.step == step:
            cancel.set()
    return events


def _state(done: TrainFinished):
    paths = RunPaths(Path(done.run_dir))
    tensors, _ = read_checkpoint(paths.last_checkpoint(), paths.load_config())
    return paths, tensors


@pytest.mark.parametrize("method", ["adsh", "fcaenet"])
def test_resume_mid_epoch_equals_the_uninterrupted_run(method):
    cfg = _cfg(method)
    events = list(train(cfg))
    straight = events[-1]
    paths_a, state_a = _state(straight)
    # item 6: outer-iteration boundaries for the loss curve, and an ETA that counts the evaluations
    starts = [e for e in events if isinstance(e, EpochStart)]
    assert [(e.epoch, e.step, e.unit) for e in starts] == [(1, 0, "outer iteration"), (2, 4, "outer iteration")]
    batch_events = [e for e in events if isinstance(e, BatchEnd)]
    assert "training; then 2 evaluations" in batch_events[1].eta_note  # epoch 1's and epoch 2's
    assert "training; then 1 evaluation," in batch_events[-1].eta_note and "measured" in batch_events[-1].eta_note
    encoding = [e for e in events if isinstance(e, Progress) and e.phase == "encode queries"]
    assert encoding and all(e.run_eta_s is not None and "encode queries" in e.run_eta_note for e in encoding)

    for step in (6, 4):  # inside epoch 2; after the last batch of epoch 1, before its end-of-epoch V update
        first = _stop_at(cfg, step)
        done = first[-1]
        epoch, batch = (2, 2) if step == 6 else (1, 4)
        assert done.status == "cancelled"
        assert f"{batch} of 4 batches of epoch {epoch} (checkpoint saved)" in done.message
        paths = RunPaths(Path(done.run_dir))
        assert partial_path(paths).exists()
        point = resume_point(paths)
        assert (point.in_epoch, point.batches_done, point.completed) == (epoch, batch, epoch - 1)
        assert point.describe() in done.message
        if step == 6:
            assert "Resume continues epoch 2 of 2 at batch 3 of 4" in done.message

        resumed = list(train(None, resume=done.run_id))
        batches = [(e.epoch, e.batch) for e in resumed if isinstance(e, BatchEnd)]
        assert batches[0] == ((2, 3) if step == 6 else (2, 1))
        assert len(batches) == (2 if step == 6 else 4)
        assert resumed[-1].status == "finished" and not partial_path(paths).exists()
        _, state_b = _state(resumed[-1])
        # bit-exact: weights, optimiser state, V, and the codes
        assert state_a.keys() == state_b.keys()
        for key in state_a:
            if not key.startswith("rng."):
                assert torch.equal(state_a[key], state_b[key]), key
        for split in ("query", "database"):
            assert np.array_equal(load_codes(paths_a, split).codes, load_codes(paths, split).codes)
        assert resumed[-1].final_map == straight.final_map


def test_stop_before_the_first_batch_says_resume_starts_over():
    cancel = threading.Event()
    cancel.set()
    events = list(train(_cfg(), cancel=cancel))
    assert not any(isinstance(e, CheckpointSaved) for e in events)
    assert "no batch finished yet: Resume starts from epoch 1" in events[-1].message


def test_multifusnet_resumes_mid_epoch_with_the_same_batches_and_zoom_draws():
    from core.config.train_config import MultiFusOptions

    small = MultiFusOptions(cascade_mid_channels=32, cascade_out_channels=64, attention_mlp_dim=64,
                            cascade_bn_momentum=0.1)
    cfg = TrainConfig(method="multifusnet", backbone="resnet18", weights="none", image_size=32, resize_size=32,
                      bits=8, epochs=1, batch_size=48, lr=0.05, lr_milestones=(), device="cpu", amp=False, seed=3,
                      multifus=small)  # 240 demo images: 5 batches
    straight = list(train(cfg))[-1]
    _, state_a = _state(straight)
    first = _stop_at(cfg, 2)
    assert "Resume continues epoch 1 of 1 at batch 3 of 5" in first[-1].message
    resumed = list(train(None, resume=first[-1].run_id))
    assert [(e.epoch, e.batch) for e in resumed if isinstance(e, BatchEnd)] == [(1, 3), (1, 4), (1, 5)]
    _, state_b = _state(resumed[-1])
    for key in state_a:
        if not key.startswith("rng."):
            assert torch.equal(state_a[key], state_b[key]), key
