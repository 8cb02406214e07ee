"""Listing columns that reach into an item's child items, joined as XNAT joins them.

``columns=xnat:subjectData/fields/field[name=site]/field`` reads a custom variable;
``columns=xnat:qcAssessmentData/provenance/processStep/program`` a field of each provenance
step: XNAT's listings join the child table named by the xpath, one row per child item (pyxnat's
``attrs.get`` and ``provenance.get`` read them this way). A listing that names no such xpath
pays nothing here: rows pass through untouched.
"""

from __future__ import annotations

from typing import Any

from .base import Ctx
from .listing import fields_of, xpaths_named
from .writes import DOCUMENTS_KEY

_CUSTOM = "fields/field["


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
