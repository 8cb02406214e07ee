"""The archive hierarchy: URL walking and listings of subjects, experiments, scans, ...

``/data/projects/P/subjects/S/experiments/E/scans/1/resources/DICOM/files/a/b.dcm``
is walked level by level: each level resolves its child by ID or label, and any level
may end in an item, a collection, ``resources/...`` or ``files``. Writes live in
:mod:`.archive_write`, resources and files in :mod:`.resources` / :mod:`.files`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from werkzeug.wrappers import Response

from ..store import loads
from . import archive_write, child_columns, files, items, resources, session_dir, status
from .base import Ctx, HTTPError
from .listing import encoded_table, plain_json_columns, table, xpaths_named
from .lookup import Node, bad_segment, find_experiment, find_subject, global_node, project_node, readable_rows

CHILDREN = {
    "project": {"subjects", "experiments", "resources", "files"},
    "subject": {"experiments", "resources", "files", "projects"},
    "experiment": {"scans", "reconstructions", "assessors", "resources", "files", "projects"},
    "assessor": {"resources", "in", "out", "files", "projects"},
    "scan": {"resources", "files"},
    "reconstruction": {"resources", "in", "out", "files"},
    "resource": {"files"},
}
SUBJECT_DEFAULTS = ["ID", "project", "label", "insert_date", "insert_user"]
EXPERIMENT_DEFAULTS = ["ID", "project", "date", "xsiType", "label", "insert_date"]
# Key columns every listing keeps whatever columns= asks (issue 15 item 1): the ID, and the
# project of a child of a project.
CHILD_KEYS = ("ID", "project")
#: The columns of a session's row in an experiment listing (experiment_rows writes them).
EXPERIMENT_ALIASES = ("ID", "project", "date", "xsiType", "label", "insert_date", "insert_user", "last_modified",
                      "URI", "subject_ID", "subject_label")
SCAN_DEFAULTS = ["xnat_imagescandata_id", "ID", "type", "quality", "xsiType", "note", "series_description"]
RECON_DEFAULTS = ["xnat_reconstructedimagedata_id", "ID", "type", "baseScanType"]
# Xpaths the real server's field mappings name by an alias: such columns come back under the
# alias (pyxnat asks for xnat:subjectAssessorData/subject_id and reads subject_ID). Exact
# spellings only: xnat:subjectAssessorData/ID is no mapping and stays lower-cased.
EXPERIMENT_XPATHS = {x.lower(): a for x, a in {
    "xnat:experimentData/ID": "ID", "xnat:experimentData/project": "project",
    "xnat:experimentData/label": "label", "xnat:experimentData/date": "date",
    "xnat:experimentData/meta/insert_date": "insert_date", "xnat:experimentData/meta/insert_user": "insert_user",
    "xnat:subjectAssessorData/subject_id": "subject_ID", "xnat:subjectData/label": "subject_label",
    "xnat:imageAssessorData/imageSession_ID": "session_ID"}.items()}
SUBJECT_XPATHS = {x.lower(): a for x, a in {
    "xnat:subjectData/ID": "ID", "xnat:subjectData/project": "project", "xnat:subjectData/label": "label",
    "xnat:subjectData/meta/insert_date": "insert_date", "xnat:subjectData/meta/insert_user": "insert_user",
    "xnat:subjectData/group": "group", "xnat:subjectData/src": "src"}.items()}


# -- entry points (see app._URL_MAP) ----------------------------------------------------
def under_project(ctx: Ctx, project: str, rest: str) -> Response:
    """Anything below ``/data/projects/{P}/``."""
    return walk(ctx, project_node(ctx, project), rest.split("/"))


def under_subjects(ctx: Ctx, rest: str) -> Response:
    """``/data/subjects/{ID}[/...]``: ID addressing only."""
    key, *segs = rest.split("/")
    if ctx.method == "PUT" and not segs and find_subject(ctx, key, None) is None:
        raise HTTPError(400, "Subjects are created under a project: /data/projects/{P}/subjects/{label}")
    return walk(ctx, global_node(ctx, "subject", key), segs)


def under_experiments(ctx: Ctx, rest: str) -> Response:
    """``/data/experiments/{ID}[/...]``: ID addressing only."""
    key, *segs = rest.split("/")
    if ctx.method == "PUT" and not segs and find_experiment(ctx, key, None) is None:
        raise HTTPError(400, "Experiments are created under a project:"
                             " /data/projects/{P}/subjects/{S}/experiments/{label}")
    return walk(ctx, global_node(ctx, "experiment", key), segs)


def global_subjects(ctx: Ctx) -> Response:
    """``GET /data/subjects``: every readable subject."""
    _only_get(ctx)
    return table(ctx, subject_rows(ctx, None), SUBJECT_DEFAULTS, "Subjects", xpath_aliases=SUBJECT_XPATHS,
                 keys=CHILD_KEYS)


def global_experiments(ctx: Ctx) -> Response:
    """``GET /data/experiments``: every readable experiment (sessions and assessors)."""
    _only_get(ctx)
    rows = experiment_rows(ctx, readable_rows(ctx, "experiment", ctx.backend.archive.experiment_rows()))
    return table(ctx, rows, EXPERIMENT_DEFAULTS, "Matching experiments",
                 xpath_aliases=EXPERIMENT_XPATHS, keys=CHILD_KEYS)


# -- the walk ---------------------------------------------------------------------------
def walk(ctx: Ctx, node: Node, segs: list[str]) -> Response:
    """Resolve the remaining URL segments below ``node`` and run the matching handler."""
    if not segs or segs == [""]:
        return item(ctx, node)
    coll = segs[0]
    if segs == ["status"] and node.kind in ("experiment", "assessor"):
        return status.status(ctx, node)
    if coll in ("DIR", "XAR") and node.kind in ("experiment", "assessor") and (coll == "DIR" or len(segs) == 1):
        return session_dir.serve(ctx, node, coll, "/".join(segs[1:]))
    if node.kind == "resource" and coll != "files":
        raise HTTPError(400, "This resource works at the catalog level only; append '/files' to reach files")
    if coll not in CHILDREN[node.kind]:
        raise bad_segment(coll)
    if coll == "files":
        if node.kind == "resource":
            return files.resource_files(ctx, node, "/".join(segs[1:]))
        return files.level_files(ctx, [node], "/".join(segs[1:]))
    io = ""
    if coll in ("in", "out"):
        io, segs = coll, segs[1:]
        if not segs or segs[0] != "resources":
            raise bad_segment("/".join(segs) or io)
        coll = "resources"
    if len(segs) == 1:
        return collection(ctx, node, coll, io)
    key = segs[1]
    if coll == "projects":
        if len(segs) > 2:
            raise bad_segment(segs[2])
        return archive_write.share(ctx, node, key)
    if coll == "scans" and len(segs) > 2 and ("," in key or key in ("ALL", "*")):
        return _multi_scans(ctx, node, key, segs[2:])
    child = find_child(ctx, node, coll, key, io)
    if child is None:
        if coll == "subjects" and segs[2:3] == ["experiments"] and len(segs) == 4 and ctx.method in ("PUT", "POST"):
            # a new experiment under a new subject: both are created
            return archive_write.create(ctx, node, "experiments", segs[3], io, new_subject=key)
        if len(segs) == 2 and ctx.method in ("PUT", "POST"):
            return archive_write.create(ctx, node, coll, key, io)
        if coll == "resources" and segs[2:3] == ["files"] and ctx.method in ("PUT", "POST"):
            child = resources.create_implicit(ctx, node, key, io)
        else:
            raise HTTPError(404, f"Unable to find {coll.rstrip('s')} {key}")
    if len(segs) == 2:
        return item(ctx, child)
    return walk(ctx, child, segs[2:])


def _multi_scans(ctx: Ctx, node: Node, key: str, rest: list[str]) -> Response:
    """``scans/1,2/...`` and ``scans/ALL/...``: several scans (or scan types) at once, files only."""
    rows = ctx.backend.archive.scans(node.key)
    if key not in ("ALL", "*"):
        wanted = set(key.split(","))
        rows = [r for r in rows if r["id"] in wanted or loads(r["fields"]).get("type") in wanted]
    scans = [Node("scan", str(r["pk"]), r, node.project, node) for r in rows]
    if rest and rest[0] == "files" and ctx.method == "GET":
        return files.level_files(ctx, scans, "/".join(rest[1:]))
    if len(rest) >= 2 and rest[0] == "resources" and rest[2:3] == ["files"] and ctx.method == "GET":
        res = [r for s in scans for r in [find_child(ctx, s, "resources", rest[1], "")] if r is not None]
        return files.level_files(ctx, res, "/".join(rest[3:]))
    raise HTTPError(400, "Several scans can only be read together through .../files")


def find_child(ctx: Ctx, node: Node, coll: str, key: str, io: str) -> Node | None:
    """The child named ``key`` of ``node`` in collection ``coll``, or None."""
    if coll == "subjects":
        row = find_subject(ctx, key, node.project)
        return Node("subject", row["id"], row, node.project, node) if row else None
    if coll in ("experiments", "assessors"):
        row = find_experiment(ctx, key, node.project)
        if row is None:
            return None
        if coll == "assessors" and row["session_id"] != node.key:
            return None
        if coll == "experiments" and node.kind == "subject" and row["subject_id"] != node.key:
            return None
        return Node("assessor" if row["session_id"] else "experiment", row["id"], row, node.project, node)
    if coll in ("scans", "reconstructions"):
        level = "scan" if coll == "scans" else "reconstruction"
        row = ctx.backend.archive.child(level, node.key, key)
        return Node(level, str(row["pk"]), row, node.project, node) if row else None
    if coll == "resources":
        row = resources.find(ctx, node, key, io)
        return Node("resource", str(row["pk"]), row, node.project, node, io) if row else None
    return None


def item(ctx: Ctx, node: Node) -> Response:
    """GET / PUT / DELETE on one object."""
    if ctx.method in ("GET", "HEAD"):
        return items.respond(ctx, node)
    if ctx.method in ("PUT", "POST"):
        if node.kind == "resource":
            return resources.update(ctx, node)
        return archive_write.update(ctx, node)
    if ctx.method == "DELETE":
        return archive_write.delete(ctx, node)
    raise HTTPError(405, "Method Not Allowed")


def collection(ctx: Ctx, node: Node, coll: str, io: str) -> Response:
    """GET on a collection below ``node``."""
    if coll == "resources":
        return resources.listing(ctx, node, io)
    _only_get(ctx)
    if coll == "subjects":
        return table(ctx, subject_rows(ctx, node.key), SUBJECT_DEFAULTS, "Project Subjects",
                     xpath_aliases=SUBJECT_XPATHS, keys=CHILD_KEYS)
    if coll == "experiments":
        plain = _plain_experiments(ctx, node)
        if plain is not None:
            return plain
        archive = ctx.backend.archive
        found = archive.experiment_rows(subject=node.key) if node.kind == "subject" else \
            archive.experiment_rows(project=node.project)
        # a subject's experiments may sit in projects the user cannot read: those stay out
        rows = experiment_rows(ctx, readable_rows(ctx, "experiment", found), node.project)
        return table(ctx, rows, [*EXPERIMENT_DEFAULTS, "xnat:subjectassessordata/id"], "Matching experiments",
                     xpath_aliases=EXPERIMENT_XPATHS, keys=CHILD_KEYS)
    if coll == "assessors":
        found = readable_rows(ctx, "experiment", ctx.backend.archive.experiment_rows(session=node.key))
        rows = experiment_rows(ctx, found, node.project)
        return table(ctx, rows, [*EXPERIMENT_DEFAULTS, "session_ID", "session_label"], "Matching experiments",
                     xpath_aliases=EXPERIMENT_XPATHS, keys=CHILD_KEYS)
    if coll == "scans":
        return table(ctx, scan_rows(ctx, node), SCAN_DEFAULTS, "", keys=("ID",))
    if coll == "reconstructions":
        return table(ctx, recon_rows(ctx, node), RECON_DEFAULTS, "", keys=("ID",))
    if coll == "projects":
        return archive_write.share_listing(ctx, node)
    raise bad_segment(coll)


def _plain_experiments(ctx: Ctx, node: Node) -> Response | None:
    """A project's or subject's experiments asked in JSON with alias columns only (what clients
    ask), written by SQLite in one query: no Python step per row. None (the general path)
    for any other query, an empty listing, or one holding an experiment the user may not read."""
    columns = plain_json_columns(ctx, EXPERIMENT_ALIASES, [*EXPERIMENT_DEFAULTS, "xnat:subjectassessordata/id"],
                                 keys=CHILD_KEYS)
    if columns is None:
        return None
    archive = ctx.backend.archive
    subject = node.key if node.kind == "subject" else None
    project = None if subject is not None else node.project
    expected = None
    if ctx.backend.access.readable_projects(ctx.user) is not None:  # not every project: check each row
        keys = archive.experiment_keys(project=project, subject=subject)
        if len(readable_rows(ctx, "experiment", keys)) != len(keys):
            return None
        expected = len(keys)
    rows = archive.experiment_listing_json(columns, project=project, subject=subject, labels_in=node.project)
    if not rows or (expected is not None and len(rows) != expected):  # the archive changed in between
        return None
    return encoded_table(rows, "Matching experiments")


def _only_get(ctx: Ctx) -> None:
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")


# -- listing rows -----------------------------------------------------------------------
# ``last_modified`` is a real column of XNAT's listings (issue 15 item 1): the time of the last
# change of the item's own fields, date or label; the insert date for an item never modified.
def subject_rows(ctx: Ctx, project: str | None) -> list[dict[str, Any]]:
    """Rows of subjects in ``project`` (own and shared) or, with None, of every readable project."""
    rows = ctx.backend.archive.subject_rows(project)
    if project is None:
        rows = readable_rows(ctx, "subject", rows)
    out = []
    for r in rows:
        fields = loads(r["fields"])
        row = {"ID": r["id"], "project": r["project"], "label": r["plabel"], "insert_date": r["insert_date"],
               "insert_user": r["insert_user"], "last_modified": r["last_modified"] or r["insert_date"],
               "URI": f"/data/subjects/{r['id']}",
               "_type": r["xsi_type"], "_fields": fields}
        for key in ("gender", "handedness", "dob", "yob", "age", "education", "race", "ethnicity", "height",
                    "weight"):
            row[key] = fields.get(f"demographics/{key}", "")
        row["group"], row["src"] = fields.get("group", ""), fields.get("src", "")
        out.append(row)
    return child_columns.expand(ctx, out, "subject")


def experiment_rows(ctx: Ctx, rows: list[sqlite3.Row], project: str | None = None) -> list[dict[str, Any]]:
    """Listing rows of readable experiments (the caller filters them), labelled as in ``project``."""
    labels: dict[str, str] = {}
    if project is not None:
        labels = ctx.backend.archive.share_labels("experiment", project)
    # The fields document stays JSON text until an xpath reads it (listing.fields_of), and the
    # joined subject is made only when the query names an xpath: a plain listing of 50,000
    # experiments then costs one small dict per row and nothing per cell.
    joined = bool(xpaths_named(ctx))
    out = []
    for r in rows:
        row = {"ID": r["id"], "project": r["project"], "date": r["date"] or "", "xsiType": r["xsi_type"],
               "label": labels.get(r["id"], r["label"]), "insert_date": r["insert_date"] or "",
               "insert_user": r["insert_user"] or "", "last_modified": r["last_modified"] or r["insert_date"] or "",
               "URI": f"/data/experiments/{r['id']}",
               "subject_ID": r["subject_id"] or "", "subject_label": r["subject_label"] or "",
               "_type": r["xsi_type"], "_fields": r["fields"]}
        if joined:
            row["_related"] = [("xnat:subjectData", {"ID": row["subject_ID"], "label": row["subject_label"]})]
        if r["session_id"]:
            row["session_ID"], row["session_label"] = r["session_id"], r["session_label"] or ""
        out.append(row)
    return child_columns.join_session_children(ctx, child_columns.expand(ctx, out, "experiment"))


def scan_rows(ctx: Ctx, node: Node) -> list[dict[str, Any]]:
    """Rows of the scans of a session."""
    out = []
    for r in ctx.backend.archive.scans(node.key):
        fields = loads(r["fields"])
        row = {"xnat_imagescandata_id": str(r["pk"]), "ID": r["id"], "xsiType": r["xsi_type"],
               "URI": f"/data/experiments/{node.key}/scans/{r['id']}", "_type": r["xsi_type"], "_fields": fields}
        for key in ("type", "quality", "note", "series_description", "frames", "UID", "condition"):
            row[key] = fields.get(key, "")
        out.append(row)
    return out


def recon_rows(ctx: Ctx, node: Node) -> list[dict[str, Any]]:
    """Rows of the reconstructions of a session."""
    out = []
    for r in ctx.backend.archive.reconstructions(node.key):
        fields = loads(r["fields"])
        out.append({"xnat_reconstructedimagedata_id": str(r["pk"]), "ID": r["id"], "type": fields.get("type", ""),
                    "baseScanType": fields.get("baseScanType", ""), "xsiType": r["xsi_type"],
                    "URI": f"/data/experiments/{node.key}/reconstructions/{r['id']}",
                    "_type": r["xsi_type"], "_fields": fields})
    return child_columns.expand(ctx, out, "reconstruction")  # provenance/processStep/... (pyxnat's provenance)
