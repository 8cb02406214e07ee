"""Search criteria: search fields, and the constraints that comparing them builds.

``MrSessionData.label == "MR1"`` is a :class:`Constraint`; ``&`` and ``|`` join constraints
into a :class:`CompoundConstraint`. This is plain data with its XML form (the ``xdat``
elements of a search bundle, written byte for byte as xnatpy 0.8.1 writes them) and no I/O:
the typed descriptors of generated classes (:mod:`xnat.classes.properties`) compare into it,
and the query builder (:mod:`xnat.services.search`) sends it. It sits below both.

Anything with ``xsi_type`` and ``field_id`` (or ``xpath``) can be compared (duck typing);
see :mod:`xnat.services.search` for the attributes a search field may carry.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from lxml import etree

from .exceptions import XNATValueError

__all__ = [
    "COMPARISONS",
    "XDAT_NS",
    "XDAT_NSMAP",
    "BaseConstraint",
    "CompoundConstraint",
    "Constraint",
    "CustomFieldSearchField",
    "SearchField",
    "SearchFieldLike",
    "SearchFieldMap",
    "SearchFieldMixin",
    "and_",
    "field_id_of",
    "field_identifier",
    "is_search_field",
    "make_constraint",
    "or_",
    "qualified",
    "serialize",
    "sub_element",
]

XDAT_NS = "http://nrg.wustl.edu/security"
XDAT_NSMAP = {"xdat": XDAT_NS}

# Comparison operators as XNAT spells them in <xdat:comparison_type>. LIKE keeps the
# surrounding spaces xnatpy sends, so the bundles stay byte-identical.
COMPARISONS = ("=", "!=", ">", ">=", "<", "<=", " LIKE ")


@runtime_checkable
class SearchFieldLike(Protocol):
    """What a search field must provide (see the module documentation)."""

    xsi_type: str
    field_id: str


def qualified(name: str) -> str:
    """``name`` in the ``xdat`` namespace, as lxml spells a qualified tag."""
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


def is_search_field(value: Any) -> bool:
    """Whether ``value`` is a search field instance (has an xsi type and a field id)."""
    if isinstance(value, type) or not hasattr(value, "xsi_type"):
        return False
    return bool(getattr(value, "field_id", None) or getattr(value, "xpath", None))


def make_constraint(field: Any, operator: str, value: Any) -> Constraint:
    """A criterion ``field <operator> value`` for any object that looks like a search field."""
    if not is_search_field(field):
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
        if is_search_field(other):
            return self._key() == (str(other.xsi_type), field_id_of(other))
        return make_constraint(self, "=", other)

    def __ne__(self, other: Any) -> Any:
        if is_search_field(other):
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
        elem = etree.Element(qualified("criteria"), nsmap=XDAT_NSMAP)
        elem.set("override_value_formatting", "0")
        sub_element(elem, "schema_field", self.identifier)
        sub_element(elem, "comparison_type", self.operator)
        sub_element(elem, "value", self.value_text)
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
        elem = etree.Element(qualified("child_set"), nsmap=XDAT_NSMAP)
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


def sub_element(parent: etree._Element, name: str, text: str) -> etree._Element:
    """A child ``xdat:name`` element holding ``text``."""
    elem = etree.SubElement(parent, qualified(name))
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
