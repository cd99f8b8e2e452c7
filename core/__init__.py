"""fghash engine: fine-grained deep hashing (ADSH, FCAENet, Multi-FusNet), Qt-free."""

__version__ = "0.1.0"
