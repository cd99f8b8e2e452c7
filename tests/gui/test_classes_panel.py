"""Classes tab over a real tiny run: per-class AP equals the evaluation's per-query APs averaged by class,
a class lists its worst queries and a click opens one in Browse; the confusion table and the code map."""

from __future__ import annotations

import numpy as np
import pytest

from core import engine
from fghash_gui.panels.classes_model import LABEL_ROLE, SORT_ROLE


def _show_classes(window, qtbot, run_id):
    with qtbot.waitSignal(window.browse.results_shown, timeout=60_000):
        window.open_run(run_id)
    with qtbot.waitSignal(window.classes.report_shown, timeout=60_000) as shown:
        window.tabs.setCurrentWidget(window.classes)
    return shown.args[0]


def test_per_class_ap_worst_queries_and_browse_link(window, trained_runs, qtbot):
    run_id = trained_runs["fcaenet"].run_id
    report = _show_classes(window, qtbot, run_id)
    evaluation = engine.evaluate(run_id, ks=(20,), device="cpu")
    labels = np.asarray(report.query_labels)
    per_query = np.asarray(evaluation.per_query_ap)
    panel = window.classes
    table = panel.class_table.model()
    assert table.rowCount() == 10  # the demo's classes
    shown = [table.index(r, 1).data(SORT_ROLE) for r in range(table.rowCount())]
    assert shown == sorted(shown)  # worst first
    for r in range(table.rowCount()):
        label = table.index(r, 0).data(LABEL_ROLE)
        assert table.index(r, 1).data(SORT_ROLE) == pytest.approx(per_query[labels == label].mean())

    panel.select_class(table.index(0, 0).data(LABEL_ROLE))
    worst = panel.worst_list
    assert worst.count() == int((labels == table.index(0, 0).data(LABEL_ROLE)).sum())
    aps = [float(worst.item(i).text().split("%")[0].split()[1]) for i in range(worst.count())]
    assert aps == sorted(aps)
    path = worst.item(0).data(0x0100)
    with qtbot.waitSignal(window.browse.results_shown, timeout=30_000):
        panel._on_worst_activated(worst.item(0))
    assert window.tabs.currentWidget() is window.browse and window.browse.query_path == path
    assert window.browse.query_list.currentIndex().data(0x0100) == path

    confusion = panel.confusion_table.model()
    assert confusion.rowCount() == 10 and report.confusion.sum() == len(labels) * 20


def test_code_map_shows_the_database_and_queries_a_clicked_point(window, trained_runs, qtbot):
    run_id = trained_runs["fcaenet"].run_id
    _show_classes(window, qtbot, run_id)
    panel = window.classes
    with qtbot.waitSignal(panel.code_map.map_shown, timeout=60_000) as shown:
        panel.tabs.setCurrentWidget(panel.code_map)
    data = shown.args[0]
    assert len(data.paths) == 240 and not data.map.sampled  # the demo's database
    assert len(panel.code_map.scatter.data) == 240
    assert len(panel.code_map.query_marker.data) == 1  # Browse's query, projected
    with qtbot.waitSignal(window.browse.results_shown, timeout=30_000):
        panel.code_map.click_point(5)
    assert window.browse.query_path == data.paths[5]
    panel.code_map._on_hovered(None, [panel.code_map.scatter.points()[7]], None)
    assert data.paths[7].split("/")[-1] in panel.code_map.hover_text.text()


def test_a_deleted_run_is_cleared_from_the_classes_tab(window, trained_runs, qtbot):
    panel = window.classes
    _show_classes(window, qtbot, trained_runs["adsh"].run_id)
    assert panel.class_model.rowCount() == 10
    panel.forget_runs([trained_runs["adsh"].run_id])  # what the Runs tab's Delete triggers
    assert panel.run_id is None and panel.class_model.rowCount() == 0 and panel.worst_list.count() == 0


def test_per_class_ap_difference_with_a_second_run(window, trained_runs, qtbot):
    """Issue 23, item 10: the per-class table gains this run's AP minus the compared run's."""
    first, second = trained_runs["fcaenet"].run_id, trained_runs["adsh"].run_id
    report = _show_classes(window, qtbot, first)
    panel = window.classes
    with qtbot.waitSignal(panel.status, timeout=60_000) as said:
        panel.set_compare_run(second)
    other = engine.class_report(second, k=20)
    table = panel.class_table.model()
    column = panel.class_model.columns.index("Δ AP")
    for r in range(table.rowCount()):
        label = table.index(r, 0).data(LABEL_ROLE)
        expected = 100 * (report.ap[label] - other.ap[label])
        assert table.index(r, column).data() == f"{expected:+.1f}"
    better = int(np.sum(report.ap > other.ap))
    assert said.args[0].startswith(f"Δ AP vs {second}: {better} classes better")
    panel.set_compare_run(None)
    assert table.index(0, column).data() == "–"
