"""The prearchive over REST: ``/data/prearchive[/projects[/P[/TS/S[/scans/...]]]]``.

Listings have XNAT's columns (REST-NOTES §5, the fixture of xnatpy's tests); a session
answers a one-row table, ``?format=zip`` its files, ``DELETE`` removes it, and ``POST
?action=build|commit|move|set-status|reset-status`` acts on it (``move`` and
``commit&AA=true`` answer 301 as XNAT does). Below a session: ``scans``,
``scans/N/resources``, ``scans/N/resources/R/files[/name]``.

Who sees what: a session is visible to admins and to the owners and members of its
project (they are the ones who may archive it).
"""

from __future__ import annotations

import mimetypes
import posixpath

from werkzeug.utils import send_file
from werkzeug.wrappers import Response

from ..prearchive_store import IN_PROGRESS, STATUSES, UNASSIGNED, PrearchiveSession, prearchive_of
from .base import Ctx, HTTPError, not_found, text
from .listing import table
from .lookup import project_row, refuse

PREARCHIVE_DEFAULTS = ["project", "timestamp", "lastmod", "uploaded", "scan_date", "scan_time", "subject",
                       "folderName", "name", "tag", "status", "url", "autoarchive", "prevent_anon",
                       "prevent_auto_commit", "SOURCE", "VISIT", "PROTOCOL", "TIMEZONE"]
SCAN_DEFAULTS = ["ID", "xsiType", "series_description", "type", "UID", "frames"]
RESOURCE_DEFAULTS = ["label", "format", "content", "file_count", "file_size"]
FILE_DEFAULTS = ["Name", "Size", "URI", "digest"]


def _editable(ctx: Ctx) -> set[str] | None:
    """Projects whose prearchive the user may see and act on; None: all (admin)."""
    ctx.require_login()
    return ctx.backend.access.prearchive_projects(ctx.user)


def check_project(ctx: Ctx, project: str) -> str:
    """The project's ID; 404 unknown, 403 when the user may not use its prearchive."""
    row = project_row(ctx, project)
    if row is None and project == UNASSIGNED and ctx.backend.access.uses_unassigned(ctx.user):
        return UNASSIGNED
    if row is None:
        raise not_found("project")
    # a private project the user cannot read stays invisible (404), to the guest too
    refuse(ctx.backend.access.use_prearchive(ctx.user, row["id"], row["accessibility"]), "project")
    ctx.require_login()
    return str(row["id"])


def find_session(ctx: Ctx, project: str, timestamp: str, folder: str) -> PrearchiveSession:
    """The prearchive session, or 404 / 403."""
    project = check_project(ctx, project)
    session = prearchive_of(ctx.app).get(project, timestamp, folder)
    if session is None:
        raise HTTPError(404, f"Unable to find prearchive session /prearchive/projects/{project}/{timestamp}/{folder}")
    return session


def parse_src(ctx: Ctx, src: str) -> PrearchiveSession:
    """A session from ``/prearchive/projects/P/TS/S`` (``/data`` prefix allowed)."""
    path = src.strip()
    if path.startswith("/data/"):
        path = path[5:]
    segs = [s for s in path.split("/") if s]
    if len(segs) != 5 or segs[:2] != ["prearchive", "projects"]:
        raise HTTPError(400, f"Invalid prearchive session {src!r}:"
                             " use /prearchive/projects/{P}/{timestamp}/{session}")
    return find_session(ctx, segs[2], segs[3], segs[4])


# -- listings ---------------------------------------------------------------------------
def listing(ctx: Ctx, project: str | None = None) -> Response:
    """``GET /data/prearchive/projects[/P]``."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    projects = {check_project(ctx, project)} if project else _editable(ctx)
    rows = [s.row() for s in prearchive_of(ctx.app).list(projects)]
    return table(ctx, rows, PREARCHIVE_DEFAULTS, "", always=())


def root(ctx: Ctx) -> Response:
    """``GET /data/prearchive``: the same table as ``/data/prearchive/projects``."""
    return listing(ctx)


def project_sessions(ctx: Ctx, project: str) -> Response:
    return listing(ctx, project)


# -- one session --------------------------------------------------------------------------
def session_item(ctx: Ctx, project: str, timestamp: str, folder: str) -> Response:
    """GET (table or zip), DELETE, POST ?action=... on one prearchive session."""
    session = find_session(ctx, project, timestamp, folder)
    if ctx.method in ("GET", "HEAD"):
        if (ctx.param("format") or "").lower() == "zip":
            return _zip(ctx, session)
        return table(ctx, [session.row()], PREARCHIVE_DEFAULTS, "", always=())
    if ctx.method == "DELETE":
        _refuse_busy(session)
        prearchive_of(ctx.app).remove(session)
        return text("")
    if ctx.method == "POST":
        return _action(ctx, session)
    raise HTTPError(405, "Method Not Allowed")


def _refuse_busy(session: PrearchiveSession) -> None:
    if session.status in IN_PROGRESS:
        raise HTTPError(403, f"Operation already in progress: the session is {session.status}")


def _action(ctx: Ctx, session: PrearchiveSession) -> Response:
    from . import services  # the batch services share these actions

    action = (ctx.param("action") or "").lower()
    if action == "build":
        services.rebuild_one(ctx, session)
        return text("")
    if action == "commit":
        uri = services.archive_one(ctx, session)
        return text(uri, 301 if ctx.flag("AA") else 200)
    if action == "move":
        new_project = ctx.param("newProject")
        if not new_project:
            raise HTTPError(400, "newProject is required to move a prearchive session")
        moved = services.move_one(ctx, session, new_project)
        response = text("/data" + moved.url, 301)
        response.headers["Location"] = "/data" + moved.url
        return response
    if action in ("set-status", "reset-status"):
        status = "READY" if action == "reset-status" else (ctx.param("status") or "").upper()
        if status not in STATUSES:
            raise HTTPError(400, f"Unknown prearchive status {status!r}: use one of {', '.join(STATUSES)}")
        prearchive_of(ctx.app).set_status(session, status)
        return text("")
    raise HTTPError(400, f"Unknown action {action!r}: use build, commit, move, set-status or reset-status")


def _zip(ctx: Ctx, session: PrearchiveSession) -> Response:
    pre = prearchive_of(ctx.app)
    entries = []
    for scan in session.scans:
        label = scan.get("resource", "DICOM")
        for f in scan["files"]:
            entries.append((f"{session.folder_name}/SCANS/{scan['id']}/{label}/{f['path']}",
                            pre.file_path(session, scan["id"], label, f["path"])))
    body = pre.files.stream_zip([(n, p) for n, p in entries if p.is_file()])
    return Response(body, mimetype="application/zip", direct_passthrough=True,
                    headers={"Content-Disposition": f'attachment; filename="{session.folder_name}.zip"'})


# -- below a session ----------------------------------------------------------------------
def session_below(ctx: Ctx, project: str, timestamp: str, folder: str, rest: str) -> Response:
    """``.../scans``, ``.../scans/N/resources``, ``.../scans/N/resources/R/files[/name]``."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    session = find_session(ctx, project, timestamp, folder)
    segs = rest.split("/")
    if segs[0] != "scans":
        raise HTTPError(404, f"Unknown URL segment: {segs[0]}")
    base = f"/data{session.url}/scans"
    if len(segs) == 1:
        rows = [{"ID": s["id"], "xsiType": s["xsi_type"],
                 "series_description": s["fields"].get("series_description", ""),
                 "type": s["fields"].get("type", ""), "UID": s["fields"].get("UID", ""),
                 "frames": s["fields"].get("frames", ""), "URI": f"{base}/{s['id']}"} for s in session.scans]
        return table(ctx, rows, SCAN_DEFAULTS, "")
    scan = session.scan(segs[1])
    if scan is None:
        raise HTTPError(404, f"Unable to find scan {segs[1]}")
    label = scan.get("resource", "DICOM")
    if len(segs) == 2 or segs[2] != "resources":
        raise HTTPError(404, "Prearchive scans are read through .../resources")
    if len(segs) == 3:
        row = {"label": label, "format": "DICOM", "content": "RAW", "file_count": str(len(scan["files"])),
               "file_size": str(sum(f["size"] for f in scan["files"])), "URI": f"{base}/{scan['id']}/resources/{label}"}
        return table(ctx, [row], RESOURCE_DEFAULTS, "Resources")
    if segs[3] != label or len(segs) < 5 or segs[4] != "files":
        raise HTTPError(404, f"Unable to find resource {segs[3]}")
    relpath = "/".join(segs[5:])
    if not relpath:
        rows = [{"Name": posixpath.basename(f["path"]), "Size": str(f["size"]), "digest": f["md5"],
                 "URI": f"{base}/{scan['id']}/resources/{label}/files/{f['path']}"} for f in scan["files"]]
        return table(ctx, rows, FILE_DEFAULTS, "Files")
    if not any(f["path"] == relpath for f in scan["files"]):
        raise HTTPError(404, f"Unable to find file {relpath}")
    path = prearchive_of(ctx.app).file_path(session, scan["id"], label, relpath)
    return send_file(path, ctx.request.environ, mimetype=mimetypes.guess_type(relpath)[0] or "application/dicom",
                     conditional=True, download_name=posixpath.basename(relpath))
