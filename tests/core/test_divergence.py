"""Diverged runs fail: a non-finite loss stops training with a one-line error, the run is `failed`, no
checkpoint holds NaN weights, resume continues from the last finite one; NaN options are refused and no
JSON file fghash writes holds NaN."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_training import _tiny  # pytest puts tests/core on sys.path

from core import engine
from core.base.atomic import atomic_write_json
from core.base.errors import ConfigError
from core.config.train_config import AdshOptions, FcaeOptions, TrainConfig
from core.runs.checkpoint import read_checkpoint
from core.runs.paths import RunPaths
from core.training.divergence import FiniteLossGuard, TrainingDiverged
from core.training.methods.adsh import AdshMethod

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_guard_names_the_first_non_finite_batch_of_a_device_window() -> None:
    guard = FiniteLossGuard("--lr 0.1, --image-size 32", check_every=4)
    guard.observe(torch.tensor(1.0), 3, 1)
    guard.observe(torch.tensor(float("inf")), 3, 2)
    guard.observe(torch.tensor(float("nan")), 3, 3)  # not yet looked at: the window holds 3 of 4
    with pytest.raises(TrainingDiverged, match=r"loss became inf at epoch 3, batch 2; .*--lr 0\.1"):
        guard.observe(torch.tensor(2.0), 3, 4)


def test_guard_checks_floats_at_once_and_the_rest_at_epoch_end() -> None:
    guard = FiniteLossGuard("h", check_every=50)
    guard.observe(0.5, 1, 1)
    with pytest.raises(TrainingDiverged, match="batch 2"):
        guard.observe(float("nan"), 1, 2)
    guard = FiniteLossGuard("h", check_every=50)
    guard.observe(torch.tensor(float("nan")), 2, 7)
    with pytest.raises(TrainingDiverged, match="epoch 2, batch 7"):
        guard.check()


def test_a_state_with_nan_weights_is_never_checkpointed() -> None:
    guard = FiniteLossGuard("h")
    guard.checkpointed_epoch = 4
    guard.refuse_non_finite_state({"model.w": torch.ones(3), "method.step_count": torch.tensor(5)}, 5)
    with pytest.raises(TrainingDiverged, match=r"after epoch 5, 1 tensor.*model\.b.*checkpoint \(epoch 4\) is kept"):
        guard.refuse_non_finite_state({"model.w": torch.ones(3), "model.b": torch.tensor([0.0, math.nan])}, 5)


@pytest.mark.parametrize("changes", [dict(lr=math.nan), dict(lr=math.inf), dict(lr=0.0), dict(lr=-1e-3),
                                     dict(momentum=math.nan), dict(weight_decay=math.inf),
                                     dict(fcae=FcaeOptions(alpha=math.nan)), dict(fcae=FcaeOptions(beta=math.inf)),
                                     dict(adsh=AdshOptions(gamma=math.nan)), dict(fcae=FcaeOptions(alpha=-1.0))])
def test_config_refuses_non_finite_and_non_positive_values(changes) -> None:
    with pytest.raises(ConfigError):
        TrainConfig(**changes)


def test_config_json_with_nan_is_refused() -> None:
    data = TrainConfig().to_dict()
    data["fcae"]["alpha"] = math.nan
    with pytest.raises(ConfigError, match="fcae.alpha must be a finite number"):
        TrainConfig.from_json(json.dumps(data))  # json.dumps writes NaN, which Python's reader accepts


def test_json_writers_refuse_nan_and_metrics_write_null(tmp_path) -> None:
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "x.json", {"value": math.nan})
    paths = RunPaths(tmp_path)
    paths.append_metrics({"epoch": 1, "loss": math.nan, "map_all": 0.25})
    text = paths.metrics.read_text()
    assert "NaN" not in text and '"loss": null' in text
    assert paths.read_metrics() == [{"epoch": 1, "loss": None, "map_all": 0.25}]


@pytest.mark.slow
def test_the_issue_command_fails_with_one_line(capsys) -> None:
    """The issue's command (quick FCAENet at 32 px) reached a NaN loss and reported `finished`. Since the
    quick preset picks ResNet-18 and a SREM square scaled to the crop, that command trains normally; an
    absurd learning rate makes the same run diverge for sure, through the same CLI path."""
    from core.cli import main

    rc = main(["train", "--dataset", "demo", "--method", "fcaenet", "--bits", "12", "--epochs", "2", "--weights",
               "none", "--image-size", "32", "--batch-size", "16", "--num-samples", "64", "--inner-epochs", "1",
               "--preset", "quick", "--device", "cpu", "--lr", "1e6"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("fghash: error: training diverged: the loss became nan at epoch ")
    assert "--lr 1e+06, --image-size 32" in err[-1]
    (record,) = engine.list_runs()
    assert record.status == "failed"


@pytest.mark.slow
def test_divergence_in_epoch_2_keeps_epoch_1_and_resume_finishes(monkeypatch) -> None:
    """A NaN loss in epoch 2 (simulated: the real one above depends on numerics) fails the run at that
    batch; epoch 1's checkpoint is finite and `resume` trains epochs 2-3 from it (with a validation split,
    which the resumed run draws again identically: its dataset fingerprint matches)."""
    cfg = _tiny("adsh", epochs=3, validation="fraction", val_fraction=0.25)
    real = AdshMethod._batch_loss

    def nan_in_epoch_2(self, batch, sim, share=1.0):
        u, loss, terms = real(self, batch, sim, share)
        return u, loss * math.nan if self.step_count == 3 else loss, terms  # 2 batches per epoch

    monkeypatch.setattr(AdshMethod, "_batch_loss", nan_in_epoch_2)
    with pytest.raises(TrainingDiverged, match=r"epoch 2, batch 2; .*checkpoint \(epoch 1\) is kept"):
        for _ in engine.train(cfg):
            pass
    (record,) = engine.list_runs()
    assert record.status == "failed"
    paths = engine.open_run(record.run_id)
    weights = paths.last_checkpoint()
    assert weights.name == "epoch-0001.safetensors"
    tensors, _ = read_checkpoint(weights, cfg)
    assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())
    monkeypatch.setattr(AdshMethod, "_batch_loss", real)
    events = list(engine.train(None, resume=paths))
    assert events[-1].status == "finished" and events[-1].final_map is not None
    assert events[-1].best_on_val is not None and 1 <= events[-1].best_on_val.epoch <= 3
    assert [json.loads(line)["epoch"] for line in paths.metrics.read_text().splitlines()] == [1, 2, 3]
