"""Shared fixtures: every test gets its own FGHASH_HOME so runs never touch the user's data."""

from __future__ import annotations

import os
from pathlib import Path
from shutil import rmtree  # bound now: a test may patch shutil.rmtree until its teardown

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Remember each phase's report on the test item, so a fixture can tell at teardown whether its test passed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def fghash_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                request: pytest.FixtureRequest) -> Path:
    """The test's own FGHASH_HOME. Removed when the test passes: the suite trains hundreds of tiny runs, each
    keeping two ResNet-18 checkpoints of 90 MB, and kept they filled 16 GB of the temporary folder per run of
    the suite. A failed test's home stays for a look (pytest keeps the last three sessions' folders)."""
    home = tmp_path_factory.mktemp("fghash_home")
    monkeypatch.setenv("FGHASH_HOME", str(home))
    yield home
    report = getattr(request.node, "report_call", None)
    if report is not None and report.passed:
        rmtree(home, ignore_errors=True)


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
