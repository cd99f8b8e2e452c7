"""SEMICON, A2-Net, ExchNet and AGMH through the training driver and the CLI on the demo data (CPU, ResNet-18,
32 px): one outer iteration that trains, encodes, evaluates against chance and explains; resume after an
interruption; the epoch-dependent terms (A2-Net's reconstruction, ExchNet's exchange)."""

from __future__ import annotations

import dataclasses
import math
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from core import engine
from core.base.events import BatchEnd, CheckpointSaved, EvalResult, Log, TrainFinished
from core.cli import main
from core.config.train_config import A2NetOptions, AdshOptions, ExchNetOptions, TrainConfig
from core.data.registry import load_dataset
from core.explain.explainer import Explainer, ExplainError
from core.runs.checkpoint import load_run_model, read_checkpoint
from core.runs.paths import RunPaths
from core.search.codes import load_codes

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAMILY = ("semicon", "a2net", "exchnet", "agmh")
TILES = {"semicon": 3, "a2net": 12, "exchnet": 4, "agmh": 6}  # stages, M = k parts, 4 parts, 6 branches


def _tiny(method: str, **changes) -> TrainConfig:
    base = dict(method=method, backbone="resnet18", weights="none", image_size=32, resize_size=36, bits=12,
                batch_size=16, epochs=3, lr=0.02, lr_milestones=(2,), device="cpu", seed=5, eval_every=1,
                adsh=AdshOptions(num_samples=32, inner_epochs=1, v_init="randn"))
    base.update(changes)
    return TrainConfig(**base)


def _drain(gen, on_event=None) -> list:
    events = []
    for event in gen:
        events.append(event)
        if on_event is not None:
            on_event(event)
    return events


@pytest.mark.slow
@pytest.mark.parametrize("method", FAMILY)
def test_cli_one_iteration_encodes_evaluates_and_explains(method, tmp_path, capsys) -> None:
    rc = main(["train", "--method", method, "--dataset", "demo", "--preset", "quick", "--image-size", "32",
               "--epochs", "1", "--weights", "none", "--device", "cpu", "--num-samples", "32",
               "--inner-epochs", "1", "--batch-size", "16", "--num-workers", "0"])
    out = capsys.readouterr().out
    assert rc == 0, out
    (run,) = engine.list_runs()
    assert run.status == "finished" and run.method == method
    paths = engine.open_run(run.run_id)
    row = next(line for line in out.splitlines() if line.startswith(run.run_id[:30]))
    assert "finished" in row and "chance" in out
    report = engine.evaluate(paths)
    assert 0.0 < report.map_all <= 1.0
    print(f"{method}: one outer iteration on demo at 32 px, mAP@all {100 * report.map_all:.2f} (row: {row})")

    # the database is the learned V (asymmetric): the saved database codes are the checkpoint's sign(V)
    tensors, _ = read_checkpoint(paths.last_checkpoint(), paths.load_config())
    v = tensors["method.v"]
    assert np.array_equal(load_codes(paths, "database").codes, np.where(v.numpy() >= 0, 1, -1))

    # fghash encode of the test split with the training batch size reproduces the saved query codes
    # (SEMICON's default batch statistics make a code depend on its batch: the same batches, the same codes)
    out_dir = tmp_path / "enc"
    assert main(["encode", run.run_id, "--dataset", "demo", "--split", "test", "--out", str(out_dir),
                 "--batch-size", "16", "--device", "cpu"]) == 0
    from core.encoding.collection import load_encoded

    assert np.array_equal(load_encoded(out_dir).codes, load_codes(paths, "query").codes)
    assert main(["eval", run.run_id, "--device", "cpu"]) == 0
    assert "chance" in capsys.readouterr().out

    image = load_dataset("demo").split("test")[0].path
    png = tmp_path / "parts.png"
    assert main(["explain", run.run_id, str(image), "--kind", "parts", "-o", str(png)]) == 0
    assert png.is_file() and "parts (attention)" in capsys.readouterr().out
    expl = engine.explain(str(image), run.run_id, "parts")
    assert len(expl.extras) == TILES[method] and expl.heatmap is not None
    assert all(0.0 <= float(e.array.min()) and float(e.array.max()) <= 1.0 for e in expl.extras)
    fig = tmp_path / "attention.png"
    assert main(["figure", "attention", run.run_id, str(image), "-o", str(fig), "--device", "cpu"]) == 0
    assert fig.is_file()


@pytest.mark.parametrize("args, message", [
    (["--method", "semicon", "--method-option", "alpah=0.3"], "expected NAME=VALUE with NAME one of alpha"),
    (["--method", "semicon", "--method-option", "attention_stats=weird"], "must be one of batch, image"),
    (["--method", "exchnet", "--method-option", "parts=x"], "'x' is not a int"),
    (["--method", "fcaenet", "--method-option", "alpha=1"], "method fcaenet has no option block"),
    (["--method", "semicon", "--bits", "4"], "semicon needs bits >= 6"),
])
def test_bad_method_options_are_one_line_errors(args, message, capsys) -> None:
    assert main(["train", "--dataset", "demo", "--preset", "quick", "--device", "cpu", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and not engine.list_runs()


def test_parts_of_a_model_without_part_maps_is_a_clear_error() -> None:
    from core.models.factory import build_model

    cfg = _tiny("adsh")
    explainer = Explainer(build_model(cfg, 10), cfg)
    with pytest.raises(ExplainError, match="SEMICON, A2-Net, ExchNet or AGMH"):
        explainer.parts(np.zeros((40, 40, 3), np.uint8))


@pytest.mark.slow
@pytest.mark.parametrize("method, options", [
    ("exchnet", dict(exchnet=ExchNetOptions(align_step=1))),  # the exchange acts in the resumed epoch 2
    ("a2net", dict(a2net=A2NetOptions(parts=3, aux_start=0.5))),  # L_rec + L_dec from epoch 2 (0-based 1)
    ("semicon", {}),
    ("agmh", {}),
])
def test_resume_after_an_interruption_equals_an_uninterrupted_run(method, options) -> None:
    cfg = _tiny(method, epochs=2, eval_every=2, lr_milestones=(1,), **options)
    straight = _drain(engine.train(cfg))
    done_a = straight[-1]
    assert isinstance(done_a, TrainFinished) and done_a.status == "finished", done_a
    losses = [e.loss for e in straight if isinstance(e, BatchEnd)]
    assert losses and all(math.isfinite(v) for v in losses)  # 2 x 32 sampled images, batches of 16
    logs = [e.message for e in straight if isinstance(e, Log)]
    if method == "exchnet":
        assert sum("class centres" in m for m in logs) == 1  # epoch 2, not 1
    if method == "a2net":
        assert any("epoch 2" in m and "L_rec and L_dec on" in m for m in logs)

    cancel = threading.Event()
    first = _drain(engine.train(cfg, cancel=cancel),
                   lambda e: cancel.set() if isinstance(e, CheckpointSaved) and e.epoch == 1 else None)
    assert first[-1].status == "cancelled"
    resumed = _drain(engine.train(None, resume=first[-1].run_id))
    done_b = resumed[-1]
    assert done_b.status == "finished" and [e.epoch for e in resumed if isinstance(e, EvalResult)] == [2]
    assert done_b.final_map == done_a.final_map
    pa, pb = RunPaths(Path(done_a.run_dir)), RunPaths(Path(done_b.run_dir))
    for split in ("query", "database"):
        assert np.array_equal(load_codes(pa, split).codes, load_codes(pb, split).codes)
    ma, _ = load_run_model(pa)
    mb, _ = load_run_model(pb)
    sa, sb = ma.state_dict(), mb.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a2net_reconstruction_terms_switch_on_at_half_the_iterations() -> None:
    from core.training.methods.a2net import A2NetMethod
    from core.training.methods.asymmetric import SampledSimilarity

    ds = load_dataset("demo")
    cfg = _tiny("a2net", epochs=4, a2net=A2NetOptions(parts=2))
    method = A2NetMethod(cfg, ds, torch.device("cpu"))
    assert [method.aux_active(it) for it in range(4)] == [False, False, True, True]
    batch = dict(zip(("image", "label", "db_index"), (_stack(column) for column in _items(method, 4))))
    sim = SampledSimilarity.build(torch.arange(method.n)[:8], method.db_labels)
    weight = method.model.hash_layer.weight
    for outer, active in ((1, False), (2, True)):
        method.outer = outer
        _u, loss, terms = method._batch_loss(batch, sim)
        assert ("rec" in terms and "dec" in terms) == active
        if active:
            aux = sum(t for name, t in _live_terms(method, batch, sim).items() if name in ("rec", "dec"))
            (grad,) = torch.autograd.grad(aux, weight)
            assert float(grad.abs().sum()) > 0 and float(terms["rec"]) > 0


def _items(method, count: int):
    items = [method.train_data[i] for i in range(count)]
    return [list(column) for column in zip(*items)]


def _stack(column):
    return torch.stack(column) if isinstance(column[0], torch.Tensor) else torch.tensor(column)


def _live_terms(method, batch, sim) -> dict:
    """The A2-Net auxiliary terms with their graph (the method returns detached copies)."""
    from core.training.methods.a2net import decorrelation_loss, reconstruction_loss

    p = method.model.parts(batch["image"])
    x = method.model.features(p["local"], p["g"])
    u = torch.tanh(method.model.hash_layer(x))
    return {"rec": reconstruction_loss(u, x, method.model.hash_layer.weight), "dec": decorrelation_loss(u)}


def test_exchnet_exchange_is_off_before_align_step_and_in_eval() -> None:
    from core.training.methods.exchnet import ExchNetMethod

    ds = load_dataset("demo")
    cfg = _tiny("exchnet", exchnet=dataclasses.replace(ExchNetOptions(), align_step=2))
    method = ExchNetMethod(cfg, ds, torch.device("cpu"))
    assert [method.exchange_active(e) for e in (1, 2, 3)] == [False, False, True]
    x = torch.randn(2, 3, 32, 32)
    model = method.model.eval()
    with torch.no_grad():  # eval forward: the network's own parts, whatever the method's centres
        method.centres = torch.randn(10, 4, 512)
        assert torch.equal(model(x), model.hash_parts(model.parts(x)["local"], model.parts(x)["g"]))


@pytest.mark.slow
@pytest.mark.parametrize("method, options", [
    ("semicon", []), ("a2net", ["--method-option", "aux_start=0", "--method-option", "parts=2"]),
    ("exchnet", ["--method-option", "align_step=0"]), ("agmh", []),
])
def test_two_process_torchrun_training(method, options, fghash_home) -> None:
    """torchrun with 2 gloo processes: every term of the method (A2-Net's L_rec/L_dec, ExchNet's class centres
    and exchange, switched on from the first iteration here) runs sharded, and both ranks end with the same V."""
    from test_distributed import TINY, _finish, _launch, _only_run, _rank1_checksums  # tests/core is on sys.path

    from core.runtime import distributed

    out = _finish(_launch(["train", "--method", method, "--epochs", "1", *TINY, *options], 2))
    assert "torchrun: 2 processes (gloo); global batch 16" in out, out
    paths = _only_run(fghash_home)
    (record,) = engine.list_runs()
    assert record.status == "finished" and record.final_map is not None, out
    database = torch.from_numpy(load_codes(paths, "database").codes.astype("float32"))
    assert _rank1_checksums(fghash_home) == [distributed.sign_checksum(database)]
