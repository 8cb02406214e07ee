"""Writes in the archive: create (201) / update (200) by PUT, relabel, share, DELETE.

Bodies are the object ID as text, as XNAT answers. Error codes per REST-NOTES §6-7:
409 label in use / already shared / xsiType differs, 400 ID/project changes and bad
values, 417 no type or bad label characters, 422 malformed XML, 403 no permission.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from werkzeug.wrappers import Response

from ..backend import ShareConflict, Verdict
from ..store import loads
from . import resources, status
from .base import Ctx, HTTPError, forbidden, text
from .listing import table
from .lookup import (
    Node,
    find_experiment,
    find_subject,
    project_node,
    refuse,
    require_create,
    require_delete,
    require_edit,
)
from .writes import WriteRequest, check_fields, check_label, check_type, merge_documents, read_write

SUBJECT_SHORTCUTS = {k: f"demographics/{k}" for k in (
    "gender", "handedness", "dob", "yob", "age", "education", "race", "ethnicity", "height", "weight")}
SUBJECT_SHORTCUTS.update({"group": "group", "src": "src", "pi_firstname": "investigator/firstname",
                          "pi_lastname": "investigator/lastname"})
EXPERIMENT_SHORTCUTS = {"date": "date", "time": "time", "note": "note", "visit_id": "visit_id",
                        "acquisition_site": "acquisition_site", "scanner": "scanner", "operator": "operator",
                        "subject_ID": "subject_ID", "session_type": "session_type", "modality": "modality"}
SCAN_SHORTCUTS = {"type": "type", "quality": "quality", "note": "note", "series_description": "series_description",
                  "condition": "condition", "frames": "frames", "UID": "UID"}
RECON_SHORTCUTS = {"type": "type", "baseScanType": "baseScanType"}
_CUSTOM = re.compile(r"^fields/field\[name=([^\]]+)\]/field$")
# Scan parameters: parameters/addParam[name=te]/addField (a keyed list stored as one dict field).
_PARAM = re.compile(r"^parameters/addParam\[name=([^\]]+)\]/addField$")
PARAMS_KEY = "parameters/addParam"
NULL = "NULL"  # XNAT clears a field given this value (xnatpy's del_ relies on it)
BASES = {"subjects": "xnat:subjectData", "experiments": "xnat:experimentData", "assessors": "xnat:experimentData",
         "scans": "xnat:imageScanData", "reconstructions": "xnat:reconstructedImageData"}
SHORTCUTS = {"subjects": SUBJECT_SHORTCUTS, "experiments": EXPERIMENT_SHORTCUTS, "assessors": EXPERIMENT_SHORTCUTS,
             "scans": SCAN_SHORTCUTS, "reconstructions": RECON_SHORTCUTS}
DEFAULT_TYPES = {"subjects": "xnat:subjectData"}


def _custom(fields: dict[str, str]) -> dict[str, str]:
    """Pull custom variables (``fields/field[name=x]/field``) out of ``fields``."""
    found = {}
    for path in list(fields):
        match = _CUSTOM.match(path)
        if match:
            found[match.group(1).lower()] = fields.pop(path)
    return found


def _params(ctx: Ctx, xsi_type: str, fields: dict[str, str]) -> dict[str, str]:
    """Pull scan parameters (``parameters/addParam[name=x]/addField``) out of ``fields``.

    400 when the data type has no ``parameters/addParam`` list (only scans do).
    """
    found = {}
    for path in list(fields):
        match = _PARAM.match(path)
        if match:
            found[match.group(1)] = fields.pop(path)
    if found and ctx.app.datatypes.field_type(xsi_type, PARAMS_KEY) is None:
        raise HTTPError(400, f"Invalid field for {xsi_type}: {PARAMS_KEY}")
    return found


def stored_params(value: Any) -> dict[str, str]:
    """The parameters kept in stored fields, in the order they were set.

    They are kept as a list of ``[name, value]`` pairs (a JSON object would come back with
    sorted keys); an older store kept a dict.
    """
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {str(k): str(v) for k, v in value or ()}


def _merge_params(current: dict[str, Any], params: dict[str, str]) -> None:
    """Set (or, with NULL, remove) scan parameters in a stored ``fields`` dict.

    A parameter keeps its place when set again; a new one goes last: XNAT writes them in
    the order they were set (issue 15 item 7).
    """
    if not params:
        return
    merged = stored_params(current.get(PARAMS_KEY))
    for name, value in params.items():
        if value == NULL:
            merged.pop(name, None)
        else:
            merged[name] = value
    if merged:
        current[PARAMS_KEY] = [[k, v] for k, v in merged.items()]
    else:
        current.pop(PARAMS_KEY, None)


def _nulls(fields: dict[str, str]) -> set[str]:
    """Pop the fields a write clears (value ``NULL``) and return their paths."""
    cleared = {k for k, v in fields.items() if v == NULL}
    for key in cleared:
        del fields[key]
    return cleared


def _immutable(fields: dict[str, str], node: Node | None, project: str) -> str | None:
    """400 when a write tries to change the ID or the owning project through fields.

    Returns the ID the fields give (``xnat:mrSessionData/ID=...`` or ``ID`` in the XML), which a
    creation uses when it is free (issue 15 item 4; XNAT's SecureResource.loadItem sets the ID
    like any other field and the item keeps it on save).
    """
    new_id = fields.pop("ID", None) or fields.pop("id", None)
    if node is not None and new_id and new_id != node.row["id"]:
        raise HTTPError(400, "ID cannot be modified")
    new_project = fields.pop("project", None)
    if new_project and new_project != (node.row["project"] if node is not None and "project" in node.row.keys()
                                       else project):
        raise HTTPError(400, "Project must be modified through separate URI")
    return new_id or None


def create(ctx: Ctx, parent: Node, coll: str, key: str, io: str, new_subject: str | None = None) -> Response:
    """PUT on a new child: 201 with the new object's ID (or share an existing one by ID).

    ``new_subject``: the label of a subject that does not exist yet, named in the URL of a new
    experiment (``/data/projects/P/subjects/NEW/experiments/E``): XNAT creates it with the
    experiment (issue 15 item 4, as seen on XNAT 1.8), here in the same transaction.
    """
    if coll == "resources":
        return resources.create(ctx, parent, key, io)
    if coll not in BASES:
        raise HTTPError(405, "Method Not Allowed")
    if coll in ("subjects", "experiments", "assessors"):  # the new object joins the URL's project
        require_create(ctx, parent.project)
    else:  # scans and reconstructions are part of their session
        require_edit(ctx, parent)
    if coll in ("subjects", "experiments") and parent.kind == "project" and new_subject is None:
        shared = _share_existing(ctx, parent.key, "subject" if coll == "subjects" else "experiment", key)
        if shared is not None:
            return shared
    write = read_write(ctx, DEFAULT_TYPES.get(coll), SHORTCUTS[coll])
    xsi_type = check_type(ctx, write.xsi_type, BASES[coll])
    if coll == "experiments" and ctx.app.datatypes.is_a(xsi_type, "xnat:imageAssessorData"):
        raise HTTPError(400, "Image assessors are created under a session's assessors")
    custom = _custom(write.fields)
    params = _params(ctx, xsi_type, write.fields)
    given_id = _immutable(write.fields, None, parent.project)
    check_fields(ctx, xsi_type, dict.fromkeys(_nulls(write.fields), ""))  # nothing to clear on a new object
    fields: dict[str, Any] = check_fields(ctx, xsi_type, write.fields)
    _merge_params(fields, params)
    merge_documents(fields, write.documents)
    label = check_label(write.label or key)
    archive = ctx.backend.archive
    if coll in ("scans", "reconstructions"):
        check_label(key, "ID")
        with archive.transaction() as conn:
            pk = archive.insert_child(conn, coll[:-1], parent.key, key, xsi_type, fields)
            archive.save_custom(conn, coll[:-1], str(pk), custom, NULL)
        return text(key, 201)
    project = parent.project
    new_status = status.requested(ctx, project, project)
    subject_id, session_id = (None, None) if new_subject else _parents(ctx, parent, coll, fields)
    if given_id is not None:
        check_label(given_id, "ID")
    if new_subject is not None:
        check_label(new_subject)
    with archive.transaction() as conn:
        _label_free(ctx, conn, coll, project, label)
        if given_id is not None and archive.id_taken(conn, coll, given_id):
            raise HTTPError(409, f"The ID {given_id} is already in use.")
        if new_subject is not None:
            _label_free(ctx, conn, "subjects", project, new_subject)
            fields.pop("subject_ID", None)
            subject_id = archive.insert_subject(conn, project, new_subject, "xnat:subjectData", {}, ctx.user.login)
        if coll == "subjects":
            new_id = archive.insert_subject(conn, project, label, xsi_type, fields, ctx.user.login, given_id)
        else:
            date = fields.pop("date", "")
            new_id = archive.insert_experiment(conn, project, subject_id, session_id, label, xsi_type, date, fields,
                                               ctx.user.login, given_id)
            if new_status is not None:
                archive.set_status(conn, new_id, new_status)
        archive.save_custom(conn, "subject" if coll == "subjects" else "experiment", new_id, custom, NULL)
        if coll != "subjects":
            _save_scans(ctx, conn, new_id, write.scans)
    return text(new_id, 201)


def _share_existing(ctx: Ctx, project: str, kind: str, key: str) -> Response | None:
    """``PUT /data/projects/P/subjects/{ID}`` of another project's object: share it into P.

    None when there is no such object, or the user may not read it: for the user it is not
    there, and the PUT creates a new one under that label (XNAT looks IDs up with the user's
    permissions), which tells nothing of the other object.
    """
    existing = find_subject(ctx, key, None) if kind == "subject" else find_experiment(ctx, key, None)
    if existing is None:
        return None
    holders = ctx.backend.archive.shared_into(kind, existing["id"])
    if ctx.backend.access.reach(ctx.user, existing["project"], holders)[0] is not Verdict.ALLOWED:
        return None
    return _share(ctx, Node(kind, existing["id"], existing, existing["project"]), project,
                  ctx.param("label") or existing["label"])


def _parents(ctx: Ctx, parent: Node, coll: str, fields: dict[str, str]) -> tuple[str | None, str | None]:
    """(subject ID, session ID) of a new experiment or assessor."""
    if coll == "subjects":
        return None, None
    if coll == "assessors":
        return parent.row["subject_id"], parent.key
    subject_ref = fields.pop("subject_ID", None)
    if parent.kind == "subject":
        return parent.key, None
    if not subject_ref:
        raise HTTPError(422, "An experiment must be created under a subject (or name one with subject_ID)")
    subject = find_subject(ctx, subject_ref, parent.project)
    if subject is None:
        raise HTTPError(404, f"Unable to find subject {subject_ref}")
    return subject["id"], None


def _label_free(ctx: Ctx, conn: sqlite3.Connection, coll: str, project: str, label: str,
                own_id: str | None = None) -> None:
    if ctx.backend.archive.label_taken(conn, coll, project, label, own_id):
        raise HTTPError(409, "Specified label is already in use.")


def update(ctx: Ctx, node: Node) -> Response:
    """PUT on an existing object: fields, relabel; 200 with its ID."""
    coll = {"subject": "subjects", "experiment": "experiments", "assessor": "assessors", "scan": "scans",
            "reconstruction": "reconstructions"}.get(node.kind)
    if coll is None:  # project nodes are handled by projects.item
        raise HTTPError(405, "Method Not Allowed")
    if not _through_share(node):
        require_edit(ctx, node)
    write = read_write(ctx, None, SHORTCUTS[coll])
    if _through_share(node):
        _require_share_write(ctx, node, write)
    xsi_type = check_type(ctx, write.xsi_type, BASES[coll], node.xsi_type)
    custom = _custom(write.fields)
    params = _params(ctx, xsi_type, write.fields)
    _immutable(write.fields, node, node.project)
    cleared = _nulls(write.fields)
    check_fields(ctx, xsi_type, dict.fromkeys(cleared, ""))
    fields = check_fields(ctx, xsi_type, write.fields)
    fields.pop("subject_ID", None)
    archive = ctx.backend.archive
    level = node.kind
    is_experiment = level in ("experiment", "assessor")
    new_status = status.requested(ctx, node.row["project"], node.project) if is_experiment else None
    pk = node.row["pk"] if level in ("scan", "reconstruction") else node.key
    with archive.transaction() as conn:
        before = archive.version(conn, level, pk)  # kept as a history version if this write changes it
        current = archive.stored_fields(conn, level, pk)
        if is_experiment and ("date" in fields or "date" in cleared):
            archive.set_date(conn, pk, fields.pop("date", ""))
        current.update(fields)
        for path in cleared:
            current.pop(path, None)
        _merge_params(current, params)
        merge_documents(current, write.documents)
        archive.set_fields(conn, level, pk, current)
        if write.label and coll in ("subjects", "experiments", "assessors"):
            _relabel(ctx, conn, node, coll, check_label(write.label))
        archive.save_custom(conn, "experiment" if level == "assessor" else level, str(pk), custom, NULL)
        if is_experiment:
            _save_scans(ctx, conn, node.key, write.scans)
        if new_status is not None:
            archive.set_status(conn, node.key, new_status)
        if before is not None:
            archive.keep_version(conn, level, pk, before)
    return text(node.row["id"], 200)


def _through_share(node: Node) -> bool:
    """Is a subject/experiment addressed through a project it is shared into (not its own)?"""
    return node.kind in ("subject", "experiment", "assessor") and node.row["project"] != node.project


def _require_share_write(ctx: Ctx, node: Node, write: WriteRequest) -> None:
    """Through a share, owners and members of that project set the share's label; anything
    else is an edit of the object and needs edit rights in its own project."""
    ctx.require_login()
    access = ctx.backend.access
    if access.can_edit(ctx.user, node.row["project"]):
        return
    label_only = bool(write.label) and not write.fields and not write.scans
    if not (label_only and access.may_relabel(ctx.user, node.project)):
        raise forbidden()


def _save_scans(ctx: Ctx, conn: sqlite3.Connection, experiment_id: str, scans: list[Any]) -> None:
    """Create or update the scans a session document carries (409 if a scan changes type)."""
    for scan in scans:
        fields: dict[str, Any] = {k: str(v) for k, v in scan.fields.items() if v is not None}
        params = {str(p.fields.get("name")): str(p.fields.get("addField", p.fields.get("addParam", "")))
                  for name, items in scan.children if name == PARAMS_KEY for p in items if p.fields.get("name")}
        scan_id = check_label(fields.pop("ID", ""), "scan ID")
        xsi_type = check_type(ctx, scan.xsi_type, "xnat:imageScanData")
        fields.pop("image_session_ID", None)
        fields.pop("project", None)
        check_fields(ctx, xsi_type, fields)
        archive = ctx.backend.archive
        row = archive.scan_by_id(conn, experiment_id, scan_id)
        _merge_params(fields, params)
        if row is None:
            archive.insert_child(conn, "scan", experiment_id, scan_id, xsi_type, fields)
            continue
        check_type(ctx, xsi_type, "xnat:imageScanData", row["xsi_type"])
        current = loads(row["fields"])
        _merge_params(current, stored_params(fields.pop(PARAMS_KEY, None)))
        archive.set_fields(conn, "scan", row["pk"], {**current, **fields})


def _relabel(ctx: Ctx, conn: sqlite3.Connection, node: Node, coll: str, label: str) -> None:
    if label == node.label_in(ctx):
        return
    _label_free(ctx, conn, coll, node.project, label, node.key)
    ctx.backend.archive.relabel(conn, coll, node.key, node.project, node.row["project"], label)


def delete(ctx: Ctx, node: Node) -> Response:
    """DELETE an object (unshare when addressed through a project it is only shared into)."""
    ctx.require_login()
    if _through_share(node):
        if not ctx.backend.access.may_unshare(ctx.user, node.project):
            raise forbidden()
        ctx.backend.archive.unshare(node.kind, node.key, node.project)
        return text("")
    require_delete(ctx, node)
    resources.delete_tree(ctx, node, remove_files=ctx.flag("removeFiles"))
    return text("")


def share(ctx: Ctx, node: Node, project: str) -> Response:
    """``PUT|DELETE .../subjects/S/projects/P2``: share into (or out of) another project."""
    if ctx.method == "GET":
        raise HTTPError(405, "Method Not Allowed")
    if node.kind not in ("subject", "experiment", "assessor"):
        raise HTTPError(404, "Only subjects and experiments can be shared")
    ctx.require_login()
    target = project_node(ctx, project)
    if ctx.method == "DELETE":
        if not ctx.backend.access.may_unshare(ctx.user, target.key):
            raise forbidden()
        if not ctx.backend.archive.unshare(node.kind, node.key, target.key):
            raise HTTPError(404, f"Not shared into project {target.key}")
        return text("")
    if ctx.method != "PUT":
        raise HTTPError(405, "Method Not Allowed")
    return _share(ctx, node, target.key, ctx.param("label") or node.row["label"])


def _share(ctx: Ctx, node: Node, project: str, label: str) -> Response:
    if node.row["project"] == project:
        raise HTTPError(409, "Already assigned to project")
    check_label(label)
    primary = node.kind != "subject" and ctx.flag("primary")  # primary=true moves an experiment's ownership
    archive = ctx.backend.archive
    current = archive.share_label(node.kind, node.key, project)
    if current is not None and not primary and ctx.param("label") and label != current:
        return _relabel_share(ctx, node, project, label)  # shared there already: a new label there
    holders = archive.shared_into(node.kind, node.key)
    refuse(ctx.backend.access.may_share(ctx.user, node.row["project"], holders, project, primary=primary),
           node.kind)
    try:
        ctx.backend.archive.share(node.kind, node.key, project, label, primary=primary)
    except ShareConflict as conflict:
        raise HTTPError(409, str(conflict)) from None
    return text(node.key, 200)


def _relabel_share(ctx: Ctx, node: Node, project: str, label: str) -> Response:
    """``PUT .../projects/P2?label=NEW`` on an object shared into P2 already: the share's new label."""
    if not ctx.backend.access.may_relabel(ctx.user, project):
        raise forbidden()
    archive = ctx.backend.archive
    with archive.transaction() as conn:
        _label_free(ctx, conn, node.kind, project, label, node.key)
        archive.relabel(conn, node.kind, node.key, project, node.row["project"], label)
    return text(node.key, 200)


def share_listing(ctx: Ctx, node: Node) -> Response:
    """``GET .../subjects/S/projects``: the owning project and the shares."""
    rows = [{"ID": node.row["project"], "label": node.row["label"], "URI": f"/data/projects/{node.row['project']}"}]
    visible = ctx.backend.access.visible_projects(ctx.user)
    for r in ctx.backend.archive.shares(node.kind, node.key):
        if visible is not None and r["project"] not in visible:
            continue  # a project the user may not see is not named
        rows.append({"ID": r["project"], "label": r["label"], "URI": f"/data/projects/{r['project']}"})
    return table(ctx, rows, ["ID", "label"], "Projects")
