"""Services: archive, prearchive move/delete/rebuild, DICOM dump, catalog refresh, scanners.

``POST /data/services/archive?src=/prearchive/projects/P/TS/S`` archives a READY session
(REST-NOTES §9: 200 with the URI, 303 with ``redirect=true``; 403 for a session another
operation holds, or one that is not READY). ``/data/services/prearchive/{move,delete,
rebuild}?src=a[,b]`` act on several sessions. ``/data/services/dicomdump?src=...`` dumps
the header of the first DICOM file of a session or scan (REST-NOTES §8), and
``/data/services/refresh/catalog?resource=...&options=...`` re-reads resource folders
into their catalogues. ``/data/archive/scanners`` and ``/data/archive/scan_types`` list
what the archive holds; ``/xapi/plugins`` the (absent) plugins.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Response

from ..backend import Verdict
from ..dicomdump import dicom_dump
from ..dicomreader import read_dicom_archive
from ..importing import scan_fields
from ..prearchive_store import IN_PROGRESS, PrearchiveSession, prearchive_of
from ..store import loads
from .base import Ctx, HTTPError, forbidden, json_response, text
from .importer import archive_staged, parse_dest, target_for, uri_answer
from .listing import table
from .lookup import Node, find_experiment, find_subject, project_node, readable_projects, require_edit
from .prearchive import check_project, parse_src

logger = logging.getLogger(__name__)

DUMP_DEFAULTS = ["tag1", "tag2", "vr", "value", "desc"]
REFRESH_OPTIONS = ("append", "checksum", "delete", "populateStats")


def _post_only(ctx: Ctx) -> None:
    if ctx.method != "POST":
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()


def _sources(ctx: Ctx) -> list[PrearchiveSession]:
    values = [v for raw in ctx.params.getlist("src") for v in raw.split(",") if v.strip()]
    if not values:
        raise HTTPError(400, "src is required: /prearchive/projects/{P}/{timestamp}/{session}")
    return [parse_src(ctx, v) for v in values]


# -- archive ------------------------------------------------------------------------------
def archive_one(ctx: Ctx, session: PrearchiveSession) -> str:
    """Archive a READY session with the request's overrides; its archive URI."""
    if session.status in IN_PROGRESS:
        raise HTTPError(403, f"Operation already in progress: the session is {session.status}")
    if session.status != "READY":
        reason = f": {session.error}" if session.error else ""
        raise HTTPError(403, f"Session /data{session.url} is {session.status}, not READY{reason};"
                             " rebuild it or delete it")
    raw_dest = ctx.param("dest")
    dest = parse_dest(raw_dest) if raw_dest else {}
    if dest.get("kind") == "prearchive":
        raise HTTPError(400, "The archive destination must be /archive/projects/...")
    target = target_for(ctx, session, dest)
    target.project = project_node(ctx, target.project, write=True).key
    overwrite = (ctx.param("overwrite") or "none").lower()
    return archive_staged(ctx, session, target, overwrite)


def archive(ctx: Ctx) -> Response:
    """``POST /data/services/archive``."""
    _post_only(ctx)
    if ctx.param("src"):
        sessions = _sources(ctx)
    elif ctx.param("PREARC_TIMESTAMP") and ctx.param("PREARC_SESSION_FOLDER") and ctx.param("project"):
        sessions = [parse_src(ctx, f"/prearchive/projects/{ctx.param('project')}/{ctx.param('PREARC_TIMESTAMP')}/"
                                   f"{ctx.param('PREARC_SESSION_FOLDER')}")]
    else:
        raise HTTPError(400, "src is required: /prearchive/projects/{P}/{timestamp}/{session}")
    if len(sessions) != 1:
        raise HTTPError(400, "Archive one session at a time")
    uri = archive_one(ctx, sessions[0])
    if ctx.flag("redirect"):
        response = text(uri, 303)
        response.headers["Location"] = uri
        return response
    return uri_answer(ctx, [uri]) if "text/plain" in ctx.request.headers.get("Accept", "") else \
        text(f"{uri}\r\n", 200, "text/uri-list")


# -- move, delete, rebuild ------------------------------------------------------------------
def move_one(ctx: Ctx, session: PrearchiveSession, new_project: str) -> PrearchiveSession:
    if session.status in IN_PROGRESS:
        raise HTTPError(403, f"Operation already in progress: the session is {session.status}")
    target = check_project(ctx, new_project)
    pre = prearchive_of(ctx.app)
    if target == session.project:
        return session
    if pre.get(target, session.timestamp, session.folder_name) is not None:
        raise HTTPError(409, f"Session {session.folder_name} ({session.timestamp}) already exists in project {target}")
    return pre.move(session, target)


def move(ctx: Ctx) -> Response:
    """``POST /data/services/prearchive/move?src=...&newProject=P2``."""
    _post_only(ctx)
    new_project = ctx.param("newProject")
    if not new_project:
        raise HTTPError(400, "newProject is required")
    for session in _sources(ctx):
        move_one(ctx, session, new_project)
    return text("")


def delete(ctx: Ctx) -> Response:
    """``POST /data/services/prearchive/delete?src=...``."""
    _post_only(ctx)
    sessions = _sources(ctx)
    for session in sessions:
        if session.status in IN_PROGRESS:
            raise HTTPError(403, f"Operation already in progress: /data{session.url} is {session.status}")
    for session in sessions:
        prearchive_of(ctx.app).remove(session)
    return text("")


def rebuild_one(ctx: Ctx, session: PrearchiveSession) -> None:
    """Re-read a session's files (headers, sizes, digests); READY, or ERROR with the reason."""
    if session.status in IN_PROGRESS and session.status != "RECEIVING":
        raise HTTPError(403, f"Operation already in progress: the session is {session.status}")
    pre = prearchive_of(ctx.app)
    scans = []
    try:
        for scan in session.scans:
            label = scan.get("resource", "DICOM")
            folder = pre.scan_folder(session, scan["id"], label)
            found = read_dicom_archive(folder)
            if len(found) != 1 or len(found[0].series) != 1:
                raise ValueError(f"scan {scan['id']} holds more than one series")
            stored = [pre.files.describe(folder, rel) for rel in pre.files.list_files(folder)]
            series = found[0].series[0]
            series.scan_id = scan["id"]
            scans.append({**scan, "fields": scan_fields(ctx.app, series),
                          "files": [{"path": f.path, "size": f.size, "md5": f.md5} for f in stored]})
    except (ValueError, OSError) as error:
        pre.set_status(session, "ERROR", f"rebuild failed: {error}")
        return
    pre.mark_rebuilt(session, scans)


def rebuild(ctx: Ctx) -> Response:
    """``POST /data/services/prearchive/rebuild?src=...``."""
    _post_only(ctx)
    for session in _sources(ctx):
        rebuild_one(ctx, session)
    return text("")


# -- DICOM dump -----------------------------------------------------------------------------
def _archive_dicom(ctx: Ctx, segs: list[str]) -> Path:
    """The first DICOM file of an archived session (or of one of its scans)."""
    names = dict(zip(segs[1::2], segs[2::2]))
    if "experiments" not in names or any(k not in ("projects", "subjects", "experiments", "scans") for k in names):
        raise HTTPError(400, "src must name a session: /archive/projects/{P}/subjects/{S}/experiments/{E}[/scans/{N}]")
    project = names.get("projects")
    if project is not None:
        project = project_node(ctx, project).key
    row = find_experiment(ctx, names["experiments"], project)
    if row is None or (names.get("subjects") and find_subject(ctx, names["subjects"], row["project"]) is None):
        raise HTTPError(404, f"Unable to find session {names['experiments']}")
    holders = ctx.backend.archive.shared_into("experiment", row["id"])
    if ctx.backend.access.reach(ctx.user, row["project"], holders)[0] is not Verdict.ALLOWED:
        raise forbidden()  # read through its own project or one it is shared into
    hit = ctx.backend.resources.first_dicom(row["id"], names.get("scans"))
    if hit is None:
        raise HTTPError(404, "No DICOM files found for " + "/".join(segs))
    return ctx.app.files.path_of(ctx.app.files.resource_dir(*hit["folder"].split("/")), hit["path"])


def _prearchive_dicom(ctx: Ctx, segs: list[str]) -> Path:
    session = parse_src(ctx, "/" + "/".join(segs[:5]))
    scans = session.scans
    if len(segs) > 5:
        if len(segs) != 7 or segs[5] != "scans":
            raise HTTPError(400, "src must be /prearchive/projects/{P}/{timestamp}/{session}[/scans/{N}]")
        scans = [s for s in scans if s["id"] == segs[6]]
    for scan in scans:
        if scan["files"]:
            return prearchive_of(ctx.app).file_path(session, scan["id"], scan.get("resource", "DICOM"),
                                                    scan["files"][0]["path"])
    raise HTTPError(404, "No DICOM files found for " + "/".join(segs))


def dicomdump(ctx: Ctx) -> Response:
    """``GET /data/services/dicomdump?src=...[&field=...]``: the header as a table."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    src = ctx.param("src")
    if not src:
        raise HTTPError(400, "The src parameter is required")
    path = src[5:] if src.startswith("/data/") else src
    segs = [s for s in path.split("/") if s]
    if segs[:1] == ["archive"]:
        target = _archive_dicom(ctx, segs)
    elif segs[:2] == ["prearchive", "projects"] and len(segs) >= 5:
        target = _prearchive_dicom(ctx, segs)
    else:
        raise HTTPError(400, f"Invalid src {src!r}: use /archive/projects/... or /prearchive/projects/...")
    fields = [f for f in ctx.params.getlist("field") if f.strip()]  # "(0008,0060)" holds a comma: no splitting
    try:
        rows = dicom_dump(target, fields or None)
    except ValueError as error:
        raise HTTPError(400, f"Cannot dump {src}: {error}") from None
    ctx.params.pop("field", None)
    ctx.params.pop("src", None)
    return table(ctx, rows, DUMP_DEFAULTS, "", always=())


# -- catalog refresh --------------------------------------------------------------------------
def _resource_rows(ctx: Ctx, uri: str) -> list[Any]:
    path = uri[5:] if uri.startswith("/data/") else uri
    segs = [s for s in path.split("/") if s]
    if segs[:1] == ["archive"]:
        segs = segs[1:]
    names = dict(zip(segs[0::2], segs[1::2]))
    if not segs or segs[0] != "projects" or len(segs) % 2 or "projects" not in names:
        raise HTTPError(400, f"Invalid resource {uri!r}: use /archive/projects/{{P}}[/subjects/{{S}}[/experiments/{{E}}"
                             "[/scans/{N}]]][/resources/{R}]")
    project = project_node(ctx, names["projects"], write=True)
    archive = ctx.backend.archive
    owner: tuple[str, str] = ("project", project.key)
    if "subjects" in names:
        subject = find_subject(ctx, names["subjects"], project.key)
        if subject is None:
            raise HTTPError(404, f"Unable to find subject {names['subjects']}")
        require_edit(ctx, Node("subject", subject["id"], subject, project.key))  # its own project decides
        owner = ("subject", subject["id"])
    if "experiments" in names:
        experiment = find_experiment(ctx, names["experiments"], project.key)
        if experiment is None:
            raise HTTPError(404, f"Unable to find experiment {names['experiments']}")
        require_edit(ctx, Node("experiment", experiment["id"], experiment, project.key))
        owner = ("experiment", experiment["id"])
        if "scans" in names:
            scan = archive.child("scan", experiment["id"], names["scans"])
            if scan is None:
                raise HTTPError(404, f"Unable to find scan {names['scans']}")
            owner = ("scan", str(scan["pk"]))
    owners = [owner]
    if owner[0] == "experiment" and "scans" not in names and "resources" not in names:  # a session: all its scans too
        owners += [("scan", str(r["pk"])) for r in archive.scans(owner[1])]
    rows = []
    for kind, key in owners:
        rows += ctx.backend.resources.of_owner(kind, key, label=names.get("resources"))
    if "resources" in names and not rows:
        raise HTTPError(404, f"Unable to find resource {names['resources']}")
    return rows


def _options(ctx: Ctx) -> set[str]:
    chosen = {o.strip() for raw in ctx.params.getlist("options") for o in raw.split(",") if o.strip()}
    for name in REFRESH_OPTIONS:
        if ctx.flag(name):
            chosen.add(name)
    unknown = chosen - set(REFRESH_OPTIONS)
    if unknown:
        raise HTTPError(400, f"Unknown refresh option(s) {', '.join(sorted(unknown))}:"
                             f" use {', '.join(REFRESH_OPTIONS)}")
    return chosen


def refresh_catalog(ctx: Ctx) -> Response:
    """``POST /data/services/refresh/catalog?resource=...&options=append,checksum,delete,populateStats``."""
    _post_only(ctx)
    uris = [u for raw in ctx.params.getlist("resource") for u in raw.split(",") if u.strip()]
    if not uris:
        raise HTTPError(400, "resource is required")
    options = _options(ctx)
    resources = [row for uri in uris for row in _resource_rows(ctx, uri)]
    ctx.backend.resources.refresh(resources, options, ctx.app.files)
    return text("")


# -- scanners, scan types, plugins --------------------------------------------------------------
def _readable_experiments(ctx: Ctx) -> list[Any]:
    readable = readable_projects(ctx)
    rows = ctx.backend.archive.sessions()
    return [r for r in rows if readable is None or r["project"] in readable]


def scanners(ctx: Ctx) -> Response:
    """``GET /data/archive/scanners``: the scanner names of the sessions the user can read."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    found = sorted({loads(r["fields"]).get("scanner", "") for r in _readable_experiments(ctx)} - {""})
    return table(ctx, [{"scanner": s} for s in found], ["scanner"], "", always=())


def scan_types(ctx: Ctx) -> Response:
    """``GET /data/archive/scan_types``: the scan types in the sessions the user can read."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    ids = [r["id"] for r in _readable_experiments(ctx)]
    types = {fields.get("type", "") for fields in ctx.backend.archive.scan_fields_of(ids)}
    return table(ctx, [{"type": t} for t in sorted(types - {""})], ["type"], "", always=())


def plugins(ctx: Ctx) -> Response:
    """``GET /xapi/plugins``: plugin id -> settings; the embedded server has none."""
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    return json_response({})


def plugin(ctx: Ctx, plugin_id: str) -> Response:
    """``GET /xapi/plugins/{id}``: 404, there are no plugins."""
    ctx.require_login()
    raise HTTPError(404, f"No plugin with ID {plugin_id}")


__all__ = [
    "archive",
    "archive_one",
    "delete",
    "dicomdump",
    "move",
    "move_one",
    "plugin",
    "plugins",
    "rebuild",
    "rebuild_one",
    "refresh_catalog",
    "scan_types",
    "scanners",
]
