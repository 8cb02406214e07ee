"""``xnat bids``: export to a BIDS dataset, and derivatives back (the ``xnat[bids]`` extra).

``xnat bids export PROJECT[/SUBJECT[/SESSION]] TARGET --config CONFIG`` runs
:func:`xnat.bids.export.export_bids`; ``xnat bids upload-derivatives DERIV_DIR`` runs
:func:`xnat.bids.derivatives.upload_derivatives`. Both print what they did on stderr
(every series not exported, with the reason) and exit 1 when something failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from xnat.cli.common import CONNECTION_EPILOG, connection_options, open_session

EPILOG = f"""\
examples:
  xnat bids export DEMO ./bids --config dcm2bids_config.json
  xnat bids export DEMO/S01 ./bids --config config.json --participant-field gender --participant-field age
  xnat bids export DEMO ./bids --config config.json --executor processes --workers 4 --dates
  xnat bids export DEMO ./bids --config config.json --prune
  xnat bids upload-derivatives ./bids/derivatives/fmriprep

The configuration is dcm2bids 3's format (docs: BIDS how-to). A second export into the same
folder converts only the sessions that are new or changed.

{CONNECTION_EPILOG}"""


def register(commands: Any) -> None:
    bids = commands.add_parser(
        "bids", help="export to a BIDS dataset; upload BIDS derivatives",
        description="Export XNAT sessions as a BIDS dataset (dcm2niix, dcm2bids 3 configuration), "
                    "and put BIDS derivatives back as resources.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = bids.add_subparsers(title="actions", metavar="ACTION")
    export = actions.add_parser(
        "export", parents=[connection_options()], help="export a project, subject or session as BIDS",
        description="Export a project, subject or session into a BIDS dataset.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("selection", metavar="PROJECT[/SUBJECT[/SESSION]]", help="what to export (IDs or labels)")
    export.add_argument("target", type=Path, metavar="TARGET", help="the dataset folder (new, or an earlier export)")
    export.add_argument("-c", "--config", required=True, type=Path, help="a dcm2bids 3 configuration file (JSON)")
    export.add_argument("--participant-field", action="append", default=[], metavar="FIELD",
                        help="a subject field for participants.tsv (gender, age, yob, handedness, ...); repeatable")
    export.add_argument("--dates", action="store_true", help="put session dates in the sessions.tsv files")
    export.add_argument("--executor", choices=("threads", "processes", "serial"), default="threads",
                        help="where sessions are exported (default: %(default)s)")
    export.add_argument("--workers", type=int, default=4, help="sessions at a time (default: %(default)s)")
    export.add_argument("--prune", action="store_true",
                        help="remove sessions deleted from the project from the dataset (default: only report them)")
    export.add_argument("--no-progress", action="store_true", help="no progress bar")
    export.set_defaults(handler=run_export)

    upload = actions.add_parser(
        "upload-derivatives", parents=[connection_options()], help="upload a BIDS derivatives folder",
        description="Upload a BIDS derivatives folder onto the XNAT sessions its sub-/ses- folders stand for, "
                    "found through the exported dataset's code/xnat/mapping.tsv.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    upload.add_argument("derivatives", type=Path, metavar="DERIV_DIR", help="e.g. ./bids/derivatives/fmriprep")
    upload.add_argument("--mapping", type=Path, help="the mapping file (default: the one of the dataset above)")
    upload.add_argument("--resource", help="the resource label (default: the folder's name)")
    upload.add_argument("--overwrite", action="store_true", help="replace files already on the server")
    upload.set_defaults(handler=run_upload)
    bids.set_defaults(handler=_needs_action)


def _needs_action(args: argparse.Namespace) -> int:
    from xnat.cli.errors import CommandError

    raise CommandError("bids needs an action: export or upload-derivatives (see 'xnat bids --help')")


def _selected(session: Any, selection: str) -> Any:
    from xnat.cli.errors import CommandError

    parts = [part for part in selection.strip("/").split("/") if part]
    if not 1 <= len(parts) <= 3:
        raise CommandError(f"select PROJECT, PROJECT/SUBJECT or PROJECT/SUBJECT/SESSION, not {selection!r}")
    found = session.projects[parts[0]]
    for listing, part in zip(("subjects", "experiments"), parts[1:]):
        found = getattr(found, listing)[part]
    return found


def run_export(args: argparse.Namespace) -> int:
    from xnat.bids.config import load_config
    from xnat.bids.export import export_bids

    config = load_config(args.config)  # a wrong file is reported before connecting
    executor = None if args.executor == "serial" else args.executor
    with open_session(args) as session:
        report = export_bids(_selected(session, args.selection), args.target, config, args.participant_field,
                             args.dates, executor, args.workers, progress=False if args.no_progress else None,
                             prune=args.prune)
    print(report.summary(), file=sys.stderr)
    print(report.target)
    return 0 if report.ok else 1


def run_upload(args: argparse.Namespace) -> int:
    from xnat.bids.derivatives import upload_derivatives

    with open_session(args) as session:
        report = upload_derivatives(session, args.derivatives, args.mapping, args.resource, args.overwrite)
    print(report.summary(), file=sys.stderr)
    for uri in sorted(set(report.uploaded.values())):
        print(uri)
    return 0 if report.ok else 1
