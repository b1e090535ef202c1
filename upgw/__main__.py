"""``python -m upgw upload FILE``: the command-line uploader, without the server's dependencies."""

from __future__ import annotations

import sys

from upgw import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m upgw"))
