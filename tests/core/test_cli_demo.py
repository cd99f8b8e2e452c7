"""`fghash demo`: the README's main job, end to end on the demo data (one short epoch at 32 px)."""

from __future__ import annotations

import re

import torch

from core import engine
from core.cli import main
from core.cli.demo import DEMO_BITS, demo_config, typical_query
from core.config.train_config import AdshOptions
from core.retrieval.service import run_chance_map


def test_demo_trains_indexes_evaluates_and_prints_a_query(capsys, monkeypatch) -> None:
    torch.set_num_threads(1)
    monkeypatch.setattr("core.cli.demo._imagenet_cached", lambda backbone: False)
    monkeypatch.setenv("DISPLAY", ":99")  # --no-gui must win over a display

    code = main(["demo", "--epochs", "1", "--image-size", "32", "--no-gui", "-k", "5", "--device", "cpu"])

    out = capsys.readouterr().out
    assert code == 0, out
    (run,) = engine.list_runs()
    assert run.status == "finished" and run.method == "fcaenet" and run.bits == DEMO_BITS
    paths = engine.open_run(run.run_id)
    assert paths.index.is_file()
    row = next(line for line in out.splitlines() if line.startswith(run.run_id[:34]))
    printed_map = float(row.split()[6])
    assert abs(printed_map - 100 * engine.evaluate(paths).map_all) < 0.01
    chance = re.search(rf"random {DEMO_BITS}-bit codes score mAP@all ([\d.]+) on the same split: the exact expectation", out)
    assert chance and float(chance.group(1)) == round(100 * run_chance_map(paths), 2)
    chance_row = next(line for line in out.splitlines() if line.startswith("chance (demo, random codes)"))
    assert float(chance_row.split()[-10]) == round(100 * run_chance_map(paths), 2)  # mAP@all, then 4 mAP@k, 4 P@k, -
    hits = [line for line in out.splitlines() if re.match(r"\s+\d+\s+\d+\s+\d+\s+[+x]\s", line)]
    assert len(hits) == 5
    assert f"fghash-gui {run.run_id}" in out


def test_demo_config_from_random_weights_uses_the_measured_small_gamma() -> None:
    cfg = demo_config("fcaenet", 12, 4, 64, "none", None)
    assert (cfg.dataset_kind, cfg.backbone, cfg.weights, cfg.epochs, cfg.image_size) == ("demo", "resnet18", "none", 4, 64)
    assert (cfg.adsh.gamma, cfg.lr, cfg.adsh.num_samples, cfg.adsh.v_init) == (20.0, 0.005, 240, "randn")
    pretrained = demo_config("fcaenet", 12, 4, 64, "imagenet", None)
    assert pretrained.adsh.gamma == AdshOptions().gamma  # ImageNet weights: the paper's gamma
    assert pretrained.adsh.v_init == AdshOptions().v_init


def test_typical_query_is_the_median_ap() -> None:
    assert typical_query([0.9, 0.1, 0.5, 0.3, 0.7]) == 2
    assert typical_query([0.2, 0.8, 0.4, 0.6]) == 2  # even count: the lower middle
