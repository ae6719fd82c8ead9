"""``python -m autograders``: see ``autograders/cli.py``."""

import sys

from autograders.cli import main

sys.exit(main())
