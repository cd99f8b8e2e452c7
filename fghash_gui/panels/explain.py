"""Explain tab: the query or any result of Browse, with CAM / Grad-CAM / SREM / Multi-FusNet overlays.

Explanations are computed by ``engine.explain`` on the request worker (channel "explain"), cached per
(image, kind, options), and drawn by OverlayView over the crop's region at the file's resolution
(VIEW_SIZE px), with a colour bar. When the image is a result, the query's map of the same kind (Grad-CAM:
towards the result's code) is drawn beside it (channel "explain-query"); with a run chosen in "compare with",
the same image and options explained by that run are drawn beside it too (channel "explain-compare"). Opacity and colormap changes never recompute anything;
the SREM N and s sliders request a new mask after a short pause (debounced), and older requests are dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider
from superqt.utils import qdebounced

from core import engine
from core.engine import Explanation, FghashError, colorbar
from fghash_gui.figure_export import FIGURE_FILTER, FigureExporter
from fghash_gui.panels.explain_draw import (
    describe_explanation,
    explain_on_worker,
    map_caption,
    map_warning,
    paint_explanation,
)
from fghash_gui.widgets.elided_label import ElidedLabel
from fghash_gui.widgets.image_drop import IMAGE_FILTER, ImageDropMixin
from fghash_gui.widgets.overlay_view import COLORMAPS, OverlayView
from fghash_gui.widgets.run_menu import fill_run_menu
from fghash_gui.widgets.thumbnails import load_thumbnail
from fghash_gui.widgets.titled import titled
from fghash_gui.workers import RequestRunner

PARTS_OVERLAY = "Attention parts (SEMICON, A²-Net, ExchNet, AGMH)"
# What the user picks -> (engine explanation kind, what to draw from it).
OVERLAYS = {
    "none": (None, "none"),
    "CAM (channel mean)": ("cam", "heatmap"),
    "Grad-CAM (target: query code)": ("gradcam", "heatmap"),
    "SREM mask": ("srem", "mask"),
    "SREM erased image": ("srem", "erased"),
    "Multi-FusNet levels": ("levels", "level"),
    PARTS_OVERLAY: ("parts", "level"),  # one map at a time, picked in the level / part menu
}
PARTS_METHODS = ("semicon", "a2net", "exchnet", "agmh")  # runs whose models have part_maps (core/explain/parts)
SREM_DEBOUNCE_MS = 150
QUERY_PREVIEW = 160
VIEW_SIZE = 512  # px: the file's region is drawn at this size (sharp on screen, cheap to resize maps to)
VIEW_SIZES = (256, 512, 1024, 0)  # 0: the region's own size in the file
COLORBAR_HEIGHT = 240
CACHE_SIZE = 48


class ExplainPanel(ImageDropMixin, QWidget):
    error = Signal(str)
    status = Signal(str)
    explanation_shown = Signal(object)  # the Explanation now on screen (tests wait on it)
    query_shown = Signal(object)  # the query's Explanation drawn beside a result's
    compare_shown = Signal(object)  # the compared run's Explanation of the same image

    def __init__(self, requests: RequestRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._requests = requests
        self.run_id: str | None = None
        self.method: str | None = None
        self.image_size: int | None = None  # the run's crop: the feature maps' size follows from it
        self.query_path: str | None = None
        self.current: Explanation | None = None
        self.query_explanation: Explanation | None = None
        self._cache: OrderedDict[tuple, Explanation] = OrderedDict()
        self.setAcceptDrops(True)

        self.run_label = QLabel("No run open: open one in Runs or Browse.")
        self.source_combo = QComboBox()
        self.source_combo.setMinimumContentsLength(30)
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.open_button = QPushButton("Open image…")
        self.open_button.clicked.connect(self._pick_file)
        source_row = QHBoxLayout()
        source_row.addWidget(QLabel("Image"))
        source_row.addWidget(self.source_combo, 1)
        source_row.addWidget(self.open_button)
        self.figure_button = QPushButton("Export figure…")
        self.figure_button.setToolTip("save the query and this image as an attention figure (PDF, SVG or PNG): "
                                      "original / CAM / Grad-CAM towards the query / SREM or levels, colour bar")
        self.figure_button.clicked.connect(self.export_figure)
        self.figure_exporter = FigureExporter(requests, self)
        self.figure_exporter.written.connect(lambda path: self.status.emit(f"wrote {path}"))
        self.figure_exporter.failed.connect(self.error.emit)
        source_row.addWidget(self.figure_button)
        self.compare_run_id: str | None = None
        self.compare_explanation: Explanation | None = None
        self.compare_combo = QComboBox()
        self.compare_combo.setMinimumContentsLength(18)
        self.compare_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare_combo.setToolTip("explain the same image with a second run, drawn beside this run's")
        self.compare_combo.activated.connect(lambda _i: self.set_compare_run(self.compare_combo.currentData()))
        source_row.addWidget(QLabel("compare with"))
        source_row.addWidget(self.compare_combo)

        self.overlay_combo = QComboBox()
        self.overlay_combo.addItems(list(OVERLAYS))
        self.level_combo = QComboBox()
        self.cam_method_combo = QComboBox()
        self.cam_method_combo.addItems(list(engine.CAM_METHODS))
        self.cam_method_combo.setCurrentText("gradcam")
        self.opacity_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0.0, 1.0)
        self.opacity_slider.setValue(0.5)
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(list(COLORMAPS))
        self.view_size_combo = QComboBox()
        for size in VIEW_SIZES:
            self.view_size_combo.addItem(f"{size} px" if size else "file's pixels", size)
        self.view_size_combo.setCurrentIndex(VIEW_SIZES.index(VIEW_SIZE))
        self.view_size_combo.setToolTip("side of the drawn region: the crop the network saw, cut from the file")
        self.regions_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.regions_slider.setRange(0, 200)
        self.regions_slider.setValue(50)
        self.size_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(1, 128)
        self.size_slider.setValue(32)
        self.info_label = QLabel("")
        self.info_label.setWordWrap(True)

        controls = QGroupBox("Overlay")
        form = QFormLayout(controls)
        form.addRow("Show", self.overlay_combo)
        form.addRow("Grad-CAM method", self.cam_method_combo)
        form.addRow("Level / part map", self.level_combo)
        form.addRow("Opacity", self.opacity_slider)
        form.addRow("Colormap", self.colormap_combo)
        form.addRow("Drawn at", self.view_size_combo)
        form.addRow("SREM regions N", self.regions_slider)
        form.addRow("SREM square s (px)", self.size_slider)
        form.addRow(self.info_label)
        self.query_preview = QLabel()
        self.query_preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.query_preview.setMinimumHeight(QUERY_PREVIEW + 8)
        self.query_caption = QLabel("")
        self.query_caption.setWordWrap(True)
        query_box = QGroupBox("Query (Grad-CAM target)")
        query_layout = QVBoxLayout(query_box)
        query_layout.addWidget(self.query_preview)
        query_layout.addWidget(self.query_caption)
        side = QVBoxLayout()
        side.addWidget(controls)
        side.addWidget(query_box)
        side.addStretch(1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setMaximumWidth(380)

        self.view = OverlayView()
        self.view_caption = ElidedLabel("")
        self.query_view = OverlayView()
        self.query_view_caption = ElidedLabel("query")
        self.query_column = titled(self.query_view_caption, self.query_view)
        self.query_column.setVisible(False)
        self.compare_view = OverlayView()
        self.compare_caption = ElidedLabel("")
        self.compare_column = titled(self.compare_caption, self.compare_view)
        self.compare_column.setVisible(False)
        self.colorbar_label = QLabel()
        self.colorbar_label.setToolTip("maps are scaled to 0..1 per image: relative activation")
        body = QHBoxLayout()
        body.addWidget(self.query_column, 1)
        body.addWidget(titled(self.view_caption, self.view), 1)
        body.addWidget(self.compare_column, 1)
        body.addWidget(self.colorbar_label)
        body.addWidget(side_widget)
        layout = QVBoxLayout(self)
        layout.addWidget(self.run_label)
        layout.addLayout(source_row)
        layout.addLayout(body, 1)

        self._refresh_soon = qdebounced(self.refresh, timeout=SREM_DEBOUNCE_MS, parent=self)
        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        self.overlay_combo.currentIndexChanged.connect(self.refresh)
        self.level_combo.currentIndexChanged.connect(self._draw_current)
        self.cam_method_combo.currentIndexChanged.connect(self.refresh)
        self.view_size_combo.currentIndexChanged.connect(self.refresh)
        for view in (self.view, self.query_view, self.compare_view):
            self.opacity_slider.valueChanged.connect(view.set_opacity)
            self.colormap_combo.currentTextChanged.connect(view.set_colormap)
        self.colormap_combo.currentTextChanged.connect(self._update_colorbar)
        self.regions_slider.valueChanged.connect(self._refresh_soon)
        self.size_slider.valueChanged.connect(self._refresh_soon)
        self._update_controls()

    # --- inputs -----------------------------------------------------------------------------------

    def open_run(self, run: str) -> None:
        """Explain images with this run's model (the last checkpoint; never the model being trained)."""
        try:
            paths = engine.open_run(run)
            cfg = paths.load_config()
        except FghashError as exc:
            self.error.emit(str(exc))
            return
        self.show_run(paths.run_id, cfg)

    def show_run(self, run_id: str, cfg) -> None:
        """Explain with a run already resolved, its TrainConfig read (the application state's open run)."""
        if run_id == self.run_id:
            return
        self.run_id = run_id
        self.method = cfg.method
        self.image_size = cfg.image_size
        self._cache.clear()
        self._requests.invalidate("explain")
        self.regions_slider.blockSignals(True)
        self.size_slider.blockSignals(True)
        self.regions_slider.setValue(cfg.fcae.srem_regions)
        self.size_slider.setMaximum(max(128, cfg.image_size))
        self.size_slider.setValue(cfg.fcae.srem_size)
        self.regions_slider.blockSignals(False)
        self.size_slider.blockSignals(False)
        self.run_label.setText(f"Run {self.run_id}: {cfg.method}, {cfg.bits} bits, {cfg.backbone}, "
                               f"{cfg.dataset_kind}, image {cfg.image_size}px")
        self.refresh_runs()
        self._update_controls()
        self.refresh()

    def watch(self, state) -> None:
        """Follow the application state (fghash_gui/app_state.py): explain with the open run, clear deleted runs."""
        self._state = state
        state.runs_changed.connect(lambda _runs: self.refresh_runs())
        state.run_opened.connect(lambda opened: self.show_run(opened.run_id, opened.config))
        state.runs_deleted.connect(self.forget_runs)

    def refresh_runs(self) -> None:
        """Fill the comparison menu with the runs that have codes (and so a trained model)."""
        state = getattr(self, "_state", None)  # the run list the application state loaded on the worker
        records = state.runs.searchable() if state is not None else []
        fill_run_menu(self.compare_combo, records, self.compare_run_id, none_item=True, exclude=self.run_id)

    def set_compare_run(self, run_id: str | None) -> None:
        """Explain every image with a second run too, drawn beside this run's (None: no comparison)."""
        self.compare_run_id = run_id or None
        self.compare_explanation = None
        if self.compare_combo.findData(self.compare_run_id) < 0:
            self.refresh_runs()
        self.compare_combo.setCurrentIndex(max(self.compare_combo.findData(self.compare_run_id), 0))
        self._refresh_compare_view()

    def forget_runs(self, run_ids: list[str]) -> None:
        """Runs were deleted: if the open one is among them, clear the view."""
        if self.compare_run_id in run_ids:
            self.set_compare_run(None)
        if self.run_id in run_ids:
            self._requests.invalidate("explain")
            self._requests.invalidate("explain-query")
            self.query_explanation = None
            self.query_view.set_image(None)
            self.query_column.setVisible(False)
            self.run_id, self.method, self.current = None, None, None
            self._cache.clear()
            self.view.set_image(None)
            self.info_label.setText("")
            self.run_label.setText("No run open: open one in Runs or Browse.")

    def _set_query(self, path: str | None) -> None:
        """Show the query's name now and its preview when the worker has decoded it (a large file takes a
        while, even at reduced size); a newer query supersedes the decode of an older one."""
        self.query_path = path
        self.query_preview.clear()
        self._requests.invalidate("explain-preview")
        self.query_caption.setText(Path(path).name if path is not None else "")
        if path is not None:
            self._requests.submit("explain-preview", load_thumbnail, path, QUERY_PREVIEW,
                                  on_result=self._show_query_preview)

    def _show_query_preview(self, image: QImage) -> None:
        self.query_preview.setPixmap(QPixmap.fromImage(image) if not image.isNull() else QPixmap())

    def set_sources(self, query_path: str, result_paths: list[tuple[str, str]]) -> None:
        """The query and Browse's results ((label, path) pairs) become the image menu."""
        self._set_query(query_path)
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        self.source_combo.addItem(f"query: {Path(query_path).name}", query_path)
        for label, path in result_paths:
            self.source_combo.addItem(label, path)
        self.source_combo.blockSignals(False)
        self.source_combo.setCurrentIndex(0)
        self._on_source_changed()

    def set_image(self, path: str) -> None:
        """Show this image (selecting it if it is in the menu, else adding it)."""
        index = self.source_combo.findData(path)
        if index < 0:
            if self.query_path is None:
                self._set_query(path)
            self.source_combo.addItem(Path(path).name, path)
            index = self.source_combo.count() - 1
        if index == self.source_combo.currentIndex():
            self._on_source_changed()
        else:
            self.source_combo.setCurrentIndex(index)

    image_dropped = set_image  # a dropped file opens like one chosen in the dialog (ImageDropMixin)

    def current_path(self) -> str | None:
        return self.source_combo.currentData()

    @Slot()
    def export_figure(self) -> None:
        """The attention figure (core.figures) of the query and the current image, with this panel's
        Grad-CAM method, colormap, opacity and SREM N and s."""
        image = self.current_path()
        if self.run_id is None or image is None:
            self.status.emit("open a run and choose an image first")
            return
        from core.engine import write_attention_figure

        images = [image] if self.query_path in (None, image) else [self.query_path, image]
        run, target = self.run_id, self.query_path
        options = dict(cam_method=self.cam_method_combo.currentText(), colormap_name=self.colormap_combo.currentText(),
                       alpha=float(self.opacity_slider.value()), regions=self.regions_slider.value(),
                       size=self.size_slider.value(), device="auto")
        self.figure_exporter.export("Export attention figure", f"attention-{Path(image).stem}.pdf", FIGURE_FILTER,
                                    lambda path: write_attention_figure(run, images, path, target=target, **options))

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Image to explain", "", IMAGE_FILTER)
        if path:
            self.set_image(path)

    # --- requests ---------------------------------------------------------------------------------

    @Slot()
    def _on_source_changed(self) -> None:
        self.current = None
        self.view.set_image(None)
        self.refresh()

    def overlay_choice(self) -> str:
        return self.overlay_combo.currentText()

    def set_overlay(self, name: str) -> None:
        self.overlay_combo.setCurrentText(name)

    def _request_key(self, path: str | None = None, target: str | None = None) -> tuple | None:
        """(image, kind, options) of the explanation to show for `path` (default: the current image);
        Grad-CAM targets `target`'s code (default: the query's, when the image is not the query)."""
        path = path or self.current_path()
        if path is None or self.run_id is None:
            return None
        kind, _ = OVERLAYS[self.overlay_choice()]
        kind = kind or "cam"  # "none" still needs the view of the image: a CAM gives it
        options: dict = {"resolution": "file", "out_size": self.view_size_combo.currentData() or None}
        if kind == "srem":
            options.update(regions=self.regions_slider.value(), size=self.size_slider.value())
        elif kind == "gradcam":
            options["method"] = self.cam_method_combo.currentText()
            target = target or (self.query_path if path != self.query_path else None)
            if target:
                options["target_image"] = target
        return (path, kind, tuple(sorted(options.items())))

    def _query_key(self) -> tuple | None:
        """The query's explanation beside a result's (Grad-CAM towards the result), or None."""
        path = self.current_path()
        if self.query_path is None or path is None or path == self.query_path:
            return None
        return self._request_key(self.query_path, target=path)

    @Slot()
    def refresh(self) -> None:
        """Show the current image with the current overlay, computing the explanation if needed."""
        self._update_controls()
        key = self._request_key()
        if key is None:
            return
        self._refresh_query_view()
        self._refresh_compare_view()
        if key in self._cache:
            self._cache.move_to_end(key)
            self._show(key, self._cache[key])
            return
        path, kind, options = key
        self.info_label.setText("computing…")
        self._requests.submit("explain", explain_on_worker, path, self.run_id, kind, dict(options),
                              on_result=lambda ex, k=key: self._on_explained(k, ex), on_error=self._on_error)

    def _refresh_query_view(self) -> None:
        key = self._query_key()
        self.query_column.setVisible(key is not None)
        if key is None:
            self._requests.invalidate("explain-query")
            self.query_explanation = None
            return
        self.query_view_caption.setText(f"query: {Path(key[0]).name}")
        if key in self._cache:
            self._show_query(key, self._cache[key])
            return
        path, kind, options = key
        self._requests.submit("explain-query", explain_on_worker, path, self.run_id, kind, dict(options),
                              on_result=lambda ex, k=key: self._on_query_explained(k, ex), on_error=self._on_error)

    def _compare_key(self) -> tuple | None:
        """The compared run's explanation of the current image with the same options, or None."""
        key = self._request_key()
        return None if key is None or self.compare_run_id is None else ("compare", self.compare_run_id, *key)

    def _refresh_compare_view(self) -> None:
        key = self._compare_key()
        self.compare_column.setVisible(key is not None)
        if key is None:
            self._requests.invalidate("explain-compare")
            self.compare_explanation = None
            return
        self.compare_caption.setText(f"{_menu_text(self.compare_combo)}: {Path(key[2]).name}")
        if key in self._cache:
            self._show_compare(key, self._cache[key])
            return
        _, run, path, kind, options = key
        self._requests.submit("explain-compare", explain_on_worker, path, run, kind, dict(options),
                              on_result=lambda ex, k=key: self._on_compare_explained(k, ex), on_error=self._on_error)

    def _on_compare_explained(self, key: tuple, explanation: Explanation) -> None:
        self._remember(key, explanation)
        self._show_compare(key, explanation)

    def _show_compare(self, key: tuple, explanation: Explanation) -> None:
        if key != self._compare_key():
            return  # the user moved on
        self.compare_explanation = explanation
        draw = OVERLAYS[self.overlay_choice()][1]
        paint_explanation(self.compare_view, explanation, draw, self.level_combo.currentText())
        self.compare_shown.emit(explanation)

    def _on_query_explained(self, key: tuple, explanation: Explanation) -> None:
        self._remember(key, explanation)
        self._show_query(key, explanation)

    def _show_query(self, key: tuple, explanation: Explanation) -> None:
        if key != self._query_key():
            return  # the user moved on
        self.query_explanation = explanation
        draw = OVERLAYS[self.overlay_choice()][1]
        paint_explanation(self.query_view, explanation, draw, self.level_combo.currentText())
        self.query_shown.emit(explanation)

    def _remember(self, key: tuple, explanation: Explanation) -> None:
        self._cache[key] = explanation
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _on_explained(self, key: tuple, explanation: Explanation) -> None:
        self._remember(key, explanation)
        self._show(key, explanation)

    def _on_error(self, message: str) -> None:
        self.info_label.setText("")
        self.error.emit(message)

    def _show(self, key: tuple, explanation: Explanation) -> None:
        if explanation is not self.current:
            self.current = explanation
            if explanation.kind in ("levels", "parts"):
                names = [n for n in explanation.extra_names]
                self.level_combo.blockSignals(True)
                previous = self.level_combo.currentText()
                self.level_combo.clear()
                self.level_combo.addItems(names)
                if previous in names:
                    self.level_combo.setCurrentText(previous)
                else:
                    self.level_combo.setCurrentIndex(len(names) - 1)
                self.level_combo.blockSignals(False)
        self._draw_current()

    @Slot()
    def _draw_current(self) -> None:
        explanation = self.current
        if explanation is None:
            return
        _, draw = OVERLAYS[self.overlay_choice()]
        paint_explanation(self.view, explanation, draw, self.level_combo.currentText())
        if self.query_explanation is not None and self.query_column.isVisible():
            paint_explanation(self.query_view, self.query_explanation, draw, self.level_combo.currentText())
        if self.compare_explanation is not None and self.compare_column.isVisible():
            paint_explanation(self.compare_view, self.compare_explanation, draw, self.level_combo.currentText())
        level = self.level_combo.currentText()
        size = map_caption(draw, level, self.image_size)
        self.view_caption.setText(" · ".join(p for p in (Path(self.current_path() or "").name, size) if p))
        if self.query_column.isVisible() and self.query_path:
            self.query_view_caption.setText(" · ".join(p for p in (f"query: {Path(self.query_path).name}", size) if p))
        warning = map_warning(draw, level, self.image_size)
        self.info_label.setText("\n".join(p for p in (describe_explanation(explanation, draw), warning) if p))
        self.explanation_shown.emit(explanation)

    @Slot()
    def _update_colorbar(self) -> None:
        _, draw = OVERLAYS[self.overlay_choice()]
        shown = draw in ("heatmap", "level")
        self.colorbar_label.setVisible(shown)
        if shown:
            bar = np.ascontiguousarray(colorbar(COLORBAR_HEIGHT, self.colormap_combo.currentText()))
            image = QImage(bar.data, bar.shape[1], bar.shape[0], 3 * bar.shape[1], QImage.Format.Format_RGB888)
            self.colorbar_label.setPixmap(QPixmap.fromImage(image.copy()))

    def _update_controls(self) -> None:
        kind, draw = OVERLAYS[self.overlay_choice()]
        self.level_combo.setEnabled(draw == "level")
        self.cam_method_combo.setEnabled(kind == "gradcam")
        srem = kind == "srem"
        self.regions_slider.setEnabled(srem)
        self.size_slider.setEnabled(srem)
        self.colormap_combo.setEnabled(draw in ("heatmap", "level"))
        self.opacity_slider.setEnabled(draw not in ("none", "erased"))
        self._update_colorbar()
        levels_index = list(OVERLAYS).index("Multi-FusNet levels")
        item = self.overlay_combo.model().item(levels_index)
        if item is not None:
            item.setEnabled(self.method in (None, "multifusnet"))
        item = self.overlay_combo.model().item(list(OVERLAYS).index(PARTS_OVERLAY))
        if item is not None:
            item.setEnabled(self.method is None or self.method in PARTS_METHODS)


def _menu_text(combo: QComboBox) -> str:
    return combo.currentText() if combo.currentData() else ""
