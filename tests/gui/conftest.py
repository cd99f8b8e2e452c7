"""GUI test fixtures: one FGHASH_HOME for the whole GUI session and two tiny demo runs trained once.

Training is the slow part (seconds on a CPU), so the runs are trained once per session through the engine
(the same generator the Train tab drives) and every panel test reuses them.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from core import engine
from core.base.events import TrainFinished
from core.config.train_config import TrainConfig
from core.encoding.encode import drain


def tiny_config(method: str = "fcaenet", **overrides) -> TrainConfig:
    """A demo run that trains in seconds: ResNet-18 from scratch on 32 px images, a few small steps."""
    cfg = TrainConfig(
        dataset_kind="demo", method=method, bits=12, backbone="resnet18", weights="none", image_size=32,
        resize_size=36, device="cpu", epochs=2, batch_size=16, lr=1e-3, lr_milestones=(), eval_every=1,
        amp=False, channels_last=False,
    )
    cfg = cfg.replace(
        adsh=dataclasses.replace(cfg.adsh, num_samples=48, inner_epochs=1),
        fcae=dataclasses.replace(cfg.fcae, srem_regions=5, srem_size=6),
    )
    return cfg.replace(**overrides)


def drain_training(cfg: TrainConfig) -> TrainFinished:
    return drain(engine.train(cfg))


@pytest.fixture(scope="module", autouse=True)
def _collect_on_the_gui_thread(qapp):
    """As the app does (fghash_gui/gui_gc.py): the windows the tests leave in reference cycles must be
    destroyed on the GUI thread, not by a collection a worker thread happens to trigger. Per module, so
    that the suites after the GUI's run with Python's automatic collection."""
    from fghash_gui import gui_gc

    gui_gc.install()
    yield
    gui_gc.uninstall()


@pytest.fixture(name="tiny_config")
def tiny_config_fixture():
    """The tiny_config factory, for tests (conftest modules are not importable by name)."""
    return tiny_config


@pytest.fixture(scope="session")
def gui_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gui_home")


@pytest.fixture(autouse=True)
def fghash_home(gui_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Overrides the suite-wide fixture: GUI tests share one run store so the trained runs are visible."""
    monkeypatch.setenv("FGHASH_HOME", str(gui_home))
    return gui_home


@pytest.fixture(scope="session")
def trained_runs(gui_home: Path) -> dict[str, TrainFinished]:
    """Two tiny finished runs (FCAENet and the ADSH baseline) in the shared GUI home."""
    previous = os.environ.get("FGHASH_HOME")
    os.environ["FGHASH_HOME"] = str(gui_home)
    try:
        import torch

        torch.set_num_threads(2)
        # The baseline needs only one evaluation (a one-point curve) for the comparisons.
        runs = {"fcaenet": drain_training(tiny_config("fcaenet")), "adsh": drain_training(tiny_config("adsh", epochs=1))}
    finally:
        if previous is None:
            os.environ.pop("FGHASH_HOME", None)
        else:
            os.environ["FGHASH_HOME"] = previous
    for method, finished in runs.items():
        assert finished.status == "finished", f"{method}: {finished}"
    return runs


@pytest.fixture
def window(qtbot):
    """The real main window (offscreen), closed and its workers stopped after the test. It trains on a thread
    (a child process costs seconds of start-up per run); test_training_child.py covers the app's default."""
    from fghash_gui.main_window import MainWindow

    win = MainWindow(train_in_process=True)
    win.confirm_stop_training = lambda: True  # a closing test must not block on a dialog
    qtbot.addWidget(win)
    win.show()
    return win


@pytest.fixture
def reload_runs(window, qtbot):
    """Reload the window's run list (it loads on the worker) and wait until the panels have it."""
    def reload() -> None:
        with qtbot.waitSignal(window.state.runs_changed, timeout=30_000):
            window.state.reload_runs()

    return reload
