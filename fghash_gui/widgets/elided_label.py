"""A one-line QLabel that elides its text in the middle to fit its width and shows the full text on hover.

Class, file and run names share long prefixes and suffixes ("20261127-...-fcaenet-cub-12b-ab12",
"Black_footed_Albatross_0001_796111.jpg"): cutting the middle keeps both ends readable.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """``text()`` is the full text; what is painted is elided in the middle; the tooltip is the full text."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(60)
        self._own_tooltip = True
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setText(text)
        if self._own_tooltip:
            super().setToolTip(text)

    def setToolTip(self, tip: str) -> None:  # noqa: N802 - Qt override
        """An explicit tooltip (e.g. an error's full message) replaces the full-text one; "" restores it."""
        self._own_tooltip = not tip
        super().setToolTip(tip or self.text())

    def elided_text(self) -> str:
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideMiddle, max(self.width(), 1))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(60, super().minimumSizeHint().height())

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.rect(), int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), self.elided_text())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.update()
