"""``import-handler=inbox``: a session from a folder or archive already on the server, and
``GET /xapi/dicom/{id}``, the request it made.

Source: ``NrgXnat/xnat-web``, ``DicomInboxImporter``. ``path`` must lie below the site's inbox
folder (``inboxPath`` of ``/xapi/siteConfig``; here ``<data dir>/inbox``), inside a sub-folder
named for a project the user edits; the destination (``PROJECT_ID``, or ``project``) must be one
it edits too. A file must be an archive (``.zip``, ``.tgz``, ``.tar``, ``.tar.gz``), a folder must
hold files; ``EXPT_LABEL`` (or ``session``) names the session (409 when the project has it),
``SUBJECT_ID`` the subject; ``cleanupAfterImport`` (default true) removes the source afterwards.
The answer is the request's URI, ``/xapi/dicom/{id}``. XNAT queues the import; this server runs
it at once, so the request reads ``Completed`` (or ``Failed`` with the reason) when asked.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from werkzeug.wrappers import Response

from ..dicomreader import DicomArchive, read_dicom_archive
from .base import Ctx, HTTPError, forbidden, json_response, text
from .lookup import find_experiment, find_subject, project_row

ARCHIVE_EXTENSIONS = (".zip", ".tgz", ".tar", ".tar.gz")
_WHERE = ("You must specify a valid path to a file or directory. It must be under the main inbox directory"
          " within a subdirectory whose name matches the ID of a project you have edit access to.")
#: imports studies into a project: (ctx, archive, project, dest, overwrite) -> URIs (the importer's)
Importer = Callable[[Ctx, DicomArchive, str, dict[str, str], str], list[str]]


def inbox_root(ctx: Ctx) -> Path:
    """The site's inbox folder (made on first use)."""
    root = ctx.app.data_dir / "inbox"
    root.mkdir(exist_ok=True)
    return root


def run(ctx: Ctx, import_studies: Importer) -> Response:
    """``POST /data/services/import?import-handler=inbox&path=...``."""
    source, project = _checked_source(ctx)
    dest = {"kind": "archive", "project": project}
    label = ctx.param("EXPT_LABEL") or ctx.param("session")
    if label:
        if find_experiment(ctx, label, project) is not None:
            raise HTTPError(409, "Experiment with that label already exists in that project.")
        dest["session"] = label
    subject = ctx.param("SUBJECT_ID")
    if subject:
        found = find_subject(ctx, subject, project)
        dest["subject"] = found["label"] if found is not None and found["project"] == project else subject
    cleanup = ctx.flag("cleanupAfterImport", True)
    parameters = {k: v for k, v in ctx.params.items() if k != "XNAT_CSRF"}
    request_id = ctx.backend.inbox.add(ctx.user.login, str(source), parameters, cleanup)
    try:
        uris = import_studies(ctx, read_dicom_archive(source, source.name), project, dest, "none")
    except (HTTPError, ValueError) as error:
        ctx.backend.inbox.finish(request_id, "Failed", getattr(error, "reason", str(error)))
    else:
        ctx.backend.inbox.finish(request_id, "Completed", "\n".join(uris))
        if cleanup:
            _remove(source)
    return text(f"/xapi/dicom/{request_id}")


def request(ctx: Ctx, request_id: str) -> Response:
    """``GET /xapi/dicom/{id}``: the import request as JSON (its user, or an admin)."""
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    row = ctx.backend.inbox.get(int(request_id)) if request_id.isdigit() else None
    if row is None:
        raise HTTPError(404, f"No DICOM inbox import request {request_id}")
    if not ctx.backend.access.may_view_user(ctx.user, row["username"]):
        raise forbidden()
    return json_response(ctx.backend.inbox.as_json(row))


def _checked_source(ctx: Ctx) -> tuple[Path, str]:
    """(the folder or archive to import, the destination project), as DicomInboxImporter checks them."""
    given = ctx.param("path")
    if not given:
        raise HTTPError(400, _WHERE)
    root = Path(os.path.realpath(inbox_root(ctx)))
    source = Path(os.path.realpath(given))  # links resolved: a link out of the inbox is refused
    if root not in source.parents or not source.exists():
        raise HTTPError(400, _WHERE)
    access = ctx.backend.access
    holder = project_row(ctx, source.relative_to(root).parts[0])
    if holder is None or not access.can_edit(ctx.user, holder["id"]):
        raise HTTPError(400, _WHERE)
    destination = project_row(ctx, ctx.param("PROJECT_ID") or ctx.param("project") or "")
    if destination is None or not access.can_edit(ctx.user, destination["id"]):
        raise HTTPError(400, "You do not have permission to edit the specified destination project.")
    if source.is_file() and not source.name.lower().endswith(ARCHIVE_EXTENSIONS):
        raise HTTPError(400, f"User inbox file {source.name} does not have an archive extension - "
                             f"{list(ARCHIVE_EXTENSIONS)}. The path must be to either a directory or an archive file.")
    if source.is_dir() and not any(source.iterdir()):
        raise HTTPError(400, "Specified directory does not contain any files.")
    return source, str(destination["id"])


def _remove(source: Path) -> None:
    """cleanupAfterImport: the imported folder or archive goes."""
    if source.is_dir():
        shutil.rmtree(source, ignore_errors=True)
    else:
        source.unlink(missing_ok=True)
