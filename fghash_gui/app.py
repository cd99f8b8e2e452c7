"""Application entry point: QApplication, stylesheet, main window."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def stylesheet() -> str:
    """The app's Qt stylesheet (empty if the resources folder is not installed)."""
    path = RESOURCES / "style.qss"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def create_app(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (reused if one exists, e.g. under pytest-qt), styled."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv or sys.argv[:1]))
    app.setApplicationName("fghash")
    app.setOrganizationName("fghash")
    app.setStyle("Fusion")  # the same look on every platform; the stylesheet builds on it
    app.setStyleSheet(stylesheet())
    return app


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fghash-gui", description="fghash desktop workbench")
    parser.add_argument("run", nargs="?", help="run id, unique id prefix, folder or 'latest' to open in Browse")
    return parser.parse_args(argv)


def launch(argv: Sequence[str] | None = None):
    """Create the app and show the main window (opening RUN in Browse if given); returns the window."""
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    create_app()
    # Imported late: pyqtgraph needs the QApplication's platform before it configures itself.
    from fghash_gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if args.run:
        window.open_run(args.run)
    return window


def main(argv: Sequence[str] | None = None) -> int:
    """`fghash-gui [RUN]` and `python -m fghash_gui [RUN]`."""
    window = launch(argv)
    app = QApplication.instance()
    # Ctrl+C in the terminal closes the window like its close button (asking first during training).
    # Python only sees the signal when it runs, so a timer hands it control a few times a second.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)
    code = app.exec()
    wake.stop()
    del window
    return code
