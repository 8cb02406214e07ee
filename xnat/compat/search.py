"""pyxnat's search engine: ``select("xnat:mrSessionData", [columns]).where([...])``.

Constraints are pyxnat's nested lists: ``(field, operator, value)`` tuples and sub-lists,
each list holding one ``"AND"`` or ``"OR"``, usually last (``AND`` when left out), or an
RPN string (``"xnat:mrSessionData/AGE > 30 AND"``, :func:`rpn`). They become our
criteria (:mod:`xnat.criteria`), sent as one ``xdat:bundle`` through
:class:`xnat.services.search.Query`; the answer is a
:class:`~xnat.compat.jsontable.JsonTable` whose columns are the requested fields, named as
pyxnat names them (``xnat:mrSessionData/LABEL`` -> ``label``), looked up exactly where
pyxnat guesses with ``difflib``.

``where(template=(name, values))`` and ``where(query=name)`` read a saved search or
template from ``/data/search/saved`` (XNAT's SavedSearchResource) and run its constraints
with this search's columns, as pyxnat does; :mod:`xnat.compat.saved` saves and manages them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lxml import etree

from ..criteria import BaseConstraint, CompoundConstraint, Constraint, SearchField
from ..exceptions import XNATValueError
from ..services.search import Query
from ..xmlsafe import parse_xml
from .errors import DatabaseError
from .jsontable import JsonTable

__all__ = ["TEMPLATE", "Search", "column_key", "constraints_from", "fill_template", "query_of", "resolve", "rpn",
           "saved_bundle", "saved_id", "saved_listing"]

_OPERATORS = {"=": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<=", "LIKE": " LIKE "}


def constraints_from(spec: Any) -> BaseConstraint:
    """pyxnat's constraints as a criteria tree: a list of ``(field, op, value)`` tuples and
    sub-lists holding one ``"AND"``/``"OR"`` anywhere (pyxnat's lists are unordered; ``AND``
    when left out), or an RPN string (:func:`rpn`)."""
    if isinstance(spec, str):
        spec = rpn(spec)
    if isinstance(spec, tuple):
        return _one(spec)
    if not isinstance(spec, list) or not spec:
        raise XNATValueError(
            f"search constraints are a list of (field, operator, value) tuples ending with 'AND' or 'OR', not {spec!r}"
        )
    methods = {item.strip().upper() for item in spec if isinstance(item, str)}
    if methods - {"AND", "OR"}:
        raise XNATValueError(f"a constraint list joins with 'AND' or 'OR', not {sorted(methods - {'AND', 'OR'})} "
                             f"in {spec!r}")
    if len(methods) > 1:
        # pyxnat silently takes the last one; that hides a mistake, so say it
        raise XNATValueError(f"the constraint list {spec!r} says both AND and OR: put one of them in a sub-list")
    items = [item for item in spec if not isinstance(item, str)]
    if not items:
        raise XNATValueError(f"the constraint list {spec!r} holds no constraint")
    return CompoundConstraint([constraints_from(item) for item in items], methods.pop() if methods else "AND")


def rpn(expression: str) -> list[Any]:
    """pyxnat's RPN string as a constraint list: ``"xnat:mrSessionData/AGE > 30 xnat:subjectData/GENDER_TEXT = M AND"``.

    Three words make a constraint; ``AND``/``OR`` joins everything before it that is not yet
    joined, so ``"a = 1 b = 2 OR c = 3 AND"`` is ``(a OR b) AND c``.
    """
    pending: list[Any] = []
    triple: list[str] = []
    for word in expression.split():
        if word.upper() in ("AND", "OR") and not triple:
            if not pending:
                raise XNATValueError(f"in {expression!r}: {word} has nothing before it to join")
            pending = [[*pending, word.upper()]]
        else:
            triple.append(word)
            if len(triple) == 3:
                pending.append(tuple(triple))
                triple = []
    if triple:
        raise XNATValueError(f"in {expression!r}: {' '.join(triple)!r} is not a whole 'field operator value'")
    if len(pending) != 1 or not isinstance(pending[0], list):
        raise XNATValueError(f"{expression!r} does not end with AND or OR joining its constraints")
    return list(pending[0])


def resolve(session: Any, constraints: Any = None, template: Any = None, query: Any = None) -> Any:
    """The constraints a ``where()`` call means: given, an RPN string, a filled-in saved
    template (``template=(name, values)``) or a saved search's (``query=name``), as pyxnat reads them."""
    if isinstance(template, tuple):
        return fill_template(query_of(saved_bundle(session, TEMPLATE + template[0]))["constraints"], template[1])
    if isinstance(query, str):
        return query_of(saved_bundle(session, query))["constraints"]
    if constraints is None:
        raise XNATValueError("where() needs constraints: [(field, operator, value), ..., 'AND'], an RPN string, "
                             "template=(name, values) or query=name")
    return rpn(constraints) if isinstance(constraints, str) else constraints


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
        constraints = resolve(self._session, constraints, template, query)
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


# -- saved searches and templates (/data/search/saved; manage.search in xnat.compat.saved) ---------
_Q = "{http://nrg.wustl.edu/security}"
#: pyxnat names a template's saved search ``template_{name}``
TEMPLATE = "template_"


def saved_listing(session: Any) -> list[dict[str, str]]:
    """The saved searches the user sees (``GET /data/search/saved``)."""
    return list(session.get_json("/data/search/saved")["ResultSet"]["Result"])


def saved_id(session: Any, name: str) -> str:
    """The ID of the saved search named ``name`` (its brief description), as pyxnat finds it."""
    for row in saved_listing(session):
        if row.get("brief_description") == name:
            return str(row["id"])
    raise DatabaseError(f"{name} not found")


def saved_bundle(session: Any, name: str) -> str:
    """The bundle XML of the saved search named ``name``."""
    return str(session.get(f"/data/search/saved/{saved_id(session, name)}", format="xml").text)


def _criteria_set(node: etree._Element) -> list[Any]:
    """pyxnat's constraint list from an ``xdat:search_where`` or ``xdat:child_set``."""
    items: list[Any] = []
    for child in node:
        if child.tag == _Q + "criteria":
            operator = (child.findtext(_Q + "comparison_type") or "").strip()
            items.append((child.findtext(_Q + "schema_field", ""), operator, child.findtext(_Q + "value", "")))
        elif child.tag == _Q + "child_set":
            items.append(_criteria_set(child))
    return [*items, node.get("method", "AND").upper()]


def query_of(bundle: bytes | str) -> dict[str, Any]:
    """pyxnat's representation of a bundle: row, columns, users, constraints, description."""
    root = parse_xml(bundle, "the search bundle")
    row = root.findtext(_Q + "root_element_name", "")
    columns = [f"{n.findtext(_Q + 'element_name', '')}/{n.findtext(_Q + 'field_ID', '')}"
               for n in root.iterfind(_Q + "search_field")]
    where = root.find(_Q + "search_where")
    constraints = _criteria_set(where) if where is not None and len(where) else [(f"{row}/ID", "LIKE", "%"), "AND"]
    return {"row": row, "columns": columns, "description": root.get("description", ""),
            "users": [n.text or "" for n in root.iterfind(f"{_Q}allowed_user/{_Q}login")],
            "constraints": constraints}


def fill_template(constraints: Any, values: Mapping[str, Any]) -> Any:
    """A template's constraints with its ``%(field)s`` placeholders filled in."""
    if isinstance(constraints, tuple):
        field, operator, value = constraints
        return (field, operator, str(value) % values)
    if isinstance(constraints, list):
        return [fill_template(item, values) for item in constraints]
    return constraints
