"""``xnat login`` and ``xnat logout``: a server session to reuse across commands.

``xnat login`` logs in once and prints the session id; later commands reuse it through
``XNATPY_JSESSION`` (no password asked again, no new login on the server)::

    export XNATPY_JSESSION=$(xnat login --host https://xnat.example.org --user alice)
    xnat ls
    xnat logout

The id is printed alone on stdout so that ``$(...)`` captures it; keep it private, it
stands for your password until the server session ends.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from xnat.cli.common import CONNECTION_EPILOG, connect, connection_options

LOGIN_EPILOG = f"""\
examples:
  export XNATPY_JSESSION=$(xnat login --host https://xnat.example.org --user alice)
  xnat ls                      # reuses the session: no password asked
  xnat logout                  # ends it on the server

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
    login.set_defaults(handler=run_login)
    logout = commands.add_parser(
        "logout", parents=[connection_options()], help="end a session started by 'xnat login'",
        description="End the server session given by --jsession or XNATPY_JSESSION/XNAT_JSESSION.",
        epilog=LOGOUT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logout.set_defaults(handler=run_logout)


def run_login(args: argparse.Namespace) -> int:
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
    from xnat.cli import CommandError
    from xnat.cli.common import _jsession

    if _jsession(args) is None:
        raise CommandError("no session to log out of: give --jsession ID or set XNATPY_JSESSION")
    # A reused session that is disconnected without keeping it alive is logged out
    # on the server (DELETE /data/JSESSION).
    session = connect(args, model=False, keep_server_session=False)
    server = session.server
    session.disconnect()
    print(f"Logged out of {server}", file=sys.stderr)
    return 0
