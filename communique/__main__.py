"""`python -m communique`: the same as the `communique` command."""

import sys

from communique.cli import main

sys.exit(main())
