"""Browse fixes found on real data: a dropped file clears the list's selection, the run menus list only
runs with codes, the Open dialog starts in the run's images, long names are elided in the middle."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from core import engine
from core.runs.catalog import create_run
from core.runs.store import RunStore
from fghash_gui.widgets.elided_label import ElidedLabel


def _open(window, qtbot, run_id: str):
    with qtbot.waitSignal(window.browse.results_shown, timeout=60_000):
        window.open_run(run_id)
    return window.browse


def test_dropped_image_clears_the_query_list_selection(window, trained_runs, qtbot, tmp_path):
    browse = _open(window, qtbot, trained_runs["fcaenet"].run_id)
    with qtbot.waitSignal(browse.results_shown, timeout=30_000):
        browse.select_query_row(3)
    assert browse.query_list.selectionModel().hasSelection()
    outside = tmp_path / "outside.png"
    Image.new("RGB", (40, 30), (200, 40, 40)).save(outside)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(outside))])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(browse.results_shown, timeout=30_000):
        browse.dropEvent(event)
    assert browse.query_path == str(outside)
    assert not browse.query_list.selectionModel().hasSelection()
    assert not browse.query_list.currentIndex().isValid()


def test_run_menus_list_only_runs_with_codes(window, trained_runs, tiny_config, reload_runs):
    no_codes = create_run(tiny_config("adsh"), store=RunStore()).run_id  # created, never trained: no codes
    assert no_codes in [r.run_id for r in engine.list_runs()]
    browse = window.browse
    try:
        reload_runs()
        for combo in (browse.run_combo, browse.compare_combo):
            ids = [combo.itemData(i) for i in range(combo.count())]
            assert no_codes not in ids
            assert {r.run_id for r in trained_runs.values()} <= set(ids)
            first = ids.index(trained_runs["adsh"].run_id)
            assert combo.itemData(first, Qt.ItemDataRole.ToolTipRole) == trained_runs["adsh"].run_id
    finally:
        engine.delete_run(no_codes)  # the GUI tests share one run store


def test_open_dialog_starts_in_the_runs_images(window, trained_runs, qtbot):
    browse = _open(window, qtbot, trained_runs["fcaenet"].run_id)
    # the demo set has no dataset_root: the dialog starts where its query images are
    assert browse.open_dialog_folder() == str(Path(browse.catalog.paths[0]).parent)


def test_elided_label_keeps_both_ends_and_the_full_text_on_hover(qtbot):
    text = "20261127-143000-fcaenet-cub-12b-ab12 · Black_footed_Albatross_0001_796111.jpg"
    label = ElidedLabel(text)
    qtbot.addWidget(label)
    label.resize(160, 20)
    shown = label.elided_text()
    assert "…" in shown and shown.startswith("2026") and shown.endswith("jpg")
    assert label.text() == text and label.toolTip() == text
    label.setToolTip("full error message")
    assert label.toolTip() == "full error message"
    label.setToolTip("")
    assert label.toolTip() == text
