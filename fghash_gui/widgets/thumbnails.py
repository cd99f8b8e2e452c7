"""Thumbnails decoded off the GUI thread, batched, and kept in an LRU cache.

Views ask ``ThumbnailLoader.get(path)`` while painting; a miss queues the path, and within one event-loop
pass the queued paths go to the request worker as one job. Files are decoded by the engine's own decoder
(core.data.images.load_rgb): JPEGs at 1/2..1/8 scale in the DCT domain, so a page of 100 results decodes
in a fraction of a second, and exactly the files the engine cannot use (truncated, empty, not an image,
too large) get the "no image" placeholder; Qt's reader would show a grey picture of a truncated JPEG
that then fails to query. QImage (not QPixmap) crosses the thread boundary because only QImage may be
built outside the GUI thread.
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import count

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from superqt.utils import qdebounced

from core.engine import ImageDecodeError, load_rgb
from fghash_gui.workers import RequestRunner

THUMB_SIZE = 112
CACHE_ITEMS = 3000  # ~3000 x 112 x 112 x 4 bytes ≈ 150 MB at most; typically far less (images are smaller)
BATCH_DELAY_MS = 0


def load_thumbnail(path: str, size: int = THUMB_SIZE) -> QImage:
    """Decode `path` scaled to fit size x size (EXIF orientation applied, never enlarged). A null QImage
    if the engine cannot decode it."""
    try:
        rgb = load_rgb(path, max_side=size)
    except ImageDecodeError:
        return QImage()
    data = rgb.tobytes()  # RGB888 rows, no padding
    # copy(): the QImage must own its pixels once `data` goes away
    return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()


def _load_batch(paths: list[str], size: int) -> dict[str, QImage]:
    return {path: load_thumbnail(path, size) for path in paths}


def placeholder(size: int = THUMB_SIZE, text: str = "") -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor("#e4e7eb"))
    if text:
        painter = QPainter(pixmap)
        painter.setPen(QColor("#8a9099"))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, text)
        painter.end()
    return pixmap


class ThumbnailLoader(QObject):
    """Shared cache of thumbnails; emits ``ready(list_of_paths)`` when a batch has been decoded."""

    ready = Signal(list)

    def __init__(self, requests: RequestRunner, size: int = THUMB_SIZE, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._requests = requests
        self.size = size
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._queued: list[str] = []
        self._in_flight: set[str] = set()
        self._failed: set[str] = set()
        self._batch_ids = count()
        self._flush_soon = qdebounced(self._flush, timeout=BATCH_DELAY_MS, parent=self)  # one job per loop pass
        self.loading = placeholder(size, "…")
        self.broken = placeholder(size, "no image")

    def get(self, path: str) -> QPixmap | None:
        """The cached thumbnail, or None (and the path is queued) if it is not decoded yet."""
        pixmap = self._cache.get(path)
        if pixmap is not None:
            self._cache.move_to_end(path)
            return pixmap
        if path in self._failed:
            return self.broken
        if path not in self._in_flight:
            self._in_flight.add(path)
            self._queued.append(path)
            self._flush_soon()
        return None

    def prefetch(self, paths: list[str]) -> None:
        for path in paths:
            self.get(path)

    def pending(self) -> int:
        return len(self._in_flight)

    def _flush(self) -> None:
        if not self._queued:
            return
        # Most-recently requested first: those are the rows the user is looking at now.
        batch, self._queued = list(reversed(self._queued)), []
        channel = f"thumbs-{next(self._batch_ids)}"  # batches never supersede each other
        self._requests.submit(channel, _load_batch, batch, self.size, on_result=self._on_loaded,
                              on_error=lambda _message, b=batch: self._on_failed(b))

    def _on_loaded(self, images: dict[str, QImage]) -> None:
        for path, image in images.items():
            self._in_flight.discard(path)
            if image.isNull():
                self._failed.add(path)
                continue
            self._cache[path] = QPixmap.fromImage(image)
        while len(self._cache) > CACHE_ITEMS:
            self._cache.popitem(last=False)
        self.ready.emit(list(images))

    def _on_failed(self, batch: list[str]) -> None:
        for path in batch:
            self._in_flight.discard(path)
            self._failed.add(path)
        self.ready.emit(batch)
