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
:func:`make_constraint` builds a criterion from any such object.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from lxml import etree

from ..exceptions import XNATResponseError, XNATValueError, describe_response

__all__ = [
    "XDAT_NS",
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

XDAT_NS = "http://nrg.wustl.edu/security"
_NSMAP = {"xdat": XDAT_NS}

# Comparison operators as XNAT spells them in <xdat:comparison_type>. LIKE keeps the
# surrounding spaces xnatpy sends, so the bundles stay byte-identical.
COMPARISONS = ("=", "!=", ">", ">=", "<", "<=", " LIKE ")


@runtime_checkable
class SearchFieldLike(Protocol):
    """What a search field must provide (see the module documentation)."""

    xsi_type: str
    field_id: str


def _q(name: str) -> str:
    return f"{{{XDAT_NS}}}{name}"


def field_id_of(field: Any) -> str:
    """The ``field_ID`` of a search field: its ``field_id``, else its ``xpath``."""
    value = getattr(field, "field_id", None) or getattr(field, "xpath", None)
    if not value:
        raise XNATValueError(f"{field!r} is not a search field (it needs field_id or xpath)")
    return str(value)


def field_identifier(field: Any) -> str:
    """The ``schema_field`` path of a search field, for use in a criterion."""
    identifier = getattr(field, "identifier", None)
    if identifier:
        return str(identifier)
    field_id = field_id_of(field)
    if "/" in field_id:
        return field_id
    return f"{field.xsi_type}/{field_id}"


def _is_field(value: Any) -> bool:
    if isinstance(value, type) or not hasattr(value, "xsi_type"):
        return False
    return bool(getattr(value, "field_id", None) or getattr(value, "xpath", None))


def make_constraint(field: Any, operator: str, value: Any) -> Constraint:
    """A criterion ``field <operator> value`` for any object that looks like a search field."""
    if not _is_field(field):
        raise XNATValueError(f"{field!r} is not a search field (it needs xsi_type and field_id)")
    return Constraint(field_identifier(field), operator, value)


class SearchFieldMixin:
    """Comparison operators that turn a search field into criteria.

    The class using it must provide ``xsi_type`` and ``field_id`` (and optionally
    ``identifier`` and ``type``). Comparing two search fields with ``==``/``!=`` compares
    their identity (so fields can be used in sets and ``in`` tests); comparing a field to a
    value builds a :class:`Constraint`.
    """

    xsi_type: str
    field_id: str

    def _key(self) -> tuple[str, str]:
        return (str(self.xsi_type), field_id_of(self))

    def __eq__(self, other: Any) -> Any:
        if _is_field(other):
            return self._key() == (str(other.xsi_type), field_id_of(other))
        return make_constraint(self, "=", other)

    def __ne__(self, other: Any) -> Any:
        if _is_field(other):
            return self._key() != (str(other.xsi_type), field_id_of(other))
        return make_constraint(self, "!=", other)

    def __gt__(self, other: Any) -> Constraint:
        return make_constraint(self, ">", other)

    def __ge__(self, other: Any) -> Constraint:
        return make_constraint(self, ">=", other)

    def __lt__(self, other: Any) -> Constraint:
        return make_constraint(self, "<", other)

    def __le__(self, other: Any) -> Constraint:
        return make_constraint(self, "<=", other)

    def like(self, pattern: Any) -> Constraint:
        """A ``LIKE`` criterion; ``%`` is XNAT's wildcard."""
        return make_constraint(self, " LIKE ", pattern)

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def identifier(self) -> str:
        """The path used in criteria (``schema_field``)."""
        field_id = field_id_of(self)
        return field_id if "/" in field_id else f"{self.xsi_type}/{field_id}"

    def __repr__(self) -> str:
        return f"<SearchField {self.identifier}>"


class SearchField(SearchFieldMixin):
    """A searchable field of an XNAT data type.

    ``SearchField("xnat:mrSessionData", "xnat:mrSessionData/label")`` is a schema field,
    ``SearchField("xnat:mrSessionData", "PROJECT", "xs:string")`` a display field. Use
    :meth:`schema` to build a schema field from a path relative to the type.
    """

    def __init__(self, xsi_type: str, field_id: str, type_: Any = "string") -> None:
        if not xsi_type or not field_id:
            raise XNATValueError("a search field needs an xsi type and a field id")
        self.xsi_type = str(xsi_type)
        self.field_id = str(field_id)
        self.type = type_

    @property
    def xpath(self) -> str:
        """The field's path from its data type (same as :attr:`identifier`)."""
        return self.identifier

    @classmethod
    def schema(cls, xsi_type: str, path: str, type_: Any = "string") -> SearchField:
        """A schema field from a path relative to ``xsi_type`` (``"label"``, ``"subject_ID"``)."""
        return cls(xsi_type, f"{xsi_type}/{path.strip('/')}", type_)


class CustomFieldSearchField(SearchFieldMixin):
    """A project custom variable: ``<XSI>_FIELD_MAP=<name>`` as XNAT names it."""

    def __init__(self, xsi_type: str, field_name: str) -> None:
        self.xsi_type = str(xsi_type)
        self.field_name = str(field_name)
        self.type = "string"

    @property
    def field_id(self) -> str:  # type: ignore[override]
        prefix = self.xsi_type.upper().replace(":", "_")
        return f"{prefix}_FIELD_MAP={self.field_name.lower()}"


class SearchFieldMap:
    """``Class.custom_variables["name"]``: custom fields as search fields."""

    def __init__(self, xsi_type: str) -> None:
        self._xsi_type = xsi_type

    def __getitem__(self, name: str) -> CustomFieldSearchField:
        return CustomFieldSearchField(self._xsi_type, name)


class BaseConstraint:
    """A search criterion, or a group of them; combine with ``&`` and ``|``."""

    def to_xml(self) -> etree._Element:
        raise NotImplementedError

    def to_string(self) -> bytes:
        """The criterion as xnatpy would serialise it."""
        return serialize(self.to_xml())

    def __and__(self, other: BaseConstraint) -> CompoundConstraint:
        return CompoundConstraint((self, other), "AND")

    def __or__(self, other: BaseConstraint) -> CompoundConstraint:
        return CompoundConstraint((self, other), "OR")

    def __bool__(self) -> bool:
        # `a == 1 and b == 2` would silently drop a criterion; make the mistake loud.
        raise TypeError("a search constraint has no truth value: combine constraints with &, |, and_() or or_()")


class Constraint(BaseConstraint):
    """One criterion: ``schema_field``, ``comparison_type`` and ``value``."""

    def __init__(self, identifier: str, operator: str, right_hand: Any) -> None:
        if operator not in COMPARISONS:
            raise XNATValueError(f"unknown comparison {operator!r}; use one of {', '.join(map(repr, COMPARISONS))}")
        self.identifier = identifier
        self.operator = operator
        self.right_hand = right_hand

    def __repr__(self) -> str:
        return f"<Constraint {self.identifier} {self.operator.strip()} {self.right_hand!r}>"

    @property
    def value_text(self) -> str:
        """The value as it is sent: dates as ``MM/DD/YYYY``, everything else with ``str()``."""
        if isinstance(self.right_hand, datetime.date):  # datetime is a date too
            return self.right_hand.strftime("%m/%d/%Y")
        return str(self.right_hand)

    def to_xml(self) -> etree._Element:
        elem = etree.Element(_q("criteria"), nsmap=_NSMAP)
        elem.set("override_value_formatting", "0")
        _sub(elem, "schema_field", self.identifier)
        _sub(elem, "comparison_type", self.operator)
        _sub(elem, "value", self.value_text)
        return elem


class CompoundConstraint(BaseConstraint):
    """Constraints joined by ``AND`` or ``OR`` (an ``xdat:child_set``)."""

    def __init__(self, constraints: Sequence[BaseConstraint], operator: str) -> None:
        if operator not in ("AND", "OR"):
            raise XNATValueError(f"a group of constraints is joined by AND or OR, not {operator!r}")
        constraints = tuple(constraints)
        for item in constraints:
            if not isinstance(item, BaseConstraint):
                raise XNATValueError(f"{item!r} is not a search constraint (compare a search field to a value)")
        self.constraints = constraints
        self.operator = operator

    def __repr__(self) -> str:
        return f"<CompoundConstraint {self.operator} {list(self.constraints)!r}>"

    def to_xml(self) -> etree._Element:
        elem = etree.Element(_q("child_set"), nsmap=_NSMAP)
        elem.set("method", self.operator)
        for item in self.constraints:
            elem.append(item.to_xml())
        return elem


def and_(*constraints: BaseConstraint) -> CompoundConstraint:
    """All of the constraints."""
    return CompoundConstraint(constraints, "AND")


def or_(*constraints: BaseConstraint) -> CompoundConstraint:
    """Any of the constraints."""
    return CompoundConstraint(constraints, "OR")


def _sub(parent: etree._Element, name: str, text: str) -> etree._Element:
    elem = etree.SubElement(parent, _q(name))
    try:
        elem.text = text
    except ValueError as error:  # lxml refuses control characters; XML cannot carry them
        raise XNATValueError(f"cannot put {text!r} in a search: {error}") from None
    return elem


# --- serialisation -------------------------------------------------------------------------
# lxml writes empty elements as <a/>, xnatpy (ElementTree) as <a />, and xnatpy sends ASCII
# with character references. A small writer of our own keeps the bytes identical.

def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(text: str) -> str:
    text = _escape_text(text).replace('"', "&quot;")
    return text.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#09;")


def _tag(elem: etree._Element) -> str:
    qname = etree.QName(elem)
    if qname.namespace == XDAT_NS:
        return f"xdat:{qname.localname}"
    if qname.namespace:
        raise XNATValueError(f"unexpected namespace {qname.namespace} in a search bundle")
    return qname.localname


def _write(elem: etree._Element, out: list[str], root: bool) -> None:
    out.append("<" + _tag(elem))
    for key, value in elem.attrib.items():
        name = key if isinstance(key, str) else key.decode()
        text = value if isinstance(value, str) else value.decode()
        out.append(f' {name}="{_escape_attr(text)}"')
    if root:
        out.append(f' xmlns:xdat="{XDAT_NS}"')
    if elem.text or len(elem):
        out.append(">")
        out.append(_escape_text(elem.text or ""))
        for child in elem:
            _write(child, out, False)
        out.append(f"</{_tag(elem)}>")
    else:
        out.append(" />")


def serialize(elem: etree._Element) -> bytes:
    """Serialise a bundle (or part of one) exactly as xnatpy 0.8.1 does."""
    out: list[str] = []
    _write(elem, out, True)
    return "".join(out).encode("ascii", "xmlcharrefreplace")


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
    if not isinstance(name, str) and _is_field(name):
        return name
    found = getattr(cls, name)
    if _is_field(found):
        return found
    descriptor = (getattr(cls, "__fields__", None) or {}).get(name)
    if descriptor is not None and hasattr(descriptor, "__get__"):
        found = descriptor.__get__(None, cls)
        if _is_field(found):
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
            if not _is_field(field):
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
        bundle = etree.Element(_q("bundle"), nsmap=_NSMAP)
        _sub(bundle, "root_element_name", self.xsi_type)
        for index, field in enumerate(self.columns):
            search_field = etree.SubElement(bundle, _q("search_field"))
            _sub(search_field, "element_name", str(field.xsi_type))
            _sub(search_field, "field_ID", field_id_of(field))
            _sub(search_field, "sequence", str(index))
            _sub(search_field, "type", str(getattr(field, "type", None)))
            _sub(search_field, "header", "url")
        where = etree.SubElement(bundle, _q("search_where"))
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
