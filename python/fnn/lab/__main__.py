"""``python -m fnn.lab``: see `fnn.lab.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
