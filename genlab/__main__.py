"""`python -m genlab ...`: the CLI twin of every UI action."""

from __future__ import annotations

import sys

from genlab.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
