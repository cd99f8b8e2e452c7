"""torchrun data-parallel training (core/runtime/distributed.py) on the CPU with gloo.

Unit level: slicing of global batches, the global batch / learning-rate rule, and, in two real gloo
processes (forked by torch.multiprocessing, ~4 s), that the ADSH V update from the gathered U is identical on
both ranks and equal to the single-process update, that a diverged V is caught on every rank, and that
the share-weighted gradient all-reduce gives the single-process gradient of the whole global batch.
End to end (slow): `python -m torch.distributed.run --nproc-per-node 2 -m core.cli train` (tiny ADSH /
FCAENet, ResNet-18 from scratch, 32 px), a rank killed with SIGKILL, a resume with one process, and
`fghash encode` sharded over 2 processes, killed and continued.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core.base.errors import ConfigError, RunError
from core.config.train_config import TrainConfig
from core.runtime import distributed
from core.training import followers

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REPO = Path(__file__).resolve().parents[2]


# ---- slicing and the global batch ------------------------------------------------------------------
def test_every_rank_gets_a_contiguous_slice_and_the_shares_sum_to_one(monkeypatch) -> None:
    batches = [list(range(10)), [10, 11, 12], [13]]
    assert distributed.shard_batches(batches) == (batches, [1.0, 1.0, 1.0])  # single process: unchanged
    seen: list[int] = []
    shares = []
    for rank in range(3):
        monkeypatch.setattr(distributed, "_current", distributed.Rank(rank=rank, world_size=3))
        local, share = distributed.shard_batches(batches)
        shares.append(share)
        seen += [k for rows, s in zip(local, share) if s > 0 for k in rows]
    assert sorted(seen) == list(range(14))  # every image once, no image twice
    assert [sum(s) for s in zip(*shares)] == pytest.approx([1.0, 1.0, 1.0])
    # the last batch (1 image) leaves ranks 0 and 1 a padding item with share 0
    assert [s[2] for s in shares] == [0.0, 0.0, 1.0]


def test_global_batch_and_learning_rate_rule() -> None:
    cfg = TrainConfig(batch_size=64, lr=1e-3)
    assert distributed.global_batch(cfg, 64, None, 4, "none") == cfg  # --batch-size is already global
    per_rank = distributed.global_batch(cfg, 64, 32, 4, "linear")
    assert (per_rank.batch_size, per_rank.lr) == (128, pytest.approx(2e-3))
    assert distributed.global_batch(cfg, 64, 64, 4, "sqrt").lr == pytest.approx(2e-3)
    with pytest.raises(ConfigError, match="lr-scaling"):
        distributed.global_batch(cfg, 64, 8, 2, "cubic")


def test_sign_checksum_sees_a_swap_of_two_rows() -> None:
    v = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    assert distributed.sign_checksum(v) == distributed.sign_checksum(v.clone())
    assert distributed.sign_checksum(v) != distributed.sign_checksum(v[[1, 0, 2]])


# ---- two gloo processes ----------------------------------------------------------------------------
N, M, BITS, BATCH = 50, 20, 12, 8


def _adsh_problem():
    from core.search.codes import to_pm1
    from core.training.methods.asymmetric import SampledSimilarity

    g = torch.Generator().manual_seed(5)
    labels = torch.randint(0, 4, (N,), generator=g)
    omega = torch.randperm(N, generator=g)[:M]
    u = torch.tanh(torch.randn(M, BITS, generator=g))
    v = to_pm1(torch.randn(N, BITS, generator=g))
    return u, v, SampledSimilarity.build(omega, labels)


def _regression_problem():
    g = torch.Generator().manual_seed(6)
    return torch.randn(7, 5, generator=g), torch.randn(7, 2, generator=g)


def _two_rank_worker(rank: int, init_file: str, out: str) -> None:
    """One of two gloo ranks: record this rank's rows of U (its slice of each batch, as ADSH does), sum
    them over ranks, update V; check V; then one share-weighted gradient step on an uneven 3/4 split."""
    import torch.distributed as dist

    from core.training.methods.asymmetric import dcc_update
    from core.training.methods.common import NetworkStepper

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    distributed._current = distributed.Rank(rank=rank, world_size=2, backend="gloo")
    u, v, sim = _adsh_problem()
    mine = torch.zeros_like(u)
    local, shares = distributed.shard_batches([list(range(i, min(i + BATCH, M))) for i in range(0, M, BATCH)])
    for rows, share in zip(local, shares):
        if share > 0:
            mine[rows] = u[rows]
    new_v = dcc_update(v, distributed.sum_rows(mine), sim, 200.0)
    distributed.check_identical(new_v, "V")
    torch.save(new_v, Path(out) / f"v{rank}.pt")
    if rank == 1:
        new_v[3, 4] = -new_v[3, 4]
    try:
        distributed.check_identical(new_v, "database codes V")
        outcome = "missed"
    except RunError as exc:
        outcome = str(exc)
    (Path(out) / f"diverged{rank}.txt").write_text(outcome)

    x, y = _regression_problem()
    model = torch.nn.Linear(5, 2)
    torch.nn.init.constant_(model.weight, 0.1)
    torch.nn.init.zeros_(model.bias)
    stepper = NetworkStepper(model, TrainConfig(lr=0.1, momentum=0.0, weight_decay=0.0), torch.device("cpu"))
    (rows,), (share,) = distributed.shard_batches([list(range(7))])
    loss = stepper.step(((model(x[rows]) - y[rows]) ** 2).mean(), share)
    torch.save({"weight": model.weight.detach(), "loss": loss}, Path(out) / f"step{rank}.pt")
    dist.destroy_process_group()


def test_v_update_on_the_gathered_u_is_the_single_process_update_on_both_ranks(tmp_path) -> None:
    from core.training.methods.asymmetric import dcc_update
    from core.training.methods.common import NetworkStepper

    u, v, sim = _adsh_problem()
    expected = dcc_update(v, u, sim, 200.0)
    assert not torch.equal(expected, v)  # the update did something
    x, y = _regression_problem()  # the same step in one process on the whole batch of 7
    model = torch.nn.Linear(5, 2)
    torch.nn.init.constant_(model.weight, 0.1)
    torch.nn.init.zeros_(model.bias)
    # (built before the fork: the first optimiser import costs seconds, the forked ranks inherit it)
    stepper = NetworkStepper(model, TrainConfig(lr=0.1, momentum=0.0, weight_decay=0.0), torch.device("cpu"))
    loss = stepper.step(((model(x) - y) ** 2).mean())

    torch.multiprocessing.start_processes(_two_rank_worker, args=(str(tmp_path / "init"), str(tmp_path)),
                                          nprocs=2, start_method="fork")
    for rank in (0, 1):
        assert torch.equal(torch.load(tmp_path / f"v{rank}.pt"), expected)
        assert "database codes V differ between the 2 processes" in (tmp_path / f"diverged{rank}.txt").read_text()
        got = torch.load(tmp_path / f"step{rank}.pt")
        assert torch.allclose(got["weight"], model.weight.detach(), atol=1e-6)
        assert float(got["loss"]) == pytest.approx(float(loss), abs=1e-6)


# ---- torchrun end to end ---------------------------------------------------------------------------
TINY = ["--dataset", "demo", "--preset", "quick", "--bits", "12", "--backbone", "resnet18", "--weights", "none",
        "--image-size", "32", "--num-samples", "48", "--inner-epochs", "1", "--batch-size", "16",
        "--device", "cpu", "--seed", "3"]


def _launch(args: list[str], processes: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
                "-m", "core.cli"] if processes > 1 else ["-m", "core.cli"]
    return subprocess.Popen([sys.executable, *launcher, *args], env=env, cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _finish(proc: subprocess.Popen, timeout: float = 240.0) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"did not finish in {timeout} s:\n{proc.communicate()[0]}")
    return out


def _only_run(home: Path):
    from core.runs.paths import RunPaths

    runs = sorted((home / "runs").glob("*")) if (home / "runs").exists() else []
    return RunPaths(runs[0]) if len(runs) == 1 else None


def _rank1_checksums(home: Path) -> list[int]:
    logs = list((home / "logs").glob("*.rank1.log"))
    return [int(c) for c in re.findall(r"V sign checksum (\d+)", logs[0].read_text())] if logs else []


@pytest.mark.slow
def test_two_process_fcaenet_run_then_sharded_and_killed_encodes(fghash_home, tmp_path) -> None:
    from core import engine
    from core.encoding.collection import load_encoded
    from core.search.codes import load_codes

    out = _finish(_launch(["train", "--method", "fcaenet", "--epochs", "1", *TINY], 2))
    assert "torchrun: 2 processes (gloo); global batch 16" in out, out
    paths = _only_run(fghash_home)
    (record,) = engine.list_runs()  # one run in the store, written by rank 0 only
    assert record.status == "finished" and record.final_map is not None, out
    assert [r["epoch"] for r in paths.read_metrics()] == [1]
    assert sorted(p.name for p in paths.codes.iterdir()) == ["database.npz", "query.npz"]
    # rank 1 logged V's checksum after the update; rank 0 saved its V as the database codes
    database = torch.from_numpy(load_codes(paths, "database").codes.astype("float32"))
    assert _rank1_checksums(fghash_home) == [distributed.sign_checksum(database)]
    assert engine.evaluate(paths.root, ks=(10,)).map_all == pytest.approx(record.final_map)

    # `fghash encode` of the test split over 2 processes gives the run's own query codes
    query = load_codes(paths, "query")
    encode = ["encode", "latest", "--dataset", "demo", "--split", "test", "--device", "cpu", "--batch-size", "8"]
    out = _finish(_launch([*encode, "--out", str(tmp_path / "sharded"), "--chunk-size", "32"], 2))
    assert "codes:" in out, out
    assert (load_encoded(tmp_path / "sharded").packed == query.packed).all()

    # one process, killed after its first chunk: the second call encodes only what is missing
    proc = _launch([*encode, "--out", str(tmp_path / "killed"), "--chunk-size", "8"], 1)
    chunks = tmp_path / "killed" / "chunks"
    while not (chunks.is_dir() and any(chunks.glob("*.npz"))):
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(chunks.glob("*.npz")))
    assert done_before < 20 and not (tmp_path / "killed" / "codes").exists()
    out = _finish(_launch([*encode, "--out", str(tmp_path / "killed"), "--chunk-size", "8", "--add"], 1))
    assert re.search(rf"encoded {160 - 8 * done_before} image\(s\).*; {8 * done_before} were already done", out), out
    encoded = load_encoded(tmp_path / "killed")
    assert (encoded.packed == query.packed).all() and list(encoded.paths) == list(query.paths)
    # --add appended them to the run's database: a query now finds its own image at distance 0
    assert len(load_codes(paths, "database")) == 240 + 160
    hit = engine.query(query.paths[0], paths.root, k=1).hits[0]
    assert hit.distance == 0


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_a_killed_rank_ends_the_job_and_one_process_resumes_it(fghash_home) -> None:
    from core import engine

    proc = _launch(["train", "--method", "adsh", "--epochs", "2", *TINY], 2)
    deadline = time.monotonic() + 240
    while not ((p := _only_run(fghash_home)) and p.last_checkpoint() and _rank1_checksums(fghash_home)):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.05)
    log = next((fghash_home / "logs").glob("*.rank1.log")).read_text()
    os.kill(int(re.search(r"pid (\d+)", log).group(1)), signal.SIGKILL)
    out = _finish(proc, timeout=120)
    assert proc.returncode != 0
    assert re.search(r"exitcode\s*:\s*-9", out) and "Signal 9 (SIGKILL)" in out, out
    assert engine.list_runs()[0].status in ("interrupted", "failed")

    # the checkpoint of the 2-process run resumes in one process (the global batch is in the config)
    out = _finish(_launch(["train", "--resume", "latest"], 1))
    (record,) = engine.list_runs()
    assert record.status == "finished", out
    assert [r["epoch"] for r in p.read_metrics()] == [1, 2]


@pytest.mark.slow
def test_a_rank_that_fails_stops_the_job_with_a_one_line_message(fghash_home) -> None:
    (fghash_home / "logs").write_text("")  # rank 1 cannot create its log folder; rank 0 never needs it
    proc = _launch(["train", "--method", "adsh", "--epochs", "1", *TINY], 2)
    out = _finish(proc)
    assert proc.returncode != 0
    assert "fghash: error: rank 1/2: FileExistsError" in out, out
    # rank 0 either says "lost contact with another process" or is stopped by torchrun first (a race)
    assert "core.cli FAILED" in out, out


def test_ranks_draw_their_own_augmentation(monkeypatch) -> None:
    """ADSH/FCAENet loader workers, the on-device crops of --data-cache and (num_workers 0) the global RNG:
    each torchrun rank draws its own; rank 0 keeps the single-process streams; shared draws stay shared."""
    from types import SimpleNamespace

    from core.training.methods.common import NetworkStepper, epoch_generator, rank_generator

    batch = torch.randint(0, 256, (4, 3, 40, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    cfg = TrainConfig(image_size=32, resize_size=40, seed=5)
    loader_seeds, crops, global_draws = {}, {}, {}
    for rank in (0, 1, 2):
        monkeypatch.setattr(distributed, "_current", distributed.Rank(rank=rank, world_size=3, backend="gloo"))
        loader_seeds[rank] = rank_generator(cfg.seed, 3, 2).initial_seed()
        assert epoch_generator(cfg.seed, 3).initial_seed() == epoch_generator(cfg.seed, 3).initial_seed()
        stepper = NetworkStepper(torch.nn.Linear(2, 2), cfg, torch.device("cpu"))
        crops[rank] = stepper.to_device(batch)
        with torch.random.fork_rng():
            followers._prepare(SimpleNamespace(device=torch.device("cpu")), cfg, 0)
            global_draws[rank] = torch.rand(4)
    monkeypatch.setattr(distributed, "_current", distributed.Rank())
    assert loader_seeds[0] == epoch_generator(cfg.seed, 3, 2).initial_seed()
    assert torch.equal(crops[0], NetworkStepper(torch.nn.Linear(2, 2), cfg, torch.device("cpu")).to_device(batch))
    assert len(set(loader_seeds.values())) == 3
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert not torch.equal(crops[a], crops[b]), (a, b)
    assert not torch.equal(global_draws[1], global_draws[2])  # rank 0's global RNG is the driver's
