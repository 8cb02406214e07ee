"""The ``xnat`` command: one subcommand per module in this package.

Each command module has ``register(subparsers)``, which adds its parser and sets
``handler`` to a function ``(args) -> int``. User mistakes are raised as
:class:`CommandError` (or an :class:`~xnat.exceptions.XNATError`) and printed as one
line on stderr with a non-zero exit status, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from xnat import __version__
from xnat.exceptions import XNATError

__all__ = ["main", "CommandError"]


class CommandError(Exception):
    """A mistake in how the command was called; its message is shown to the user."""


def build_parser() -> argparse.ArgumentParser:
    from xnat.cli import serve  # one import per command; each is light until run

    parser = argparse.ArgumentParser(
        prog="xnat",
        description="Work with an XNAT imaging archive from the command line.",
        epilog="Run 'xnat COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"xnat {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    serve.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xnat`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args) or 0)
    except (CommandError, XNATError) as error:
        print(f"xnat: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
