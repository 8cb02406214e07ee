"""Listing columns that reach into an item's child items, joined as XNAT joins them.

``columns=xnat:subjectData/fields/field[name=site]/field`` reads a custom variable;
``columns=xnat:qcAssessmentData/provenance/processStep/program`` a field of each provenance
step: XNAT's listings join the child table named by the xpath, one row per child item (pyxnat's
``attrs.get`` and ``provenance.get`` read them this way). A listing that names no such xpath
pays nothing here: rows pass through untouched.

A session's scans, reconstructions and assessors are tables of their own: an xpath naming one
(``xnat:mrScanData/type``, ``xnat:imageAssessorData/ID``) or reaching into the session's list of
them (``xnat:mrSessionData/scans/scan/id``, as pyxnat's ``inspect.scan_values`` asks) joins
that table, one row per item, as XNAT's query organizer does (:func:`join_session_children`).
"""

from __future__ import annotations

from typing import Any

from ..store import loads
from .base import Ctx
from .listing import fields_of, xpaths_named
from .lookup import readable_rows
from .writes import DOCUMENTS_KEY

_CUSTOM = "fields/field["
# A session's child tables: (kind, the type its items derive from, its list's path in the session)
_SESSION_CHILDREN = (
    ("scan", "xnat:imageScanData", "scans/scan/"),
    ("reconstruction", "xnat:reconstructedImageData", "reconstructions/reconstructedImage/"),
    ("assessor", "xnat:imageAssessorData", "assessors/assessor/"),
)


def expand(ctx: Ctx, rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """``rows`` of subjects or experiments (``kind``), with the child values the query's xpaths
    name added to their fields: custom variables, and one row per item of a kept child list."""
    paths = [x.split("/", 1)[1].lower() for x in xpaths_named(ctx)]
    custom = any(p.startswith(_CUSTOM) for p in paths)
    nested = [p for p in paths if not p.startswith(_CUSTOM) and p.count("/") >= 2]
    if not custom and not nested:
        return rows
    out = []
    for row in rows:
        fields = dict(fields_of(row))
        if custom:
            for variable in ctx.backend.archive.custom_fields(kind, row["ID"]):
                fields[f"fields/field[name={variable['name']}]/field"] = variable["value"]
        out += [{**row, "_fields": joined} for joined in _join_documents(fields, nested)]
    return out


def _join_documents(fields: dict[str, Any], nested: list[str]) -> list[dict[str, Any]]:
    """One copy of ``fields`` per item of each kept child list a path reaches into (a left
    join: an item without such children keeps its one row)."""
    joined = [fields]
    for child_path, items in (fields.get(DOCUMENTS_KEY) or {}).items():
        prefix = child_path.lower() + "/"
        if not items or not any(p.startswith(prefix) for p in nested):
            continue
        joined = [{**base, **values} for base in joined for item in items
                  for values in _flatten(child_path + "/", item)]
    return joined


def _flatten(prefix: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    """A kept child item (and its own child lists, joined) as ``prefix + path`` -> value rows.

    A field of a nested element is also named with ``_`` for ``/`` (``program/version`` as
    ``program_version``): XFT's column name for it, which clients such as pyxnat's provenance
    reader ask for."""
    values: dict[str, Any] = {}
    for key, value in item["fields"].items():
        values[prefix + key] = value
        if "/" in key:
            values.setdefault(prefix + key.replace("/", "_"), value)
    rows = [values]
    for name, children in item["children"]:
        if children:
            rows = [{**row, **child} for row in rows for item_ in children
                    for child in _flatten(f"{prefix}{name}/", item_)]
    return rows


def join_session_children(ctx: Ctx, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Experiment ``rows`` joined with the scans, reconstructions or assessors the query's xpaths
    name (a left join: a session without such items keeps its one row); see the module docstring."""
    kinds = _kinds_named(ctx)
    for kind, _, list_path in _SESSION_CHILDREN:
        if kind in kinds:
            items = _items_of(ctx, kind, [r["ID"] for r in rows])
            rows = [joined for row in rows for joined in _joined(row, items.get(row["ID"], []), list_path)]
    return rows


def _kinds_named(ctx: Ctx) -> set[str]:
    datatypes, kinds = ctx.app.datatypes, set()
    for xpath in xpaths_named(ctx):
        type_name, _, path = xpath.partition("/")
        canonical = ctx.app.canonical_type(type_name)
        for kind, base, list_path in _SESSION_CHILDREN:
            if datatypes.is_a(canonical, base) or path.lower().startswith(list_path.lower()):
                kinds.add(kind)
    return kinds


def _items_of(ctx: Ctx, kind: str, session_ids: list[str]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Session ID -> (xsi type, values) of each of its items of ``kind`` that the user may read."""
    archive = ctx.backend.archive
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    if kind == "scan":
        wanted = set(session_ids)
        for scan in archive.all_scans():
            if scan["experiment_id"] in wanted:
                values = {"ID": scan["id"], "xnat_imagescandata_id": str(scan["pk"]), **loads(scan["fields"])}
                found.setdefault(scan["experiment_id"], []).append((scan["xsi_type"], values))
        return found
    for session_id in dict.fromkeys(session_ids):
        if kind == "reconstruction":
            found[session_id] = [(r["xsi_type"], {"ID": r["id"], "xnat_reconstructedimagedata_id": str(r["pk"]),
                                                  **loads(r["fields"])})
                                 for r in archive.reconstructions(session_id)]
        else:  # an assessor is secured by its own project, as any experiment
            found[session_id] = [(r["xsi_type"], {"ID": r["id"], "label": r["label"], "project": r["project"],
                                                  **loads(r["fields"])})
                                 for r in readable_rows(ctx, "experiment", archive.assessors(session_id))]
    return found


def _joined(row: dict[str, Any], items: list[tuple[str, dict[str, Any]]], list_path: str) -> list[dict[str, Any]]:
    """``row`` once per item: the item among the row's related items (its own type's xpaths) and
    its values under the session's list path (``scans/scan/id``)."""
    if not items:
        return [row]
    fields = fields_of(row)
    return [{**row, "_related": [*row.get("_related", ()), (xsi_type, values)],
             "_fields": {**fields, **{list_path + key: value for key, value in values.items()}}}
            for xsi_type, values in items]
