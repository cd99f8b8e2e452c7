"""One finished tiny run per test module, trained once and copied (hard links) into each test's home.

Used by the tests that damage or misuse a run's files (test_file_validation, test_cli_bad_invocations):
each test gets a private copy to break, while the training cost is paid once per module.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from test_training import _drain, _tiny  # pytest puts tests/core on sys.path

from core import engine
from core.config.train_config import AdshOptions, TrainConfig
from core.encoding.encode import drain
from core.retrieval.session import forget_session
from core.runs.paths import RunPaths
from core.runs.store import RunStore


@contextmanager
def trained_once(tmp_path_factory, home_name: str) -> Iterator[tuple[RunPaths, Path, TrainConfig]]:
    """(the run, its FGHASH_HOME, its config): a one-iteration ADSH run with its index, trained with one
    torch thread in a home of its own, which stays set while the caller's block runs."""
    home = tmp_path_factory.mktemp(home_name)
    cache = tmp_path_factory.getbasetemp() / "fghash_cache"  # the demo set, shared with conftest's fixture
    cache.mkdir(exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("FGHASH_HOME", str(home))
            mp.setenv("FGHASH_CACHE", str(cache))
            cfg = _tiny("adsh", epochs=1, adsh=AdshOptions(num_samples=32, inner_epochs=1))
            done = _drain(engine.train(cfg))[-1]
            assert done.status == "finished", done
            paths = RunPaths(Path(done.run_dir))
            drain(engine.build_index(paths))
            yield paths, home, cfg
    finally:
        torch.set_num_threads(threads)
        forget_session()


@contextmanager
def linked_copy(trained: RunPaths, fghash_home: Path) -> Iterator[RunPaths]:
    """A hard-linked copy of the trained run in this test's FGHASH_HOME, registered in its store."""
    target = fghash_home / "runs" / trained.run_id
    shutil.copytree(trained.root, target, copy_function=os.link)
    with RunStore() as store:
        store.add_run(target.name, target, trained.config.read_text())
    forget_session()
    yield RunPaths(target)
    forget_session()
