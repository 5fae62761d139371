"""`python -m optimizer` is the same as the `sourcing` command."""

import sys

from optimizer.runs.cli import main

sys.exit(main())
