"""``xnat import`` and ``xnat prearchive``: DICOM in, and the prearchive's sessions.

``xnat import`` sends a zip/tar.gz of DICOM (or a folder, zipped on the fly) to XNAT's
import service, straight into the archive or into the prearchive. ``xnat prearchive``
lists the prearchive and archives, moves or deletes its sessions. A prearchive session
is named as ``xnat prearchive ls`` prints it: ``PROJECT/TIMESTAMP/FOLDER``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from xnat.cli.common import CONNECTION_EPILOG, connection_options, open_session, print_rows

IMPORT_EPILOG = f"""\
examples:
  xnat import study.zip --project DEMO                       # archived; subject/session from DICOM
  xnat import ./dicom/ --project DEMO --subject S01 --experiment S01_MR1
  xnat import study.tar.gz --project DEMO --destination prearchive   # review first, then:
  xnat prearchive ls --project DEMO
  xnat prearchive archive DEMO/20240101_101010123/S01_MR1

{CONNECTION_EPILOG}"""

PREARCHIVE_EPILOG = f"""\
examples:
  xnat prearchive ls                                         # every session you may see
  xnat prearchive ls --project DEMO --format csv
  xnat prearchive archive DEMO/20240101_101010123/S01_MR1 --subject S01 --experiment S01_MR1
  xnat prearchive move DEMO/20240101_101010123/S01_MR1 OTHER
  xnat prearchive delete DEMO/20240101_101010123/S01_MR1

A session is named PROJECT/TIMESTAMP/FOLDER, as the 'session' column of 'ls' shows it.

{CONNECTION_EPILOG}"""

PREARCHIVE_COLUMNS = ("session", "subject", "name", "status", "scan_date", "uploaded")
_PREFIX = "/data/prearchive/projects/"


def register(commands: Any) -> None:
    importer = commands.add_parser(
        "import", parents=[connection_options()], help="import DICOM (zip, tar.gz or folder) into a project",
        description="Send DICOM to XNAT's import service. The server sorts it into a session "
                    "with one scan per series and archives it, or puts it in the prearchive.",
        epilog=IMPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importer.add_argument("source", type=Path, metavar="ARCHIVE_OR_FOLDER",
                          help="a .zip, .tar.gz or .tar of DICOM files, or a folder of them")
    importer.add_argument("-p", "--project", required=True, help="the project to import into")
    importer.add_argument("-s", "--subject", help="subject label (default: from the DICOM)")
    importer.add_argument("-e", "--experiment", help="session label (default: from the DICOM)")
    importer.add_argument("--destination", choices=("archive", "prearchive"), default="archive",
                          help="where the session goes (default: %(default)s)")
    importer.add_argument("--overwrite", choices=("none", "append", "delete"),
                          help="what to do when the session exists (default: the server's: refuse)")
    importer.add_argument("--quarantine", action="store_true", help="archive the session in quarantine")
    importer.add_argument("--trigger-pipelines", action="store_true", help="run the project's pipelines after")
    importer.add_argument("--import-handler", metavar="NAME", help="the server's import handler (e.g. DICOM-zip)")
    importer.set_defaults(handler=run_import)

    prearchive = commands.add_parser(
        "prearchive", help="list, archive, move or delete prearchive sessions",
        description="Work with the prearchive, where sessions wait before they are archived.",
        epilog=PREARCHIVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = prearchive.add_subparsers(title="actions", metavar="ACTION")
    ls = _action(actions, "ls", "list prearchive sessions")
    ls.add_argument("-p", "--project", help="only this project's sessions")
    ls.add_argument("--status", help="only sessions with this status (READY, ERROR, CONFLICT, ...)")
    ls.add_argument("--format", choices=("table", "csv", "json"), default="table",
                    help="output format (default: %(default)s)")
    ls.set_defaults(handler=run_prearchive_ls)

    archive = _action(actions, "archive", "archive a prearchive session")
    archive.add_argument("session", metavar="SESSION", help="PROJECT/TIMESTAMP/FOLDER")
    archive.add_argument("-p", "--project", help="archive into this project instead")
    archive.add_argument("-s", "--subject", help="subject label to use")
    archive.add_argument("-e", "--experiment", help="session label to use")
    archive.add_argument("--overwrite", choices=("none", "append", "delete"),
                         help="when the session exists in the archive")
    archive.add_argument("--quarantine", action="store_true", help="archive in quarantine")
    archive.set_defaults(handler=run_prearchive_archive)

    move = _action(actions, "move", "move a prearchive session to another project")
    move.add_argument("session", metavar="SESSION", help="PROJECT/TIMESTAMP/FOLDER")
    move.add_argument("new_project", metavar="PROJECT", help="the project to move it to")
    move.set_defaults(handler=run_prearchive_move)

    delete = _action(actions, "delete", "delete a prearchive session and its files")
    delete.add_argument("session", metavar="SESSION", help="PROJECT/TIMESTAMP/FOLDER")
    delete.set_defaults(handler=run_prearchive_delete)
    prearchive.set_defaults(handler=_needs_action)


def _action(actions: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name, parents=[connection_options()], help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
        epilog=PREARCHIVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser


def _needs_action(args: argparse.Namespace) -> int:
    from xnat.cli.errors import CommandError

    raise CommandError("prearchive needs an action: ls, archive, move or delete (see 'xnat prearchive --help')")


def _services(session: Any) -> Any:
    services = getattr(session, "services", None)
    if services is None:
        from xnat.services import Services

        services = Services(session)
    return services


def _prearchive(session: Any) -> Any:
    prearchive = getattr(session, "prearchive", None)
    if prearchive is None:
        from xnat.services.prearchive import Prearchive

        prearchive = Prearchive(session)
    return prearchive


# ----------------------------------------------------------------------------- import
def run_import(args: argparse.Namespace) -> int:
    from xnat.cli.errors import CommandError

    source: Path = args.source
    if not source.exists():
        raise CommandError(f"{source}: no such file or folder")
    options: dict[str, Any] = {
        "project": args.project, "subject": args.subject, "experiment": args.experiment,
        "destination": f"/{args.destination}", "overwrite": args.overwrite, "quarantine": args.quarantine,
        "trigger_pipelines": True if args.trigger_pipelines else None, "import_handler": args.import_handler,
    }
    with open_session(args) as session:
        services = _services(session)
        if source.is_dir():
            result = services.import_dir(source, **options)
        else:
            result = services.import_(source, **options)
        if args.destination == "prearchive":
            name = _session_name(result)
            print(f"Imported {source} into the prearchive as {name} ({result.status})", file=sys.stderr)
            print(name)
        else:
            label = getattr(result, "label", None) or result.id
            print(f"Imported {source} as {args.project} session {label} ({result.id})", file=sys.stderr)
            print(result.uri)
    return 0


# ----------------------------------------------------------------------------- prearchive
def _session_name(prearchive_session: Any) -> str:
    uri = str(prearchive_session.uri)
    return uri[len(_PREFIX):] if uri.startswith(_PREFIX) else uri


def _find(session: Any, name: str) -> Any:
    """The prearchive session ``PROJECT/TIMESTAMP/FOLDER`` (a /prearchive/... path works too)."""
    from xnat.cli.errors import CommandError

    text = name.strip().strip("/")
    for prefix in ("data/prearchive/projects/", "prearchive/projects/"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    parts = text.split("/")
    if len(parts) != 3 or not all(parts):
        raise CommandError(f"SESSION {name!r}: expected PROJECT/TIMESTAMP/FOLDER, as 'xnat prearchive ls' shows")
    for candidate in _prearchive(session).sessions(parts[0], allow_receiving=True):
        if _session_name(candidate) == text:
            return candidate
    raise CommandError(f"no prearchive session {text} (see 'xnat prearchive ls --project {parts[0]}')")


def run_prearchive_ls(args: argparse.Namespace) -> int:
    with open_session(args, model=False) as session:
        rows = []
        for entry in _prearchive(session).sessions(args.project, allow_receiving=True):
            if args.status and entry.status != args.status.upper():
                continue
            rows.append({"session": _session_name(entry), "subject": entry.subject, "name": entry.name,
                         "status": entry.status, "scan_date": entry.scan_date or "",
                         "uploaded": entry.uploaded.isoformat(sep=" ", timespec="seconds") if entry.uploaded else ""})
    if args.format == "json":
        rows = [{key: str(value) for key, value in row.items()} for row in rows]
    print_rows(rows, PREARCHIVE_COLUMNS, args.format)
    return 0


def run_prearchive_archive(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        entry = _find(session, args.session)
        experiment = entry.archive(overwrite=args.overwrite, quarantine=True if args.quarantine else None,
                                   project=args.project, subject=args.subject, experiment=args.experiment)
        label = getattr(experiment, "label", None) or experiment.id
        print(f"Archived {args.session} as session {label} ({experiment.id})", file=sys.stderr)
        print(experiment.uri)
    return 0


def run_prearchive_move(args: argparse.Namespace) -> int:
    with open_session(args, model=False) as session:
        entry = _find(session, args.session)
        entry.move(args.new_project)
        print(f"Moved {args.session} to {_session_name(entry)}", file=sys.stderr)
        print(_session_name(entry))
    return 0


def run_prearchive_delete(args: argparse.Namespace) -> int:
    with open_session(args, model=False) as session:
        entry = _find(session, args.session)
        entry.delete()
        print(f"Deleted {args.session} from the prearchive", file=sys.stderr)
    return 0
