"""Resources (catalogs) at every level, and the recursive delete of archive objects."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

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
    return ctx.backend.resources.find(kind, owner_id, io, key)


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
    for r in ctx.backend.resources.with_stats(kind, owner_id, io):
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
    row, created = ctx.backend.resources.insert(kind, owner_id, io, label, ctx.app.canonical_type(xsi_type), attrs,
                                                _folder(node, label, io))
    if not created and not exist_ok:
        raise HTTPError(409, "Specified resource already exists")
    return row


def update(ctx: Ctx, node: Node) -> Response:
    """PUT on an existing resource: XNAT refuses with 409."""
    require_edit(ctx, node)
    raise HTTPError(409, "Specified resource already exists")


# -- recursive delete ------------------------------------------------------------------
def delete_tree(ctx: Ctx, node: Node, remove_files: bool) -> None:
    """Delete ``node``, everything below it and their catalogues; files on disk only with ``remove_files``."""
    folders = ctx.backend.archive.delete_tree(node.kind, node.key)
    if remove_files:
        for folder in folders:
            try:
                ctx.app.files.delete(ctx.app.files.resource_dir(*folder.split("/")))
            except OSError:
                logger.warning("could not remove %s", folder, exc_info=True)
