"""Issue 22, the property: random sequences of encode / add / resume / delete / eval on one run, issued by two
processes at once, never lose or duplicate a code.

Two worker processes (codes_worker.py) are started once; hypothesis (derandomized, few short examples) picks
steps, each a pair of operations that the two workers run at the same moment on a fresh copy of one tiny
trained run. After every step the run's database must hold every training image once and every image any
worker added once (adds are idempotent per path), in a file that loads and checksums; an operation may be
refused only with a one-line error (e.g. adding while the other process resumes the run), never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from tiny_run import linked_copy, trained_once  # pytest puts tests/core on sys.path

from core.retrieval.session import forget_session
from core.runs.paths import RunPaths
from core.search.codes import load_codes

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[2]
POOL = 5  # images the operations add, in subsets


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> RunPaths:
    with trained_once(tmp_path_factory, "codes_property_home") as (paths, _home, _cfg):
        pass
    return paths


class Worker:
    def __init__(self, home: Path, cache: Path):
        env = {**os.environ, "FGHASH_HOME": str(home), "FGHASH_CACHE": str(cache), "OMP_NUM_THREADS": "1",
               "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("codes_worker.py"))], cwd=REPO,
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def send(self, command: dict) -> None:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def answer(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, "the worker died"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def workers(trained, tmp_path_factory):
    home = tmp_path_factory.mktemp("codes_property_workers")
    cache = tmp_path_factory.getbasetemp() / "fghash_cache"
    pair = (Worker(home, cache), Worker(home, cache))
    yield home, pair
    for w in pair:
        w.close()


OPS = st.sampled_from(["add", "add", "encode", "resume", "delete", "eval"])
STEP = st.tuples(OPS, st.frozensets(st.integers(0, POOL - 1), min_size=1, max_size=3),
                 OPS, st.frozensets(st.integers(0, POOL - 1), min_size=1, max_size=3))


@settings(max_examples=4, deadline=None, derandomize=True, database=None, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=2, max_size=4))
@example(steps=[("add", frozenset({0, 1}), "add", frozenset({0, 1})),  # the same images at the same moment
                ("resume", frozenset({0}), "add", frozenset({2})),  # an add racing a resumed training
                ("encode", frozenset({3}), "encode", frozenset({3, 4}))])
def test_two_processes_never_lose_or_duplicate_a_code(trained, workers, tmp_path_factory, steps):
    home, (first, second) = workers
    runs = home / "runs"
    if runs.exists():
        shutil.rmtree(runs)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FGHASH_HOME", str(home))  # the workers' store: the run is registered where they look
        _steps(trained, home, runs, first, second, tmp_path_factory, steps)


def _steps(trained, home, runs, first, second, tmp_path_factory, steps) -> None:
    with linked_copy(trained, home) as run:
        scratch = tmp_path_factory.mktemp("codes_property")
        pool = []
        for i, source in enumerate(load_codes(run, "query").paths[:POOL]):
            pool.append(str(scratch / f"pool{i}{Path(source).suffix}"))
            shutil.copyfile(source, pool[-1])
        training = set(load_codes(run, "database").paths)
        added: set[str] = set()
        for n, (op_a, pick_a, op_b, pick_b) in enumerate(steps):
            alias = runs / f"alias{n}"
            alias.symlink_to(run.root)
            commands = [_command(op, sorted(pool[i] for i in pick), run, alias, scratch / f"enc{n}{w}")
                        for w, (op, pick) in enumerate(((op_a, pick_a), (op_b, pick_b)))]
            first.send(commands[0])
            second.send(commands[1])
            for command, reply in zip(commands, (first.answer(), second.answer())):
                assert "bug" not in reply, f"{command['op']}: {reply['bug']}"
                if "refused" in reply:
                    assert "\n" not in reply["refused"] and reply["refused"], reply
                    continue
                added.update(reply.get("added", ()))
                if "database" in reply:
                    assert reply["database"] >= len(training)
            forget_session()
            database = load_codes(run, "database")  # loads and checksums
            paths = database.paths
            assert len(set(paths)) == len(paths), f"duplicated codes after step {n}: {steps[:n + 1]}"
            assert set(paths) == training | added, f"lost or unexpected codes after step {n}: {steps[:n + 1]}"
            assert len(paths) == len(training) + len(added)
            assert run.config.is_file()  # a delete of an alias never reaches the run
            if alias.is_symlink():
                alias.unlink()


def _command(op: str, paths: list[str], run: RunPaths, alias: Path, out: Path) -> dict:
    if op == "delete":
        return {"op": "delete", "alias": str(alias)}
    return {"op": op, "run": run.run_id, "paths": paths, "out": str(out)}
