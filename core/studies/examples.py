"""The study files fghash ships (`fghash study list --examples`): the papers' tables and a CPU demo.

They live in the repository's `resources/studies/`; a wheel installs that folder as the data package
`fghash_gui.resources` (setup.py), so the files are at fghash_gui/resources/studies/. Only the files are
read (importlib.resources), nothing of the app is imported.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from core.base.errors import ConfigError
from core.config.study_file import StudySpec, load_study

_CHECKOUT = Path(__file__).resolve().parents[2]


def examples_dir() -> Path:
    """The folder of the shipped study files."""
    pyproject = _CHECKOUT / "pyproject.toml"
    if pyproject.is_file() and 'name = "fghash"' in pyproject.read_text(encoding="utf-8"):
        return _CHECKOUT / "resources" / "studies"
    try:
        # one name per joinpath: the folder of a package without __init__.py is a MultiplexedPath, whose
        # joinpath takes one name (Python 3.11) and gives a real path for it
        marker = resources.files("fghash_gui.resources").joinpath("studies").joinpath("demo.toml")
    except ModuleNotFoundError:
        marker = None
    if marker is not None and marker.is_file():
        return Path(str(marker)).parent
    raise ConfigError("fghash's shipped study files are missing (reinstall fghash)")


def example_files() -> list[Path]:
    return sorted(examples_dir().glob("*.toml"))


def example_study(name: str) -> Path:
    """A shipped study file by its file name without .toml (e.g. "demo")."""
    path = examples_dir() / f"{name}.toml"
    if not path.is_file():
        names = ", ".join(p.stem for p in example_files())
        raise ConfigError(f"no shipped study {name!r}; the shipped ones are {names}")
    return path


def list_examples() -> list[tuple[Path, StudySpec | None, str]]:
    """[(file, its spec or None, "" or the one-line reason it does not read)] of every shipped file."""
    out = []
    for path in example_files():
        try:
            out.append((path, load_study(path), ""))
        except ConfigError as exc:
            out.append((path, None, str(exc)))
    return out
