"""``interface.inspect``, ``interface.manage`` and ``interface.array``: what pyxnat offers
beside the archive tree.

* :class:`Inspect`: data types and their search fields (``/data/search/elements``), the
  distinct values of a field (one search), the IDs of projects, subjects and experiments
  (one listing each).
* :class:`Array`: pyxnat's one-request tables of experiments and scans.
* :class:`Manage`: ``manage.search`` (saved searches and templates, :mod:`xnat.compat.saved`);
  ``manage.schemas`` raises :class:`~xnat.compat.errors.NotSupportedError` saying what to use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import NotSupportedError
from .jsontable import JsonTable
from .saved import SearchManager
from .search import Search

__all__ = ["Array", "Inspect", "Manage", "SearchManager"]

_GLOB = set("*?[")


def _rows(session: Any, uri: str, query: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    return list(session.get_json(uri, query=query)["ResultSet"]["Result"])


class Inspect:
    """What the server knows: data types, fields, values."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __repr__(self) -> str:
        return "<Inspect>"

    def datatypes(self, pattern: str = "*", fields_pattern: str | None = None) -> list[str]:
        """Data types matching ``pattern``; their fields with ``fields_pattern`` (or when
        ``pattern`` names one type exactly, as pyxnat does)."""
        if fields_pattern is None and not _GLOB & set(pattern):
            fields_pattern = "*"
        return list(self._session.inspect.datatypes(pattern, fields_pattern))

    def field_values(self, field_name: str) -> list[str]:
        """The distinct values of a search field, e.g. ``xnat:mrSessionData/PROJECT``."""
        datatype = field_name.partition("/")[0]
        table = Search(self._session, datatype, [field_name]).all()
        key = table.headers()[0]
        return sorted({str(value) for value in table[key] if value not in (None, "")})

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


class Array:
    """pyxnat's ``array``: experiments and scans as one table, one request."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __repr__(self) -> str:
        return "<Array>"

    def experiments(self, project_id: str | None = None, subject_id: str | None = None,
                    subject_label: str | None = None, experiment_id: str | None = None,
                    experiment_label: str | None = None, experiment_type: str = "xnat:subjectAssessorData",
                    columns: Sequence[str] | None = None,
                    constraints: Mapping[str, str] | None = None) -> JsonTable:
        """The experiments matching the filters, with ``columns`` (xpaths) beside ID, project, subject."""
        names = ["ID", "project", "subject_ID", *(columns or ())]
        query: dict[str, Any] = {"xsiType": experiment_type, "columns": ",".join(names)}
        filters = {"project": project_id, "subject_ID": subject_id, "xnat:subjectData/label": subject_label,
                   "ID": experiment_id, "label": experiment_label}
        query.update({key: value for key, value in filters.items() if value})
        query.update(constraints or {})
        rows = _rows(self._session, "/data/experiments", query)
        headers = [*names, "URI"]
        return JsonTable([{name: row.get(name, "") for name in headers} for row in rows], headers=headers)

    def mrsessions(self, **filters: Any) -> JsonTable:
        return self.experiments(experiment_type="xnat:mrSessionData", **filters)


class Manage:
    """``interface.manage``."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.search = SearchManager(session)

    def __repr__(self) -> str:
        return "<Manage>"

    @property
    def schemas(self) -> Any:
        raise NotSupportedError(
            "manage.schemas is not offered: the schemas are already read at connect; "
            "see xnat.connect(...).classes for every data type and its fields"
        )
