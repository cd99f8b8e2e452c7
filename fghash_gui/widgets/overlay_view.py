"""An image with an optional overlay (heat-map or mask) drawn by pyqtgraph, zoomable and pannable.

The base image and the overlay are two ``pg.ImageItem`` (``axisOrder="row-major"``) in one locked-aspect
ViewBox. Changing the opacity or the colormap only touches the overlay item, so sliders stay instant;
no pixels are recomputed in Python.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

COLORMAPS = ("jet", "turbo", "viridis", "inferno", "magma", "plasma", "hot", "gray")
MASK_COLOR = (255, 40, 40)  # erased squares drawn in red over the image


def lookup_table(name: str) -> np.ndarray:
    """(256, 4) uint8 RGBA table for a colormap name (pyqtgraph's own maps; jet built from its anchors)."""
    if name == "jet":
        cmap = pg.ColorMap(pos=[0.0, 0.11, 0.125, 0.34, 0.375, 0.64, 0.66, 0.89, 0.91, 1.0],
                           color=[(0, 0, 127), (0, 0, 255), (0, 0, 255), (0, 219, 255), (0, 255, 255),
                                  (255, 255, 0), (255, 240, 0), (255, 18, 0), (255, 0, 0), (127, 0, 0)])
    elif name == "gray":
        cmap = pg.ColorMap(pos=[0.0, 1.0], color=[(0, 0, 0), (255, 255, 255)])
    elif name == "hot":
        cmap = pg.ColorMap(pos=[0.0, 0.37, 0.75, 1.0], color=[(10, 0, 0), (255, 0, 0), (255, 255, 0), (255, 255, 255)])
    else:
        cmap = pg.colormap.get(name)
    return cmap.getLookupTable(0.0, 1.0, 256, alpha=True)


class OverlayView(pg.GraphicsLayoutWidget):
    """Shows ``image`` (H, W, 3) uint8 with an overlay: a float heat-map in [0, 1] or a boolean mask."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.base = pg.ImageItem(axisOrder="row-major")
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.base)
        self.view.addItem(self.overlay)
        self.overlay.setZValue(1)
        self.image: np.ndarray | None = None
        self.heatmap: np.ndarray | None = None
        self.mask: np.ndarray | None = None
        self.opacity = 0.5
        self.colormap = "jet"
        self.setMinimumSize(240, 240)

    def set_image(self, image: np.ndarray | None) -> None:
        """Replace the base image and remove any overlay."""
        self.image = image
        self.heatmap = None
        self.mask = None
        if image is None:
            self.base.clear()
        else:
            self.base.setImage(image, levels=(0, 255))
            self.view.autoRange(padding=0.02)
        self.overlay.clear()

    def set_heatmap(self, heatmap: np.ndarray | None) -> None:
        """A (H, W) float map in [0, 1] drawn with the colormap at the current opacity."""
        self.heatmap, self.mask = heatmap, None
        self._draw_overlay()

    def set_mask(self, mask: np.ndarray | None) -> None:
        """A (H, W) bool mask; True pixels are tinted."""
        self.mask, self.heatmap = mask, None
        self._draw_overlay()

    def clear_overlay(self) -> None:
        self.heatmap = None
        self.mask = None
        self.overlay.clear()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(opacity)
        self.overlay.setOpacity(self.opacity)

    def set_colormap(self, name: str) -> None:
        self.colormap = name
        if self.heatmap is not None:
            self.overlay.setLookupTable(lookup_table(name))

    def _draw_overlay(self) -> None:
        if self.heatmap is not None:
            self.overlay.setImage(np.clip(self.heatmap, 0.0, 1.0).astype(np.float32), levels=(0.0, 1.0),
                                  lut=lookup_table(self.colormap))
        elif self.mask is not None:
            rgba = np.zeros((*self.mask.shape, 4), dtype=np.uint8)
            rgba[self.mask] = (*MASK_COLOR, 255)
            self.overlay.setImage(rgba, levels=(0, 255), lut=None)
        else:
            self.overlay.clear()
            return
        self.overlay.setOpacity(self.opacity)
        if self.image is not None:
            self.overlay.setRect(0, 0, self.image.shape[1], self.image.shape[0])
