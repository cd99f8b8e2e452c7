"""The training driver on the demo set with ResNet-18 from random init at 32 px (CPU):
learning beats random codes, resume reproduces an uninterrupted run bit-exactly, cancel stops within
one batch, checkpoints refuse foreign runs."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from core.base.errors import RunError
from core.base.events import BatchEnd, CheckpointSaved, EvalResult, TrainFinished
from core.config.train_config import AdshOptions, FcaeOptions, TrainConfig
from core.evaluation.chance import chance_map
from core.evaluation.metrics import map_all
from core.runs.checkpoint import KEEP_LAST, load_run_model, read_checkpoint
from core.runs.paths import RunPaths
from core.runs.store import RunStore
from core.search.codes import load_codes
from core.training.driver import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny(method: str = "fcaenet", **changes) -> TrainConfig:
    base = dict(method=method, backbone="resnet18", weights="none", image_size=32, resize_size=36, bits=12,
                batch_size=16, epochs=3, lr=0.02, lr_milestones=(2,), device="cpu", seed=5, eval_every=1,
                adsh=AdshOptions(num_samples=32, inner_epochs=1), fcae=FcaeOptions(srem_regions=10, srem_size=8))
    base.update(changes)
    return TrainConfig(**base)


def events_and_result(gen) -> tuple[list, object]:
    """Run a generator of events to its end: (the events, its return value)."""
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def _drain(gen, on_event=None):
    events = []
    for event in gen:
        events.append(event)
        if on_event is not None:
            on_event(event)
    return events


def test_cli_training_beats_random_codes(capsys):
    """A short ADSH run through `fghash train` reaches an mAP clearly above random ±1 codes.

    gamma = 20 instead of the paper's 200: the paper starts from ImageNet weights; from a random
    init the quantisation term would pin every database code to that image's random output, while a
    smaller gamma lets V form class codes in the first iteration. Measured tie-averaged mAP after 3
    iterations (this command, seeds 1 and 2): 0.192 and 0.181, against 0.119 for random codes (ties by
    index the same runs score 0.336 and 0.316: 12-bit class codes tie a lot).
    """
    from core import engine
    from core.cli import main

    rc = main(["train", "--dataset", "demo", "--method", "adsh", "--bits", "12", "--preset", "quick",
               "--epochs", "3", "--inner-epochs", "3", "--num-samples", "240", "--batch-size", "16",
               "--lr", "0.005", "--gamma", "20", "--image-size", "32", "--backbone", "resnet18",
               "--weights", "none", "--device", "cpu", "--seed", "1"])
    out = capsys.readouterr().out
    assert rc == 0, out
    runs = engine.list_runs()
    assert len(runs) == 1 and runs[0].status == "finished" and runs[0].final_map is not None
    assert runs[0].run_id in out
    paths = RunPaths(__import__("pathlib").Path(runs[0].run_dir))
    query, database = load_codes(paths, "query"), load_codes(paths, "database")
    trained = map_all(query.codes, database.codes, query.labels, database.labels)
    assert trained == pytest.approx(runs[0].final_map, abs=1e-9)
    chance = chance_map(query.labels, database.labels)
    print(f"demo mAP@all after 3 outer iterations: {trained:.4f}; random ±1 codes: {chance:.4f}")
    assert f"{100 * chance:7.2f}" in out  # the chance column of `fghash train`'s final table
    assert trained > chance + 0.04
    # the saved query codes are what the checkpointed network produces (load_run_model round trip)
    from core.data.registry import load_dataset
    from core.data.transforms import eval_transform
    from core.encoding.encode import drain, encode_records

    model, cfg = load_run_model(paths, "cpu")
    test = load_dataset("demo").split("test")
    again = drain(encode_records(model, test, eval_transform(cfg.image_size, cfg.resize_size), torch.device("cpu")))
    assert np.array_equal(again.numpy().astype(np.int8), query.codes)
    with RunStore() as store:
        artifacts = store.artifacts(runs[0].run_id)
        assert {"query_codes", "database_codes", "checkpoint"} <= set(artifacts)
        assert [e for e, _ in store.metric_history(runs[0].run_id, "map_all")] == [1, 2, 3]
    assert [r["epoch"] for r in paths.read_metrics()] == [1, 2, 3]
    last = paths.read_metrics()[-1]
    assert 0 < last["map_at_10"] <= 1 and 0 < last["precision_at_10"] <= 1
    # the headline is tie-averaged; the index-ordered twin and the collapse check are recorded beside it
    assert last["map_all_index_order"] == pytest.approx(
        map_all(query.codes, database.codes, query.labels, database.labels, tie_mode="stable"), abs=1e-9)
    assert 0 < last["largest_code_share"] <= 1
    assert "ties by index" in out and any(line.startswith("run id") and " by index " in line
                                          for line in out.splitlines())


def test_resume_equals_uninterrupted_and_checkpoint_checks():
    cfg = _tiny()
    straight = _drain(train(cfg))
    done_a = straight[-1]
    assert isinstance(done_a, TrainFinished) and done_a.status == "finished"

    cancel = threading.Event()

    def stop_after_epoch_2(event):
        if isinstance(event, CheckpointSaved) and event.epoch == 2:
            cancel.set()

    first = _drain(train(cfg, cancel=cancel), stop_after_epoch_2)
    assert first[-1].status == "cancelled"
    resumed = _drain(train(None, resume=first[-1].run_id))
    done_b = resumed[-1]
    assert done_b.status == "finished" and done_b.run_id == first[-1].run_id
    assert [e.epoch for e in resumed if isinstance(e, EvalResult)] == [3]
    assert done_b.final_map == done_a.final_map and done_b.best_on_val == done_a.best_on_val

    paths_a, paths_b = RunPaths(__import__("pathlib").Path(done_a.run_dir)), RunPaths(__import__("pathlib").Path(done_b.run_dir))
    for split in ("query", "database"):
        assert np.array_equal(load_codes(paths_a, split).codes, load_codes(paths_b, split).codes)
    model_a, _ = load_run_model(paths_a)
    model_b, _ = load_run_model(paths_b)
    sa, sb = model_a.state_dict(), model_b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # V, optimiser state and everything else in the checkpoint agree too
    ta, _ = read_checkpoint(paths_a.last_checkpoint(), cfg)
    tb, meta = read_checkpoint(paths_b.last_checkpoint(), cfg)
    assert torch.equal(ta["method.v"], tb["method.v"])
    assert sorted(paths_a.checkpoints.glob("*.safetensors")) and len(list(paths_a.checkpoints.glob("*.safetensors"))) == KEEP_LAST
    assert meta["epoch"] == 3 and meta["method"] == "fcaenet" and meta["bits"] == 12 and meta["schema_version"] == 1
    assert len(meta["dataset_fingerprint"]) == 16 and meta["config"]["backbone"] == "resnet18"

    # foreign checkpoints are refused with a RunError naming the mismatch
    with pytest.raises(RunError, match="bit"):
        read_checkpoint(paths_a.last_checkpoint(), cfg.replace(bits=24))
    with pytest.raises(RunError, match="adsh"):
        read_checkpoint(paths_a.last_checkpoint(), cfg.replace(method="adsh"))
    meta_path = paths_a.last_checkpoint().with_suffix(".json")
    bad = json.loads(meta_path.read_text())
    bad["schema_version"] = 99
    meta_path.write_text(json.dumps(bad))
    with pytest.raises(RunError, match="schema"):
        load_run_model(paths_a)
    with pytest.raises(RunError, match="resume"):
        _drain(train(cfg.replace(bits=24), resume=done_b.run_id))


def test_cancel_stops_within_one_batch():
    cancel = threading.Event()
    seen_after = []

    def cancel_at_second_batch(event):
        if cancel.is_set() and isinstance(event, BatchEnd):
            seen_after.append(event)
        if isinstance(event, BatchEnd) and event.step == 2:
            cancel.set()

    events = _drain(train(_tiny("adsh", adsh=AdshOptions(num_samples=80, inner_epochs=1)), cancel=cancel),
                    cancel_at_second_batch)
    assert seen_after == []  # the next batch never started
    done = events[-1]
    assert done.status == "cancelled" and "0 complete" in done.message
    with RunStore() as store:
        assert store.get(done.run_id).status == "cancelled"
        assert "query_codes" not in store.artifacts(done.run_id)  # no epoch completed: no codes


def test_cancel_from_another_thread():
    """The GUI's way: training runs on a worker thread, cancel is set from another thread while a
    batch is in flight; at most that batch completes, then the run ends as cancelled."""
    import queue

    cancel = threading.Event()
    events: queue.Queue = queue.Queue()
    cfg = _tiny("adsh", adsh=AdshOptions(num_samples=80, inner_epochs=2))

    def worker():
        for event in train(cfg, cancel=cancel):
            events.put(event)
        events.put(None)

    thread = threading.Thread(target=worker)
    thread.start()
    while not isinstance(events.get(timeout=120), BatchEnd):
        pass
    cancel.set()  # the worker is now computing batch 2 (or about to start it)
    rest = []
    while (event := events.get(timeout=120)) is not None:
        rest.append(event)
    thread.join(timeout=60)
    assert sum(isinstance(e, BatchEnd) for e in rest) <= 1
    assert isinstance(rest[-1], TrainFinished) and rest[-1].status == "cancelled"


def test_encode_records_progress_and_cancel():
    from core.base.errors import Cancelled
    from core.base.events import Progress
    from core.data.registry import load_dataset
    from core.data.transforms import eval_transform
    from core.encoding.encode import encode_new_images, encode_records
    from core.models.factory import build_model

    torch.manual_seed(0)
    model = build_model(_tiny("adsh"), 10)
    records = load_dataset("demo").split("test")[:40]
    progress, codes = events_and_result(
        encode_records(model, records, eval_transform(32, 36), torch.device("cpu"), batch_size=16))
    assert all(isinstance(p, Progress) for p in progress)
    assert [p.done for p in progress] == [0, 16, 32, 40] and progress[-1].total == 40
    assert codes.shape == (40, 12) and set(codes.unique().tolist()) <= {-1.0, 1.0}
    from core.encoding.encode import drain

    assert torch.equal(drain(encode_new_images(model, records, eval_transform(32, 36), torch.device("cpu"))), codes)
    cancel = threading.Event()
    gen = encode_records(model, records, eval_transform(32, 36), torch.device("cpu"), batch_size=16, cancel=cancel)
    next(gen), next(gen)
    cancel.set()
    with pytest.raises(Cancelled):
        next(gen)


@pytest.mark.parametrize("bits,epochs,milestones", [(12, 40, (20, 30)), (24, 40, (20, 30)),
                                                    (32, 60, (30, 45, 55)), (48, 60, (30, 45, 55))])
def test_paper_preset_matches_fcaenet_schedule(bits, epochs, milestones):
    from core.config.presets import preset_config

    cfg = preset_config("paper", "fcaenet", bits)
    assert (cfg.epochs, cfg.lr_milestones, cfg.lr, cfg.batch_size, cfg.momentum, cfg.weight_decay) == (
        epochs, milestones, 1e-3, 64, 0.9, 1e-5)
    assert (cfg.adsh.inner_epochs, cfg.adsh.num_samples, cfg.adsh.gamma) == (20, 2000, 200.0)
    assert preset_config("paper", "adsh", bits, "vegfru", dataset_root="/data").adsh.num_samples == 4000
