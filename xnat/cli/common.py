"""What every command that talks to a server shares: connection options and output.

Where the server and the credentials come from, in order (the library's own order, see
:mod:`xnat.auth`):

1. ``--host``, ``--user`` (and a password read from stdin with ``--password-stdin``);
2. the environment: ``XNATPY_HOST``/``XNAT_HOST``, ``XNATPY_USER``/``XNAT_USER``,
   ``XNATPY_PASS``/``XNAT_PASS``, and ``XNATPY_JSESSION``/``XNAT_JSESSION`` for a session id
   printed by ``xnat login``;
3. the netrc file (``--netrc``, else ``$NETRC``, else ``~/.netrc``; it must be mode 600);
4. a password prompt, when a user is known and stdin is a terminal.

There is deliberately no ``--password`` option: a password on the command line is visible
to every user of the machine (``ps``) and lands in shell history.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = [
    "JSESSION_VARIABLES",
    "connect",
    "connection_options",
    "open_session",
    "parse_pairs",
    "print_rows",
    "session_id",
]

JSESSION_VARIABLES = ("XNATPY_JSESSION", "XNAT_JSESSION")

CONNECTION_EPILOG = """\
Connection: the server comes from --host, else XNATPY_HOST or XNAT_HOST. Credentials come
from --user and XNATPY_PASS/XNAT_PASS, else from ~/.netrc (mode 600), else a prompt; a
session id from 'xnat login' is reused with XNATPY_JSESSION (or --jsession)."""


def connection_options() -> argparse.ArgumentParser:
    """A parent parser with the options every server command takes."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection")
    group.add_argument("--host", metavar="URL",
                       help="the XNAT server, e.g. https://xnat.example.org (default: $XNATPY_HOST or $XNAT_HOST)")
    group.add_argument("-u", "--user", metavar="NAME",
                       help="user name or alias token (default: $XNATPY_USER, $XNAT_USER or the netrc entry)")
    group.add_argument("--password-stdin", action="store_true",
                       help="read the password (or token secret) from the first line of stdin")
    group.add_argument("--netrc", metavar="FILE", help="netrc file with credentials (default: $NETRC or ~/.netrc)")
    group.add_argument("--jsession", metavar="ID",
                       help="reuse a session id from 'xnat login' (prefer $XNATPY_JSESSION: options show up in ps)")
    group.add_argument("--timeout", type=_positive_float, metavar="SECONDS", default=300.0,
                       help="timeout of each request in seconds (default: %(default)s)")
    group.add_argument("--insecure", action="store_true", help="do not check the server's TLS certificate")
    group.add_argument("-v", "--verbose", action="count", default=0,
                       help="log what happens on stderr (-vv for every request)")
    return parent


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _configure_logging(verbosity: int) -> None:
    # The command line is an application: it may set up logging; the library never does.
    if verbosity <= 0:
        return
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s",
                        level=logging.DEBUG if verbosity > 1 else logging.INFO)


def session_id(args: argparse.Namespace) -> str | None:
    """The session id to reuse: --jsession, else XNATPY_JSESSION or XNAT_JSESSION."""
    if getattr(args, "jsession", None):
        return str(args.jsession)
    for name in JSESSION_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _read_password(args: argparse.Namespace) -> str | None:
    from xnat.cli.errors import CommandError

    if not getattr(args, "password_stdin", False):
        return None
    if not args.user and not os.environ.get("XNATPY_USER") and not os.environ.get("XNAT_USER"):
        raise CommandError("--password-stdin needs a user: give --user NAME (or set XNATPY_USER)")
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise CommandError("--password-stdin: no password on stdin")
    return password


def connect(args: argparse.Namespace, *, model: bool = True, keep_server_session: bool | None = None) -> Any:
    """Connect as the options, environment and netrc say; returns the session.

    ``model=False`` skips reading the server's schemas (enough for ``rest`` and ``login``).
    A reused session id (``--jsession``) is never logged out at the end; a fresh login is,
    unless ``keep_server_session`` says otherwise.
    """
    import xnat
    from xnat.cli.errors import CommandError
    from xnat.exceptions import XNATAuthError

    _configure_logging(getattr(args, "verbose", 0))
    password = _read_password(args)
    jsession = session_id(args)
    user = args.user
    if jsession is not None:
        # A session id stands in for the credentials: do not read or prompt for any.
        user = password = None
    if keep_server_session is None:
        keep_server_session = jsession is not None
    if not args.host and not any(os.environ.get(name) for name in ("XNATPY_HOST", "XNAT_HOST")):
        raise CommandError("no XNAT server given: pass --host URL, or set XNATPY_HOST (or XNAT_HOST)")
    try:
        return xnat.connect(
            server=args.host, user=user, password=password, netrc_file=args.netrc,
            verify=not args.insecure, default_timeout=args.timeout, jsession=jsession,
            cli=keep_server_session, no_parse_model=not model, keepalive=False,
            debug=getattr(args, "verbose", 0) > 1,
        )
    except XNATAuthError as error:
        # The library's advice names its keyword argument; on the command line it is an option.
        message = str(error)
        if "pass password=" not in message:
            raise
        raise CommandError(message.replace("pass password=", "pipe it to --password-stdin")) from None


@contextmanager
def open_session(args: argparse.Namespace, *, model: bool = True) -> Iterator[Any]:
    """:func:`connect`, then disconnect (logging out a fresh login) when the command ends."""
    session = connect(args, model=model)
    try:
        yield session
    finally:
        session.disconnect()


def parse_pairs(items: Sequence[str] | None, option: str) -> dict[str, str]:
    """``["a=1", "b=x*"]`` -> ``{"a": "1", "b": "x*"}``; a malformed item is a CommandError."""
    from xnat.cli.errors import CommandError

    pairs: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"{option} expects NAME=VALUE, not {item!r}")
        pairs[key.strip()] = value
    return pairs


# ----------------------------------------------------------------------------- output
def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str,
               stream: Any = None) -> None:
    """Print ``rows`` (dicts) with ``columns`` as an aligned table, CSV or JSON."""
    stream = stream or sys.stdout
    if fmt == "json":
        json.dump([{c: row.get(c, "") for c in columns} for row in rows], stream, indent=2)
        stream.write("\n")
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        stream.write(buffer.getvalue())
        return
    table = [[str(c) for c in columns]]
    table += [["" if row.get(c) is None else str(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for index, line in enumerate(table):
        stream.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() + "\n")
        if index == 0:
            stream.write("  ".join("-" * width for width in widths) + "\n")
