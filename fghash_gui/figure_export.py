"""Export buttons' shared part: ask where to write a paper figure or table, build it on the request worker
(core.figures.export, the functions `fghash figure ...` calls), and report the written file.

Figures take seconds (attention figures run several CAMs), so the GUI thread only asks for the path and
shows the result. Each panel has its own exporter, hence its own worker channel: a second export from
the same panel supersedes the first, exports from different panels do not disturb each other.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from fghash_gui.workers import RequestRunner

FIGURE_FILTER = "PDF (*.pdf);;SVG (*.svg);;PNG (*.png)"
TABLE_FILTER = "LaTeX (*.tex);;Markdown (*.md);;CSV (*.csv)"
_channels = itertools.count()


class FigureExporter(QObject):
    """written(path) after a file is saved; failed(message) with a one-line reason."""

    written = Signal(str)
    failed = Signal(str)

    def __init__(self, requests: RequestRunner, parent: QWidget) -> None:
        super().__init__(parent)
        self._requests = requests
        self._widget = parent
        self._channel = f"figure-export-{next(_channels)}"
        self.last_path: str | None = None

    def ask_path(self, title: str, default_name: str, filters: str) -> str:
        """The file to write ("" when cancelled); a name without suffix gets the chosen filter's (tests
        replace this method)."""
        path, chosen = QFileDialog.getSaveFileName(self._widget, title, default_name, filters)
        if path and not Path(path).suffix and "*." in chosen:
            path += "." + chosen.split("*.", 1)[1].split(")", 1)[0]
        return path

    def export(self, title: str, default_name: str, filters: str, job: Callable[[str], object]) -> bool:
        """Ask for a path, then run job(path) on the worker. False when the user cancelled."""
        path = self.ask_path(title, default_name, filters)
        if not path:
            return False
        self._requests.submit(self._channel, job, path, on_result=self._on_written, on_error=self.failed.emit)
        return True

    def _on_written(self, path) -> None:
        self.last_path = str(path)
        self.written.emit(str(path))
