"""Explain tab over a real tiny run: overlays toggle, SREM sliders recompute the mask, opacity/colormap
change only the drawing, and Browse hands its query and results over."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fghash_gui.panels.explain import VIEW_SIZE
from fghash_gui.widgets.overlay_view import lookup_table


def _shown(panel, qtbot, action, timeout=60_000):
    with qtbot.waitSignal(panel.explanation_shown, timeout=timeout) as blocker:
        action()
    return blocker.args[0]


def test_overlays_toggle(window, trained_runs, qtbot):
    run_id = trained_runs["fcaenet"].run_id
    panel = window.explain
    panel.open_run(run_id)
    catalog_path = _first_query(window, qtbot, run_id)

    cam = _shown(panel, qtbot, lambda: panel.set_image(catalog_path))  # "none" shows the file's region
    assert cam.image.shape == (VIEW_SIZE, VIEW_SIZE, 3)
    assert panel.view.overlay.image is None

    cam = _shown(panel, qtbot, lambda: panel.set_overlay("CAM (channel mean)"))
    assert cam.kind == "cam" and cam.heatmap.shape == (VIEW_SIZE, VIEW_SIZE)
    assert np.array_equal(panel.view.overlay.image, np.clip(cam.heatmap, 0, 1).astype(np.float32))

    # issue 23: the tiny run's 32 px crops give a 1x1 layer4 map; every map says so and warns
    assert panel.view_caption.text().endswith("map 1×1 ⚠")
    assert "feature map 1×1 (layer4 at 32 px)" in panel.info_label.text() and "⚠ only 1 number" in panel.info_label.text()

    grad = _shown(panel, qtbot, lambda: panel.set_overlay("Grad-CAM (target: query code)"))
    assert grad.kind == "gradcam" and grad.heatmap.shape == (VIEW_SIZE, VIEW_SIZE) and grad.score is not None
    assert grad.method == "gradcam"
    plus = _shown(panel, qtbot, lambda: panel.cam_method_combo.setCurrentText("gradcam++"))
    assert plus.kind == "gradcam" and plus.method == "gradcam++"

    mask = _shown(panel, qtbot, lambda: panel.set_overlay("SREM mask"))
    assert mask.kind == "srem" and mask.mask.dtype == np.bool_ and mask.regions == 5 and mask.size == 6
    assert panel.view.mask is mask.mask and panel.view.overlay.image.shape == (VIEW_SIZE, VIEW_SIZE, 4)

    erased = _shown(panel, qtbot, lambda: panel.set_overlay("SREM erased image"))
    assert erased is mask  # the same explanation, drawn differently (cached, not recomputed)
    assert np.array_equal(panel.view.base.image, mask.extra("erased"))

    # Opacity and colormap act on the drawing only.
    panel.set_overlay("CAM (channel mean)")
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.kind == "cam", timeout=10_000)
    panel.opacity_slider.setValue(0.8)
    assert abs(panel.view.overlay.opacity() - 0.8) < 1e-6
    panel.colormap_combo.setCurrentText("viridis")
    assert np.array_equal(panel.view.overlay.lut, lookup_table("viridis"))

    # The output size: the same region at another size.
    small = _shown(panel, qtbot, lambda: panel.view_size_combo.setCurrentText("256 px"))
    assert small.heatmap.shape == (256, 256)
    panel.view_size_combo.setCurrentText(f"{VIEW_SIZE} px")

    # Multi-FusNet levels are only offered for Multi-FusNet runs.
    item = panel.overlay_combo.model().item(panel.overlay_combo.findText("Multi-FusNet levels"))
    assert not item.isEnabled()


def test_srem_sliders_update_the_mask(window, trained_runs, qtbot):
    run_id = trained_runs["fcaenet"].run_id
    panel = window.explain
    panel.open_run(run_id)
    path = _first_query(window, qtbot, run_id)
    _shown(panel, qtbot, lambda: panel.set_image(path))
    first = _shown(panel, qtbot, lambda: panel.set_overlay("SREM mask"))
    erased_before = first.mask.sum()

    def move_sliders():
        for value in (10, 20, 40):  # a drag: only the last value is computed (debounced)
            panel.regions_slider.setValue(value)
        panel.size_slider.setValue(10)

    latest = _shown(panel, qtbot, move_sliders)
    assert (latest.regions, latest.size) == (40, 10)
    assert latest.mask.sum() > erased_before
    assert panel.view.mask is latest.mask


def test_browse_hands_results_to_explain(window, trained_runs, qtbot):
    run_id = trained_runs["fcaenet"].run_id
    _first_query(window, qtbot, run_id)
    browse, panel = window.browse, window.explain
    hit_path = browse.grid.result_model.cells[2].path
    _shown(panel, qtbot, lambda: browse._request_explain(hit_path))
    assert window.tabs.currentWidget() is panel
    assert panel.current_path() == hit_path
    assert panel.source_combo.count() == 1 + browse.k()
    assert panel.query_path == browse.query_path
    assert panel.query_caption.text() == Path(browse.query_path).name
    qtbot.waitUntil(lambda: panel.query_preview.pixmap() is not None and not panel.query_preview.pixmap().isNull(),
                    timeout=10_000)  # decoded on the worker


def _first_query(window, qtbot, run_id: str) -> str:
    browse = window.browse
    if browse.run_id != run_id or browse.result is None:
        with qtbot.waitSignal(browse.results_shown, timeout=60_000):
            window.open_run(run_id)
    return browse.query_path


def test_result_is_drawn_beside_the_querys_map_with_a_colour_bar(window, trained_runs, qtbot):
    run_id = trained_runs["fcaenet"].run_id
    _first_query(window, qtbot, run_id)
    browse, panel = window.browse, window.explain
    hit_path = browse.grid.result_model.cells[1].path
    _shown(panel, qtbot, lambda: browse._request_explain(hit_path))
    with qtbot.waitSignal(panel.query_shown, timeout=60_000) as query:
        panel.set_overlay("Grad-CAM (target: query code)")
    assert panel.query_column.isVisible() and query.args[0].kind == "gradcam"
    assert panel.query_view.heatmap is query.args[0].heatmap  # the query's own map, towards the result
    assert panel.colorbar_label.isVisible() and not panel.colorbar_label.pixmap().isNull()
    _shown(panel, qtbot, lambda: panel.set_image(browse.query_path))  # the query itself: one view
    assert not panel.query_column.isVisible()
    panel.set_overlay("SREM mask")
    assert not panel.colorbar_label.isVisible()


def test_explain_two_runs_side_by_side(window, trained_runs, qtbot):
    """Issue 23, item 10: the same image and overlay explained by a second run, beside the first."""
    first, second = trained_runs["fcaenet"].run_id, trained_runs["adsh"].run_id
    panel = window.explain
    panel.open_run(first)
    path = _first_query(window, qtbot, first)
    _shown(panel, qtbot, lambda: panel.set_image(path))
    with qtbot.waitSignal(panel.compare_shown, timeout=60_000) as shown:
        panel.set_compare_run(second)
    assert panel.compare_column.isVisibleTo(panel) and "adsh" in panel.compare_caption.text()
    assert shown.args[0].kind == "cam" and shown.args[0].image.shape == panel.current.image.shape
    with qtbot.waitSignal(panel.compare_shown, timeout=60_000) as shown:
        panel.set_overlay("CAM (channel mean)")
    ours = panel.current if panel.current.kind == "cam" else None
    assert shown.args[0].kind == "cam" and panel.compare_view.overlay.image is not None
    assert ours is None or not np.array_equal(ours.heatmap, shown.args[0].heatmap)  # two models, two maps
    panel.set_compare_run(None)
    assert not panel.compare_column.isVisibleTo(panel)


def test_explain_from_browse_carries_the_compared_run(window, trained_runs, qtbot):
    """Browse compares two runs: Explain… opens the image explained by both, side by side."""
    first, second = trained_runs["fcaenet"].run_id, trained_runs["adsh"].run_id
    _first_query(window, qtbot, first)
    browse, panel = window.browse, window.explain
    panel.set_compare_run(None)
    browse.set_compare_run(second)
    hit_path = browse.grid.result_model.cells[1].path
    with qtbot.waitSignal(panel.compare_shown, timeout=60_000):
        browse._request_explain(hit_path)
    assert panel.compare_run_id == second and panel.compare_column.isVisibleTo(panel)
    assert panel.current_path() == hit_path and "adsh" in panel.compare_caption.text()
    browse.set_compare_run(None)
    panel.set_compare_run(None)
