"""The ``chainrule`` program: ``chainrule seed``, ``chainrule train``, ``chainrule gradcheck``, ...

Every subcommand lives in ``chainrule/commands/<name>.py``. Bad input ends the program with one
sentence on stderr and exit status 2 (set CHAINRULE_DEBUG=1 to see the traceback instead); Ctrl-C
exits with 130, SIGTERM during a run with 143 and SIGHUP with 129 (after saving the run).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import sys

from . import __version__, commands
from .commands import CommandError
from .training.runs import Terminated

USER_ERRORS = (CommandError, ValueError, TypeError, OSError, ImportError)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in chainrule's one shape: one sentence on stderr, exit status 2,
    and where to read more instead of the whole usage block."""

    def error(self, message):
        value = re.fullmatch(r"argument (\S+?)(?:/\S+)?: invalid (float|int) value: (.*)", message)
        choice = re.fullmatch(r"argument (\S+?)(?:/\S+)?: invalid choice: (.*) \(choose from (.*)\)",
                              message)
        if value:
            flag, kind, got = value.groups()
            sentence = f"{flag} must be {'a number' if kind == 'float' else 'an integer'}. " \
                       f"Got {got} instead"
        elif choice:
            flag, got, choices = choice.groups()
            sentence = f"{flag} must be one of {choices.replace(chr(39), '')}. Got {got} instead"
        else:
            sentence = (message[:1].upper() + message[1:]).rstrip(".")
        self.exit(2, f"{self.prog}: error: {sentence}. See {self.prog} --help.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chainrule",
        description="Hand-written backprop on NumPy, checked against PyTorch.",
        epilog="Run 'chainrule COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"chainrule.commands.{info.name}").add_parser(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except Terminated as stop:  # SIGTERM, SIGHUP during a run (runs.signals_interrupt)
        print(f"chainrule {args.command}: stopped by {stop.name}.", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print(f"chainrule {args.command}: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except USER_ERRORS as err:
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        print(f"chainrule {args.command}: error: {_sentence(err)}", file=sys.stderr)
        return 2


def _sentence(err: Exception) -> str:
    """The error as one sentence; for an OS error, the path and the reason, without errno."""
    if isinstance(err, OSError) and err.strerror and not isinstance(err, CommandError):
        where = err.filename if err.filename is not None else "a file"
        return f"{where}: {err.strerror.lower()}."
    return str(err)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
