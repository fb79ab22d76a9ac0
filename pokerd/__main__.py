"""`python -m pokerd`: the same as the `pokerd` command."""

import sys

from pokerd.cli import main

sys.exit(main())
