"""The one drag-and-drop helper: local files are accepted and handed on, the rest is left alone."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

from fghash_gui.widgets.image_drop import IMAGE_FILTER, ImageDropMixin  # noqa: E402


class _Target(ImageDropMixin, QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setAcceptDrops(True)
        self.got: list[str] = []

    def image_dropped(self, path: str) -> None:
        self.got.append(path)


def _mime(*urls: QUrl) -> QMimeData:
    mime = QMimeData()
    mime.setUrls(list(urls))
    return mime


def _drop(widget: QWidget, mime: QMimeData) -> None:
    widget.dropEvent(QDropEvent(QPointF(2, 2), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def test_a_dropped_local_file_reaches_the_panel(qtbot, tmp_path):
    widget = _Target()
    qtbot.addWidget(widget)
    image = tmp_path / "bird.png"
    mime = _mime(QUrl("https://example.org/x.png"), QUrl.fromLocalFile(str(image)))
    enter = QDragEnterEvent(QPoint(2, 2), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    enter.ignore()
    widget.dragEnterEvent(enter)
    assert enter.isAccepted()
    _drop(widget, mime)
    assert widget.got == [str(image)]  # the first local file; the web address is skipped


def test_a_drop_without_a_local_file_does_nothing(qtbot):
    widget = _Target()
    qtbot.addWidget(widget)
    _drop(widget, _mime(QUrl("https://example.org/x.png")))
    assert widget.got == []
    assert "*.jpg" in IMAGE_FILTER and "*.png" in IMAGE_FILTER


def test_the_browse_and_explain_panels_share_it():
    from fghash_gui.panels.browse import BrowsePanel
    from fghash_gui.panels.explain import ExplainPanel

    assert BrowsePanel.image_dropped is BrowsePanel.query_external
    assert ExplainPanel.image_dropped is ExplainPanel.set_image
    assert BrowsePanel.dropEvent is ExplainPanel.dropEvent is ImageDropMixin.dropEvent
