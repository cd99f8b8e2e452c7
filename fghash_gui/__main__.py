"""`python -m fghash_gui [RUN]` starts the app (optionally opening a run in Browse)."""

import sys

from fghash_gui.engine_check import gui

sys.exit(gui())
