"""Search metadata: ``/data/search/elements`` and ``/data/search/elements/{type}``.

xnatpy reads both while connecting (to attach display fields to its classes), so
they must answer. Searchable elements are the archive data types (projects,
subjects, experiments, scans) with a count of stored rows, as XNAT lists them.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from .base import Ctx, HTTPError
from .listing import table

BASES = ("xnat:projectData", "xnat:subjectData", "xnat:experimentData", "xnat:imageScanData")
ELEMENT_DEFAULTS = ["ELEMENT_NAME", "PLURAL", "SINGULAR", "CATEGORY", "SECURED", "BROWSEABLE", "COUNT"]
FIELD_DEFAULTS = ["FIELD_ID", "HEADER", "SUMMARY", "TYPE", "REQUIRES_VALUE", "DESC", "ELEMENT_NAME", "SRC"]


def _searchable(ctx: Ctx) -> list[str]:
    datatypes = ctx.app.datatypes
    return [t for t in datatypes.datatypes() if any(datatypes.is_a(t, base) for base in BASES)]


def elements(ctx: Ctx) -> Response:
    """``GET /data/search/elements``: searchable data types with their row counts."""
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    counts = ctx.backend.search.counts_by_type(ctx.backend.access.readable_projects(ctx.user))
    rows = []
    for name in _searchable(ctx):
        short = name.split(":", 1)[1]
        rows.append({"ELEMENT_NAME": name, "PLURAL": short + "s", "SINGULAR": short, "CATEGORY": "",
                     "SECURED": "true", "BROWSEABLE": "true", "COUNT": str(counts.get(name, 0))})
    return table(ctx, rows, ELEMENT_DEFAULTS, "", always=())


def element_fields(ctx: Ctx, element: str) -> Response:
    """``GET /data/search/elements/{type}``: the simple fields of a type, as search fields."""
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    datatypes = ctx.app.datatypes
    name = datatypes.canonical(element)
    if name is None:
        raise HTTPError(404, f"Unknown data type: {element}")
    rows = _display_fields(ctx, name)  # the display fields searches use (PROJECT, INSERT_DATE...) come first
    for found in datatypes.fields_of(name):
        if found.name.upper() in {r["FIELD_ID"] for r in rows}:
            continue
        if found.xs_type is None or not found.xs_type.startswith("xs:") or found.multiple:
            continue
        rows.append({"FIELD_ID": found.name.upper(), "HEADER": found.name, "SUMMARY": found.name,
                     "TYPE": found.xs_type.split(":", 1)[1], "REQUIRES_VALUE": "false", "DESC": "",
                     "ELEMENT_NAME": name, "SRC": "0"})
    return table(ctx, rows, FIELD_DEFAULTS, "", always=())


# XNAT's own display fields, which are not schema fields (REST-NOTES §10): a search names them as
# columns and criteria, so the element's field list offers them as XNAT does
_DISPLAY = {"xnat:projectData": ("ID", "NAME", "INSERT_DATE", "INSERT_USER"),
            "xnat:subjectData": ("SUBJECTID", "SUBJECT_LABEL", "PROJECT", "PROJECTS", "INSERT_DATE", "INSERT_USER"),
            "xnat:imageSessionData": ("SESSION_ID",),
            "xnat:subjectAssessorData": ("SUBJECT_ID", "SUBJECT_LABEL"),
            "xnat:experimentData": ("ID", "EXPT_ID", "LABEL", "PROJECT", "DATE", "INSERT_DATE", "INSERT_USER")}


def _display_fields(ctx: Ctx, name: str) -> list[dict[str, str]]:
    datatypes, rows = ctx.app.datatypes, list[dict[str, str]]()
    for base, fields in _DISPLAY.items():
        if not datatypes.is_a(name, base):
            continue
        for field_id in fields:
            if field_id not in {r["FIELD_ID"] for r in rows}:
                kind = "date" if field_id.endswith("DATE") else "string"
                rows.append({"FIELD_ID": field_id, "HEADER": field_id.replace("_", " ").title(), "SUMMARY": field_id,
                             "TYPE": kind, "REQUIRES_VALUE": "false", "DESC": "", "ELEMENT_NAME": name, "SRC": "1"})
    return rows
