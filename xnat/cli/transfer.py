"""``xnat download`` and ``xnat upload``: files between a folder and the archive.

Both go through the object API (``download_dir``, ``resource.upload``/``upload_dir``):
transfers are parallel and verified, downloads land under temporary names first, and a
progress bar shows on stderr when it is a terminal (``--quiet`` turns it off).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from xnat.cli.common import CONNECTION_EPILOG, connection_options, open_session
from xnat.cli.ls import resolve, split_path

DOWNLOAD_EPILOG = f"""\
examples:
  xnat download DEMO ./data                              # a whole project
  xnat download DEMO/DEMO_001/DEMO_001_MR1 ./data        # one session: ./data/DEMO_001_MR1/scans/...
  xnat download DEMO/DEMO_001/DEMO_001_MR1 ./data --scans 2,3
  xnat download DEMO/DEMO_001/DEMO_001_MR1/2/NIFTI ./nifti --flat

Files are written as XNAT lays them out (LABEL/scans/ID/resources/LABEL/files/...); an
existing file is replaced only once its new copy is complete and verified.

{CONNECTION_EPILOG}"""

UPLOAD_EPILOG = f"""\
examples:
  xnat upload DEMO/DEMO_001/DEMO_001_MR1/2 --resource NIFTI T1w.nii.gz
  xnat upload DEMO/DEMO_001/DEMO_001_MR1 --resource QC report.pdf notes.txt
  xnat upload DEMO --resource PROTOCOLS ./protocols/            # a folder keeps its layout
  xnat upload DEMO/DEMO_001 --resource RAW data.zip --extract   # unpacked on the server

The resource is created when it does not exist. An existing file is an error unless
--overwrite is given.

{CONNECTION_EPILOG}"""


def register(commands: Any) -> None:
    download = commands.add_parser(
        "download", parents=[connection_options()], help="download a project, subject, session, scan or resource",
        description="Download every file under PATH to a local folder (parallel, verified).",
        epilog=DOWNLOAD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    download.add_argument("path", metavar="PATH", help="PROJECT[/SUBJECT[/EXPERIMENT[/SCAN[/RESOURCE]]]]")
    download.add_argument("target", metavar="FOLDER", type=Path, help="where to put the files (created if needed)")
    download.add_argument("--resource", metavar="NAME", help="only this resource of PATH")
    download.add_argument("--scans", metavar="ID,TYPE,...",
                          help="for a session: only these scans (IDs or types, comma-separated)")
    download.add_argument("--flat", action="store_true",
                          help="for a resource: put its files straight into FOLDER")
    download.add_argument("--workers", type=_workers, metavar="N", help="parallel transfers (default: 4)")
    download.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    download.set_defaults(handler=run_download)

    upload = commands.add_parser(
        "upload", parents=[connection_options()], help="upload files or folders into a resource",
        description="Upload files and folders into a resource of the object at PATH.",
        epilog=UPLOAD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    upload.add_argument("path", metavar="PATH", help="PROJECT[/SUBJECT[/EXPERIMENT[/SCAN]]]: who owns the resource")
    upload.add_argument("sources", metavar="FILE_OR_FOLDER", nargs="+", type=Path, help="what to upload")
    upload.add_argument("-r", "--resource", metavar="NAME", required=True, help="the resource label, e.g. NIFTI")
    upload.add_argument("--resource-format", metavar="FORMAT", help="format of a new resource (e.g. NIFTI, DICOM)")
    upload.add_argument("--overwrite", action="store_true", help="replace files that exist")
    upload.add_argument("--extract", action="store_true", help="unpack uploaded zip/tar archives on the server")
    upload.add_argument("--workers", type=_workers, metavar="N", help="parallel uploads for folders (default: 4)")
    upload.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    upload.set_defaults(handler=run_upload)


def _workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to 64, not {text!r}")
    return int(text)


def _verbose(args: argparse.Namespace) -> bool | None:
    return False if args.quiet else None  # None: a bar when stderr is a terminal


def run_download(args: argparse.Namespace) -> int:
    from xnat.cli.errors import CommandError

    parts = split_path(args.path)
    if not parts:
        raise CommandError("download needs a PATH: at least a project (see 'xnat ls')")
    if args.scans and (len(parts) != 3 or args.resource):
        raise CommandError("--scans is for a session PATH (PROJECT/SUBJECT/EXPERIMENT)")
    if args.target.exists() and not args.target.is_dir():
        raise CommandError(f"{args.target} exists and is not a folder")
    with open_session(args) as session:
        obj = resolve(session, parts)
        if args.resource:
            obj = obj.resources[args.resource]
        is_resource = args.resource is not None or len(parts) == 5
        if args.flat and not is_resource:
            raise CommandError("--flat is for a resource (PATH ending in the resource, or --resource NAME)")
        options: dict[str, Any] = {"verbose": _verbose(args)}
        if args.workers:
            options["workers"] = args.workers
        if args.scans:
            options["scan_filter"] = [item.strip() for item in args.scans.split(",") if item.strip()]
        if args.flat:
            options["flatten_dirs"] = True
        folder = obj.download_dir(args.target, **options)
    files = [path for path in Path(folder).rglob("*") if path.is_file()]
    print(f"Downloaded {args.path} to {folder} ({len(files)} files)", file=sys.stderr)
    print(folder)
    return 0


def run_upload(args: argparse.Namespace) -> int:
    from xnat.cli.errors import CommandError

    parts = split_path(args.path)
    if not parts:
        raise CommandError("upload needs a PATH: the project, subject, session or scan that owns the resource")
    if len(parts) == 5:
        raise CommandError(f"PATH {args.path} names a resource; give its owner and --resource {parts[-1]}")
    for source in args.sources:
        if not source.exists():
            raise CommandError(f"{source}: no such file or folder")
    with open_session(args) as session:
        owner = resolve(session, parts)
        resource = _resource(owner, args)
        if not args.overwrite:
            _refuse_existing(resource, args)
        for source in args.sources:
            if source.is_dir():
                resource.upload_dir(source, overwrite=args.overwrite, method="per_file",
                                    verbose=_verbose(args), workers=args.workers)
            else:
                resource.upload(source, source.name, overwrite=args.overwrite, extract=args.extract,
                                verbose=_verbose(args))
            print(f"Uploaded {source} to {args.path} resource {args.resource}", file=sys.stderr)
    return 0


def _resource(owner: Any, args: argparse.Namespace) -> Any:
    resources = owner.resources
    if args.resource in resources:
        return resources[args.resource]
    create = getattr(owner, "create_resource", None)
    if create is None:
        from xnat.cli.errors import CommandError

        raise CommandError(f"cannot make resources under {args.path}")
    print(f"Creating resource {args.resource} under {args.path}", file=sys.stderr)
    return create(args.resource, format=args.resource_format)


def _refuse_existing(resource: Any, args: argparse.Namespace) -> None:
    """Stop before any transfer when a single file would replace one on the server."""
    from xnat.cli.errors import CommandError

    names = {source.name for source in args.sources if source.is_file()}
    taken = sorted(names & set(resource.files.keys())) if names else []
    if taken:
        raise CommandError(f"resource {args.resource} of {args.path} already has {', '.join(taken)}: "
                           "pass --overwrite to replace")
