"""Single items as XNAT renders them: ``format=json`` (items/meta/data_fields/children), xml, html.

Builds an :class:`ItemNode` tree for a resolved :class:`Node` and hands it to the
representation writers. Values are typed through the schema (ints as ints...).
"""

from __future__ import annotations

import html
import json
import time
from typing import Any

from werkzeug.wrappers import Response

from ..store import loads
from .archive_write import PARAMS_KEY, stored_params
from .base import Ctx, HTTPError
from .deps import ItemNode, item_json, item_xml
from .lookup import Node, readable_rows
from .writes import node_from_data, stored_documents

_JAVA_DATE = "%a %b %d %H:%M:%S UTC %Y"


def _start_date(insert_date: str | None) -> str:
    """``2020-09-15 17:01:51.751`` -> ``Tue Sep 15 17:01:51 UTC 2020`` (Java Date.toString)."""
    try:
        parsed = time.strptime((insert_date or "")[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        parsed = time.gmtime()
    return time.strftime(_JAVA_DATE, parsed)


def typed(ctx: Ctx, xsi_type: str, fields: dict[str, Any]) -> dict[str, object]:
    """Coerce stored string values to the schema's types (unknown or bad values stay strings)."""
    out: dict[str, object] = {}
    for path, value in fields.items():
        if value is None or value == "":
            continue
        if not isinstance(value, str):  # already typed (database ids, counts)
            out[path] = value
            continue
        try:
            out[path] = ctx.app.datatypes.coerce(xsi_type, path, value)
        except (ValueError, KeyError):
            out[path] = value
    return out


def _documents(fields: dict[str, Any]) -> list[tuple[str, list[ItemNode]]]:
    """Pop the child items kept in stored ``fields``: parameters (a keyed list), then the rest."""
    params = stored_params(fields.pop(PARAMS_KEY, None))
    # parameters are child items as XNAT writes them: parameters/addParam, {name, addField}
    found = [(PARAMS_KEY, [ItemNode("xnat:addField", {"name": k, "addField": v}) for k, v in params.items()])]
    return [(name, nodes) for name, nodes in found if nodes] + stored_documents(fields)


def _meta(row: Any) -> dict[str, object]:
    keys = row.keys()
    meta: dict[str, object] = {"isHistory": False}
    if "create_event" in keys:
        meta["create_event_id"] = row["create_event"]
    meta["start_date"] = _start_date(row["insert_date"] if "insert_date" in keys else None)
    return meta


def _custom_fields(ctx: Ctx, kind: str, obj_id: str, base: str) -> list[ItemNode]:
    rows = ctx.backend.archive.custom_fields(kind, obj_id)
    return [ItemNode(f"{base}_field", {"field": r["value"], "name": r["name"]}) for r in rows]


def _shares(ctx: Ctx, kind: str, obj_id: str, base: str) -> list[ItemNode]:
    """The sharing block: only projects the user may see are named."""
    visible = ctx.backend.access.visible_projects(ctx.user)
    rows = [r for r in ctx.backend.archive.shares(kind, obj_id) if visible is None or r["project"] in visible]
    return [ItemNode(f"{base}_share", {"label": r["label"], "project": r["project"]}) for r in rows]


def resource_node(ctx: Ctx, row: Any) -> ItemNode:
    """A resource catalog item (the ``file`` / ``resources/resource`` children)."""
    count, size = ctx.backend.resources.stats(row["pk"])
    fields: dict[str, object] = {"xnat_abstractresource_id": row["pk"], "label": row["label"],
                                 "URI": str(ctx.app.files.root / row["folder"] / f"{row['label']}_catalog.xml"),
                                 "file_count": count, "file_size": size}
    for key in ("format", "content", "description"):
        if row[key]:
            fields[key] = row[key]
    children = []
    tags = [t for t in row["tags"].split(",") if t]
    if tags:
        children.append(("tags/tag", [ItemNode("xnat:abstractResource_tag", {"tag": t}) for t in tags]))
    return ItemNode(row["xsi_type"], fields, {"create_event_id": row["create_event"], "isHistory": False,
                                               "start_date": _start_date(None)}, children)


def _resources(ctx: Ctx, owner_kind: str, owner_id: str, io: str = "") -> list[ItemNode]:
    rows = ctx.backend.resources.of_owner(owner_kind, owner_id, io)
    return [resource_node(ctx, r) for r in rows]


def _scan(ctx: Ctx, row: Any, session: Any) -> ItemNode:
    fields = {"ID": row["id"], "xnat_imagescandata_id": row["pk"], "image_session_ID": session["id"],
              "project": session["project"], **loads(row["fields"])}
    documents = _documents(fields)
    children = [("file", nodes) for nodes in [_resources(ctx, "scan", str(row["pk"]))] if nodes] + documents
    return ItemNode(row["xsi_type"], typed(ctx, row["xsi_type"], fields),
                    {"create_event_id": row["create_event"], "isHistory": False,
                     "start_date": _start_date(session["insert_date"])}, children)


def _reconstruction(ctx: Ctx, row: Any, session: Any) -> ItemNode:
    fields = {"ID": row["id"], **loads(row["fields"])}
    children = _documents(fields)
    for io in ("in", "out"):
        nodes = _resources(ctx, "reconstruction", str(row["pk"]), io)
        if nodes:
            children.append((f"{io}/file", nodes))
    return ItemNode(row["xsi_type"], typed(ctx, row["xsi_type"], fields), _meta(session), children)


def _experiment(ctx: Ctx, row: Any, project: str, deep: bool = True) -> ItemNode:
    subject_fields = {"subject_ID": row["subject_id"]} if row["subject_id"] else {}
    session_fields = {"imageSession_ID": row["session_id"]} if row["session_id"] else {}
    fields = {"ID": row["id"], "id": row["id"], "project": row["project"], "label": row["label"],
              **subject_fields, **session_fields, **({"date": row["date"]} if row["date"] else {}),
              **loads(row["fields"])}
    documents = _documents(fields)
    children: list[tuple[str, list[ItemNode]]] = []
    if deep:
        archive = ctx.backend.archive
        scans, recons, assessors = (archive.scans(row["id"]), archive.reconstructions(row["id"]),
                                    readable_rows(ctx, "experiment", archive.assessors(row["id"])))
        groups = [("scans/scan", [_scan(ctx, s, row) for s in scans]),
                  ("reconstructions/reconstructedImage", [_reconstruction(ctx, r, row) for r in recons]),
                  ("assessors/assessor", [_experiment(ctx, a, project) for a in assessors]),
                  ("resources/resource", _resources(ctx, "experiment", row["id"])),
                  ("fields/field", _custom_fields(ctx, "experiment", row["id"], "xnat:experimentData")),
                  ("sharing/share", _shares(ctx, "experiment", row["id"], "xnat:experimentData"))]
        if row["session_id"]:
            groups += [(f"{io}/file", _resources(ctx, "experiment", row["id"], io)) for io in ("in", "out")]
        children = [(name, nodes) for name, nodes in groups if nodes] + documents
    return ItemNode(row["xsi_type"], typed(ctx, row["xsi_type"], fields), _meta(row), children)


def _subject(ctx: Ctx, row: Any, project: str) -> ItemNode:
    raw = loads(row["fields"])
    documents = stored_documents(raw)
    demographics = {k.split("/", 1)[1]: v for k, v in raw.items() if k.startswith("demographics/")}
    fields = {"ID": row["id"], "project": row["project"], "label": row["label"],
              **{k: v for k, v in raw.items() if not k.startswith("demographics/")}}
    experiments = readable_rows(ctx, "experiment", ctx.backend.archive.subject_experiments(row["id"]))
    groups = [("demographics", [ItemNode("xnat:demographicData",
                                         typed(ctx, "xnat:demographicData", demographics))] if demographics else []),
              ("experiments/experiment", [_experiment(ctx, e, project, deep=False) for e in experiments]),
              ("resources/resource", _resources(ctx, "subject", row["id"])),
              ("fields/field", _custom_fields(ctx, "subject", row["id"], "xnat:subjectData")),
              ("sharing/share", _shares(ctx, "subject", row["id"], "xnat:subjectData"))]
    children = [(name, nodes) for name, nodes in groups if nodes] + documents
    return ItemNode(row["xsi_type"], typed(ctx, row["xsi_type"], fields), _meta(row), children)


def _project(ctx: Ctx, row: Any) -> ItemNode:
    fields = {"ID": row["id"], "secondary_ID": row["secondary_id"], "name": row["name"],
              "description": row["description"], **loads(row["fields"])}
    children: list[tuple[str, list[ItemNode]]] = stored_documents(fields)
    # the PI: its names have columns, its other fields (title, email...) sit in fields as PI/...
    pi = {k.split("/", 1)[1]: fields.pop(k) for k in [k for k in fields if k.startswith("PI/")]}
    pi.update({k: v for k, v in (("firstname", row["pi_firstname"]), ("lastname", row["pi_lastname"])) if v})
    if pi:
        children.append(("PI", [ItemNode("xnat:investigatorData", typed(ctx, "xnat:investigatorData", pi))]))
    aliases = ctx.backend.projects.alias_sources(row["id"])
    if aliases:  # an alias's source is an attribute of aliases/alias in the schema: kept when given
        children.append(("aliases/alias", [ItemNode("xnat:projectData_alias", {"alias": a, "source": src or None})
                                           for a, src in aliases.items()]))
    protocols = ctx.backend.projects.setting(row["id"], "studyProtocol")
    if protocols is not None:  # custom variable definitions, as the project document gave them
        children.append(("studyProtocol", [node_from_data(d) for d in json.loads(protocols)]))
    # a protected project shows its description to all, its resources only to its readers
    readable = ctx.backend.access.can_read(ctx.user, row["id"], row["accessibility"])
    res = _resources(ctx, "project", row["id"]) if readable else []
    if res:
        children.append(("resources/resource", res))
    return ItemNode(row["xsi_type"], typed(ctx, row["xsi_type"], fields), _meta(row), children)


def build(ctx: Ctx, node: Node) -> ItemNode:
    """The item tree of any resolved node."""
    if node.kind == "project":
        return _project(ctx, node.row)
    if node.kind == "subject":
        return _subject(ctx, node.row, node.project)
    if node.kind in ("experiment", "assessor"):
        return _experiment(ctx, node.row, node.project)
    assert node.parent is not None
    if node.kind == "scan":
        return _scan(ctx, node.row, node.parent.row)
    if node.kind == "reconstruction":
        return _reconstruction(ctx, node.row, node.parent.row)
    return resource_node(ctx, node.row)


def _history(ctx: Ctx, node: Node) -> list[ItemNode]:
    """Earlier versions of the item (``includeHistory=true``), newest first, each with its own
    fields (not its children) and ``meta.isHistory`` true, the time it began and ended, as XNAT's
    ItemPropBuilder lists them after the item. Kept for subjects, experiments, scans and
    reconstructions changed by a PUT."""
    if node.kind not in ("subject", "experiment", "assessor", "scan", "reconstruction"):
        return []
    key = node.row["pk"] if node.kind in ("scan", "reconstruction") else node.key
    out = []
    for row in ctx.backend.archive.history(node.kind, key):
        fields = {k: v for k, v in loads(row["fields"]).items() if isinstance(v, str)}  # own simple fields
        ident = {"ID": node.row["id"], "label": row["label"]} if node.kind not in ("scan", "reconstruction") \
            else {"ID": row["label"]}
        if row["date"]:
            ident["date"] = row["date"]
        meta = {"isHistory": True, "start_date": _start_date(row["start_date"] or None),
                "end_date": _start_date(row["end_date"])}
        out.append(ItemNode(row["xsi_type"], typed(ctx, row["xsi_type"], {**ident, **fields}), meta))
    return out


def respond(ctx: Ctx, node: Node) -> Response:
    """``GET <item>?format=json|xml|html``; without ``format`` XNAT renders its HTML report page."""
    fmt = (ctx.param("format") or "html").lower()
    tree = build(ctx, node)
    if fmt == "json":
        history = _history(ctx, node) if ctx.flag("includeHistory") else []
        return Response(item_json(tree, history, headers=ctx.flag("includeHeaders")), mimetype="application/json")
    if fmt == "xml":
        return Response(item_xml(tree, ctx.app.datatypes, ctx.app.site_url), mimetype="text/xml")
    if fmt == "html":
        title = html.escape(f"{tree.xsi_type} {tree.fields.get('ID', '')}")
        body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return Response(body, mimetype="text/html")
    raise HTTPError(400, f"Unsupported format: {fmt}")
