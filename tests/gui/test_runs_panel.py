"""Runs tab over two real tiny runs: table, mAP curve comparison, export, delete with confirmation, open."""

from __future__ import annotations

from PySide6.QtCore import Qt

from core import engine
from core.config.train_config import TrainConfig
from core.runs.catalog import create_run
from core.runs.store import RunStore
from fghash_gui.panels.runs import COLUMNS


def _row_of(panel, run_id: str) -> int:
    for row in range(panel.proxy.rowCount()):
        if panel.proxy.index(row, 0).data(Qt.ItemDataRole.UserRole) == run_id:
            return row
    raise AssertionError(f"{run_id} not in the table")


def test_table_lists_runs_with_their_map(window, trained_runs, reload_runs):
    panel = window.runs
    reload_runs()
    for finished in trained_runs.values():
        row = _row_of(panel, finished.run_id)
        shown = panel.proxy.index(row, COLUMNS.index("mAP@all")).data()
        assert shown == f"{100 * finished.final_map:.2f}"
        assert panel.proxy.index(row, COLUMNS.index("status")).data() == "finished"
    panel.filter_edit.setText("adsh")
    ids = {panel.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(panel.proxy.rowCount())}
    assert trained_runs["adsh"].run_id in ids and trained_runs["fcaenet"].run_id not in ids
    panel.filter_edit.setText("")


def test_compare_plots_each_selected_runs_history(window, trained_runs, qtbot, reload_runs):
    panel = window.runs
    reload_runs()
    ids = [f.run_id for f in trained_runs.values()]
    panel.select_runs(ids)
    assert sorted(panel.selected_run_ids()) == sorted(ids)
    with qtbot.waitSignal(panel.compared_shown, timeout=30_000):
        panel.compare_button.click()
    curves = panel.plot.getPlotItem().listDataItems()
    assert len(curves) == 2
    for run_id in ids:
        history = engine.map_history(run_id)
        assert history and history == panel.compared[run_id]
    plotted = sorted(tuple(c.getData()[1]) for c in curves)
    expected = sorted(tuple(100 * v for _, v in engine.map_history(r)) for r in ids)
    assert plotted == expected


def test_export_writes_codes_and_metrics(window, trained_runs, qtbot, tmp_path, reload_runs):
    panel = window.runs
    reload_runs()
    run_id = trained_runs["fcaenet"].run_id
    panel.select_runs([run_id])
    panel.choose_export_folder = lambda: str(tmp_path)
    panel.export_button.click()
    qtbot.waitUntil(lambda: (tmp_path / run_id / "codes" / "database.npz").exists(), timeout=10_000)
    assert (tmp_path / run_id / "metrics.jsonl").exists()
    assert (tmp_path / run_id / "codes" / "query.npz").exists()


def test_delete_asks_first(window, qtbot, reload_runs):
    with RunStore() as store:
        doomed = create_run(TrainConfig(backbone="resnet18", weights="none"), store=store).run_id
    panel = window.runs
    reload_runs()
    panel.select_runs([doomed])
    panel.confirm_delete = lambda ids: False
    panel.delete_button.click()
    assert doomed in [r.run_id for r in engine.list_runs()]
    panel.select_runs([doomed])
    panel.confirm_delete = lambda ids: ids == [doomed]
    with qtbot.waitSignal(window.state.runs_changed, timeout=30_000):  # the list reloads on the worker
        panel.delete_button.click()
    assert doomed not in [r.run_id for r in engine.list_runs()]
    assert doomed not in [panel.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole)
                          for r in range(panel.proxy.rowCount())]


def test_open_switches_to_browse(window, trained_runs, qtbot, reload_runs):
    panel = window.runs
    reload_runs()
    run_id = trained_runs["adsh"].run_id
    panel.select_runs([run_id])
    with qtbot.waitSignal(window.browse.catalog_loaded, timeout=60_000):
        panel.open_button.click()
    assert window.tabs.currentWidget() is window.browse
    assert window.browse.run_id == run_id


def test_by_index_column_collapse_mark_and_seed_groups(window, reload_runs):
    from fghash_gui.panels.run_groups import GROUP_COLUMNS, RUN_IDS_ROLE

    ids = []
    with RunStore() as store:  # two finished runs that differ only in their seed; the second collapsed
        for seed, value, share in ((0, 0.5, 0.1), (1, 0.7, 0.75)):
            paths = create_run(TrainConfig(backbone="resnet18", weights="none", seed=seed), store=store)
            store.set_status(paths.run_id, "finished")
            store.set_maps(paths.run_id, value)
            store.log_metrics(paths.run_id, 1, {"map_all_index_order": value + 0.1, "largest_code_share": share})
            ids.append(paths.run_id)
    panel = window.runs
    reload_runs()
    healthy, collapsed = _row_of(panel, ids[0]), _row_of(panel, ids[1])
    assert panel.proxy.index(healthy, COLUMNS.index("mAP@all")).data() == "50.00"
    assert panel.proxy.index(healthy, COLUMNS.index("by index")).data() == "60.00"
    assert panel.proxy.index(collapsed, COLUMNS.index("mAP@all")).data() == "70.00 ⚠ collapsed"
    assert "75% of the database shares one code" in panel.proxy.index(
        collapsed, COLUMNS.index("mAP@all")).data(Qt.ItemDataRole.ToolTipRole)

    panel.group_seeds.setChecked(True)
    rows = [r for r in range(panel.proxy.rowCount()) if set(panel.proxy.index(r, 0).data(RUN_IDS_ROLE)) == set(ids)]
    assert len(rows) == 1
    assert panel.proxy.index(rows[0], GROUP_COLUMNS.index("mAP@all")).data() == "60.00 ± 14.14 (2)"  # ddof=1
    assert panel.proxy.index(rows[0], GROUP_COLUMNS.index("by index")).data() == "70.00 ± 14.14 (2)"
    assert panel.proxy.index(rows[0], GROUP_COLUMNS.index("seeds")).data() == "0,1"
    panel.select_runs([ids[0]])
    assert sorted(panel.selected_run_ids()) == sorted(ids)  # a group row stands for all its runs
    panel.group_seeds.setChecked(False)
    assert panel.proxy.columnCount() == len(COLUMNS) and sorted(panel.selected_run_ids()) == sorted(ids)
    for run_id in ids:
        engine.delete_run(run_id)
    reload_runs()


def test_delete_is_greyed_for_a_run_in_training(window, reload_runs):
    """Issue 16: the store shows "running" only while the trainer holds the run lock; Delete is disabled."""
    from core.runs.lock import RunLock

    with RunStore() as store:
        paths = create_run(TrainConfig(backbone="resnet18", weights="none"), store=store)
        store.set_status(paths.run_id, "running")
    panel = window.runs
    with RunLock(paths.root):
        reload_runs()
        panel.select_runs([paths.run_id])
        assert not panel.delete_button.isEnabled()
        assert "being trained" in panel.delete_button.toolTip()
    reload_runs()  # the lock is gone: the store now reports the run as interrupted
    panel.select_runs([paths.run_id])
    assert panel.delete_button.isEnabled()


def test_delete_runs_on_the_worker_and_shows_a_refusal(window, qtbot, reload_runs):
    """Deleting runs happens on the worker (a folder can hold gigabytes): Delete is greyed until it ends, and a
    run the engine refuses (its training started after the list was read) stays, with the engine's reason."""
    from core.runs.lock import RunLock

    with RunStore() as store:
        paths = create_run(TrainConfig(backbone="resnet18", weights="none"), store=store)
    panel = window.runs
    reload_runs()
    panel.select_runs([paths.run_id])
    assert panel.delete_button.isEnabled()
    panel.confirm_delete = lambda ids: True
    with RunLock(paths.root), qtbot.waitSignal(panel.error, timeout=30_000) as refused:
        panel.delete_button.click()
        assert not panel.delete_button.isEnabled()  # until the worker's answer arrives
    assert "is being trained" in refused.args[0]
    assert paths.run_id in [r.run_id for r in engine.list_runs()]
    reload_runs()
    panel.select_runs([paths.run_id])
    assert panel.delete_button.isEnabled()
    with qtbot.waitSignal(window.state.runs_changed, timeout=30_000):
        panel.delete_button.click()
    assert paths.run_id not in [r.run_id for r in engine.list_runs()]
    assert not paths.root.exists()
