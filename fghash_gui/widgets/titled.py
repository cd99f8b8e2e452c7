"""A widget with its title above it (Browse's result grids, Explain's views)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


def titled(label: QLabel, widget: QWidget) -> QWidget:
    """`label` above `widget`, which takes the spare height; no margins of its own."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(label)
    layout.addWidget(widget, 1)
    return box
