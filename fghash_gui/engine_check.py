"""Console entry points `fghash` and `fghash-gui`, which first check that `core` is fghash's engine.

fghash installs its engine as the top-level package `core` (README, "Install": the name is kept because
users' scripts and the documentation import `core.engine`). `core` is a generic name: another distribution
in the same environment may install one too and overwrite fghash's files. Instead of failing later with an
unrelated ImportError or, worse, running someone else's code, the launchers refuse with one line that names
the distributions claiming `core` and the fix (a separate environment, e.g. pipx). This module imports no Qt.
"""

from __future__ import annotations

import sys
from importlib import metadata

ENGINE_MARK = "fghash"  # core.__distribution__ in fghash's engine


def engine_problem() -> str | None:
    """None when `import core` gives fghash's engine, else a one-line explanation."""
    try:
        import core
    except ImportError as exc:
        return f"fghash's engine package `core` cannot be imported ({exc}); reinstall fghash"
    if getattr(core, "__distribution__", None) == ENGINE_MARK:
        return None
    where = getattr(core, "__file__", None) or ", ".join(getattr(core, "__path__", []))
    owners = sorted(set(metadata.packages_distributions().get("core", [])) - {"fghash"})
    by = f" (also installed by: {', '.join(owners)})" if owners else ""
    return (f"the package `core` in this environment is not fghash's engine: {where}{by}; install fghash in an "
            f"environment of its own, e.g. `pipx install fghash`")


def _refuse_foreign_engine() -> None:
    problem = engine_problem()
    if problem:
        print(f"fghash: error: {problem}", file=sys.stderr)
        raise SystemExit(2)


def cli() -> int:
    """`fghash ...`"""
    _refuse_foreign_engine()
    from core.cli import main

    return main()


def gui() -> int:
    """`fghash-gui ...`"""
    _refuse_foreign_engine()
    from fghash_gui.app import main

    return main()
