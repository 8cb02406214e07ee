"""Query builder for XNAT's ``/data/search`` service (xnatpy 0.8 compatible).

A query is built from *search fields* and sent as an ``xdat:bundle`` XML document::

    query = MrSessionData.query().filter(MrSessionData.label == "test").view(MrSessionData.PROJECT)
    query.tabulate_dict()      # [{"project": ..., ...}, ...]
    query.all()                # the matching objects

The bytes :meth:`Query.to_string` produces are those xnatpy 0.8.1 sends for the same query
(same element order, ``sequence`` numbering, ``header=url``, dates as ``%m/%d/%Y``, no XML
declaration, non-ASCII characters as character references), so a server sees no difference.

Search fields
-------------
Anything with these attributes can be viewed or compared (duck typing), so the class-level
descriptors of generated classes only need to return an object that has them:

``xsi_type``
    the data type the field belongs to, e.g. ``"xnat:mrSessionData"``;
``field_id`` (or ``xpath``)
    what goes in ``<xdat:field_ID>`` when the field is a column: a schema path
    ``"xnat:mrSessionData/label"`` or a display-field id ``"PROJECT"``; an object with
    only ``xpath`` (as ``xnat.classes.properties.SearchField``) is read through it;
``identifier`` (optional)
    what goes in ``<xdat:schema_field>`` of a criterion; when missing it is ``field_id`` if that
    is already a path (contains ``/``) and ``"{xsi_type}/{field_id}"`` otherwise;
``type`` (optional)
    written with ``str()`` into ``<xdat:type>`` (xnatpy writes ``xs:string``, ``xs:float``...;
    ``None`` is written ``None`` as xnatpy does for ``label``).

:class:`SearchField` is the ready-made implementation; :class:`SearchFieldMixin` gives the
comparison operators to any class that provides the attributes above, and
:func:`make_constraint` builds a criterion from any such object. Those, and the constraints,
live in :mod:`xnat.criteria` (below the object layer, whose typed fields compare into them)
and are re-exported here, xnatpy's place for them.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from typing import Any

from lxml import etree

from ..criteria import (
    XDAT_NS,
    XDAT_NSMAP,
    BaseConstraint,
    CompoundConstraint,
    Constraint,
    CustomFieldSearchField,
    SearchField,
    SearchFieldLike,
    SearchFieldMap,
    SearchFieldMixin,
    and_,
    field_id_of,
    field_identifier,
    is_search_field,
    make_constraint,
    or_,
    qualified,
    serialize,
    sub_element,
)
from ..exceptions import XNATResponseError, XNATValueError, describe_response

__all__ = [
    "XDAT_NS",
    "XDAT_NSMAP",
    "BaseConstraint",
    "CompoundConstraint",
    "Constraint",
    "CustomFieldSearchField",
    "Query",
    "SearchField",
    "SearchFieldLike",
    "SearchFieldMap",
    "SearchFieldMixin",
    "and_",
    "field_id_of",
    "field_identifier",
    "make_constraint",
    "or_",
    "serialize",
]

logger = logging.getLogger(__name__)

# --- the query -----------------------------------------------------------------------------

def _root_xsi_type(root: Any) -> str:
    if isinstance(root, str):
        return root
    for name in ("__xsi_type__", "xsi_type", "_XSI_TYPE"):
        value = getattr(root, name, None)
        if isinstance(value, str) and value:
            return value
    raise XNATValueError(f"cannot search {root!r}: it has no xsi type")


def _default_field(cls: Any, name: Any) -> Any:
    """A default column: a search field itself, or the name of one on ``cls`` (also when
    behaviour shadows the schema field of that name)."""
    if not isinstance(name, str) and is_search_field(name):
        return name
    found = getattr(cls, name)
    if is_search_field(found):
        return found
    descriptor = (getattr(cls, "__fields__", None) or {}).get(name)
    if descriptor is not None and hasattr(descriptor, "__get__"):
        found = descriptor.__get__(None, cls)
        if is_search_field(found):
            return found
    raise XNATValueError(f"{getattr(cls, '__name__', cls)}.{name} is not a search field")


class Query:
    """A search on one data type: ``filter`` adds criteria, ``view`` chooses columns.

    Queries are immutable: ``filter`` and ``view`` return new queries. ``root`` is a
    generated class (with ``__xsi_type__``, and optionally ``DEFAULT_SEARCH_FIELDS``,
    the default columns as attribute names or search fields, and ``FROM_SEARCH_URI``, the URI template
    objects are built from) or an xsi type string.
    """

    def __init__(
        self,
        root: Any,
        session: Any,
        fields: Iterable[Any] | None = None,
        constraints: BaseConstraint | None = None,
    ) -> None:
        self.queried_class = root
        self.xnat_session = session
        self.fields: tuple[Any, ...] = tuple(fields) if fields else ()
        for field in self.fields:
            if not is_search_field(field):
                raise XNATValueError(f"cannot view {field!r}: it is not a search field")
        if constraints is not None and not isinstance(constraints, BaseConstraint):
            raise XNATValueError(f"{constraints!r} is not a search constraint")
        self.constraints = constraints
        self.xsi_type = _root_xsi_type(root)

    def __repr__(self) -> str:
        return f"<Query {self.xsi_type} fields={list(self.fields)!r} where={self.constraints!r}>"

    def view(self, *fields: Any) -> Query:
        """Add columns to the result."""
        if not fields:
            return self
        return Query(self.queried_class, self.xnat_session, self.fields + fields, self.constraints)

    def filter(self, *constraints: BaseConstraint) -> Query:
        """Add criteria (all must hold); each call nests the earlier criteria as xnatpy does."""
        if not constraints:
            return self
        new: BaseConstraint = constraints[0] if len(constraints) == 1 else CompoundConstraint(constraints, "AND")
        if not isinstance(new, BaseConstraint):
            raise XNATValueError(f"{new!r} is not a search constraint (compare a search field to a value)")
        if self.constraints is not None:
            new = CompoundConstraint((self.constraints, new), "AND")
        return Query(self.queried_class, self.xnat_session, self.fields, new)

    @property
    def columns(self) -> tuple[Any, ...]:
        """The viewed fields, or the root class's default fields when none were chosen."""
        if self.fields:
            return self.fields
        names = getattr(self.queried_class, "DEFAULT_SEARCH_FIELDS", None) or ()
        return tuple(_default_field(self.queried_class, name) for name in names)

    def to_xml(self) -> etree._Element:
        """The ``xdat:bundle`` document as an lxml element."""
        bundle = etree.Element(qualified("bundle"), nsmap=XDAT_NSMAP)
        sub_element(bundle, "root_element_name", self.xsi_type)
        for index, field in enumerate(self.columns):
            search_field = etree.SubElement(bundle, qualified("search_field"))
            sub_element(search_field, "element_name", str(field.xsi_type))
            sub_element(search_field, "field_ID", field_id_of(field))
            sub_element(search_field, "sequence", str(index))
            sub_element(search_field, "type", str(getattr(field, "type", None)))
            sub_element(search_field, "header", "url")
        where = etree.SubElement(bundle, qualified("search_where"))
        where.set("method", "AND")
        if self.constraints is not None:
            where.append(self.constraints.to_xml())
        return bundle

    def to_string(self) -> bytes:
        """The bundle as the bytes sent to the server."""
        return serialize(self.to_xml())

    # --- execution ---------------------------------------------------------------------

    def _post(self, format_: str) -> str:
        if self.xnat_session is None:
            raise XNATValueError("this query has no session to run on")
        response = self.xnat_session.post("/data/search", query={"format": format_}, data=self.to_string())
        status = getattr(response, "status_code", 200)
        if status != 200:
            raise XNATResponseError(describe_response(response, "search"), response)
        return str(response.text)

    def tabulate_csv(self) -> str:
        """The result table as CSV text."""
        return self._post("csv")

    def tabulate_json(self) -> str:
        """The result as the server's JSON text (``ResultSet`` with ``Columns`` and ``Result``)."""
        return self._post("json")

    def tabulate_dict(self) -> list[dict[str, str]]:
        """The result rows as dictionaries keyed by the (lower-case) column keys."""
        return _parse_csv(self.tabulate_csv())

    def tabulate_pandas(self) -> Any:
        """The result as a ``pandas.DataFrame`` (needs the ``pandas`` extra)."""
        try:
            import pandas
        except ImportError:
            raise ModuleNotFoundError("tabulate_pandas needs pandas: pip install 'xnat[pandas]'") from None
        return pandas.read_csv(io.StringIO(self.tabulate_csv()), dtype=str, keep_default_na=False)

    def _create_object(self, row: dict[str, str]) -> Any:
        template = getattr(self.queried_class, "FROM_SEARCH_URI", None)
        if not template:
            raise XNATValueError(f"objects of {self.xsi_type} cannot be built from search results; use tabulate_*()")
        values = {key.lower(): value for key, value in row.items()}
        values["session_uri"] = getattr(self.xnat_session, "fulluri", "/data/archive")
        try:
            uri = template.format(**values)
        except KeyError as error:
            raise XNATValueError(
                f"the search result has no column {error.args[0]!r} needed to build {self.xsi_type} objects "
                f"(columns: {', '.join(row) or 'none'}); view the default fields"
            ) from None
        return self.xnat_session.create_object(uri)

    def all(self) -> list[Any]:
        """Every matching object."""
        return [self._create_object(row) for row in self.tabulate_dict()]

    def first(self) -> Any:
        """The first matching object, or None when nothing matches."""
        rows = self.tabulate_dict()
        return self._create_object(rows[0]) if rows else None

    def last(self) -> Any:
        """The last matching object, or None when nothing matches."""
        rows = self.tabulate_dict()
        return self._create_object(rows[-1]) if rows else None

    def one(self) -> Any:
        """The only matching object; XNATValueError unless exactly one matches."""
        rows = self.tabulate_dict()
        if len(rows) != 1:
            raise XNATValueError(f"Did not find exactly one result (found {len(rows)})")
        return self._create_object(rows[0])

    def one_or_none(self) -> Any:
        """The only matching object or None; XNATValueError when several match."""
        rows = self.tabulate_dict()
        if len(rows) > 1:
            raise XNATValueError(f"Did not find exactly one or no result (found {len(rows)})")
        return self._create_object(rows[0]) if rows else None


def _parse_csv(text: str) -> list[dict[str, str]]:
    # XNAT writes plain comma-separated CSV; csv.Sniffer (xnatpy) guesses wrong on one column.
    if not text.strip():
        return []
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for row in reader:
        if None in row:
            raise XNATValueError(f"malformed search result: line {reader.line_num} has more values than columns")
        rows.append({key: value if value is not None else "" for key, value in row.items()})
    return rows
