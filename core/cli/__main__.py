"""`python -m core.cli ...` runs the `fghash` command line (used by tests and torchrun)."""

import sys

from core.cli import main

sys.exit(main())
