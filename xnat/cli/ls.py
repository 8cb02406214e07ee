"""``xnat ls``: list projects, subjects, experiments, scans, resources or files.

What is listed depends on how deep the PATH goes, following XNAT's hierarchy::

    xnat ls                         projects
    xnat ls P                       subjects of project P
    xnat ls P/S                     experiments of subject S
    xnat ls P/S/E                   scans of experiment E
    xnat ls P/S/E/1                 resources of scan 1
    xnat ls P/S/E/1/DICOM           files of that resource

``--resources`` lists the resources of the object PATH names instead of its children,
and ``--resource NAME`` the files of one of them. Each segment is an ID or a label.
``--preview OUT.png`` writes a picture instead of a listing: a scan's thumbnail (P/S/E/SCAN)
or a contact sheet of a session's scans (P/S/E), from their DICOM (the ``dicom`` extra).
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from pathlib import Path
from typing import Any

from xnat.cli.common import CONNECTION_EPILOG, connection_options, open_session, parse_pairs, print_rows

#: level -> (what is listed, default columns)
LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("projects", ("ID", "name", "description")),
    ("subjects", ("ID", "label", "insert_date")),
    ("experiments", ("ID", "label", "xsiType", "date")),
    ("scans", ("ID", "type", "series_description", "quality")),
    ("resources", ("label", "format", "file_count", "file_size")),
    ("files", ("Name", "Size", "file_format", "file_content")),
)
RESOURCE_COLUMNS = LEVELS[4][1]
FILE_COLUMNS = LEVELS[5][1]

EPILOG = f"""\
what is listed:
  xnat ls                               projects
  xnat ls DEMO                          subjects of project DEMO
  xnat ls DEMO/DEMO_001                 experiments of that subject
  xnat ls DEMO/DEMO_001/DEMO_001_MR1    scans of that experiment
  xnat ls DEMO/DEMO_001/DEMO_001_MR1/2  resources of scan 2
  xnat ls DEMO/DEMO_001/DEMO_001_MR1/2/NIFTI   files of that resource
  xnat ls DEMO/DEMO_001 --resources     resources of the subject itself

pictures (needs the dicom extra: pip install 'xnat[dicom]'):
  xnat ls DEMO/DEMO_001/DEMO_001_MR1/1 --preview scan.png       thumbnail of scan 1
  xnat ls DEMO/DEMO_001/DEMO_001_MR1 --preview session.png      contact sheet of its scans

examples:
  xnat ls DEMO --filter 'label=DEMO_00*' --format csv
  xnat ls DEMO/DEMO_001 --column label --column date --format json
  xnat ls DEMO --column ID,label --no-header | while read id label; do ...; done

{CONNECTION_EPILOG}"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "ls", parents=[connection_options()], help="list projects, subjects, experiments, scans, resources, files",
        description="List the children of an object in XNAT's hierarchy (project > subject > "
                    "experiment > scan > resource > file), one row each.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", nargs="?", default="", metavar="PATH",
                        help="PROJECT[/SUBJECT[/EXPERIMENT[/SCAN[/RESOURCE]]]], IDs or labels (default: projects)")
    parser.add_argument("--resources", action="store_true", help="list the resources of PATH itself")
    parser.add_argument("--resource", metavar="NAME", help="list the files of this resource of PATH")
    parser.add_argument("-f", "--filter", action="append", metavar="COLUMN=PATTERN",
                        help="keep rows whose COLUMN matches PATTERN (* and ? wildcards); repeat to combine")
    parser.add_argument("-c", "--column", action="append", metavar="NAME",
                        help="columns to show, in order (comma-separated or repeated); default: a few useful ones")
    parser.add_argument("--all-columns", action="store_true", help="show every column the server returns")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="output format (default: %(default)s)")
    parser.add_argument("--no-header", action="store_true", help="leave out the header (table and csv)")
    parser.add_argument("--preview", metavar="OUT.png", type=Path,
                        help="instead of listing, write a PNG: a scan's thumbnail (PATH is P/S/E/SCAN) "
                             "or a contact sheet of a session's scans (PATH is P/S/E)")
    parser.add_argument("--size", type=int, metavar="PIXELS",
                        help="with --preview: the thumbnail's longest side, or a contact sheet tile's "
                             "(default: 256 and 160)")
    parser.set_defaults(handler=run)


def split_path(path: str) -> list[str]:
    """``"P/S/E"`` -> ``["P", "S", "E"]``; empty segments (``P//S``) are refused."""
    from xnat.cli.errors import CommandError

    text = path.strip().strip("/")
    if not text:
        return []
    parts = text.split("/")
    if any(not part.strip() for part in parts):
        raise CommandError(f"PATH {path!r} has an empty segment: write PROJECT/SUBJECT/EXPERIMENT/...")
    if len(parts) > 5:
        raise CommandError(f"PATH {path!r} is too deep: at most PROJECT/SUBJECT/EXPERIMENT/SCAN/RESOURCE")
    return parts


# What each level's object calls its children, from the session down.
_CHILDREN = ("projects", "subjects", "experiments", "scans", "resources", "files")
_NAMES = ("project", "subject", "experiment", "scan", "resource")


def resolve(session: Any, parts: list[str]) -> Any:
    """The object that PATH names (the session for an empty PATH)."""
    obj = session
    for depth, key in enumerate(parts):
        listing = getattr(obj, _CHILDREN[depth])
        obj = listing[key]  # an XNATKeyError names the listing and the key
    return obj


def target_listing(session: Any, args: argparse.Namespace) -> tuple[Any, tuple[str, ...]]:
    """The listing to print and its default columns."""
    from xnat.cli.errors import CommandError

    parts = split_path(args.path)
    if args.resources and args.resource:
        raise CommandError("give --resources or --resource NAME, not both")
    if (args.resources or args.resource) and not parts:
        raise CommandError("--resources and --resource need a PATH (e.g. DEMO or DEMO/DEMO_001)")
    if (args.resources or args.resource) and len(parts) == 5:
        raise CommandError(f"{args.path} is already a resource: list its files with 'xnat ls {args.path}'")
    obj = resolve(session, parts)
    if args.resources:
        return obj.resources, RESOURCE_COLUMNS
    if args.resource:
        return obj.resources[args.resource].files, FILE_COLUMNS
    name, columns = LEVELS[len(parts)]
    return getattr(obj, name), columns


def _columns(args: argparse.Namespace) -> list[str] | None:
    if not args.column:
        return None
    columns = [name.strip() for item in args.column for name in item.split(",") if name.strip()]
    return columns or None


def _matches(row: dict[str, str], filters: dict[str, str]) -> bool:
    return all(fnmatch.fnmatchcase(str(row.get(key, "")), pattern) for key, pattern in filters.items())


def run(args: argparse.Namespace) -> int:
    from xnat.cli.errors import CommandError

    if args.preview is not None:
        return write_preview(args)
    if args.size is not None:
        raise CommandError("--size goes with --preview OUT.png")
    filters = parse_pairs(args.filter, "--filter")
    wanted = _columns(args)
    with open_session(args) as session:
        listing, defaults = target_listing(session, args)
        # All columns come in one request; filters are applied here, so they work on
        # every listing (files and resources too), with the same wildcards everywhere.
        every = listing.tabulate_dict()
    present = list(dict.fromkeys(key for row in every for key in row))
    rows = [row for row in every if _matches(row, filters)]
    if wanted:
        unknown = [name for name in wanted if present and name not in present]
        if unknown:
            raise CommandError(f"no column {', '.join(map(repr, unknown))} here; columns: {', '.join(present)}")
        columns = wanted
    elif args.all_columns:
        columns = present or list(defaults)
    else:
        columns = [name for name in defaults if not present or name in present]
    unknown_filters = [key for key in filters if present and key not in present]
    if unknown_filters:
        raise CommandError(f"--filter on unknown column {', '.join(map(repr, unknown_filters))}; "
                           f"columns: {', '.join(present)}")
    if args.no_header and args.format in ("table", "csv"):
        _print_bare(rows, columns, args.format)
    else:
        print_rows(rows, columns, args.format)
    if not rows and args.format == "table" and sys.stderr.isatty():
        print("(nothing to list)", file=sys.stderr)
    return 0


def _print_bare(rows: list[dict[str, str]], columns: list[str], fmt: str) -> None:
    import csv

    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows([row.get(c, "") for c in columns] for row in rows)
        return
    for row in rows:
        sys.stdout.write("\t".join(str(row.get(c, "")) for c in columns) + "\n")


def write_preview(args: argparse.Namespace) -> int:
    """``--preview OUT.png``: the picture of the scan or session PATH names, written to OUT.png."""
    from xnat.cli.errors import CommandError
    from xnat.exceptions import XNATError

    parts = split_path(args.path)
    if len(parts) not in (3, 4):
        raise CommandError(f"--preview needs PATH to a session (P/S/E) or a scan (P/S/E/SCAN), not {args.path!r}")
    if args.resources or args.resource or args.filter or args.column or args.all_columns:
        raise CommandError("--preview writes a picture: it takes no --resources, --resource, --filter or --column")
    size = {"size": args.size} if args.size is not None else {}
    with open_session(args) as session:
        obj = resolve(session, parts)
        if not hasattr(obj, "preview"):
            raise CommandError(f"{args.path} is not an imaging session: it has no scans to preview")
        try:
            png = obj.preview(args.preview, **size)
        except ModuleNotFoundError as error:  # the dicom extra is missing
            raise CommandError(str(error)) from None
        except ValueError as error:  # a size out of range (XNAT errors pass through as they are)
            if isinstance(error, XNATError):
                raise
            raise CommandError(f"--size: {error}") from None
    what = "thumbnail of scan" if len(parts) == 4 else "contact sheet of the scans of"
    print(f"wrote {args.preview} ({len(png)} bytes): the {what} {args.path.strip('/')}")
    return 0
