"""``python -m chainrule`` runs the chainrule program."""

import sys

from .cli import main

sys.exit(main())
