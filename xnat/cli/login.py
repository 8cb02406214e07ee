"""``xnat login`` and ``xnat logout``: a server session to reuse across commands.

``xnat login`` logs in once and prints the session id; later commands reuse it through
``XNATPY_JSESSION`` (no password asked again, no new login on the server)::

    export XNATPY_JSESSION=$(xnat login --host https://xnat.example.org --user alice)
    xnat ls
    xnat logout

The id is printed alone on stdout so that ``$(...)`` captures it; keep it private, it
stands for your password until the server session ends.

``xnat login --save-token`` instead asks the server for an alias token and adds it to
the netrc file (created with mode 600) for the host, so that later commands log in with
it and no password is stored anywhere. Tokens expire on the server's schedule (two days
by default on XNAT); run it again then.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from xnat.cli.common import CONNECTION_EPILOG, connect, connection_options, open_session, session_id

LOGIN_EPILOG = f"""\
examples:
  export XNATPY_JSESSION=$(xnat login --host https://xnat.example.org --user alice)
  xnat ls                      # reuses the session: no password asked
  xnat logout                  # ends it on the server

  xnat login --host https://xnat.example.org --user alice --save-token
  xnat ls --host https://xnat.example.org   # logs in with the token from ~/.netrc

{CONNECTION_EPILOG}"""

LOGOUT_EPILOG = f"""\
examples:
  xnat logout                  # the session in $XNATPY_JSESSION
  unset XNATPY_JSESSION

{CONNECTION_EPILOG}"""


def register(commands: Any) -> None:
    login = commands.add_parser(
        "login", parents=[connection_options()], help="log in and print a session id to reuse",
        description="Log in to an XNAT server and print the server session id on stdout, "
                    "for XNATPY_JSESSION. The session lives until 'xnat logout' or until the "
                    "server expires it (after its idle timeout).",
        epilog=LOGIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    login.add_argument("--save-token", action="store_true",
                       help="save an alias token for this host in the netrc file (mode 600) "
                            "instead of printing a session id")
    login.set_defaults(handler=run_login)
    logout = commands.add_parser(
        "logout", parents=[connection_options()], help="end a session started by 'xnat login'",
        description="End the server session given by --jsession or XNATPY_JSESSION/XNAT_JSESSION.",
        epilog=LOGOUT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logout.set_defaults(handler=run_logout)


def run_login(args: argparse.Namespace) -> int:
    if args.save_token:
        return _save_token(args)
    session = connect(args, model=False, keep_server_session=True)
    try:
        jsession = session.jsession
        user = session.logged_in_user or "guest"
        server = session.server
    finally:
        session.disconnect()  # closes sockets; the server-side session stays alive
    print(jsession, flush=True)
    if sys.stdout.isatty():  # a person reading, not $(...) capturing: say how to use it
        print(f"Logged in to {server} as {user}. Reuse this session with:\n"
              f"  export XNATPY_JSESSION={jsession}", file=sys.stderr)
    return 0


def run_logout(args: argparse.Namespace) -> int:
    from xnat.cli.errors import CommandError
    if session_id(args) is None:
        raise CommandError("no session to log out of: give --jsession ID or set XNATPY_JSESSION")
    # A reused session that is disconnected without keeping it alive is logged out
    # on the server (DELETE /data/JSESSION).
    session = connect(args, model=False, keep_server_session=False)
    server = session.server
    session.disconnect()
    print(f"Logged out of {server}", file=sys.stderr)
    return 0


def _save_token(args: argparse.Namespace) -> int:
    """Issue an alias token and append it to the netrc file for the server's host."""
    from urllib.parse import urlsplit

    from xnat.auth import check_netrc_permissions, default_netrc_path
    from xnat.cli.errors import CommandError
    from xnat.services import Services

    path = default_netrc_path(args.netrc)
    if path.exists():
        check_netrc_permissions(path)  # never add a secret to a file others can read
    with open_session(args, model=False) as session:
        host = urlsplit(session.server).netloc
        existing = _netrc_hosts(path)
        if host in existing or (urlsplit(session.server).hostname or "") in existing:
            raise CommandError(f"{path} already has an entry for {host}: remove it first, then log in again")
        services = getattr(session, "services", None) or Services(session)
        token = services.issue_token()
        user = session.logged_in_user
    _check_plain(token.alias, "alias")
    _check_plain(token.secret, "secret")
    _append_entry(path, host, token.alias, token.secret)
    print(f"Saved an alias token for {user} on {host} in {path}; it expires on the server's schedule",
          file=sys.stderr)
    return 0


#: What a token's alias and secret may hold: XNAT issues UUIDs and base64-like text.
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,512}")


def _check_plain(value: str, what: str) -> None:
    """Refuse a token value that would change the netrc file's meaning if written there.

    A value with a space, a newline or a quote would end the entry and could add another
    (``default login ... password ...``) that sends a password to any host.
    """
    from xnat.cli.errors import CommandError

    if not _PLAIN_TOKEN.fullmatch(value):
        raise CommandError(f"the server issued a token {what} that is not a plain token (it holds spaces, "
                           "line breaks, quotes or other characters a netrc file cannot carry safely); "
                           "nothing was saved")


def _netrc_hosts(path: Path) -> set[str]:
    import netrc

    if not path.exists():
        return set()
    try:
        return set(netrc.netrc(str(path)).hosts)
    except (netrc.NetrcParseError, OSError):
        from xnat.cli.errors import CommandError

        raise CommandError(f"{path} could not be read: check its syntax") from None


def _append_entry(path: Path, host: str, login: str, password: str) -> None:
    import os

    # Created 0600 from the start; an existing file was checked to be private already.
    needs_newline = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as stream:
        if needs_newline:
            stream.write("\n")
        stream.write(f"machine {host} login {login} password {password}\n")
