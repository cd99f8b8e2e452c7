"""Render the application icon resources/fghash.svg to the PNG sizes the app and the desktop entry use.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_icons.py

Run it after changing the SVG; the PNGs are committed (a desktop without SVG support still gets an icon).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
SIZES = (16, 24, 32, 48, 64, 128, 256)


def render(svg: Path, size: int, out: Path) -> None:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(svg)).render(painter)
    painter.end()
    if not image.save(str(out)):
        raise SystemExit(f"could not write {out}")


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])
    for size in SIZES:
        render(RESOURCES / "fghash.svg", size, RESOURCES / f"fghash-{size}.png")
    print(f"wrote {len(SIZES)} PNG sizes to {RESOURCES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
