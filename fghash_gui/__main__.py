"""`python -m fghash_gui [RUN]` starts the app (optionally opening a run in Browse)."""

import sys

from fghash_gui.app import main

sys.exit(main())
