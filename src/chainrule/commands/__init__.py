"""The subcommands of the ``chainrule`` program, one module each.

Each module defines ``add_parser(subparsers)``, which adds its sub-parser and sets
``run=<function(args) -> exit code>`` as a default. ``chainrule.cli`` finds the modules here by
itself, so adding a command is adding a file.
"""


class CommandError(Exception):
    """Bad input to a command: printed as one sentence, with exit status 2 and no traceback."""
