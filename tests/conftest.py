"""Shared fixtures: every test gets its own FGHASH_HOME so runs never touch the user's data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def fghash_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("fghash_home")
    monkeypatch.setenv("FGHASH_HOME", str(home))
    return home


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread for the test: on the shared 2-core test machine two threads per process
    are several times slower. Use with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test images not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def fghash_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One cache dir per test session (the demo set is generated once, never into the user's cache)."""
    cache = tmp_path_factory.getbasetemp() / "fghash_cache"
    cache.mkdir(exist_ok=True)
    monkeypatch.setenv("FGHASH_CACHE", str(cache))
    return cache
