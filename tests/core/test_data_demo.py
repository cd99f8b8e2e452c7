"""Demo set, transforms, ImageDataset (substitution of bad images) and the `fghash datasets` CLI."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from core.base.errors import ImageDecodeError
from core.cli import main as cli_main
from core.data import demo
from core.data.dataset import ImageDataset
from core.data.records import ImageRecord
from core.data.registry import load_dataset
from core.data.transforms import IMAGENET_MEAN, IMAGENET_STD, denormalize, eval_transform, train_transform


@pytest.fixture
def demo_index():
    return load_dataset("demo")  # generated once per session into the FGHASH_CACHE from conftest


def test_demo_generated_into_cache_with_official_counts(demo_index, fghash_cache):
    root = demo.demo_root()
    assert root.parent == fghash_cache and (root / demo.MARKER).is_file()
    assert demo_index.num_classes == 10 and demo_index.listed == (240, 160) and demo_index.complete
    assert not [p for p in fghash_cache.iterdir() if p.name.startswith(".demo")]  # no temp folder left
    with Image.open(demo_index.records[0].path) as img:
        assert img.format == "JPEG" and img.size == (96, 96)
    assert json.loads((root / demo.MARKER).read_text())["seed"] == 0


def test_demo_is_deterministic_per_seed():
    spec = demo.CLASSES[3]
    a = np.asarray(demo.render(spec, np.random.default_rng([7, 3, 1])))
    b = np.asarray(demo.render(spec, np.random.default_rng([7, 3, 1])))
    c = np.asarray(demo.render(spec, np.random.default_rng([8, 3, 1])))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_demo_is_learnable_but_not_trivial(demo_index):
    """1-NN on 16x16 raw pixels: clearly above chance (10 %), far from perfect."""
    def feats(split):
        recs = demo_index.split(split)
        x = np.stack([np.asarray(Image.open(r.path).resize((16, 16))).astype(np.float32).ravel() for r in recs])
        return x - x.mean(1, keepdims=True), np.array([r.label for r in recs])

    xt, yt = feats("train")
    xq, yq = feats("test")
    dist = ((xq[:, None] - xt[None]) ** 2).sum(-1)
    accuracy = float((yt[dist.argmin(1)] == yq).mean())
    assert 0.15 < accuracy < 0.8


def test_transforms_shapes_and_normalisation():
    img = Image.new("RGB", (80, 60), (124, 116, 104))  # ~ the ImageNet mean colour
    x = eval_transform(32, 40)(img)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert float(x.abs().max()) < 0.05  # mean colour -> ~0 after normalisation
    t = train_transform(48)(img)
    assert t.shape == (3, 48, 48)
    assert torch.allclose(denormalize(x)[:, 0, 0], torch.tensor([124, 116, 104]) / 255, atol=0.01)
    assert len(IMAGENET_MEAN) == len(IMAGENET_STD) == 3
    with pytest.raises(ValueError):
        eval_transform(64, 32)


def test_image_dataset_items_and_substitution(tmp_path, demo_index):
    records = list(demo_index.split("train")[:6])  # class 0 only (24 per class, in order)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    records[2] = ImageRecord(str(bad), records[2].label, "train")
    records.append(ImageRecord(str(tmp_path / "gone.jpg"), 0, "train"))
    ds = ImageDataset(records, eval_transform(32, 36))
    x, label, index = ds[2]
    assert x.shape == (3, 32, 32) and label == 0 and index == 2
    assert torch.equal(x, ds[3][0])  # replaced by the next image of the same class
    ds[6]
    assert ds.skipped == {2, 6} and "bad.jpg" in ds.errors[2]
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert batches[0][0].shape == (4, 3, 32, 32) and batches[-1][2].tolist() == [4, 5, 6]


def test_image_dataset_raises_when_whole_class_undecodable(tmp_path):
    for i in range(2):
        (tmp_path / f"{i}.jpg").write_bytes(b"junk")
    ds = ImageDataset([ImageRecord(str(tmp_path / f"{i}.jpg"), 0, "test") for i in range(2)], eval_transform(16, 16))
    with pytest.raises(ImageDecodeError, match="no image of class 0"):
        ds[0]


def test_cli_datasets_list_and_check(capsys, demo_index, tmp_path):
    assert cli_main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "nabirds" in out and "images_variant_trainval.txt" in out
    assert cli_main(["datasets", "check", "--kind", "demo", "--decode-sample", "4"]) == 0
    out = capsys.readouterr().out
    assert "classes:      10" in out and "240 present of 240 listed" in out and "OK" in out
    assert cli_main(["datasets", "check", str(tmp_path / "none"), "--kind", "cub"]) == 1
    out = capsys.readouterr().out
    assert "does not exist" in out and "Expected layout" in out


def test_cli_check_subset_needs_allow_missing(capsys, shared_data):
    root = str(shared_data / "flowers-102")
    assert cli_main(["datasets", "check", root, "--kind", "flowers", "--decode-sample", "2"]) == 1
    assert "--allow-missing" in capsys.readouterr().out
    assert cli_main(["datasets", "check", root, "--kind", "flowers", "--allow-missing", "--decode-sample", "2"]) == 0
    out = capsys.readouterr().out
    assert "7,667" in out and "OK" in out
    # the official three splits (issue 23): trnid / valid / tstid, and fghash's database = trnid + valid
    assert "official:     train 100 / valid 100 / test 322 present" in out
    assert "200 present of 2,040 listed (database, = official train + valid)" in out
    assert "classes:      102 (pink primrose, hard-leaved pocket orchid" in out  # no cat_to_name.json needed


def test_check_reports_undecodable_images(tmp_path):
    from core.engine import check_dataset

    for split in ("train", "test"):
        d = tmp_path / split / "a"
        d.mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(d / "ok.png")
        (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    report = check_dataset("folder", tmp_path, decode_sample=10)
    assert not report.ok and report.decoded == 2
    assert sum("broken.png" in p for p in report.problems) == 2


def test_demo_cache_env_respected(tmp_path, monkeypatch):
    monkeypatch.setenv("FGHASH_CACHE", str(tmp_path / "c"))
    assert demo.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("FGHASH_CACHE")
    assert "fghash" in str(demo.cache_dir())
    assert os.fspath(demo.cache_dir()) != os.fspath(tmp_path / "c")
