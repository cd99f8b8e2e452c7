"""The files the app ships (stylesheet, icons), found with importlib.resources.

In a wheel the build maps the repository's `resources/` folder to the package `fghash_gui.resources`
(setup.py). A source checkout, and an editable install (setuptools puts the checkout on sys.path, measured:
the mapped package is not importable there), have no such package, so the folder beside `fghash_gui/` is
used, and only when it is this project's checkout (a `pyproject.toml` naming fghash stands beside it): a
top-level `resources` folder in site-packages belongs to whichever distribution wrote it and is never read.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)  # the PNG sizes shipped beside fghash.svg (docs/make_icons.py)


def assets_dir() -> Path:
    """The folder holding style.qss, fghash.svg and fghash-<size>.png (a real folder: Qt needs file paths)."""
    try:
        packaged = resources.files("fghash_gui.resources")
    except ModuleNotFoundError:
        packaged = None
    # joinpath, not the folder itself: for a package without __init__.py the folder is a MultiplexedPath,
    # while a file in it is a real path.
    style = packaged.joinpath("style.qss") if packaged is not None else None
    if style is not None and style.is_file():
        return Path(str(style)).parent
    pyproject = _CHECKOUT / "pyproject.toml"
    if pyproject.is_file() and 'name = "fghash"' in pyproject.read_text(encoding="utf-8"):
        return _CHECKOUT / "resources"
    raise FileNotFoundError("fghash's resources are missing: the package fghash_gui.resources is not installed "
                            "(reinstall fghash)")


def asset(name: str) -> Path:
    """The shipped file NAME (e.g. "style.qss", "fghash.svg", "fghash-48.png")."""
    return assets_dir() / name
