"""Studies tab offscreen: a study file's grid coloured by state from the store, a cell opening its run, the
table preview with its significance reference and Export, and Start running the study in a child process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtGui import QColor

from core import engine
from core.runs.catalog import create_run, open_store
from fghash_gui.panels.studies import STATE_COLORS

ROOT = Path(__file__).resolve().parents[2]
STUDY = """
id = "{study_id}"
preset = "quick"
bits = [12]
seeds = {seeds}
[options]
backbone = "resnet18"
weights = "none"
image_size = 32
resize_size = 36
batch_size = 16
epochs = 1
eval_every = 1
device = "cpu"
adsh.num_samples = 16
adsh.inner_epochs = 1
[[datasets]]
kind = "demo"
[[methods]]
method = "adsh"
label = "ADSH"
{more}
"""


def _write(tmp_path: Path, study_id: str, seeds="[0, 1]", more='[[methods]]\nmethod = "fcaenet"\nlabel = "FCAENet"'):
    path = tmp_path / f"{study_id}.toml"
    path.write_text(STUDY.format(study_id=study_id, seeds=seeds, more=more))
    return path


def _finish(cell, study_id: str, value: float) -> str:
    """A run in the store as the given cell's finished run (what a trained cell leaves, minus the files)."""
    with open_store() as store:
        paths = create_run(cell.config, store)
        store.tag_cell(paths.run_id, study_id, cell.key, cell.config_hash)
        store.set_status(paths.run_id, "finished")
        store.set_maps(paths.run_id, value)
    return paths.run_id


def test_grid_colours_cells_by_state_and_a_click_opens_the_run(window, qtbot, tmp_path):
    panel = window.studies
    path = _write(tmp_path, "guigrid")
    panel.open_study(str(path))
    assert (panel.grid.rowCount(), panel.grid.columnCount()) == (2, 2)  # ADSH, FCAENet x seed 0, 1
    assert panel.grid.verticalHeaderItem(0).text() == "ADSH"
    assert panel.grid.item(0, 0).background().color() == QColor(STATE_COLORS["pending"])
    _spec, states = engine.study_status(str(path))
    run_id = _finish(states[0].cell, "guigrid", 0.4242)
    panel.refresh()
    item = panel.grid.item(0, 0)
    assert item.text() == "42.42" and item.background().color() == QColor(STATE_COLORS["finished"])
    assert "0/4" not in panel.summary.text() and "1 finished" in panel.summary.text()
    with qtbot.waitSignal(panel.open_requested, timeout=2000) as opened:
        panel.grid.cellClicked.emit(0, 0)
    assert opened.args == [run_id]

    panel.reference.setCurrentIndex(panel.reference.findData("FCAENet"))
    panel.update_table()
    qtbot.waitUntil(lambda: "42.42" in panel.preview.toPlainText() and "Paired tests" in panel.table_text,
                    timeout=10_000)
    assert "not run" in panel.table_text
    out = tmp_path / "table.md"
    panel.exporter.ask_path = lambda *args: str(out)
    panel._on_export_table()
    qtbot.waitUntil(out.exists, timeout=10_000)
    assert "42.42" in out.read_text() and "| FCAENet | not run |" in out.read_text()


def test_a_bad_file_is_one_message(window, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\nbits = [12]\n')
    window.studies.open_study(str(bad))
    assert window.last_error is not None and "datasets: missing" in window.last_error


@pytest.mark.slow
def test_start_runs_the_study_in_a_child_process(window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    panel = window.studies
    panel.open_study(str(_write(tmp_path, "guistart", seeds="[0]", more="")))
    panel.start()
    assert panel.is_running() and panel.timer.isActive()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=240_000)
    assert panel.process.exitCode() == 0, panel.log.toPlainText()
    assert [s.state for s in panel.states] == ["finished"]
    assert panel.grid.item(0, 0).background().color() == QColor(STATE_COLORS["finished"])
