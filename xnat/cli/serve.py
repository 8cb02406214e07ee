"""``xnat serve``: run the embedded XNAT server until interrupted."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DEFAULT_USER = "admin:admin:admin"
# How long --background waits for the server to listen (a large --populate takes a while).
BACKGROUND_START_SECONDS = 300.0
# How many populated sessions get example scans with DICOM files unless --populate says files=N.
EXAMPLE_SESSIONS = 3


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="run an embedded XNAT server (for testing scripts offline)",
        description=(
            "Serve an embedded XNAT server that behaves like a real XNAT 1.8 to clients. "
            "It prints 'XNAT emulator listening on URL' and serves until interrupted (Ctrl-C). "
            "With --background it returns once the server answers, leaving it running."
        ),
        epilog=(
            "Examples: xnat serve --port 0 --user alice:secret --populate projects=1,subjects=10,experiments=2\n"
            "          xnat serve --port 8080 --background   # returns once listening; prints how to stop it"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--data-dir", type=Path,
                        help="keep the archive here (kept across restarts); default: a temporary folder")
    parser.add_argument("--schemas", type=Path,
                        help="serve this schema folder (laid out as dir/name.xsd) instead of the built-in one")
    parser.add_argument(
        "--user", action="append", metavar="NAME:PASSWORD[:admin]",
        help=f"a user who may log in; repeat for more (default: {DEFAULT_USER})",
    )
    parser.add_argument("--allow-anonymous", action="store_true", help="let requests without credentials in as guest")
    parser.add_argument("--populate", metavar="SPEC",
                        help="bulk-create data, e.g. projects=1,subjects=200,experiments=100 (per parent; "
                             f"scans=N adds scans, files=N gives the first N sessions scans with DICOM files; "
                             f"default files={EXAMPLE_SESSIONS})")
    parser.add_argument("--site-id", default="XNAT",
                        help="site ID, the prefix of server-made IDs (default: %(default)s)")
    parser.add_argument("--xnat-version", default=None, help="XNAT version the server reports (default: a 1.8.x)")
    parser.add_argument("--durable", action="store_true",
                        help="fsync every uploaded file before it is catalogued (slower; survives a power loss)")
    parser.add_argument("--extract-max-bytes", type=int, default=None, metavar="BYTES",
                        help="refuse (413) an extract=true upload expanding past this (default: 10 GiB)")
    parser.add_argument("--extract-max-ratio", type=float, default=None, metavar="N",
                        help="... or past N times its own size, beyond 16 MiB (default: 100)")
    parser.add_argument("--extract-max-files", type=int, default=None, metavar="N",
                        help="... or holding more than N files (default: 100000)")
    parser.add_argument("--search-timeout", type=float, default=None, metavar="SECONDS",
                        help="stop a search running longer than this with 503 (default: 60)")
    parser.add_argument("--idle-timeout", type=_positive_seconds, default=None, metavar="SECONDS",
                        help="close a kept-alive connection that sends no next request within this (default: 20)")
    parser.add_argument("--no-keep-alive", dest="keep_alive", action="store_false",
                        help="close every connection after one answer (default: keep connections alive)")
    parser.add_argument("--max-connections", type=_at_least_one, default=None, metavar="N",
                        help="serve at most N connections at once; one more is answered 503 (default: 256)")
    parser.add_argument("--background", action="store_true",
                        help="run the server in a background process and return once it is listening")
    parser.add_argument("--ready-file", type=Path, metavar="PATH",
                        help="write the server's URL to PATH once it is listening (for scripts to wait on)")
    parser.set_defaults(handler=run)


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return seconds


def _at_least_one(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def _check_users(users: list[str]) -> list[str]:
    from xnat.cli.errors import CommandError

    for user in users:
        parts = user.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1] or (len(parts) == 3 and parts[2] != "admin"):
            raise CommandError(f"--user must be NAME:PASSWORD or NAME:PASSWORD:admin, not {parts[0]!r}:...")
    return users


def run(args: argparse.Namespace) -> int:
    from xnat.cli.errors import CommandError

    if args.background:
        return _serve_in_background(getattr(args, "argv", sys.argv[1:]))
    try:
        from xnat.testing.runner import XNATServer
    except ImportError as error:  # werkzeug is an extra
        raise CommandError(
            f"the embedded server needs the 'server' extra: pip install \"xnat[server]\" ({error})"
        ) from None
    if args.schemas is not None and not args.schemas.is_dir():
        raise CommandError(f"--schemas {args.schemas}: no such folder")
    options: dict[str, Any] = {
        "users": _check_users(args.user or [DEFAULT_USER]),
        "allow_anonymous": args.allow_anonymous,
        "site_id": args.site_id,
        "durable": args.durable,
        "keep_alive": args.keep_alive,
    }
    for name in ("extract_max_bytes", "extract_max_ratio", "extract_max_files", "search_timeout", "idle_timeout",
                 "max_connections"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    if args.schemas is not None:
        options["schemas"] = args.schemas
    if args.xnat_version:
        options["version"] = args.xnat_version
    if args.data_dir is not None:
        args.data_dir.mkdir(parents=True, exist_ok=True)
    server = XNATServer(host=args.host, port=args.port, data_dir=args.data_dir, **options)
    try:
        server.start()
    except OSError as error:
        server.close()  # removes the temporary data folder it made
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    made = None
    try:
        if args.populate:
            spec = _with_examples(args.populate)
            made = server.populate(spec)
        if args.ready_file is not None:
            _write_ready_file(args.ready_file, server.url)
        # The banner stays the first line: scripts wait for it.
        print(f"XNAT emulator listening on {server.url}", flush=True)
        if args.populate:
            print(_populated(spec, made), flush=True)
        _wait_for_signal()
    except ValueError as error:
        raise CommandError(str(error)) from None
    finally:
        server.close()
    return 0


def _with_examples(spec: str) -> str:
    """``spec`` with ``files=3`` unless it names ``files``: a newcomer gets something to download."""
    named = {part.partition("=")[0].strip() for part in spec.split(",")}
    return spec if "files" in named else f"{spec},files={EXAMPLE_SESSIONS}"


def _populated(spec: str, made: Any) -> str:
    """What --populate made, in words, so a newcomer knows what there is to look at."""
    from xnat.testing.backend.populate import parse_spec

    counts = parse_spec(spec)
    total = 1
    told = []
    for key, noun in (("projects", "private projects (PROJnnn)"), ("subjects", "subjects"),
                      ("experiments", "MR sessions")):
        total *= counts[key]
        told.append(f"{total} {noun}")
    examples = len(made.sessions) if made is not None else 0
    if counts["scans"] and total > examples:  # sessions with example scans have those instead
        told.append(f"{(total - examples) * counts['scans']} scans")
    said = f"Populated {', '.join(told)}, owned by the first administrator (list them with: xnat ls)"
    if made is not None and made.sessions:
        which = "session holds" if len(made.sessions) == 1 else f"{len(made.sessions)} sessions hold"
        said += (f"\n  the first {which} scans with {made.source}; "
                 f"download one: xnat download {made.sessions[0]} ./data")
    return said


def _write_ready_file(path: Path, url: str) -> None:
    """Write the URL whole (rename into place), so a reader never sees half of it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(url + "\n", encoding="utf-8")
    partial.replace(path)


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    while not stop.wait(0.5):
        pass
    print("XNAT emulator stopped", file=sys.stderr, flush=True)


def log_folder() -> Path:
    """Where ``--background`` servers write their logs: ``serve/`` in xnat's cache folder."""
    from xnat.schema.loader import cache_dir

    return cache_dir().parent / "serve"


def _serve_in_background(argv: list[str]) -> int:
    """Start ``xnat serve`` (these options) in its own process; return once it listens.

    The child writes its URL to a ready file once it is listening; until then we wait,
    and if it exits first we show why (and remove its log). Its own session keeps it
    alive after the shell. Its log is ``xnat-serve-PORT.log`` in :func:`log_folder`
    (one per port: a later server on the port replaces it), printed for the user.
    """
    from xnat.cli.errors import CommandError

    child_argv = [arg for arg in argv if arg != "--background"]
    folder = log_folder()
    folder.mkdir(parents=True, exist_ok=True)
    log_fd, log_name = tempfile.mkstemp(prefix="xnat-serve-", suffix=".log", dir=folder)
    with tempfile.TemporaryDirectory(prefix="xnat-serve-") as scratch:
        ready = Path(scratch) / "url"
        with os.fdopen(log_fd, "wb") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "xnat.cli", *child_argv, "--ready-file", str(ready)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )
        deadline = time.monotonic() + BACKGROUND_START_SECONDS
        while not ready.is_file():
            if child.poll() is not None:
                said = Path(log_name).read_text(encoding="utf-8", errors="replace").strip()
                os.unlink(log_name)
                print(said, file=sys.stderr)
                return child.returncode or 1
            if time.monotonic() > deadline:
                child.terminate()
                raise CommandError(
                    f"the server did not start within {BACKGROUND_START_SECONDS:.0f} s (log: {log_name})"
                )
            time.sleep(0.1)
        url = ready.read_text(encoding="utf-8").strip()
    # The child keeps writing to the same file under its new name.
    log_path = folder / f"xnat-serve-{url.rsplit(':', 1)[-1].strip('/')}.log"
    os.replace(log_name, log_path)
    print(f"XNAT emulator listening on {url}", flush=True)
    print(f"  running in the background as process {child.pid}: stop it with 'kill {child.pid}'", flush=True)
    print(f"  its log: {log_path}", flush=True)
    return 0
