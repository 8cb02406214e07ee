"""Search metadata: ``/data/search/elements`` and ``/data/search/elements/{type}``.

xnatpy reads both while connecting (to attach display fields to its classes), so
they must answer. Searchable elements are the archive data types (projects,
subjects, experiments, scans, reconstructions) with a count of stored rows, as XNAT lists them.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from .base import Ctx, HTTPError
from .listing import table
from .search_display import element_display

BASES = ("xnat:projectData", "xnat:subjectData", "xnat:experimentData", "xnat:imageScanData",
         "xnat:reconstructedImageData")
ELEMENT_DEFAULTS = ["ELEMENT_NAME", "PLURAL", "SINGULAR", "CATEGORY", "SECURED", "BROWSEABLE", "COUNT"]
FIELD_DEFAULTS = ["FIELD_ID", "HEADER", "SUMMARY", "TYPE", "REQUIRES_VALUE", "DESC", "ELEMENT_NAME", "SRC",
                  "VISIBLE", "SEARCHABLE", "VALUE"]


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
    """``GET /data/search/elements/{type}``: the type's searchable display fields, as XNAT lists them.

    XNAT (restlet ``SearchFieldListResource``) lists the ``DisplayField`` entries of the type's
    display document that are searchable (all of them with ``showAll=true``), with SRC 0, then
    one ``{PROJECT_IDENTIFIER}={project}`` field per project the user reads (SRC 2).
    """
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    name = ctx.app.datatypes.canonical(element)
    if name is None:
        raise HTTPError(404, f"Unknown data type: {element}")
    display = element_display(ctx, name)
    if display is None:   # an abstract type without a document of its own or of a base
        return table(ctx, _display_fields(ctx, name), FIELD_DEFAULTS, "", always=())
    show_all = (ctx.param("showAll") or "").lower() == "true"
    rows = [_row(name, f.id, f.header, f.summary, f.type, f.subquery, f.searchable,
                 (f.header or f.id), "0", "") for f in display.fields if show_all or f.searchable]
    identifier = next((f for f in display.fields if f.subquery and f.id.endswith("PROJECT_IDENTIFIER")), None)
    readable = ctx.backend.access.readable_projects(ctx.user)
    projects = [p["id"] for p in ctx.backend.projects.all()] if readable is None else sorted(readable)
    if identifier is not None and ctx.app.datatypes.field(name, "project") is not None:
        for project in projects:
            text = f"Label within the {project} project."
            rows.append(_row(name, f"{identifier.id}={project}", project, text, "string", False, True,
                             text, "2", project))
    return table(ctx, rows, FIELD_DEFAULTS, "", always=())


def _row(element: str, field_id: str, header: str, summary: str, kind: str, requires: bool,
         searchable: bool, desc: str, src: str, value: str) -> dict[str, str]:
    return {"FIELD_ID": field_id, "HEADER": header, "SUMMARY": summary, "TYPE": kind,
            "REQUIRES_VALUE": str(requires).lower(), "DESC": desc, "ELEMENT_NAME": element, "SRC": src,
            "VISIBLE": "true", "SEARCHABLE": str(searchable).lower(), "VALUE": value}


# Display fields of the abstract types, which have no display document: a search of
# xnat:experimentData names these (REST-NOTES §10)
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
                header = field_id.replace("_", " ").title()
                rows.append(_row(name, field_id, header, field_id, kind, False, True, header, "0", ""))
    return rows
