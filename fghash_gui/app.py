"""Application entry point: QApplication, stylesheet, main window."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from fghash_gui.assets import ICON_SIZES, asset
from fghash_gui.desktop_entry import APP_ID


def stylesheet() -> str:
    """The app's Qt stylesheet."""
    return asset("style.qss").read_text(encoding="utf-8")


def app_icon() -> QIcon:
    """The application icon from its rendered PNG sizes, 16-256 px (Qt picks the nearest size; the SVG is for
    desktop icon themes, which scale it themselves)."""
    icon = QIcon()
    for size in ICON_SIZES:
        icon.addFile(str(asset(f"{APP_ID}-{size}.png")))
    return icon


def create_app(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (reused if one exists, e.g. under pytest-qt), styled."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv or sys.argv[:1]))
    app.setApplicationName("fghash")
    app.setOrganizationName("fghash")
    app.setDesktopFileName(APP_ID)  # ties the window to fghash.desktop (Wayland app id, taskbar grouping)
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")  # the same look on every platform; the stylesheet builds on it
    app.setStyleSheet(stylesheet())
    return app


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fghash-gui", description="fghash desktop workbench")
    parser.add_argument("run", nargs="?", help="run id, unique id prefix, folder or 'latest' to open in Browse")
    parser.add_argument("--train-in-process", action="store_true",
                        help="train on a thread of the app instead of a child process (for debugging: the "
                             "window's repaints then slow the training down)")
    entry = parser.add_mutually_exclusive_group()
    entry.add_argument("--install-desktop-entry", action="store_true",
                       help="add fghash with its icon to this user's desktop menu (writes fghash.desktop and the "
                            "icons under $XDG_DATA_HOME, default ~/.local/share) and exit")
    entry.add_argument("--uninstall-desktop-entry", action="store_true",
                       help="remove what --install-desktop-entry wrote and exit")
    return parser.parse_args(argv)


def _desktop_entry_command(args: argparse.Namespace) -> int:
    from fghash_gui import desktop_entry

    if args.install_desktop_entry:
        try:
            path = desktop_entry.install()
        except desktop_entry.DesktopEntryError as exc:
            print(f"fghash-gui: error: {exc}", file=sys.stderr)
            return 2
        print(f"installed the fghash launcher: {path} (icons under {desktop_entry.data_home() / 'icons'})")
    else:
        removed = desktop_entry.uninstall()
        print(f"removed {len(removed)} file(s)" + (f": {removed[-1]} and its icons" if removed else ""))
    return 0


def launch(argv: Sequence[str] | None = None):
    """Create the app and show the main window (opening RUN in Browse if given); returns the window."""
    return _show(parse_args(sys.argv[1:] if argv is None else list(argv)))


def _show(args: argparse.Namespace):
    create_app()
    # Imported late: pyqtgraph needs the QApplication's platform before it configures itself.
    from fghash_gui import gui_gc
    from fghash_gui.main_window import MainWindow

    gui_gc.install()  # Qt objects in reference cycles are collected on this thread, never on a worker
    window = MainWindow(train_in_process=args.train_in_process)
    window.show()
    if args.run:
        window.open_run(args.run)
    return window


def log_to_stderr() -> None:
    """Warnings and errors of the "fghash" loggers (the tracebacks of unexpected errors in the app's workers,
    store repairs) go to stderr with a time stamp."""
    logger = logging.getLogger("fghash")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
        handler.setLevel(logging.WARNING)
        logger.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """`fghash-gui [RUN]` and `python -m fghash_gui [RUN]`."""
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        return _desktop_entry_command(args)
    log_to_stderr()
    window = _show(args)
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
