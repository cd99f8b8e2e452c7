"""A run's approximate (IVF) index (core/retrieval/approximate.py): `fghash index RUN --approximate`, the recall it
prints, `fghash query --approximate`, and the refusal of a missing, stale or foreign file.

The run holds synthetic codes (no network): test-split queries by index need only the saved codes."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from core import engine
from core.base.errors import RunError
from core.cli import main
from core.config.train_config import TrainConfig
from core.encoding.encode import drain
from core.retrieval.approximate import approximate_info, build_approximate, default_nlist
from core.retrieval.session import forget_session
from core.runs.catalog import create_run
from core.search.codes import save_codes
from core.search.large_index import approximate_from_code_file, approximate_from_packed, write_code_file

BITS = 32


def _clustered(rng, centres, n):
    labels = rng.integers(0, len(centres), n)
    flips = np.where(rng.random((n, BITS)) < 0.15, -1, 1)
    return (centres[labels] * flips).astype(np.int8), labels


@pytest.fixture
def run(fghash_home):
    rng = np.random.default_rng(3)
    centres = rng.choice([-1, 1], (12, BITS))
    paths = create_run(TrainConfig(backbone="resnet18", weights="none", bits=BITS))
    for split, n in (("database", 1500), ("query", 40)):
        codes, labels = _clustered(rng, centres, n)
        save_codes(paths, split, codes, labels, [f"/photos/{split}/{i}.jpg" for i in range(n)])
    forget_session()
    yield paths
    forget_session()


def test_default_nlist_is_about_sqrt_with_enough_codes_per_cell():
    assert default_nlist(10) == 1 and default_nlist(100) == 2  # 39 codes per cell at least
    assert default_nlist(1_000_000) == 1000 and default_nlist(100_000_000) == 1024


def test_scanning_every_cell_finds_the_exact_distances(run):
    info = drain(build_approximate(run, nlist=8, nprobe=8))
    assert (info.nlist, info.nprobe, info.count, info.recall_k, info.recall_queries) == (8, 8, 1500, 20, 40)
    assert [p for p, _ in info.recall] == [1, 4, 8] and info.recall_at(8) == 1.0
    assert info.recall_at(1) < 1.0  # one cell of eight misses neighbours: the figure measures something
    for row in range(0, 40, 3):
        approximate = engine.query(row, run, k=30, approximate=True)
        exact = engine.query(row, run, k=30)
        assert approximate.nprobe == 8 and approximate.approximate == info and exact.approximate is None
        assert [h.distance for h in approximate.hits] == [h.distance for h in exact.hits]
    few = engine.query(0, run, k=30, approximate=True, nprobe=1)
    assert few.nprobe == 1 and [h.rank for h in few.hits] == list(range(1, len(few.hits) + 1))
    assert all(h.database_index >= 0 and h.path for h in few.hits)  # empty IVF slots are not hits


def test_rebuilding_gives_the_same_index_and_recall(run):
    """Everything but the measured latency is deterministic."""
    first = drain(build_approximate(run, nlist=8, nprobe=2))
    first_payload = run.approximate_index.read_bytes().split(b"\n", 2)[2]
    again = drain(build_approximate(run, nlist=8, nprobe=2))
    assert first.latency_ms > 0 and again.latency_ms > 0
    assert dataclasses.replace(again, latency_ms=None) == dataclasses.replace(first, latency_ms=None)
    assert run.approximate_index.read_bytes().split(b"\n", 2)[2] == first_payload


def test_the_in_memory_build_equals_the_code_file_build(run, tmp_path):
    packed = engine.session(run).database.packed
    path = write_code_file(tmp_path / "codes.npy", iter([packed]), len(packed), BITS)
    from_file = drain(approximate_from_code_file(path, BITS, nlist=8, nprobe=2, chunk_rows=500))
    in_memory = drain(approximate_from_packed(packed, BITS, nlist=8, nprobe=2, chunk_rows=700))
    a, b = from_file.search_packed(packed[:50], 10), in_memory.search_packed(packed[:50], 10)
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.distances, b.distances)


def test_missing_stale_and_foreign_files_are_refused_with_the_rebuild_command(run):
    rebuild = f"fghash index {run.run_id} --approximate"
    assert approximate_info(run) is None
    with pytest.raises(RunError, match=f"no approximate index: build it with `{rebuild}`"):
        engine.query(0, run, approximate=True)
    drain(build_approximate(run, nlist=4))
    session = engine.session(run)
    session.add_codes(session.queries.codes[:2], [0, 1], ["/photos/new/a.jpg", "/photos/new/b.jpg"])
    assert approximate_info(run).stale
    with pytest.raises(RunError, match=f"built from other database codes .* rebuild it with `{rebuild}`"):
        engine.query(0, run, approximate=True)
    assert len(engine.query(0, run, k=2000).hits) == 1502  # the exact search still works
    info = drain(build_approximate(run, nlist=4))  # the rebuild covers the added codes
    assert not info.stale and info.count == 1502 and len(engine.query(0, run, approximate=True).hits) == 20
    shutil.copyfile(run.index, run.approximate_index)  # the exact index (add_codes wrote it) in its place
    forget_session()
    with pytest.raises(RunError, match=rf"not an approximate \(IVF\) index: rebuild it with `{rebuild}`"):
        engine.query(0, run, approximate=True)
    drain(build_approximate(run, nlist=4))
    run.approximate_index.write_bytes(run.approximate_index.read_bytes()[:-10])
    forget_session()
    with pytest.raises(RunError, match=f"truncated or padded.*`{rebuild}`"):
        engine.query(0, run, approximate=True)


def test_cli_builds_prints_recall_and_queries(run, capsys):
    assert main(["query", run.run_id, "0", "--approximate"]) == 2
    assert f"build it with `fghash index {run.run_id} --approximate`" in capsys.readouterr().err
    assert main(["index", run.run_id, "--nprobe", "4"]) == 2
    assert "add --approximate" in capsys.readouterr().err
    assert main(["index", run.run_id, "--approximate", "--nlist", "8", "--nprobe", "2", "-q"]) == 0
    out = capsys.readouterr().out
    info = approximate_info(run)
    assert "1500 codes of 32 bits in 8 cells, a query scans 2" in out
    assert "recall@20 against the exact search on 40 test-split queries" in out
    assert "any item at the exact 20th distance counts" in out
    assert f"nprobe 2: {info.recall_at(2):.3f} (default)" in out
    assert main(["query", run.run_id, "5", "-k", "7", "--approximate", "--nprobe", "4"]) == 0
    out = capsys.readouterr().out
    recall = f"recall@20 {info.recall_at(4):.3f} measured at build"
    assert f"results are approximate: IVF, nprobe 4 of 8 cells: {recall}" in out
    assert "of the approximate list above: precision@7" in out
    assert main(["index", run.run_id, "--approximate", "--nlist", "2000"]) == 2
    assert "--nlist must be between 1 and the database size 1500" in capsys.readouterr().err


def test_default_build_picks_the_smallest_nprobe_reaching_the_target(run):
    """Without --nprobe the build chooses the smallest nprobe whose measured recall reaches the target, records
    it with its latency, and the query caption states the recall against the target."""
    info = drain(build_approximate(run, nlist=8, target_recall=0.95))
    assert info.target_recall == 0.95 and info.meets_target and info.latency_ms > 0
    assert info.recall_at() >= 0.95
    below = drain(build_approximate(run, nlist=8, nprobe=info.nprobe - 1)) if info.nprobe > 1 else None
    if below is not None:  # one cell fewer misses the target: the choice is the smallest
        assert below.recall_at() < 0.95 and below.target_recall is None
    again = drain(build_approximate(run, nlist=8, target_recall=0.95))
    assert again.nprobe == info.nprobe
    result = engine.query(0, run, approximate=True)
    assert result.nprobe == info.nprobe
    assert f"recall@20 {info.recall_at():.3f} (target 0.95) measured at build on 40 test-split queries" in \
        result.approximate.describe(result.nprobe)
    low = drain(build_approximate(run, nlist=8, target_recall=0.3))
    assert low.nprobe <= info.nprobe and low.recall_at() >= 0.3


def test_smallest_nprobe_bisection_against_a_scan():
    from core.retrieval.approximate import _smallest_nprobe

    curve = [0.2, 0.5, 0.5, 0.8, 0.9, 0.96, 0.99, 1.0]  # recall at nprobe 1..8, non-decreasing
    asked = []
    for target in (0.1, 0.5, 0.85, 0.95, 0.995, 1.0):
        asked.clear()
        got = _smallest_nprobe(lambda p: asked.append(p) or curve[p - 1], 8, target)
        assert got == next(p for p in range(1, 9) if curve[p - 1] >= target)
        assert len(asked) <= 4  # log2(8) + 1 measurements, not a scan


def test_without_test_codes_the_recall_comes_from_a_database_sample(fghash_home, capsys):
    rng = np.random.default_rng(4)
    centres = rng.choice([-1, 1], (12, BITS))
    paths = create_run(TrainConfig(backbone="resnet18", weights="none", bits=BITS))
    codes, labels = _clustered(rng, centres, 800)
    save_codes(paths, "database", codes, labels, [f"/photos/db/{i}.jpg" for i in range(800)])
    forget_session()
    assert main(["index", paths.run_id, "--approximate", "--nlist", "8", "--recall-queries", "50", "-q"]) == 0
    out = capsys.readouterr().out
    info = approximate_info(paths)
    assert info.recall_source == "database" and info.recall_queries == 50 and info.recall_at() >= 0.95
    assert "on 50 database queries" in out
    assert f"chosen: nprobe {info.nprobe}, recall@20 {info.recall_at():.3f}, " in out and "ms per single query" in out
    forget_session()


def test_cli_target_recall_options_and_the_exhaustive_case(run, capsys):
    assert main(["index", run.run_id, "--target-recall", "0.9"]) == 2
    assert "add --approximate" in capsys.readouterr().err
    assert main(["index", run.run_id, "--approximate", "--target-recall", "0.9", "--nprobe", "2"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["index", run.run_id, "--approximate", "--target-recall", "1.5"]) == 2
    assert "--target-recall must be in (0, 1]" in capsys.readouterr().err
    # a target only the full scan reaches: the build says to use exact search
    assert main(["index", run.run_id, "--approximate", "--nlist", "8", "--target-recall", "1", "-q"]) == 0
    out = capsys.readouterr().out
    info = approximate_info(run)
    assert "the smallest reaching recall@20 >= 1" in out
    assert info.nprobe == 8 and info.recall_at() == 1.0  # these clustered codes need every cell for 1.0
    assert "nprobe 8 scans every cell (no nprobe below it meets the target recall 1)" in out
    assert "use exact search" in out
