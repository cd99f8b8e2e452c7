"""Opening images: the file dialog's filter and dropping a file on a panel, one implementation for every tab."""

from __future__ import annotations

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QDragEnterEvent, QDropEvent

# The formats the engine decodes (core.data.images.load_rgb goes through PIL); anything else is refused by the
# engine with a one-line message anyway, the filter only keeps the dialog tidy.
IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff)"


def first_local_file(mime: QMimeData) -> str | None:
    """The first local file among dropped URLs (a web address cannot be searched), or None."""
    return next((url.toLocalFile() for url in mime.urls() if url.isLocalFile()), None)


class ImageDropMixin:
    """Put before QWidget in a panel's bases (``class Panel(ImageDropMixin, QWidget)``) and call
    ``setAcceptDrops(True)``: the first local file dropped on the panel goes to its ``image_dropped(path)``."""

    def image_dropped(self, path: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} accepts drops but does not say what a dropped image does")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        path = first_local_file(event.mimeData())
        if path is not None:
            event.acceptProposedAction()
            self.image_dropped(path)
