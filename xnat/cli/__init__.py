"""The ``xnat`` command: one subcommand per module in this package.

Each command module has ``register(subparsers)``, which adds its parser and sets
``handler`` to a function ``(args) -> int``. User mistakes are raised as
:class:`CommandError` (or an :class:`~xnat.exceptions.XNATError`) and printed as one
line on stderr with a non-zero exit status, never as a traceback.

Modules: :mod:`.common` (connection options, opening a session, printing rows),
:mod:`.errors` (``CommandError``), and one per command: :mod:`.demo`, :mod:`.login`
(``login``/``logout``), :mod:`.ls`, :mod:`.rest` (raw REST verbs),
:mod:`.transfer` (``download``/``upload``), :mod:`.services` (``import``, ``prearchive``),
:mod:`.serve` (the embedded server) and :mod:`.bids` (``bids export``, ``bids upload-derivatives``).

Exit statuses: 0 success, 1 an error (bad input, the server refused, not found),
2 the command line itself is wrong (unknown option, missing argument), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from xnat import __version__
from xnat.cli.errors import CommandError
from xnat.exceptions import XNATError

__all__ = ["CommandError", "build_parser", "main"]

EPILOG = """\
getting started:
  xnat demo                                  # a tour on a built-in server, nothing to set up
  xnat serve --port 8080 --background        # an XNAT-like server to try scripts against
  export XNATPY_HOST=http://127.0.0.1:8080 XNATPY_USER=admin XNATPY_PASS=admin
  xnat ls                                    # projects
  xnat ls DEMO/DEMO_001                      # experiments of a subject
  xnat download DEMO/DEMO_001/DEMO_001_MR1 ./data

Run 'xnat COMMAND --help' for the options and examples of a command."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line that says where the help is.

    Abbreviated options are off: ``--password s3cr`` must not be taken as ``--password-stdin``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}{_did_you_mean(message)} (see '{self.prog} --help')\n")


def _did_you_mean(message: str) -> str:
    """For a mistyped command ("invalid choice: 'lss' (choose from ...)"), the closest ones."""
    import difflib
    import re

    found = re.match(r"argument COMMAND: invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if found is None:
        return ""
    choices = re.findall(r"'?([\w-]+)'?", found.group(2))
    close = difflib.get_close_matches(found.group(1), choices, n=3)
    return f"; did you mean {' or '.join(repr(name) for name in close)}?" if close else ""


def build_parser() -> argparse.ArgumentParser:
    # One import per command; each module is light until its command runs.
    from xnat.cli import bids, demo, login, ls, rest, serve, services, transfer

    parser = _Parser(
        prog="xnat",
        description="Work with an XNAT imaging archive from the command line.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"xnat {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    demo.register(commands)
    login.register(commands)
    ls.register(commands)
    transfer.register(commands)
    services.register(commands)
    rest.register(commands)
    serve.register(commands)
    bids.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xnat`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for a command that runs itself again
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args) or 0)
    except (CommandError, XNATError) as error:
        print(f"xnat: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `xnat ls | head`: the reader left; not an error worth a trace
        _silence_stdout()
        return 0
    except OSError as error:  # a local file problem (permissions, disk full, ...)
        where = f" {error.filename}" if error.filename else ""
        print(f"xnat: error:{where}: {error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("xnat: interrupted", file=sys.stderr)
        return 130


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
