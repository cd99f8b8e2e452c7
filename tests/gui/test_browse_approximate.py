"""Browse's "Approximate search (IVF)" checkbox: hidden without an IVF index, off by default, and when on
the grid holds the IVF's results and its caption says they are approximate with the build-time recall.

The run holds synthetic codes in a home of its own (no training, and the shared GUI runs stay untouched):
test-split queries are answered from the saved codes; the images do not exist (grey placeholders)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core import engine
from core.config.train_config import TrainConfig
from core.encoding.encode import drain
from core.retrieval.session import forget_session
from core.runs.catalog import create_run
from core.search.codes import save_codes
from fghash_gui.widgets.result_grid import DISTANCE_ROLE

BITS = 16


@pytest.fixture
def code_run(tmp_path, monkeypatch):
    """A run with 800 database and 10 query codes around 6 centres, in its own FGHASH_HOME (set before the
    window fixture builds the main window)."""
    monkeypatch.setenv("FGHASH_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(5)
    centres = rng.choice([-1, 1], (6, BITS))
    paths = create_run(TrainConfig(backbone="resnet18", weights="none", bits=BITS))
    for split, n in (("database", 800), ("query", 10)):
        labels = rng.integers(0, 6, n)
        codes = centres[labels] * np.where(rng.random((n, BITS)) < 0.2, -1, 1)
        save_codes(paths, split, codes.astype(np.int8), labels, [str(tmp_path / split / f"{i}.jpg") for i in range(n)])
    forget_session()
    yield paths
    forget_session()


def _distances(grid):
    model = grid.model()
    return [model.index(r, 0).data(DISTANCE_ROLE) for r in range(model.rowCount())]


def test_approximate_checkbox_switches_browse_to_the_ivf_index(code_run, window, qtbot):
    browse = window.browse
    with qtbot.waitSignal(browse.results_shown, timeout=30_000):
        window.open_run(code_run.run_id)
    assert browse.approximate_check.isHidden() and not browse.approximate()  # no IVF index yet

    info = drain(engine.build_approximate(code_run, nlist=16, nprobe=1))
    with qtbot.waitSignal(browse.results_shown, timeout=30_000):
        browse.open_run(code_run.run_id)  # reopening reads the new index's header
    check = browse.approximate_check
    assert not check.isHidden() and check.isEnabled() and not check.isChecked()
    assert check.text() == "Approximate search (IVF, nprobe 1)" and "recall@20" in check.toolTip()
    assert "APPROXIMATE" not in browse.main_label.text()
    exact = _distances(browse.grid)

    with qtbot.waitSignal(browse.results_shown, timeout=30_000):
        check.setChecked(True)
    result = browse.result.result
    assert result.approximate == info and result.nprobe == 1
    assert _distances(browse.grid) == [h.distance for h in engine.query(0, code_run, k=10, approximate=True).hits]
    assert browse.main_label.text().startswith(
        f"APPROXIMATE results (IVF, 1 of 16 cells scanned, recall@20 {info.recall_at(1):.3f} at build)")
    assert _distances(browse.grid) != exact  # one cell of 16 misses neighbours of this query
    assert "of the exact ranking" in browse.ap_label.toolTip() and "approximate grid" in browse.ap_label.toolTip()

    with qtbot.waitSignal(browse.results_shown, timeout=30_000):
        check.setChecked(False)
    assert _distances(browse.grid) == exact and "APPROXIMATE" not in browse.main_label.text()

    session = engine.session(code_run)  # new codes make the index stale: the box is disabled and says why
    session.add_codes(session.queries.codes[:1], [0], ["/elsewhere/new.jpg"])
    with qtbot.waitSignal(browse.catalog_loaded, timeout=30_000):
        browse.open_run(code_run.run_id)
    assert not check.isEnabled() and f"fghash index {code_run.run_id} --approximate" in check.toolTip()


def test_caption_states_the_recall_against_the_target():
    """The grid caption gives the build's recall at the nprobe used, and the target it was chosen for."""
    from types import SimpleNamespace

    from core.retrieval.approximate import ApproximateInfo
    from fghash_gui.panels.browse_data import approximate_caption

    info = ApproximateInfo("x", 1000, 32, 16, 4, 20, 50, ((1, 0.7), (4, 0.96)), False, target_recall=0.95)
    assert approximate_caption(SimpleNamespace(approximate=info, nprobe=4)) == (
        "APPROXIMATE results (IVF, 4 of 16 cells scanned, recall@20 0.960 at build, target 0.95)")
    assert approximate_caption(SimpleNamespace(approximate=info, nprobe=1)) == (
        "APPROXIMATE results (IVF, 1 of 16 cells scanned, recall@20 0.700 at build)")  # not the build's choice
    missed = dataclasses.replace(info, recall=((4, 0.9),))
    assert approximate_caption(SimpleNamespace(approximate=missed, nprobe=4)).endswith(
        "recall@20 0.900 at build, target 0.95 NOT met)")
