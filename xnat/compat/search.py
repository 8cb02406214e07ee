"""pyxnat's search engine: ``select("xnat:mrSessionData", [columns]).where([...])``.

Constraints are pyxnat's nested lists: ``(field, operator, value)`` tuples and sub-lists,
each list ending with ``"AND"`` or ``"OR"`` (``AND`` when left out). They become our
criteria (:mod:`xnat.criteria`), sent as one ``xdat:bundle`` through
:class:`xnat.services.search.Query`; the answer is a
:class:`~xnat.compat.jsontable.JsonTable` whose columns are the requested fields, named as
pyxnat names them (``xnat:mrSessionData/LABEL`` -> ``label``), looked up exactly where
pyxnat guesses with ``difflib``.

Saved searches and templates (``where(template=...)``, ``where(query=...)``) need
``/data/search/saved`` on the server, which the embedded server does not have yet: they
raise :class:`~xnat.compat.errors.NotSupportedError` saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..criteria import BaseConstraint, CompoundConstraint, Constraint, SearchField
from ..exceptions import XNATValueError
from ..services.search import Query
from .errors import NotSupportedError
from .jsontable import JsonTable

__all__ = ["SAVED_SEARCHES_MISSING", "Search", "column_key", "constraints_from"]

SAVED_SEARCHES_MISSING = (
    "saved searches and search templates need the server's /data/search/saved service, "
    "which this server does not offer yet; run the search directly with select(datatype, columns).where([...])"
)
_OPERATORS = {"=": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<=", "LIKE": " LIKE "}


def constraints_from(spec: Any) -> BaseConstraint:
    """pyxnat's ``[(field, op, value), [...], "AND"]`` as a criteria tree."""
    if isinstance(spec, tuple):
        return _one(spec)
    if not isinstance(spec, list) or not spec:
        raise XNATValueError(
            f"search constraints are a list of (field, operator, value) tuples ending with 'AND' or 'OR', not {spec!r}"
        )
    operator = "AND"
    items = list(spec)
    if isinstance(items[-1], str):
        operator = items.pop().strip().upper()
        if operator not in ("AND", "OR"):
            raise XNATValueError(f"a constraint list ends with 'AND' or 'OR', not {spec[-1]!r}")
    if not items:
        raise XNATValueError(f"the constraint list {spec!r} holds no constraint")
    return CompoundConstraint([constraints_from(item) for item in items], operator)


def _one(item: tuple[Any, ...]) -> Constraint:
    if len(item) != 3:
        raise XNATValueError(f"a constraint is (field, operator, value), not {item!r}")
    field, operator, value = item
    op = _OPERATORS.get(str(operator).strip().upper())
    if op is None:
        raise XNATValueError(f"unknown operator {operator!r} in {item!r}; use one of {', '.join(_OPERATORS)}")
    text = str(value)
    if op == " LIKE ":
        text = text.replace("*", "%")  # pyxnat's glob star is SQL's %
    return Constraint(str(field), op, text)


def column_key(column: str) -> str:
    """The key pyxnat gives a column: ``xnat:mrSessionData/LABEL`` -> ``label``."""
    return column.rpartition("/")[2].lower()


class Search:
    """A search on one data type; :meth:`where` runs it."""

    def __init__(self, session: Any, row: str, columns: Sequence[str] | None = None) -> None:
        if not row or ":" not in row:
            raise XNATValueError(f"select({row!r}): give a path that starts with '/' ('/projects/P/subjects') "
                                 "or a data type to search ('xnat:mrSessionData')")
        self._session = session
        self._row = row
        self._columns = list(columns) if columns else None

    def __repr__(self) -> str:
        return f"<Search {self._row}>"

    def _fields(self) -> list[str]:
        if self._columns is None:
            self._columns = self._session.inspect.datafields(self._row, prepend_type=True)
        return self._columns

    def where(self, constraints: Any = None, template: Any = None, query: Any = None) -> JsonTable:
        """Run the search with pyxnat's constraints and return the table."""
        if template is not None or query is not None:
            raise NotSupportedError(SAVED_SEARCHES_MISSING)
        if constraints is None:
            raise XNATValueError("where() needs constraints: [(field, operator, value), ..., 'AND']")
        columns = self._fields()
        fields = []
        for column in columns:
            xsi_type, slash, field = column.partition("/")
            if not slash:
                xsi_type, field = self._row, column
            fields.append(SearchField(xsi_type, field))
        rows = Query(self._row, self._session, fields, constraints_from(constraints)).tabulate_dict()
        keys = [column_key(column) for column in columns]
        table = []
        for row in rows:
            lowered = {key.lower(): value for key, value in row.items()}
            table.append({key: lowered.get(key, "") for key in keys})
        return JsonTable(table, headers=keys)

    def all(self) -> JsonTable:
        """Every row of the data type."""
        return self.where([(f"{self._row}/ID", "LIKE", "%"), "AND"])
