"""fghash desktop app: a PySide6 workbench over the Qt-free engine in ``core``."""
