"""Configs round-trip and validate; the run store and run folders keep what they are given."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from core.base.errors import ConfigError, RunError
from core.config.train_config import FcaeOptions, TrainConfig, paper_preset
from core.runs.catalog import create_run, list_runs, resolve_run
from core.runs.lock import RunLock
from core.runs.store import RunStore


def test_config_json_round_trip_keeps_every_field() -> None:
    cfg = TrainConfig(method="adsh", bits=48, lr_milestones=(3, 7), backbone="resnet18")
    again = TrainConfig.from_json(cfg.to_json())
    assert again == cfg
    assert isinstance(again.lr_milestones, tuple)


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        TrainConfig().bits = 24  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"method": "vgg"}, "method must be one of"),
        ({"bits": 2}, "bits must be between"),
        ({"backbone": "vit"}, "backbone must be one of"),
        ({"image_size": 300, "resize_size": 256}, "resize_size"),
        ({"dataset_kind": "cub"}, "dataset_root is required"),
    ],
)
def test_invalid_values_give_readable_errors(changes: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        TrainConfig(**changes)


def test_from_json_rejects_unknown_keys_wrong_types_and_versions() -> None:
    data = json.loads(TrainConfig().to_json())
    with pytest.raises(ConfigError, match="unknown config option"):
        TrainConfig.from_dict({**data, "learning_rate": 1})
    with pytest.raises(ConfigError, match="config.bits must be int"):
        TrainConfig.from_dict({**data, "bits": "12"})
    with pytest.raises(ConfigError, match="config.fcae.erase_target must be one of"):
        TrainConfig.from_dict({**data, "fcae": {**data["fcae"], "erase_target": "grey"}})
    with pytest.raises(ConfigError, match="schema_version 99"):
        TrainConfig.from_dict({**data, "schema_version": 99})
    with pytest.raises(ConfigError, match="not valid JSON"):
        TrainConfig.from_json("{")


def test_paper_presets_follow_the_fcaenet_schedule() -> None:
    short = paper_preset("fcaenet", 24)
    long = paper_preset("fcaenet", 48)
    assert (short.epochs, short.lr_milestones) == (40, (20, 30))
    assert (long.epochs, long.lr_milestones) == (60, (30, 45, 55))
    assert short.momentum == 0.9 and short.weight_decay == 1e-5 and short.batch_size == 64


def test_store_records_runs_metrics_and_artifacts(tmp_path) -> None:
    with RunStore(tmp_path / "s.sqlite") as store:
        paths = create_run(TrainConfig(bits=24), store, parent=tmp_path / "runs")
        store.set_status(paths.run_id, "running")
        store.log_metrics(paths.run_id, 1, {"map_all": 0.25, "loss": 3.0})
        store.log_metrics(paths.run_id, 2, {"map_all": 0.5})
        store.set_artifact(paths.run_id, "index", paths.index)
        store.set_maps(paths.run_id, 0.5)
        with RunLock(paths.root):  # what a live training holds
            record = store.get(paths.run_id)
            assert record is not None and record.bits == 24 and record.status == "running"
        # the training process is gone without saying so (SIGKILL): interrupted, and recorded as such
        assert store.get(paths.run_id).status == "interrupted"
        assert store.list_runs()[0].status == "interrupted"
        assert store.metric_history(paths.run_id, "map_all") == [(1, 0.25), (2, 0.5)]
        assert store.last_metrics(("map_all", "loss", "absent")) == {paths.run_id: {"map_all": 0.5, "loss": 3.0}}
        assert store.artifacts(paths.run_id) == {"index": str(paths.index)}
        with pytest.raises(ValueError):
            store.set_status(paths.run_id, "done")
        store.delete(paths.run_id)
        assert store.get(paths.run_id) is None
        assert store.list_runs() == []  # the SQLite index alone
        # the folder is the truth: the catalog picks up a run folder next to the store that the store lacks
        assert [r.run_id for r in list_runs(store)] == [paths.run_id]
    mode = sqlite3.connect(tmp_path / "s.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_run_folder_layout_and_resolution(tmp_path) -> None:
    paths = create_run(TrainConfig(), parent=tmp_path)
    assert paths.config.exists() and paths.checkpoints.is_dir() and paths.codes.is_dir()
    assert paths.load_config() == TrainConfig()
    assert resolve_run(str(paths.root)) == paths
    paths.append_metrics({"epoch": 1, "map_all": 0.1})
    with open(paths.metrics, "a") as fh:
        fh.write('{"epoch": 2, "map')  # a line torn by a crash
    assert paths.read_metrics() == [{"epoch": 1, "map_all": 0.1}]
    paths.config.unlink()
    with pytest.raises(RunError, match="config.json is missing"):
        paths.load_config()
    with pytest.raises(RunError, match="no run"):
        resolve_run("does-not-exist")


def test_stored_config_names_its_reconstructed_choices() -> None:
    """config.json lists the reconstructed options the method uses under "reconstructed" (derived, so a
    stored config with it reads back equal); the ESRL scale is among them."""
    import json

    from core.config.train_config import reconstructed_choices

    cfg = TrainConfig(method="fcaenet")
    stored = json.loads(cfg.to_json())
    assert stored["reconstructed"]["fcae.esrl_normalization"] == "quant"
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    m_k = cfg.replace(fcae=FcaeOptions(esrl_normalization="m_k"))
    assert reconstructed_choices(m_k)["fcae.esrl_normalization"] == "m_k"
    assert "fcae.esrl_normalization" not in reconstructed_choices(cfg.replace(fcae=FcaeOptions(use_esrl=False)))
    assert "fcae.esrl_normalization" not in reconstructed_choices(cfg.replace(method="multifusnet"))


def test_multifusnet_config_stored_before_proxy_codes_reads_as_distinct() -> None:
    """Runs written before multifus.proxy_codes existed trained on the repaired targets: their config must not
    turn into the new default ("fish"), or their checkpoints' proxy codes would no longer match."""
    import json

    cfg = TrainConfig(method="multifusnet")
    assert cfg.multifus.proxy_codes == "fish"
    old = json.loads(cfg.to_json())
    del old["multifus"]["proxy_codes"]
    assert TrainConfig.from_dict(old).multifus.proxy_codes == "distinct"
    assert TrainConfig.from_json(cfg.to_json()).multifus.proxy_codes == "fish"


def test_a_config_stored_before_the_comparison_methods_still_opens(tmp_path) -> None:
    """A run's config.json as the release before the comparison methods wrote it (tests/core/data/): it lacks only
    options added since, which read as the values that run used; any other missing option is refused."""
    old = Path(__file__).with_name("data") / "config-before-wave3.json"
    cfg = TrainConfig.load(old, complete=True)
    assert cfg.method == "multifusnet" and cfg.multifus.proxy_codes == "distinct"  # what those runs trained on
    assert cfg.multifus.fusion_attention == "eca" and not cfg.nesterov and cfg.dpsh == TrainConfig().dpsh
    assert cfg.compile_step == "off"  # they trained eager
    data = json.loads(old.read_text())
    del data["image_size"]
    damaged = tmp_path / "config.json"
    damaged.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="image_size"):
        TrainConfig.load(damaged, complete=True)
