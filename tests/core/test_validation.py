"""No selection on the test split: validation splits (official lists, stratified seeded fractions) are taken
out of training; a run with one reports the epoch best on validation with its test mAP and keeps that
checkpoint; the store migrates old `best_map` tables; `fghash train --seeds` trains one run per seed."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from test_data_fixtures import _img, _vegfru, _write  # pytest puts tests/core on sys.path
from test_training import _tiny

from core import engine
from core.base.errors import ConfigError, DatasetError
from core.base.events import BestOnValidation, EvalResult, TrainFinished, ValidationResult
from core.config.train_config import TrainConfig
from core.data.records import DatasetIndex
from core.data.registry import has_official_validation, load_dataset, official_validation
from core.runs.checkpoint import KEEP_LAST, _prune
from core.runs.store import RunStore
from core.training.validation import fingerprint_view, split_for_validation

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_fraction_split_is_stratified_seeded_and_out_of_training() -> None:
    demo = load_dataset("demo")
    cfg = TrainConfig(validation="fraction", val_fraction=0.25, seed=3)
    view, val = split_for_validation(demo, cfg)
    train = demo.split("train")  # 24 per class
    assert Counter(r.label for r in val.records) == {c: 6 for c in range(10)}
    assert {r.split for r in val.records} == {"val"}
    val_paths = {r.path for r in val.records}
    assert not val_paths & {r.path for r in view.split("train")}
    assert len(view.split("train")) == len(train) - len(val.records) and view.split("test") == demo.split("test")
    assert split_for_validation(demo, cfg)[1] == val  # seeded: the same split again
    other = split_for_validation(demo, cfg.replace(seed=4))[1]
    assert {r.path for r in other.records} != val_paths
    # no validation: the dataset itself, and the fingerprint view of existing runs is unchanged
    assert split_for_validation(demo, TrainConfig()) == (demo, None)
    assert fingerprint_view(demo, None) is demo


@pytest.mark.parametrize("fraction", [0.0, 1.0, float("nan")])
def test_fraction_outside_0_1_is_refused(fraction) -> None:
    with pytest.raises(ConfigError):
        TrainConfig(validation="fraction", val_fraction=fraction)


def test_flowers_official_validation_comes_out_of_training(shared_data) -> None:
    import scipy.io

    root = (shared_data / "flowers-102").resolve()  # a symlinked root fails the loader's inside-the-root check
    index = load_dataset("flowers", root, allow_missing=True)
    valid = {f"image_{n:05d}.jpg" for n in scipy.io.loadmat(root / "setid.mat")["valid"].ravel().tolist()}
    view, val = split_for_validation(index, TrainConfig(dataset_kind="flowers", dataset_root=str(root),
                                                        allow_missing=True, validation="official"))
    assert val.records and all(Path(r.path).name in valid for r in val.records)
    assert not any(Path(r.path).name in valid for r in view.split("train"))
    assert len(view.split("train")) + len(val.records) == len(index.split("train"))
    assert view.split("test") == index.split("test")


def _aircraft(root: Path) -> None:
    data = root / "data"
    _write(data / "variants.txt", "707-320\nF/A-18")
    _write(data / "images_variant_trainval.txt", "1000001 707-320\n1000002 707-320\n1000003 F/A-18\n1000004 F/A-18")
    _write(data / "images_variant_val.txt", "1000002 707-320\n1000004 F/A-18\n")
    _write(data / "images_variant_test.txt", "1000005 707-320\n1000006 F/A-18")
    for i in range(1, 7):
        _img(data / "images" / f"100000{i}.jpg")


def test_aircraft_and_vegfru_official_validation(tmp_path) -> None:
    _aircraft(tmp_path / "air")
    air = load_dataset("aircraft", tmp_path / "air", allow_missing=True)
    assert [Path(r.path).stem for r in official_validation(air)] == ["1000002", "1000004"]
    _vegfru(tmp_path / "veg")
    veg = load_dataset("vegfru", tmp_path / "veg", allow_missing=True)
    view, val = split_for_validation(veg, TrainConfig(dataset_kind="vegfru", dataset_root=str(tmp_path / "veg"),
                                                      allow_missing=True, validation="official"))
    assert [Path(r.path).name for r in val.records] == ["0_2.jpg", "1_2.jpg"]
    assert view == veg  # VegFru's validation list is separate: the training split stays as it is
    assert not has_official_validation("cub")
    with pytest.raises(DatasetError, match="cub has no official validation split.*--val-fraction"):
        official_validation(DatasetIndex(kind="cub", root=str(tmp_path), records=(), class_names=("a",)))


def test_prune_keeps_the_selected_checkpoint(tmp_path) -> None:
    for epoch in range(1, 6):
        for suffix in (".json", ".safetensors"):
            (tmp_path / f"epoch-{epoch:04d}{suffix}").write_text("x")
    _prune(tmp_path, keep_epochs=(2,))
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["epoch-0002.json", "epoch-0004.json",
                                                                "epoch-0005.json"]
    assert KEEP_LAST == 2 and (tmp_path / "epoch-0002.safetensors").exists()


def test_old_store_with_best_map_opens_and_migrates(tmp_path) -> None:
    path = tmp_path / "runs.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, run_dir TEXT NOT NULL, method TEXT NOT NULL, "
               "dataset_kind TEXT NOT NULL, dataset_root TEXT, bits INTEGER NOT NULL, backbone TEXT NOT NULL, "
               "status TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL, best_map REAL, final_map REAL, "
               "config_json TEXT NOT NULL)")
    db.execute("INSERT INTO runs VALUES ('old', '/x', 'adsh', 'demo', NULL, 12, 'resnet18', 'finished', 1, 2, "
               "0.6, 0.5, '{}')")
    db.commit()
    db.close()
    with RunStore(path) as store:
        (record,) = store.list_runs()
        assert record.final_map == 0.5 and record.val_best_epoch is None and not hasattr(record, "best_map")
        store.set_maps("old", 0.55, BestOnValidation(epoch=3, val_map=0.4, test_map=0.52))
        assert (store.get("old").val_best_epoch, store.get("old").val_best_test_map) == (3, 0.52)


def test_checkpoint_driver_state_is_read_tolerantly() -> None:
    assert BestOnValidation.from_dict(None) is None
    assert BestOnValidation.from_dict({"best_map": 0.9}) is None  # an old checkpoint's test-chosen value
    best = BestOnValidation(2, 0.3, 0.25)
    assert BestOnValidation.from_dict(json.loads(json.dumps(best.to_dict()))) == best


@pytest.mark.slow
def test_a_run_with_validation_reports_the_epoch_best_on_validation() -> None:
    cfg = _tiny("adsh", epochs=4, validation="fraction", val_fraction=0.25)
    events = list(engine.train(cfg))
    finished = events[-1]
    assert isinstance(finished, TrainFinished) and finished.status == "finished"
    val = {e.epoch: e.map_all for e in events if isinstance(e, ValidationResult)}
    test = {e.epoch: e.map_all for e in events if isinstance(e, EvalResult)}
    assert sorted(val) == sorted(test) == [1, 2, 3, 4]
    best_epoch = max(val, key=lambda e: (val[e], -e))  # highest validation mAP, earliest on ties
    assert finished.best_on_val == BestOnValidation(best_epoch, val[best_epoch], test[best_epoch])
    assert finished.final_map == test[4]
    paths = engine.open_run(finished.run_id)
    kept = sorted(p.name for p in paths.checkpoints.glob("*.safetensors"))
    assert f"epoch-{best_epoch:04d}.safetensors" in kept and len(kept) == len({best_epoch, 3, 4})
    record = engine.list_runs()[0]
    assert (record.val_best_epoch, record.val_best_map, record.val_best_test_map) == (
        best_epoch, val[best_epoch], test[best_epoch])
    # the network never trained on the validation images, and they are not in the database
    logged = [json.loads(line) for line in paths.metrics.read_text().splitlines()]
    assert [(r["epoch"], r["val_map_all"]) for r in logged] == sorted(val.items())
    from core.search.codes import load_codes

    view, split = split_for_validation(load_dataset("demo"), cfg)
    assert set(load_codes(paths, "database").paths) == {r.path for r in view.split("train")}
    assert not {r.path for r in split.records} & set(load_codes(paths, "database").paths)


def test_cli_seeds_and_seed_together_is_an_error(capsys) -> None:
    from core.cli import build_parser, main
    from core.cli.train import configs_from_args

    args = build_parser().parse_args(["train", "--bits", "12,24", "--seeds", "0,1,2", "--preset", "quick"])
    assert [(c.bits, c.seed) for c in configs_from_args(args)] == [(12, 0), (12, 1), (12, 2), (24, 0), (24, 1),
                                                                    (24, 2)]
    assert main(["train", "--seed", "1", "--seeds", "0,1"]) == 2
    assert "either --seed" in capsys.readouterr().err
    assert main(["train", "--seeds", "0,0"]) == 2


@pytest.mark.slow
def test_cli_trains_one_run_per_seed_and_prints_the_spread(capsys) -> None:
    from core.cli import main

    rc = main(["train", "--dataset", "demo", "--method", "adsh", "--bits", "12", "--seeds", "0,1", "--preset",
               "quick", "--epochs", "1", "--inner-epochs", "1", "--num-samples", "32", "--batch-size", "16",
               "--image-size", "32", "--backbone", "resnet18", "--weights", "none", "--device", "cpu",
               "--lr", "0.005", "--gamma", "20"])
    out = capsys.readouterr().out
    assert rc == 0, out
    runs = engine.list_runs()
    assert sorted(json.loads(r.config_json)["seed"] for r in runs) == [0, 1]
    maps = sorted(100 * r.final_map for r in runs)
    import statistics

    expected = f"{statistics.fmean(maps):.2f} ± {statistics.stdev(maps):.2f} (2)"
    assert f"adsh  12 bits  test mAP {expected}" in out
