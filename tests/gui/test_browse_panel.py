"""Browse tab over a real tiny run: open, pick a query, k frames with the right colours, AP, histogram,
an external image, and the side-by-side comparison of two runs."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core import engine
from fghash_gui.widgets.result_grid import (
    CLASS_ROLE,
    DISTANCE_ROLE,
    FRAME_COLOR_ROLE,
    OTHER_CLASS_COLOR,
    RANK_ROLE,
    SAME_CLASS_COLOR,
    SAME_CLASS_ROLE,
    UNKNOWN_CLASS_COLOR,
)


def _open(window, qtbot, run_id: str):
    browse = window.browse
    with qtbot.waitSignal(browse.results_shown, timeout=60_000):
        window.open_run(run_id)
    return browse


def _rows(grid):
    model = grid.model()
    return [model.index(r, 0) for r in range(model.rowCount())]


def test_query_shows_k_frames_coloured_by_class(window, trained_runs, qtbot):
    run_id = trained_runs["fcaenet"].run_id
    browse = _open(window, qtbot, run_id)
    catalog = browse.catalog
    assert catalog is not None and len(catalog.paths) == 160  # the demo's test split
    assert browse.query_proxy.rowCount() == 160

    with qtbot.waitSignal(browse.results_shown, timeout=30_000):
        browse.select_query_row(7)
    query_label = catalog.labels[7]
    assert browse.query_path == catalog.paths[7]
    rows = _rows(browse.grid)
    assert len(rows) == 10
    expected = engine.query(7, run_id, k=10)
    assert [i.data(RANK_ROLE) for i in rows] == list(range(1, 11))
    assert [i.data(DISTANCE_ROLE) for i in rows] == [h.distance for h in expected.hits]
    distances = [i.data(DISTANCE_ROLE) for i in rows]
    assert distances == sorted(distances)
    for index, hit in zip(rows, expected.hits):
        same = hit.label == query_label
        assert index.data(SAME_CLASS_ROLE) is same
        assert index.data(FRAME_COLOR_ROLE) == (SAME_CLASS_COLOR if same else OTHER_CLASS_COLOR)
        assert index.data(CLASS_ROLE) == catalog.class_names[hit.label]

    # AP is the evaluator's per-query AP; the histogram covers the whole database.
    report = engine.evaluate(run_id, ks=(10,), device="cpu")
    assert browse.result.average_precision == report.per_query_ap[7]
    assert f"AP {100 * report.per_query_ap[7]:.1f}%" in browse.ap_label.text()
    # the header is tie-averaged; the tooltip also gives the grid's own (ties by index) figures
    assert f"AP {100 * report.per_query_ap_index_order[7]:.2f}%" in browse.ap_label.toolTip()
    assert "ties by index" in browse.ap_label.toolTip() and "database order" in browse.order_label.text()
    bars = browse.histogram
    same, other = (np.asarray(c) for c in (browse.result.distance_counts_same, browse.result.distance_counts_other))
    assert (same + other).sum() == 240
    # log axis (the default): each bar ends at log10 of its count, its green part at log10 of the same-class count
    tops = np.asarray(bars.wrong_bars.opts["y1"])
    assert np.allclose(tops[same + other > 0], np.log10((same + other)[same + other > 0]))
    assert np.allclose(np.asarray(bars.correct_bars.opts["y1"])[same > 0], np.log10(same[same > 0]))
    browse.log_check.setChecked(False)
    assert np.asarray(browse.histogram.wrong_bars.opts["y1"]).sum() == 240

    with qtbot.waitSignal(browse.results_shown, timeout=30_000):
        browse.k_combo.setCurrentText("50")
    assert len(_rows(browse.grid)) == 50


def test_search_filters_the_query_list(window, trained_runs, qtbot):
    browse = _open(window, qtbot, trained_runs["fcaenet"].run_id)
    name = browse.catalog.class_names[3]
    browse.search_edit.setText(name)
    shown = browse.query_proxy.rowCount()
    assert 0 < shown < 160
    assert shown == sum(1 for label in browse.catalog.labels if browse.catalog.class_names[label] == name
                        or name in browse.catalog.class_names[label])


def test_external_image_has_grey_frames(window, trained_runs, qtbot, tmp_path):
    browse = _open(window, qtbot, trained_runs["fcaenet"].run_id)
    picture = tmp_path / "outside.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)).save(picture)
    with qtbot.waitSignal(browse.results_shown, timeout=60_000):
        browse.set_query(str(picture))
    rows = _rows(browse.grid)
    assert len(rows) == browse.k()
    assert all(i.data(SAME_CLASS_ROLE) is None and i.data(FRAME_COLOR_ROLE) == UNKNOWN_CLASS_COLOR for i in rows)
    assert browse.result.average_precision is None and "AP –" in browse.ap_label.text()


def test_compare_two_runs_side_by_side(window, trained_runs, qtbot):
    first, second = trained_runs["fcaenet"].run_id, trained_runs["adsh"].run_id
    browse = _open(window, qtbot, first)
    with qtbot.waitSignal(browse.compare_shown, timeout=60_000):
        browse.set_compare_run(second)
    assert not browse.compare_box.isHidden()
    query_row = browse.catalog.paths.index(browse.query_path)
    expected = engine.query(query_row, second, k=browse.k())
    rows = _rows(browse.compare_grid)
    assert [i.data(DISTANCE_ROLE) for i in rows] == [h.distance for h in expected.hits]
    assert [i.data(SAME_CLASS_ROLE) for i in rows] == [h.correct for h in expected.hits]
    # A new query is answered by both runs.
    with qtbot.waitSignals([browse.results_shown, browse.compare_shown], timeout=60_000):
        browse.select_query_row(20)
    assert browse.compare_result.result.query_path == browse.result.result.query_path == browse.catalog.paths[20]
    browse.set_compare_run(None)
    assert browse.compare_box.isHidden()


def test_a_broken_image_reports_an_error_and_the_window_stays_usable(window, trained_runs, qtbot, tmp_path):
    browse = _open(window, qtbot, trained_runs["fcaenet"].run_id)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    browse.set_query(str(broken))
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)
    assert "broken.jpg" in window.last_error
    assert window._error_box is not None and window._error_box.isVisible()
    window._error_box.accept()
    # The next query still works.
    with qtbot.waitSignal(browse.results_shown, timeout=30_000):
        browse.select_query_row(3)
    assert len(_rows(browse.grid)) == browse.k()


def test_dropping_an_image_file_queries_it(window, trained_runs, qtbot):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    browse = _open(window, qtbot, trained_runs["fcaenet"].run_id)
    dropped = browse.catalog.paths[11]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(dropped)])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(browse.results_shown, timeout=30_000):
        browse.dropEvent(event)
    assert browse.result.result.query_path == dropped
    assert browse.result.result.query_label == browse.catalog.labels[11]
