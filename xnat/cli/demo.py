"""``xnat demo``: a guided tour on a built-in XNAT server, with nothing to set up."""

from __future__ import annotations

import argparse
from typing import Any

EPILOG = """\
examples:
  xnat demo                                   # start a server, tour it, stop it
  xnat demo --keep                            # ... and leave the server running (Ctrl-C stops it)

  xnat serve --port 8080 &                    # or tour a server that is already running,
  xnat demo --server http://127.0.0.1:8080    # then look at what the demo made:
  xnat ls DEMO --host http://127.0.0.1:8080 --user admin"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo", help="a guided tour on a built-in XNAT server",
        description="Start an embedded XNAT server on a free port, fill it with a small sample "
                    "study, and walk through connecting, listing, a typed property, creating a "
                    "subject and session, uploading, downloading and a search. The code of each "
                    "step is printed with its result. The server stops at the end.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--server", metavar="URL",
                        help="tour this running server (e.g. from 'xnat serve') instead of starting one; "
                             "the demo's data stays there")
    parser.add_argument("-u", "--user", default="admin",
                        help="an administrator of --server (default: %(default)s)")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read that user's password from stdin (default: 'admin', or $XNATPY_PASS)")
    parser.add_argument("--project", default="DEMO", metavar="ID",
                        help="ID of the sample project to create; it must not exist yet (default: %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the built-in server running after the tour, until Ctrl-C")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import os
    import re
    import sys

    from xnat.cli.errors import CommandError

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", args.project):
        raise CommandError(f"--project {args.project!r}: use letters, digits, '_' and '-' only")
    password = os.environ.get("XNATPY_PASS") or os.environ.get("XNAT_PASS") or "admin"
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if args.keep and args.server:
        raise CommandError("--keep is for the built-in server; a --server you gave keeps running anyway")
    if args.server is None:
        try:
            import werkzeug  # noqa: F401 -- the embedded server's one extra dependency
        except ImportError:
            raise CommandError('the demo needs the embedded server: pip install "xnat[server]"') from None
    from xnat.demo import run_demo
    from xnat.exceptions import XNATObjectAlreadyExistsError

    try:
        run_demo(args.server, user=args.user, password=password, project=args.project, keep=args.keep)
    except XNATObjectAlreadyExistsError:
        raise CommandError(
            f"a project {args.project} already exists on {args.server}: "
            f"pass --project ID to seed the sample study under another ID"
        ) from None
    return 0
