"""The value of one of XNAT's display fields (``GENDER``, ``MR_COUNT``, ``PROJECT_OWNERS``) for a row.

A display field (see :mod:`xnat.testing.displayfields`) reads schema paths of the row or
of a related element (``xnat:demographicData/gender`` of a subject), counts of another type
(``MR_COUNT``), or one of XNAT's SQL views; its Content expression then combines them.
XNAT builds these in PostgreSQL (xdat ``DisplayField``/``ViewManager``); here each source
is answered from the stored rows, and a view this server does not keep answers "" rather than failing, so
every advertised field can be searched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..displayfields import DisplayField, DisplayTable, ElementDisplay, evaluate
from .base import Ctx

Record = dict[str, Any]

# meta paths of every item: XNAT keeps them in xdat_meta_element; our rows keep them as columns
_META = {"meta/insert_date": "insert_date", "meta/insert_user/login": "insert_user",
         "meta/last_modified": "last_modified"}
# PROJ_*_COUNTS views (xnat_projectData_display.xml): experiments of one type in a project
_PROJECT_COUNTS = {"PROJ_MR_COUNTS": "xnat:mrSessionData", "PROJ_CT_COUNTS": "xnat:ctSessionData",
                   "PROJ_PET_COUNTS": "xnat:petSessionData", "PROJ_UT_COUNTS": "xnat:usSessionData"}
# PROJECT_* user views: the users holding a role, as XNAT's views list them (comma-separated logins)
_ROLE_VIEWS = {"PROJECT_OWNERS": ("owner",), "PROJECT_MEMBERS": ("member",),
               "PROJECT_COLLABS": ("collaborator",), "PROJECT_USERS": ("owner", "member", "collaborator")}

# read-only once built; two threads building the same folder's table at once both get an equal one
_TABLES: dict[str, DisplayTable] = {}


def display_table(ctx: Ctx) -> DisplayTable:
    """The display fields of the schema set this app serves (read once per schema folder)."""
    key = str(ctx.app.datatypes.schemas_dir)
    if key not in _TABLES:
        _TABLES[key] = DisplayTable.for_schemas(ctx.app.datatypes.schemas_dir)
    return _TABLES[key]


def element_display(ctx: Ctx, element: str) -> ElementDisplay | None:
    """The display document of a type or of its nearest base that has one."""
    return display_table(ctx).display(ctx.app.datatypes.ancestors(element))


def find(ctx: Ctx, element: str, field_id: str) -> DisplayField | None:
    """A display field of ``element`` by id, without regard to case (``MR_PROJECT_IDENTIFIER=P`` too)."""
    display = element_display(ctx, element)
    wanted = field_id.partition("=")[0].upper()
    if display is None:
        return None
    return next((f for f in display.fields if f.id.upper() == wanted), None)


class DisplayValues:
    """Display-field values of records; ``related(kind, id)`` finds a subject or project row."""

    def __init__(self, ctx: Ctx, related: Callable[[str, str], Record | None],
                 lookup: Callable[[Record, str], str | None]) -> None:
        self.ctx = ctx
        self.related = related
        self.lookup = lookup
        self._experiments: list[Record] | None = None

    def value(self, record: Record, field: DisplayField) -> str:
        """The field's value for the record; "" where XNAT's value comes from SQL we do not run."""
        if field.subquery:
            # *_PROJECT_IDENTIFIER=P is the label within project P (XNAT's sub-query reads
            # label, falling back to the ID); the other sub-queries are per-user views
            return record.get("label") or record.get("id", "") if field.id.endswith("PROJECT_IDENTIFIER") else ""
        values = {name: self._source(record, kind, target) for name, kind, target in field.sources}
        if field.sql:
            return evaluate(field.sql, values)
        return next(iter(values.values()), "")

    def _source(self, record: Record, kind: str, target: str) -> str:
        if kind == "count":   # a subject without any is empty, not 0 (search_results.format-csv.csv)
            return str(self._count(record, target) or "")
        if kind == "view":
            return self._view(record, *target.split(".", 1))
        element, _, path = target.partition("/")
        row = self._row_for(record, element)
        if row is None:
            return ""
        path = _META.get(path.lower(), path)
        found = self.lookup(row, path)
        if found is None and "/" in path:   # xnat:subjectData/investigator/lastname: the leaf
            found = self.lookup(row, path.rsplit("/", 1)[1])
        return found or ""

    def _row_for(self, record: Record, element: str) -> Record | None:
        """The row a path of ``element`` reads: the record, or its subject or project."""
        datatypes = self.ctx.app.datatypes
        own = record.get("xsi_type", "")
        if datatypes.is_a(element, "xnat:subjectData") and not datatypes.is_a(own, "xnat:subjectData"):
            return self.related("subjects", record.get("subject_id", ""))
        if datatypes.is_a(element, "xnat:projectData") and not datatypes.is_a(own, "xnat:projectData"):
            return self.related("projects", record.get("project", ""))
        return record   # the record's own type, its bases, or a child it keeps (demographicData)

    def _experiment_rows(self) -> list[Record]:
        if self._experiments is None:
            self._experiments = [{"xsi_type": r["xsi_type"], "subject_id": r["subject_id"], "project": r["project"]}
                                 for r in self.ctx.backend.search.rows("experiments")]
        return self._experiments

    def _count(self, record: Record, element: str) -> int:
        """Experiments of ``element`` of a subject (``MR_COUNT``) or in a project."""
        datatypes = self.ctx.app.datatypes
        key = "subject_id" if datatypes.is_a(record.get("xsi_type", ""), "xnat:subjectData") else "project"
        return sum(1 for e in self._experiment_rows()
                   if e[key] == record.get("id") and datatypes.is_a(e["xsi_type"], element))

    def _view(self, record: Record, view: str, column: str) -> str:
        if view in _PROJECT_COUNTS:
            return str(self._count(record, _PROJECT_COUNTS[view]) or "")
        if view == "PROJECT_ACCESS":
            return str(record.get("accessibility", ""))
        if view in _ROLE_VIEWS:
            members = self.ctx.backend.projects.members(str(record.get("id", "")))
            return ",".join(m["login"] for m in members if m["role"].lower() in _ROLE_VIEWS[view])
        if view == "SUB_PROJECTS":   # ",<NOSE>" in responses/recorded/pyxnat-tests/search_results.format-csv.csv
            return f",<{record.get('project', '')}>"
        # other views (SUBJECT_LABEL of an experiment...) are columns our rows already hold; those of
        # workflows, favourites and last access are not kept by this server and read ""
        return self.lookup(record, column) or ""
