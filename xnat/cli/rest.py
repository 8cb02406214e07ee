"""``xnat rest``: one raw REST request, for whatever the other commands do not cover.

The answer's body goes to stdout (or ``--output FILE``) byte for byte; a status the
request does not accept is an error (one line, exit status 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from xnat.cli.common import CONNECTION_EPILOG, connection_options, open_session, parse_pairs

VERBS = ("get", "head", "put", "post", "delete")

EPILOG = f"""\
examples:
  xnat rest get /data/projects --query format=json
  xnat rest get /data/projects/P1/subjects --query format=csv --query columns=ID,label
  xnat rest put /data/projects/P1/subjects/S9
  xnat rest post /data/services/refresh/catalog --query resource=/archive/projects/P1
  xnat rest put /data/projects/P1/resources/NOTES/files/a.txt --data @a.txt
  xnat rest delete /data/projects/P1/subjects/S9 --query removeFiles=true

{CONNECTION_EPILOG}"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "rest", help="send one REST request (get, head, put, post, delete)",
        description="Send one request to the XNAT REST API and print the answer's body.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(title="methods", metavar="METHOD")
    for verb in VERBS:
        sub = verbs.add_parser(
            verb, parents=[connection_options()], help=f"{verb.upper()} a path",
            description=f"Send {verb.upper()} PATH and print the answer's body.",
            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("path", metavar="PATH", help="a path on the server, e.g. /data/projects")
        sub.add_argument("-q", "--query", action="append", metavar="NAME=VALUE",
                         help="a query parameter; repeat for more")
        sub.add_argument("-H", "--header", action="append", metavar="NAME=VALUE",
                         help="a request header; repeat for more")
        if verb in ("put", "post"):
            sub.add_argument("-d", "--data", metavar="TEXT|@FILE|@-",
                             help="the request body: text, @FILE for a file's contents, @- for stdin")
        sub.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the body here, not to stdout")
        sub.add_argument("-i", "--include", action="store_true",
                         help="print the status line and the answer's headers first")
        sub.add_argument("--accept", action="append", type=int, metavar="STATUS",
                         help="also accept this status instead of failing (e.g. 404); repeat for more")
        sub.set_defaults(handler=run, verb=verb)
    parser.set_defaults(handler=_no_verb(parser))


def _no_verb(parser: argparse.ArgumentParser) -> Any:
    def handler(args: argparse.Namespace) -> int:
        from xnat.cli.errors import CommandError

        raise CommandError(f"rest needs a method: {', '.join(VERBS)} (see 'xnat rest --help')")
    return handler


def _body(data: str | None) -> bytes | None:
    from xnat.cli.errors import CommandError

    if data is None:
        return None
    if data == "@-":
        return sys.stdin.buffer.read()
    if data.startswith("@"):
        path = Path(data[1:]).expanduser()
        try:
            return path.read_bytes()
        except OSError as error:
            raise CommandError(f"--data {data}: {error.strerror or error}") from None
    return data.encode("utf-8")


def run(args: argparse.Namespace) -> int:
    query = parse_pairs(args.query, "--query")
    headers = parse_pairs(args.header, "--header")
    body = _body(getattr(args, "data", None))
    with open_session(args, model=False) as session:
        accepted = {200, 201, 204} | set(args.accept or ())
        options: dict[str, Any] = {"query": query, "headers": headers or None, "accepted_status": accepted}
        if args.verb in ("put", "post"):
            options["data"] = body
        response = session.request(args.verb.upper(), args.path, **options)
        _write(args, response)
    return 0


def _write(args: argparse.Namespace, response: Any) -> None:
    out = sys.stdout.buffer if args.output is None else None
    if args.include:
        head = [f"HTTP {response.status_code} {response.reason or ''}".rstrip()]
        head += [f"{name}: {value}" for name, value in response.headers.items() if name.lower() != "set-cookie"]
        text = ("\n".join(head) + "\n\n").encode("utf-8")
        if out is not None:
            out.write(text)
        else:
            sys.stderr.write(text.decode("utf-8"))
    if args.output is not None:
        args.output.write_bytes(response.content)
        print(f"Wrote {len(response.content)} bytes to {args.output}", file=sys.stderr)
    else:
        out.write(response.content)  # type: ignore[union-attr]
        if response.content and not response.content.endswith(b"\n") and sys.stdout.isatty():
            out.write(b"\n")  # type: ignore[union-attr]
        out.flush()  # type: ignore[union-attr]
