"""Export buttons (Browse, Explain, Runs) write paper figures and tables on the worker, and the chance
level appears as a dashed line on the Train and Runs mAP curves."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PIL import Image

from core.retrieval.service import run_chance_map
from core.base.events import EvalResult

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _written(qtbot, exporter, path, action, timeout=60_000):
    """Answer the save dialog with `path`, run `action`, wait for the worker to write the file."""
    exporter.ask_path = lambda *_args: str(path)
    with qtbot.waitSignal(exporter.written, timeout=timeout) as blocker:
        action()
    assert blocker.args == [str(path)] and path.stat().st_size > 0
    return path


def _query_open(window, qtbot, run_id):
    browse = window.browse
    if browse.run_id != run_id or browse.result is None:
        with qtbot.waitSignal(browse.results_shown, timeout=60_000):
            window.open_run(run_id)
    return browse


def test_browse_exports_the_retrieval_figure_of_the_current_query(window, trained_runs, qtbot, tmp_path):
    browse = _query_open(window, qtbot, trained_runs["fcaenet"].run_id)
    browse.set_compare_run(trained_runs["adsh"].run_id)
    out = _written(qtbot, browse.figure_exporter, tmp_path / "retrieval.pdf", browse.figure_button.click)
    assert out.read_bytes().startswith(b"%PDF")
    browse.set_compare_run(None)


def test_explain_exports_the_attention_figure(window, trained_runs, qtbot, tmp_path):
    browse = _query_open(window, qtbot, trained_runs["fcaenet"].run_id)
    panel = window.explain
    with qtbot.waitSignal(panel.explanation_shown, timeout=60_000):
        browse._request_explain(browse.grid.result_model.cells[1].path)
    out = _written(qtbot, panel.figure_exporter, tmp_path / "attention.png", panel.figure_button.click)
    width, height = Image.open(out).size
    assert width > 1.5 * height  # two rows (query, result) of five columns and a colour bar


def test_runs_exports_table_and_curves_and_draws_the_chance_level(window, trained_runs, qtbot, tmp_path,
                                                                  reload_runs):
    panel = window.runs
    reload_runs()
    ids = [f.run_id for f in trained_runs.values()]
    panel.select_runs(ids)
    table = _written(qtbot, panel.figure_exporter, tmp_path / "table.tex", lambda: panel.export_paper("table"))
    text = table.read_text()
    assert r"\toprule" in text and "ADSH" in text and "FCAENet" in text and "Chance level (demo)" in text
    menu = panel.paper_button.menu().actions()
    assert len(menu) == 3
    _written(qtbot, panel.figure_exporter, tmp_path / "pr.svg", menu[1].trigger)
    _written(qtbot, panel.figure_exporter, tmp_path / "bits.pdf", menu[2].trigger)

    with qtbot.waitSignal(panel.compared_shown, timeout=30_000):
        panel.compare_button.click()
    chance = round(100 * run_chance_map(ids[0]), 2)
    assert panel.chance_levels == [chance]  # both runs share the demo split
    lines = [i for i in panel.plot.getPlotItem().items if isinstance(i, pg.InfiniteLine)]
    assert [line.value() for line in lines] == [chance]


def test_train_panel_draws_the_chance_level_of_its_evaluations(window):
    panel = window.training
    assert not panel.chance_line.isVisible()
    panel._on_events([EvalResult(epoch=1, map_all=0.2, chance_map=0.119)])
    assert panel.chance_line.value() == pytest.approx(11.9) and panel.chance_line.isVisible()
