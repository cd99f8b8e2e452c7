"""Labels for long names. ElidedLabel: one line, elided in the middle to fit its width, the full text on hover.
WrappedNameLabel (and wrap_name, which the result grid's cells use too): up to two lines broken after the name's
separators, then elided in the middle.

Class, file and run names share long prefixes and suffixes ("20261127-...-fcaenet-cub-12b-ab12",
"Black_footed_Albatross_0001_796111.jpg"): cutting the middle keeps both ends readable.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFontMetrics, QPainter, QResizeEvent
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


BREAK_AFTER = " _./-·"  # where a name may wrap: after its separators (a file or class name has no spaces)


def wrap_name(text: str, metrics: QFontMetrics, width: int, max_lines: int = 2) -> list[str]:
    """`text` in at most `max_lines` lines of at most `width` px: each line as long as fits, broken after a
    separator when one is in its second half (else anywhere); the last line elided in the middle."""
    lines: list[str] = []
    rest = text
    width = max(width, 1)
    while rest and len(lines) < max_lines - 1 and metrics.horizontalAdvance(rest) > width:
        fit = 1
        while fit < len(rest) and metrics.horizontalAdvance(rest[:fit + 1]) <= width:
            fit += 1
        breaks = [i + 1 for i in range(fit // 2, fit) if rest[i] in BREAK_AFTER]
        cut = breaks[-1] if breaks else fit
        lines.append(rest[:cut])
        rest = rest[cut:].lstrip(" ")
    if rest or not lines:
        lines.append(metrics.elidedText(rest, Qt.TextElideMode.ElideMiddle, width))
    return lines


class WrappedNameLabel(QLabel):
    """A label for a long file or class name: up to `max_lines` lines broken after separators (wrap_name),
    the last elided in the middle; ``text()`` and the tooltip are the full text."""

    def __init__(self, text: str = "", max_lines: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.max_lines = max_lines
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._own_tooltip = True
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override; as ElidedLabel's
        super().setText(text)
        if self._own_tooltip:
            super().setToolTip(text)

    def setToolTip(self, tip: str) -> None:  # noqa: N802 - Qt override; as ElidedLabel's
        self._own_tooltip = not tip
        super().setToolTip(tip or self.text())

    def lines(self) -> list[str]:
        return wrap_name(self.text(), self.fontMetrics(), self.width(), self.max_lines)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(200, self.fontMetrics().lineSpacing() * self.max_lines + 2)

    minimumSizeHint = sizeHint  # noqa: N815

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         "\n".join(self.lines()))
