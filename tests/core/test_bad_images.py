"""Bad images through every engine path: training, encoding / indexing, query, explain, the CLI.

One tiny folder-layout dataset mixes good 40 px images with every file of tests/badimages.py: six
undecodable ones in the train split (truncated JPEG, zero bytes, text as .jpg, HTML as .png, a JPEG
header claiming 20000 x 20000, a 20000 x 20000 PNG) and the odd-but-valid ones (1 x 1, 20000 x 20000
JPEG, 16-bit, CMYK, animated GIF, palette + transparency, LA, RGBA, EXIF-rotated). One `fghash train`
(ADSH, ResNet-18 from scratch, 32 px, one outer iteration visiting every image, two loader workers)
runs on it once per module; the query / explain tests reuse that run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from badimages import BAD, ODD, good_image_bytes, write_bad_images
from test_training import events_and_result

from core import engine
from core.base.errors import ImageDecodeError
from core.base.events import Log, TrainFinished
from core.cli import main
from core.data.dataset import ImageDataset
from core.data.records import ImageRecord
from core.data.transforms import eval_transform

TRAIN_BAD = {"a": sorted(BAD)[:3], "b": sorted(BAD)[3:]}
TEST_FILES = {"a": ["truncated.jpg"], "b": ["empty.jpg", "page.png"], "c": ["cmyk.jpg", "gray16.png"]}


def build_dataset(root: Path, good_per_class: int = 4, test_good: int = 2) -> Path:
    """root/{train,test}/{a,b,c}/: good PNGs plus the bad files (train a, b), odd files (train c) and
    a few of both in test/."""
    seed = 0
    for split, n_good in (("train", good_per_class), ("test", test_good)):
        for cls in "abc":
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n_good):
                seed += 1
                (folder / f"good{i}.png").write_bytes(good_image_bytes(seed))
    for cls, names in TRAIN_BAD.items():
        write_bad_images(root / "train" / cls, names)
    write_bad_images(root / "train" / "c", sorted(ODD))
    for cls, names in TEST_FILES.items():
        write_bad_images(root / "test" / cls, names)
    return root


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


TRAIN_ARGS = ("train", "--dataset", "folder", "--method", "adsh", "--bits", "12", "--preset", "quick",
              "--epochs", "1", "--batch-size", "8", "--image-size", "32", "--backbone", "resnet18",
              "--weights", "none", "--device", "cpu", "--num-samples", "1000", "--inner-epochs", "1")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(dataset root, run folder, CLI stdout) of one `fghash train` on the mixed dataset, 2 workers."""
    torch.set_num_threads(1)
    home = tmp_path_factory.mktemp("bad_home")
    previous = os.environ.get("FGHASH_HOME")
    os.environ["FGHASH_HOME"] = str(home)
    try:
        root = build_dataset(tmp_path_factory.mktemp("mixed"))
        code, out, err = cli(*TRAIN_ARGS, "--root", str(root), "--num-workers", "2")
        assert code == 0, out + err
        runs = engine.list_runs()
        assert len(runs) == 1
        yield root, Path(runs[0].run_dir), out + err, runs[0].run_id, home
    finally:
        if previous is None:
            os.environ.pop("FGHASH_HOME", None)
        else:
            os.environ["FGHASH_HOME"] = previous


@pytest.fixture
def run_home(trained, monkeypatch):
    monkeypatch.setenv("FGHASH_HOME", str(trained[4]))
    return trained


# ---- training -------------------------------------------------------------------------------------------
def test_training_counts_reports_and_stores_skipped_images(run_home):
    root, run_dir, output, run_id, _ = run_home
    undecodable = sum(len(v) for v in TRAIN_BAD.values())
    assert undecodable == len(BAD) == 6
    # printed by `fghash train` (a Log warning from the driver), with the file names and reasons
    assert f"{undecodable} training image(s) could not be decoded" in output
    assert "empty.jpg" in output and "(0 bytes)" in output
    # stored: metrics.jsonl and the run store
    paths = engine.open_run(str(run_dir))
    assert [r["skipped_images"] for r in paths.read_metrics()] == [undecodable]
    from core.runs.store import RunStore

    with RunStore() as store:
        assert store.metric_history(run_id, "skipped_images") == [(1, float(undecodable))]
        assert store.get(run_id).status == "finished"
    # the query split's bad files were encoded from a blank image, and said so
    assert "encode queries: 3 of 11 images could not be decoded" in output


def test_saved_codes_stay_aligned_with_the_dataset(run_home):
    root, run_dir, *_ = run_home
    from core.search.codes import load_codes

    index = engine.load_dataset("folder", root)
    paths = engine.open_run(str(run_dir))
    for split, codes_name in (("test", "query"), ("train", "database")):
        records = index.split(split)
        codes = load_codes(paths, codes_name)
        assert list(codes.paths) == [r.path for r in records]
        assert codes.labels.tolist() == [r.label for r in records]
        assert codes.codes.shape == (len(records), 12)


def _write_bad_training_set(root: Path, all_bad: bool) -> Path:
    build_dataset(root, good_per_class=2, test_good=1)
    if all_bad:
        for p in (root / "train").rglob("good*.png"):
            p.write_bytes(b"")
    else:  # class a: only undecodable files left
        for p in (root / "train" / "a").glob("good*.png"):
            p.write_bytes(b"<html>gone</html>")
    return root


@pytest.mark.parametrize("workers", [0, 2])
def test_a_class_with_no_decodable_image_is_a_clear_error(tmp_path, workers):
    torch.set_num_threads(1)
    root = _write_bad_training_set(tmp_path / "ds", all_bad=False)
    from core.config.train_config import TrainConfig

    cfg = TrainConfig(dataset_kind="folder", dataset_root=str(root), method="adsh", bits=12, backbone="resnet18",
                      weights="none", image_size=32, resize_size=36, device="cpu", epochs=1, batch_size=4,
                      lr_milestones=(), amp=False, num_workers=workers)
    gen = engine.train(cfg)
    with pytest.raises(ImageDecodeError) as info:
        for _ in gen:
            pass
    message = str(info.value)
    assert "\n" not in message  # also through DataLoader workers, which wrap it in a traceback
    assert "no image of class 0 can be decoded (5 tried" in message and str(root / "train" / "a") in message
    run = engine.list_runs()[0]
    assert run.status == "failed"


def test_all_images_bad_cli_exits_2_with_one_line(tmp_path):
    torch.set_num_threads(1)
    root = _write_bad_training_set(tmp_path / "ds", all_bad=True)
    code, out, err = cli(*TRAIN_ARGS, "--root", str(root), "--num-workers", "2")
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("fghash: error:")]
    assert len(lines) == 1 and "can be decoded" in lines[0]
    assert "Traceback" not in err
    # the failed loader's workers were stopped as the error unwound, not left for a later gc pass
    # (which would wait 5 s per worker on queues already finalised)
    start = time.perf_counter()
    gc.collect()
    assert time.perf_counter() - start < 3.0


# ---- the dataset itself ------------------------------------------------------------------------------------
def _records(folder: Path, names: list[str], label: int = 0) -> list[ImageRecord]:
    return [ImageRecord(str(folder / n), label, "train") for n in names]


def _mixed_records(tmp_path: Path) -> list[ImageRecord]:
    files = write_bad_images(tmp_path / "c0")
    good = []
    for i in range(3):
        p = tmp_path / "c0" / f"good{i}.png"
        p.write_bytes(good_image_bytes(100 + i))
        good.append(p.name)
    return _records(tmp_path / "c0", [*files, *good])


@pytest.mark.parametrize("workers, context", [(0, None), (2, "fork"), (1, "spawn")])
def test_skip_count_is_right_with_loader_workers(tmp_path, workers, context):
    """The skip flags live in shared memory: failures seen by worker processes count in the parent."""
    records = _mixed_records(tmp_path)
    data = ImageDataset(records, eval_transform(32, 36))
    loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=workers, multiprocessing_context=context)
    seen = sum(len(batch[0]) for batch in loader)
    assert seen == len(records)
    assert data.skipped == set(range(len(BAD)))  # BAD files come first in write_bad_images
    bad = data.undecodable()
    assert [Path(records[i].path).name in bad[i] for i in bad] == [True] * len(BAD)


def test_substitute_is_the_next_decodable_image_of_the_class(tmp_path):
    records = _mixed_records(tmp_path)
    data = ImageDataset(records, eval_transform(32, 36))
    first_odd = len(BAD)  # the walk from any BAD file lands on the first decodable file after them
    expected = data[first_odd][0]
    for i in range(len(BAD)):
        image, label, index = data[i]
        assert (label, index) == (0, i) and torch.equal(image, expected)


def test_blank_stand_in_when_the_class_has_no_decodable_image(tmp_path):
    write_bad_images(tmp_path, sorted(BAD))
    records = _records(tmp_path, sorted(BAD), label=3)
    strict = ImageDataset(records, eval_transform(32, 36))
    with pytest.raises(ImageDecodeError, match=r"no image of class 3 can be decoded \(6 tried"):
        strict[0]
    lenient = ImageDataset(records, eval_transform(32, 36), substitute="blank")
    image, label, index = lenient[2]
    assert (label, index) == (3, 2) and image.abs().max() < 0.05  # the mean colour normalises to ~0
    assert lenient.skipped == {2}


def test_blank_substitute_never_borrows_a_readable_image_of_the_class(tmp_path):
    """Encoding: a bad query must not get the code of a good image of its own class (a label leak)."""
    records = _mixed_records(tmp_path)
    data = ImageDataset(records, eval_transform(32, 36), substitute="blank")
    for i in range(len(BAD)):
        image, label, index = data[i]
        assert (label, index) == (0, i) and image.abs().max() < 0.05
    assert not torch.equal(data[len(BAD)][0], data[0][0])


# ---- encoding / indexing -------------------------------------------------------------------------------------
def test_encode_records_keeps_one_code_per_record_and_warns(run_home, tmp_path):
    _, run_dir, *_ = run_home
    from core.encoding.encode import encode_records, run_eval_transform
    from core.runs.checkpoint import load_run_model

    model, cfg = load_run_model(engine.open_run(str(run_dir)))
    transform = run_eval_transform(cfg)
    records = _mixed_records(tmp_path / "x")
    write_bad_images(tmp_path / "lonely", ["empty.jpg"])
    records.append(ImageRecord(str(tmp_path / "lonely" / "empty.jpg"), 1, "test"))  # a class of one bad file
    events, codes = events_and_result(encode_records(model, records, transform, torch.device("cpu"), batch_size=5))
    assert codes.shape == (len(records), cfg.bits)
    warnings = [e for e in events if isinstance(e, Log)]
    assert len(warnings) == 1 and warnings[0].level == "warning"
    assert f"encode: {len(BAD) + 1} of {len(records)} images could not be decoded" in warnings[0].message
    assert "replaced by a blank mean-colour image" in warnings[0].message
    # every bad record gets the blank image's code, whatever its class
    for i in range(len(BAD)):
        assert torch.equal(codes[i], codes[-1])


def test_add_images_refuses_a_bad_file_and_leaves_the_database_alone(run_home, tmp_path):
    _, run_dir, *_ = run_home
    from core.encoding.encode import drain
    from core.search.codes import load_codes

    paths = engine.open_run(str(run_dir))
    before = load_codes(paths, "database")
    bad = write_bad_images(tmp_path, ["truncated.jpg"])["truncated.jpg"]
    with pytest.raises(ImageDecodeError, match="truncated.jpg"):
        drain(engine.add_images(str(run_dir), [bad]))
    assert load_codes(paths, "database").checksum == before.checksum


# ---- query and explain -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(BAD))
def test_query_and_explain_a_bad_file_is_a_clear_error(run_home, tmp_path, name):
    _, run_dir, *_ = run_home
    path = write_bad_images(tmp_path, [name])[name]
    with pytest.raises(ImageDecodeError) as info:
        engine.query(str(path), str(run_dir), k=3)
    assert str(path) in str(info.value)
    with pytest.raises(ImageDecodeError, match=str(path).replace(".", r"\.")):
        engine.explain(str(path), str(run_dir), "cam", device="cpu")
    for argv in (("query", str(run_dir), str(path), "-k", "3"),
                 ("explain", str(run_dir), str(path), "-o", str(tmp_path / "out.png"), "--device", "cpu")):
        code, out, err = cli(*argv)
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("fghash: error: cannot") and str(path) in err
    assert not (tmp_path / "out.png").exists()
    # the session survives: a good image still queries
    good = tmp_path / "good.png"
    good.write_bytes(good_image_bytes(7))
    assert len(engine.query(str(good), str(run_dir), k=3).hits) == 3


def test_explain_with_a_bad_target_image(run_home, tmp_path):
    _, run_dir, *_ = run_home
    files = write_bad_images(tmp_path, ["page.png", "one_pixel.png"])
    with pytest.raises(ImageDecodeError, match="page.png"):
        engine.explain(str(files["one_pixel.png"]), str(run_dir), "gradcam", target_image=str(files["page.png"]),
                       device="cpu")


@pytest.mark.parametrize("name", sorted(ODD))
def test_query_and_explain_odd_images_just_work(run_home, tmp_path, name):
    _, run_dir, *_ = run_home
    path = write_bad_images(tmp_path, [name])[name]
    result = engine.query(str(path), str(run_dir), k=4)
    assert len(result.hits) == 4 and result.source == "image"
    expl = engine.explain(str(path), str(run_dir), "cam", device="cpu")
    assert expl.hw == (32, 32) and np.isfinite(np.asarray(expl.heatmap)).all()
    code, out, _ = cli("query", str(run_dir), str(path), "-k", "2")
    assert code == 0 and "rank" in out


def test_bad_files_inside_the_dataset_query_from_their_saved_codes(run_home):
    """A test-split file that does not decode still has the (blank image's) code evaluation used."""
    root, run_dir, *_ = run_home
    bad = root / "test" / "b" / "empty.jpg"
    result = engine.query(str(bad), str(run_dir), k=2)
    assert result.source == "test split" and result.query_class == "b"


def test_training_finished_message_counts_skips(tmp_path):
    """The TrainFinished message (GUI status line) carries the count too; workers 0."""
    torch.set_num_threads(1)
    root = tmp_path / "ds"
    build_dataset(root, good_per_class=2, test_good=1)
    from core.config.train_config import TrainConfig

    cfg = TrainConfig(dataset_kind="folder", dataset_root=str(root), method="adsh", bits=12, backbone="resnet18",
                      weights="none", image_size=32, resize_size=36, device="cpu", epochs=1, batch_size=8,
                      lr_milestones=(), amp=False, num_workers=0)
    cfg = cfg.replace(adsh=dataclasses.replace(cfg.adsh, num_samples=1000, inner_epochs=1))
    events = list(engine.train(cfg))
    finished = events[-1]
    assert isinstance(finished, TrainFinished) and finished.status == "finished"
    assert f"; {len(BAD)} training image(s) could not be decoded" in finished.message


def test_dataset_check_names_every_undecodable_file(tmp_path):
    """`fghash datasets check` (engine.check_dataset) decodes a sample: here all 38 images."""
    root = build_dataset(tmp_path / "ds")
    report = engine.check_dataset("folder", root, decode_sample=100)
    bad_train = {str(root / "train" / cls / name) for cls, names in TRAIN_BAD.items() for name in names}
    bad_test = {str(root / "test" / cls / name) for cls, names in TEST_FILES.items() for name in names if name in BAD}
    assert report.decoded == 27 + 11 - len(bad_train) - len(bad_test)
    assert len(report.problems) == len(bad_train | bad_test)
    assert all(any(path in p for p in report.problems) for path in bad_train | bad_test)
