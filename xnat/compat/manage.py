"""``interface.inspect``, ``interface.manage`` and ``interface.array``: what pyxnat offers
beside the archive tree.

* :class:`Inspect`: data types and their search fields (``/data/search/elements``), the
  types in use at each level (the server's counts and the schemas' type hierarchy), the
  distinct values of a field (one search), the IDs of projects, subjects, experiments and
  scans (one listing each).
* :class:`Array`: pyxnat's one-request tables of experiments and scans.
* :class:`Manage`: ``manage.search`` (saved searches and templates, :mod:`xnat.compat.saved`),
  ``manage.schemas`` (XSD documents fetched by URL, :class:`SchemaManager`),
  ``manage.project(id)`` (a project's users and settings, :mod:`xnat.compat.projects`),
  ``manage.users`` (:mod:`xnat.compat.users`), ``manage.prearchive`` (:mod:`xnat.compat.prearchive`),
  ``manage.register_callback`` (called for every element a collection yields).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from lxml import etree

from ..exceptions import XNATValueError
from ..schema import SchemaModel
from ..schema.loader import load_model
from ..xmlsafe import safe_parser
from .jsontable import JsonTable
from .objects import CALLBACKS, Project
from .prearchive import PreArchive
from .saved import SearchManager
from .search import Search
from .users import Users

__all__ = ["Array", "Inspect", "Manage", "SchemaManager", "SearchManager"]

_GLOB = set("*?[")


def _rows(session: Any, uri: str, query: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    return list(session.get_json(uri, query=query)["ResultSet"]["Result"])


class Inspect:
    """What the server knows: data types, fields, values."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._model: SchemaModel | None = None

    def __repr__(self) -> str:
        return "<Inspect>"

    def datatypes(self, pattern: str = "*", fields_pattern: str | None = None) -> list[str]:
        """Data types matching ``pattern``; their fields with ``fields_pattern`` (or when
        ``pattern`` names one type exactly, as pyxnat does)."""
        if fields_pattern is None and not _GLOB & set(pattern):
            fields_pattern = "*"
        return list(self._session.inspect.datatypes(pattern, fields_pattern))

    def experiment_types(self) -> list[str]:
        """The experiment (subject assessor) types the archive holds items of."""
        return self._types_in_use("xnat:subjectAssessorData")

    def assessor_types(self) -> list[str]:
        return self._types_in_use("xnat:imageAssessorData")

    def scan_types(self) -> list[str]:
        return self._types_in_use("xnat:imageScanData")

    def reconstruction_types(self) -> list[str]:
        return self._types_in_use("xnat:reconstructedImageData")

    def _types_in_use(self, base: str) -> list[str]:
        """The searchable types derived from ``base`` (or ``base`` itself) that the server counts
        items of. pyxnat answers the types its own session happened to list, at every level."""
        rows = self._session.get_json("/data/search/elements")["ResultSet"]["Result"]
        if self._model is None:
            self._model = load_model(self._session)  # cached on disk; read once per Interface
        types = self._model.types
        found = []
        for row in rows:
            name = row["ELEMENT_NAME"]
            seen: set[str] = set()
            key: str | None = name
            while key is not None and key not in seen and key != base:  # the seen set stops a cyclic model
                seen.add(key)
                key = types[key].base if key in types else None
            if key == base and str(row.get("COUNT", "0")) not in ("", "0"):
                found.append(name)
        return sorted(found)

    def field_values(self, field_name: str) -> list[str]:
        """The distinct values of a search field, e.g. ``xnat:mrSessionData/PROJECT``."""
        datatype = field_name.partition("/")[0]
        table = Search(self._session, datatype, [field_name]).all()
        key = table.headers()[0]
        return sorted({str(value) for value in table.get(key, always_list=True) if value not in (None, "")})

    def project_values(self) -> list[str]:
        return [row["ID"] for row in _rows(self._session, "/data/projects")]

    def subject_values(self, project: str | None = None) -> list[str]:
        uri = f"/data/projects/{project}/subjects" if project else "/data/subjects"
        return [row["ID"] for row in _rows(self._session, uri)]

    def experiment_values(self, datatype: str, project: str | None = None) -> list[str]:
        """The IDs of the experiments of ``datatype`` (in ``project``)."""
        query = {"xsiType": datatype, "columns": "ID"}
        if project:
            query["project"] = project
        return [row["ID"] for row in _rows(self._session, "/data/experiments", query)]

    def scan_values(self, experiment_type: str, project: str | None = None) -> list[str]:
        """The distinct scan IDs of the experiments of ``experiment_type`` (in ``project``), one request.

        (pyxnat asks for a ``<type>/scans/scan/id`` column, which XNAT's listing leaves
        empty; this asks for ``xnat:imageScanData/ID``, one row per scan.)"""
        return self._child_values(experiment_type, project, "xnat:imageScanData/ID")

    def assessor_values(self, experiment_type: str, project: str | None = None) -> list[str]:
        """The distinct assessor IDs of the experiments of ``experiment_type`` (in ``project``), one request."""
        return self._child_values(experiment_type, project, "xnat:imageAssessorData/ID")

    def reconstruction_values(self, experiment_type: str, project: str | None = None) -> list[str]:
        """The distinct reconstruction IDs of the experiments of ``experiment_type`` (in ``project``).

        (pyxnat asks for ``<type>/reconstructions/reconstruction/id``, which the listing leaves
        empty; this asks for ``xnat:reconstructedImageData/ID``, one row per reconstruction.)"""
        return self._child_values(experiment_type, project, "xnat:reconstructedImageData/ID")

    def _child_values(self, experiment_type: str, project: str | None, column: str) -> list[str]:
        """The distinct non-empty values of ``column`` over the experiments of a type: one listing.
        (pyxnat keeps the empty value of experiments without children and does not filter by type.)"""
        query = {"xsiType": experiment_type, "columns": f"ID,{column}"}
        if project:
            query["project"] = project
        rows = _rows(self._session, "/data/experiments", query)
        return sorted({row.get(column.lower(), "") for row in rows} - {""})


class Array:
    """pyxnat's ``array``: experiments and scans as one table, one request.

    Filters go to the server as query parameters; ``constraints`` (``{"column": "value"}``)
    add their columns and keep the rows whose value matches, as pyxnat does.
    """

    def __init__(self, session: Any) -> None:
        self._session = session

    def __repr__(self) -> str:
        return "<Array>"

    def _array(self, names: Sequence[str], project_id: str | None, subject_id: str | None,
               subject_label: str | None, experiment_id: str | None, experiment_label: str | None,
               experiment_type: str, columns: Sequence[str] | None,
               constraints: Mapping[str, str] | None) -> JsonTable:
        constraints = dict(constraints or {})
        wanted = [*names, *constraints, *(columns or ())]
        query: dict[str, Any] = {"xsiType": experiment_type, "columns": ",".join(wanted)}
        filters = {"project": project_id, f"{experiment_type}/subject_id": subject_id,
                   "xnat:subjectData/label": subject_label, "ID": experiment_id, "label": experiment_label}
        query.update({key: value for key, value in filters.items() if value is not None})
        table = JsonTable(_rows(self._session, "/data/experiments", query))
        return table.where(**{key.lower(): value for key, value in constraints.items()}) if constraints else table

    def experiments(self, project_id: str | None = None, subject_id: str | None = None,
                    subject_label: str | None = None, experiment_id: str | None = None,
                    experiment_label: str | None = None, experiment_type: str = "xnat:subjectAssessorData",
                    columns: Sequence[str] | None = None,
                    constraints: Mapping[str, str] | None = None) -> JsonTable:
        """The experiments of ``experiment_type`` matching the filters: ID, project, subject ID and ``columns``."""
        names = ["ID", "project", f"{experiment_type}/subject_id"]
        return self._array(names, project_id, subject_id, subject_label, experiment_id, experiment_label,
                           experiment_type, columns, constraints)

    def mrsessions(self, project_id: str | None = None, subject_id: str | None = None,
                   subject_label: str | None = None, experiment_id: str | None = None,
                   experiment_label: str | None = None, columns: Sequence[str] | None = None,
                   constraints: Mapping[str, str] | None = None) -> JsonTable:
        return self.experiments(project_id, subject_id, subject_label, experiment_id, experiment_label,
                                "xnat:mrSessionData", columns, constraints)

    def scans(self, project_id: str | None = None, subject_id: str | None = None, subject_label: str | None = None,
              experiment_id: str | None = None, experiment_label: str | None = None,
              experiment_type: str = "xnat:imageSessionData", scan_type: str = "xnat:imageScanData",
              columns: Sequence[str] | None = None, constraints: Mapping[str, str] | None = None) -> JsonTable:
        """One row per scan of ``scan_type`` in the matching experiments (experiments without one are left out)."""
        names = ["ID", "project", f"{experiment_type}/subject_id", f"{scan_type}/ID"]
        table = self._array(names, project_id, subject_id, subject_label, experiment_id, experiment_label,
                            experiment_type, columns, constraints)
        key = f"{scan_type}/ID".lower()
        return JsonTable([row for row in table if row.get(key)])

    def mrscans(self, project_id: str | None = None, subject_id: str | None = None,
                subject_label: str | None = None, experiment_id: str | None = None,
                experiment_label: str | None = None, columns: Sequence[str] | None = None,
                constraints: Mapping[str, str] | None = None) -> JsonTable:
        return self.scans(project_id, subject_id, subject_label, experiment_id, experiment_label,
                          "xnat:mrSessionData", "xnat:mrScanData", columns, constraints)


class SchemaManager:
    """pyxnat's ``manage.schemas``: XSD documents fetched from the server and kept by name.

    ``add("/xapi/schemas/xnat")`` fetches and parses one (safely: no entities, no network);
    ``manage.schemas()`` lists the names added; ``remove(name)`` forgets one. (The classes
    of this library come from the schemas read at connect: see :func:`xnat.connect`.)
    """

    def __init__(self, session: Any) -> None:
        self._session = session
        self._trees: dict[str, etree._Element] = {}

    def __repr__(self) -> str:
        return f"<SchemaManager {sorted(self._trees)}>"

    def __call__(self) -> list[str]:
        return list(self._trees)

    def add(self, url: str) -> None:
        """Fetch the schema at ``url`` (relative to the server: ``/xapi/schemas/xnat``) and keep it."""
        content = self._session.get(url).content
        try:
            tree = etree.fromstring(content, safe_parser())
        except etree.XMLSyntaxError as error:
            raise XNATValueError(f"{url} is not an XML schema: {error}") from None
        self._trees[url.rstrip("/").rpartition("/")[2]] = tree

    def remove(self, name: str) -> None:
        """Forget a schema (nothing happens for a name not added, as in pyxnat)."""
        self._trees.pop(name, None)

    def tree(self, name: str) -> etree._Element:
        """The parsed document of a schema added under ``name``."""
        if name not in self._trees:
            raise XNATValueError(f"no schema {name!r} was added; added: {', '.join(self._trees) or 'none'}")
        return self._trees[name]


class Manage:
    """``interface.manage``."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.search = SearchManager(session)
        self.schemas = SchemaManager(session)
        self.users = Users(session)
        self.prearchive = PreArchive(session)

    def __repr__(self) -> str:
        return "<Manage>"

    def register_callback(self, func: Callable[[Any, Any], Any]) -> None:
        """Call ``func(collection, element)`` for every element a collection yields, as pyxnat does
        (one callback per interface; a new one replaces the old)."""
        if not callable(func):
            raise XNATValueError(f"register_callback needs a callable (collection, element), not {func!r}")
        CALLBACKS[self._session] = func

    def unregister_callback(self) -> None:
        CALLBACKS.pop(self._session, None)

    def project(self, project_id: str) -> Project:
        """pyxnat's project manager: the project's users, roles and settings (the project object itself)."""
        return Project(self._session, f"/data/projects/{quote(project_id, safe='')}", "projects")
