"""fghash engine: fine-grained deep hashing (ADSH, FCAENet, Multi-FusNet), Qt-free."""

__version__ = "0.1.0"  # the one place the version is set (pyproject.toml reads it)
__distribution__ = "fghash"  # lets the launchers tell this `core` from another distribution's (fghash_gui/engine_check.py)
