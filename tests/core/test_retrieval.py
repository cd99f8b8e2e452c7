"""Retrieval on a run folder: engine.build_index / evaluate / query / add_images and the CLI.

The run has a random-init ResNet-18 checkpoint and codes encoded from tiny images in a `folder` dataset.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from test_training import events_and_result  # pytest puts tests/core on sys.path

from core import engine
from core.base.errors import ImageDecodeError, RunError
from core.cli import main
from core.config.train_config import TrainConfig
from core.encoding.encode import drain, encode_records, run_eval_transform
from core.evaluation.metrics import map_all
from core.models.factory import build_model
from core.retrieval.session import forget_session
from core.runs.catalog import create_run
from core.runs.checkpoint import load_run_model, save_checkpoint
from core.search.codes import load_codes, save_codes

torch.set_num_threads(2)
CLASSES = ("heron", "finch", "owl")


def _image(path, colour, seed):
    rng = np.random.default_rng(seed)
    img = (rng.random((40, 36, 3)) * 60).astype(np.uint8) + np.array(colour, np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


@pytest.fixture
def run(fghash_home, tmp_path):
    root = tmp_path / "birds"
    colours = ((150, 20, 20), (20, 150, 20), (20, 20, 150))
    for split, count in (("train", 6), ("test", 2)):
        for c, name in enumerate(CLASSES):
            for i in range(count):
                _image(root / split / name / f"{name}_{i}.png", colours[c], seed=hash((split, c, i)) % 1000)
    cfg = TrainConfig(method="fcaenet", backbone="resnet18", weights="none", bits=12, image_size=32,
                      resize_size=36, device="cpu", dataset_kind="folder", dataset_root=str(root))
    torch.manual_seed(0)
    model = build_model(cfg, len(CLASSES))
    paths = create_run(cfg)
    save_checkpoint(paths, 1, cfg, {f"model.{k}": v for k, v in model.state_dict().items()},
                    num_classes=len(CLASSES), fingerprint="test", driver={})
    dataset = engine.load_dataset("folder", root)
    model, cfg = load_run_model(paths, "cpu")
    for split, name in (("train", "database"), ("test", "query")):
        records = dataset.split(split)
        codes = drain(encode_records(model, records, run_eval_transform(cfg), torch.device("cpu"), batch_size=8))
        save_codes(paths, name, codes, [r.label for r in records], [r.path for r in records])
    forget_session()
    yield paths, dataset
    forget_session()


def test_build_index_and_query_by_test_index(run):
    paths, dataset = run
    events, index_path = events_and_result(engine.build_index(paths.run_id))
    assert index_path == paths.index and index_path.exists()
    assert events[-1].done == events[-1].total == 18
    db = load_codes(paths, "database")
    queries = load_codes(paths, "query")
    result = engine.query(3, paths, k=18)
    assert result.source == "test split" and result.query_label == queries.labels[3]
    dist = (0.5 * (12 - db.codes.astype(float) @ queries.codes[3].astype(float))).astype(int)
    want = np.argsort(dist, kind="stable")
    assert [h.database_index for h in result.hits] == want.tolist()
    assert [h.distance for h in result.hits] == dist[want].tolist()
    for h in result.hits:
        assert h.path == db.paths[h.database_index] and h.class_name == dataset.class_names[h.label]
        assert h.correct == (h.label == queries.labels[3])
    assert engine.session(paths) is engine.session(paths.run_id)  # cached


def test_query_with_image_files(run, tmp_path):
    paths, dataset = run
    record = dataset.split("test")[0]
    by_path = engine.query(record.path, paths, k=5)
    assert by_path.source == "test split" and by_path.query_class == dataset.class_names[record.label]
    assert all(h.correct is not None for h in by_path.hits)
    # A foreign file: any size and mode (here a 16-bit grayscale PNG) -> encoded by the network, class unknown.
    foreign = tmp_path / "drop" / "gray16.png"
    foreign.parent.mkdir()
    Image.fromarray((np.arange(300 * 7, dtype=np.uint16).reshape(70, 30) * 20)).save(foreign)
    res = engine.query(foreign, paths, k=4)
    assert res.source == "image" and res.query_label is None and all(h.correct is None for h in res.hits)
    assert len(res.hits) == 4 and [h.rank for h in res.hits] == [1, 2, 3, 4]
    labelled = engine.query(foreign, paths, k=4, label=1)
    assert labelled.source == "explicit label" and all(h.correct == (h.label == 1) for h in labelled.hits)
    # A database image queried by path: encoded by the network, label known from the dataset record.
    db_record = dataset.split("train")[4]
    assert engine.query(db_record.path, paths, k=3).query_label == db_record.label
    broken = tmp_path / "drop" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ImageDecodeError, match="broken.jpg"):
        engine.query(broken, paths, k=3)


def test_evaluate_matches_map_all(run):
    paths, _ = run
    report = engine.evaluate(paths, ks=(1, 5), device="cpu")
    q, d = load_codes(paths, "query"), load_codes(paths, "database")
    assert report.map_all == pytest.approx(map_all(q.codes, d.codes, q.labels, d.labels), abs=1e-12)
    assert report.map_all_index_order == pytest.approx(
        map_all(q.codes, d.codes, q.labels, d.labels, tie_mode="stable"), abs=1e-12)
    assert 0 < report.largest_code_share <= 1 and report.collapsed == (report.largest_code_share > 0.5)
    assert report.num_queries == 6 and report.num_database == 18 and report.bits == 12
    assert set(report.map_at_k) == {1, 5} and len(report.pr_curve) == 13 and len(report.per_query_ap) == 6


def test_stale_index_is_not_used(run):
    paths, _ = run
    gen = engine.build_index(paths)
    while True:
        try:
            next(gen)
        except StopIteration:
            break
    db = load_codes(paths, "database")
    flipped = db.codes.copy()
    flipped[0] *= -1  # new codes for item 0: the saved index no longer matches them
    save_codes(paths, "database", flipped, db.labels, db.paths)
    forget_session()
    session = engine.session(paths)
    np.testing.assert_array_equal(session.index.search(flipped[:1], 1).indices, [[0]])


def test_add_images_grows_database_and_index(run, tmp_path):
    paths, _ = run
    new = [_image(tmp_path / "new" / f"n{i}.png", (90, 90, 90), seed=50 + i) for i in range(2)]
    assert drain(engine.add_images(paths, new, labels=[2, -1])) == 2
    db = load_codes(paths, "database")
    assert len(db) == 20 and db.paths[-2:] == tuple(str(p) for p in new) and db.labels[-2:].tolist() == [2, -1]
    res = engine.query(new[0], paths, k=20)
    assert any(h.database_index == 18 and h.distance == 0 for h in res.hits)  # finds itself
    with pytest.raises(ImageDecodeError):
        drain(engine.add_images(paths, [tmp_path / "missing.png"]))


def test_cli_index_query_eval(run, capsys):
    paths, dataset = run
    assert main(["index", paths.run_id, "-q"]) == 0
    assert "18 codes of 12 bits" in capsys.readouterr().out
    assert main(["query", paths.run_id, "2", "-k", "5"]) == 0
    out = capsys.readouterr().out
    assert "test split" in out and out.count("\n") >= 7 and "precision@5" in out
    assert main(["query", paths.run_id, dataset.split("train")[0].path, "-k", "3"]) == 0
    assert "dataset record" in capsys.readouterr().out
    assert main(["eval", paths.run_id, str(paths.root), "--ks", "5", "10"]) == 0
    out = capsys.readouterr().out
    assert "mAP@all" in out and "mAP@5" in out and out.count(paths.run_id[:34]) == 2


def test_errors_are_user_facing(run, capsys, tmp_path):
    paths, _ = run
    (paths.codes / "query.npz").write_bytes(b"junk")
    assert main(["eval", paths.run_id]) == 2
    assert "query.npz" in capsys.readouterr().err
    empty = create_run(TrainConfig(backbone="resnet18", weights="none"))
    assert main(["query", empty.run_id, "0"]) == 2
    assert "database.npz" in capsys.readouterr().err
    with pytest.raises(RunError):
        engine.evaluate(empty)


def test_report_table_groups_seeds_and_flags_collapse():
    from core.evaluation.metrics import RetrievalReport
    from core.retrieval.service import report_table

    def report(run_id, method, bits, value, share=0.1):
        return RetrievalReport(run_id=run_id, method=method, dataset_kind="cub", bits=bits, num_queries=10,
                               num_database=20, map_all=value, map_all_index_order=value + 0.1,
                               map_at_k={10: value}, map_at_k_index_order={10: value}, precision_at_k={10: value},
                               precision_at_k_index_order={10: value}, pr_curve=(), per_query_ap=(),
                               per_query_ap_index_order=(), largest_code_share=share)

    base = TrainConfig(dataset_kind="cub", dataset_root="/data/cub", backbone="resnet18", weights="none")
    runs = [(report("a", "fcaenet", 12, 0.5), base.replace(seed=0)),
            (report("b", "fcaenet", 12, 0.7, share=0.75), base.replace(seed=1)),
            (report("c", "fcaenet", 48, 0.75), base.replace(seed=0, bits=48)),
            (report("d", "adsh", 12, 0.25), base.replace(method="adsh"))]
    text = report_table([r for r, _ in runs], ks=(10,), configs=[c for _, c in runs])
    lines = text.splitlines()
    rows = {line.split()[0]: line for line in lines if line.startswith(("a ", "b ", "c ", "d "))}
    assert len(rows) == 4
    assert rows["a"].split()[6] == "50.00" and rows["a"].split()[-1] == "60.00"  # headline ... by index
    assert "codes collapsed: 75% of the database shares one code" in rows["b"] and "collapsed" not in rows["a"]
    assert "items ranked by database index, as the published code does" in text
    assert "mean ± sample std (n runs)" in text
    fcae = next(line for line in lines if line.startswith("cub       FCAENet"))
    adsh = next(line for line in lines if line.startswith("cub       ADSH"))
    assert "60.00 ± 14.14 (2)" in fcae and "75.00" in fcae.split()  # std of 50, 70 with ddof=1: 14.14
    assert "± 0.00" not in text and "(1)" not in text  # one run: its value alone
    assert "25.00" in adsh.split() and adsh.split()[-1] == "-"
