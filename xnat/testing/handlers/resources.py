"""Resources (catalogs) at every level, and the recursive delete of archive objects."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Response

from .base import Ctx, HTTPError, text
from .listing import table
from .lookup import Node, require_edit
from .writes import check_label

logger = logging.getLogger(__name__)

RESOURCE_DEFAULTS = ["xnat_abstractresource_id", "label", "element_name", "category", "cat_id", "cat_desc",
                     "file_count", "file_size", "tags", "content", "format"]
RESOURCE_IDENTITY = ("xnat_abstractresource_id", "label", "element_name")
_OWNER_KIND = {"project": "project", "subject": "subject", "experiment": "experiment", "assessor": "experiment",
               "scan": "scan", "reconstruction": "reconstruction"}


def owner(node: Node) -> tuple[str, str]:
    """(owner_kind, owner_id) of the resources of ``node``."""
    return _OWNER_KIND[node.kind], node.key


def find(ctx: Ctx, node: Node, key: str, io: str) -> sqlite3.Row | None:
    """A resource of ``node`` by label or by its numeric ``xnat_abstractresource_id``."""
    kind, owner_id = owner(node)
    store = ctx.app.store
    row = store.one("SELECT * FROM resources WHERE owner_kind=? AND owner_id=? AND io=? AND label=?",
                    (kind, owner_id, io, key))
    if row is None and key.isdigit():
        row = store.one("SELECT * FROM resources WHERE owner_kind=? AND owner_id=? AND io=? AND pk=?",
                        (kind, owner_id, io, int(key)))
    return row


def folder_of(ctx: Ctx, row: sqlite3.Row) -> Path:
    """The resource's folder in the archive tree (created on demand)."""
    return ctx.app.files.resource_dir(*row["folder"].split("/"))


def _folder(node: Node, label: str, io: str) -> str:
    """Where a new resource of ``node`` keeps its files, relative to the archive root."""
    if node.kind == "project":
        return f"{node.key}/resources/{label}"
    if node.kind == "subject":
        return f"{node.row['project']}/subjects/{node.key}/{label}"
    if node.kind in ("experiment", "assessor"):
        sub = f"{io.upper()}/{label}" if io else f"RESOURCES/{label}"
        return f"{node.row['project']}/arc001/{node.key}/{sub}"
    assert node.parent is not None
    session = node.parent.row
    if node.kind == "scan":
        return f"{session['project']}/arc001/{session['id']}/SCANS/{node.key}/{label}"
    return f"{session['project']}/arc001/{session['id']}/PROCESSED/{node.key}/{io.upper() or 'RESOURCES'}/{label}"


def listing(ctx: Ctx, node: Node, io: str) -> Response:
    """``GET .../resources``: the resource table (file_count/file_size always filled)."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    kind, owner_id = owner(node)
    rows = []
    for r in ctx.app.store.all(
            "SELECT r.*, COUNT(f.path) AS n, COALESCE(SUM(f.size), 0) AS s FROM resources r LEFT JOIN files f"
            " ON f.resource_pk = r.pk WHERE r.owner_kind=? AND r.owner_id=? AND r.io=? GROUP BY r.pk ORDER BY r.pk",
            (kind, owner_id, io)):
        rows.append({"xnat_abstractresource_id": str(r["pk"]), "label": r["label"], "element_name": r["xsi_type"],
                     "category": _category(node), "cat_id": str(node.row["id"]) if node.kind != "project" else "",
                     "cat_desc": r["description"], "file_count": str(r["n"]), "file_size": str(r["s"]),
                     "tags": r["tags"], "content": r["content"], "format": r["format"],
                     "xsiType": r["xsi_type"], "_type": r["xsi_type"]})
    # A real server's rows carry no URI (xnatpy rebuilds it from xnat_abstractresource_id) and
    # always their identity columns, whatever columns= asks for.
    return table(ctx, rows, RESOURCE_DEFAULTS, "Resources", always=RESOURCE_IDENTITY)


def _category(node: Node) -> str:
    return {"scan": "scans", "reconstruction": "reconstructions", "assessor": "assessors"}.get(node.kind, "resources")


def _attributes(ctx: Ctx) -> dict[str, str]:
    """format/content/description/tags, given as shortcuts (``format=DICOM``) or as xpaths
    (``xnat:resourceCatalog/format=DICOM``), as XNAT sets an item from either."""
    by_xpath = {name.rsplit("/", 1)[1]: value for name, value in ctx.params.items()
                if "/" in name and name.split("/", 1)[0].lower().endswith(("resource", "resourcecatalog"))}
    return {key: ctx.param(key) or by_xpath.get(key) or "" for key in ("format", "content", "description", "tags")}


def create(ctx: Ctx, node: Node, label: str, io: str) -> Response:
    """``PUT .../resources/{LABEL}?format=&content=&description=&tags=``."""
    if ctx.method not in ("PUT", "POST"):
        raise HTTPError(405, "Method Not Allowed")
    insert(ctx, node, label, io)
    return text("", 200)


def create_implicit(ctx: Ctx, node: Node, label: str, io: str) -> Node:
    """A resource made on the fly by an upload to ``.../resources/{LABEL}/files/...``."""
    # Parallel first uploads race to create it: whoever comes second uses the winner's row.
    row = insert(ctx, node, label, io, attributes={}, exist_ok=True)
    return Node("resource", str(row["pk"]), row, node.project, node, io)


def insert(ctx: Ctx, node: Node, label: str, io: str, attributes: dict[str, str] | None = None,
           exist_ok: bool = False) -> sqlite3.Row:
    """Create a resource row (403 without edit rights; 409 if it exists, unless ``exist_ok``)."""
    require_edit(ctx, node)
    check_label(label, "resource label")
    xsi_type = ctx.param("xsiType") or "xnat:resourceCatalog"
    if not ctx.app.datatypes.is_a(ctx.app.canonical_type(xsi_type), "xnat:abstractResource"):
        raise HTTPError(400, f"{xsi_type} is not a resource type")
    attrs = _attributes(ctx) if attributes is None else dict.fromkeys(("format", "content", "description", "tags"), "")
    kind, owner_id = owner(node)
    store = ctx.app.store
    with store.transaction() as conn:
        existing = conn.execute("SELECT * FROM resources WHERE owner_kind=? AND owner_id=? AND io=? AND label=?",
                                (kind, owner_id, io, label)).fetchone()
        if existing is not None:
            if exist_ok:
                return existing
            raise HTTPError(409, "Specified resource already exists")
        event = store.next_value(conn, "event")
        cur = conn.execute(
            "INSERT INTO resources(owner_kind, owner_id, io, label, xsi_type, format, content, description, tags,"
            " folder, create_event) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
            (kind, owner_id, io, label, ctx.app.canonical_type(xsi_type), attrs["format"], attrs["content"],
             attrs["description"], attrs["tags"], _folder(node, label, io), event))
        row = conn.execute("SELECT * FROM resources WHERE pk=?", (cur.lastrowid,)).fetchone()
    return row


def update(ctx: Ctx, node: Node) -> Response:
    """PUT on an existing resource: XNAT refuses with 409."""
    require_edit(ctx, node)
    raise HTTPError(409, "Specified resource already exists")


# -- recursive delete ------------------------------------------------------------------
def delete_tree(ctx: Ctx, node: Node, remove_files: bool) -> None:
    """Delete ``node``, everything below it and their catalogues; files on disk only with ``remove_files``."""
    folders: list[str] = []
    with ctx.app.store.transaction() as conn:
        _delete(conn, node.kind, node.key, folders)
    if remove_files:
        for folder in folders:
            try:
                ctx.app.files.delete(ctx.app.files.resource_dir(*folder.split("/")))
            except OSError:
                logger.warning("could not remove %s", folder, exc_info=True)


def _delete(conn: Any, kind: str, key: str, folders: list[str]) -> None:
    owner_kind = _OWNER_KIND.get(kind)
    if kind == "resource":
        row = conn.execute("SELECT folder FROM resources WHERE pk=?", (int(key),)).fetchone()
        if row:
            folders.append(row["folder"])
        conn.execute("DELETE FROM files WHERE resource_pk=?", (int(key),))
        conn.execute("DELETE FROM resources WHERE pk=?", (int(key),))
        return
    for r in conn.execute("SELECT pk FROM resources WHERE owner_kind=? AND owner_id=?", (owner_kind, key)).fetchall():
        _delete(conn, "resource", str(r["pk"]), folders)
    if kind == "project":
        for r in conn.execute("SELECT id FROM subjects WHERE project=?", (key,)).fetchall():
            _delete(conn, "subject", r["id"], folders)
        for r in conn.execute("SELECT id FROM experiments WHERE project=? AND session_id IS NULL", (key,)).fetchall():
            _delete(conn, "experiment", r["id"], folders)
    elif kind == "subject":
        for r in conn.execute("SELECT id FROM experiments WHERE subject_id=? AND session_id IS NULL",
                              (key,)).fetchall():
            _delete(conn, "experiment", r["id"], folders)
        _drop(conn, "subjects", "subject", key)
    elif kind in ("experiment", "assessor"):
        for r in conn.execute("SELECT id FROM experiments WHERE session_id=?", (key,)).fetchall():
            _delete(conn, "assessor", r["id"], folders)
        for table_name, child in (("scans", "scan"), ("reconstructions", "reconstruction")):
            for r in conn.execute(f"SELECT pk FROM {table_name} WHERE experiment_id=?", (key,)).fetchall():
                _delete(conn, child, str(r["pk"]), folders)
        _drop(conn, "experiments", "experiment", key)
    elif kind in ("scan", "reconstruction"):
        table_name = "scans" if kind == "scan" else "reconstructions"
        conn.execute(f"DELETE FROM {table_name} WHERE pk=?", (int(key),))
        conn.execute("DELETE FROM custom_fields WHERE kind=? AND obj_id=?", (kind, key))


def _drop(conn: Any, table_name: str, kind: str, key: str) -> None:
    conn.execute(f"DELETE FROM {table_name} WHERE id=?", (key,))
    conn.execute("DELETE FROM shares WHERE kind=? AND obj_id=?", (kind, key))
    conn.execute("DELETE FROM custom_fields WHERE kind=? AND obj_id=?", (kind, key))
