"""Typed descriptors for schema fields, with value conversion and facet checks.

Every field of a generated class is one of these descriptors:

* on the class (``MrSessionData.field_strength``) it is a :class:`SearchField`, the handle
  queries are built from;
* on an instance it reads ``instance._get_field(name)`` and converts the text to the schema
  type (``xs:date`` -> :class:`datetime.date`, ``xs:dateTime``/``xs:time``/``xs:duration``
  through isodate, integers, floats, booleans);
* assigning checks the schema's facets (enumeration, min/max inclusive/exclusive, lengths)
  and raises :class:`~xnat.exceptions.XNATValueError` naming the field and the rule, then
  calls ``instance._set_field(name, text)``; ``del`` calls ``instance._del_field(name)``.

Complex fields (nested objects, repeated elements) are :class:`ChildProperty` descriptors
that hand the work to ``instance._get_child(descriptor)``, the seam the object layer fills;
assigning one raises :class:`~xnat.exceptions.XNATValueError` saying what to do instead.
A single element with a text value and attributes (XSD ``simpleContent``: ``scanner``,
``weight``, ``dcmValidation``) is a :class:`SimpleContentProperty`: it reads as its nested
object (``session.scanner.manufacturer``, its text as ``session.scanner.value``, a
:class:`SimpleValueProperty`) and is assigned its text, as XNAT's REST takes it
(``xnat:mrSessionData/scanner=...``).
"""

from __future__ import annotations

import datetime
import decimal
import functools
import logging
from collections.abc import Callable
from typing import Any

import isodate

from ..criteria import SearchFieldMixin  # a class-level field compares into a search criterion
from ..exceptions import XNATValueError
from ..schema.model import Facets, FieldDef
from .listing import ListingRows

__all__ = [
    "ChildProperty",
    "FieldProperty",
    "SearchField",
    "SimpleContentProperty",
    "SimpleValueProperty",
    "convert_from_text",
    "convert_to_text",
    "python_type_of",
]

logger = logging.getLogger(__name__)

_INTEGERS = {
    "xs:integer", "xs:int", "xs:long", "xs:short", "xs:byte", "xs:nonNegativeInteger",
    "xs:positiveInteger", "xs:nonPositiveInteger", "xs:negativeInteger", "xs:unsignedLong",
    "xs:unsignedInt", "xs:unsignedShort", "xs:unsignedByte",
}  # fmt: skip
_FLOATS = {"xs:float", "xs:double", "xs:decimal"}


class _SearchFieldDoc:
    """``__doc__`` of a :class:`SearchField`: the class docstring on the class; on a field,
    the schema's documentation of the field it stands for (built only when asked for)."""

    def __init__(self, class_doc: str | None) -> None:
        self.class_doc = class_doc

    def __get__(self, instance: Any, owner: type | None = None) -> str | None:
        if instance is None or instance.field is None:
            return self.class_doc
        return f"Search field {instance.xpath}.\n" + _docstring(instance.field)


class SearchField(SearchFieldMixin):
    """A field of a data type used in a query (``MrSessionData.field_strength``); its ``__doc__``
    is the schema's documentation of the field."""

    __doc__ = _SearchFieldDoc(__doc__)  # a per-field docstring
    __slots__ = ("field", "field_name", "type", "xpath", "xsi_type")

    def __init__(self, xsi_type: str, field_name: str, type_: str = "xs:string", field: FieldDef | None = None) -> None:
        self.xsi_type = xsi_type
        self.field_name = field_name
        self.xpath = f"{xsi_type}/{field_name}"
        self.type = type_
        self.field = field

    def __str__(self) -> str:
        return self.xpath

    def __repr__(self) -> str:
        return f"<SearchField {self.xpath} ({self.type})>"


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"{text!r} is not a boolean")


@functools.lru_cache(maxsize=4096)  # a listing's dates repeat; a date is immutable, so shared
def _parse_date(text: str) -> datetime.date:
    # XNAT writes "2016-05-02": read in C; other ISO 8601 spellings (reduced precision,
    # week dates) through isodate.
    text = text.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit():
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            pass
    value: datetime.date = isodate.parse_date(text)
    return value


def _parse_datetime(text: str) -> datetime.datetime:
    # XNAT writes "2016-05-02 12:34:56.0" in listings; ISO 8601 wants a "T".
    value: datetime.datetime = isodate.parse_datetime(text.strip().replace(" ", "T", 1))
    return value


_READERS: dict[str, Callable[[str], Any]] = {
    "xs:boolean": _parse_bool,
    "xs:date": _parse_date,
    "xs:dateTime": _parse_datetime,
    "xs:time": lambda text: isodate.parse_time(text.strip()),
    "xs:duration": lambda text: isodate.parse_duration(text.strip()),
}


def _number(xsd_type: str, value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if xsd_type in _FLOATS:
        return float(value) if isinstance(value, (int, float)) else float(str(value).strip())
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        return int(value)
    return value if isinstance(value, int) else int(str(value).strip())


def python_type_of(xsd_type: str) -> str:
    """A short name of the Python type a field's values have, for docstrings."""
    if xsd_type in _INTEGERS:
        return "int"
    if xsd_type in _FLOATS:
        return "float"
    return {
        "xs:boolean": "bool",
        "xs:date": "datetime.date",
        "xs:dateTime": "datetime.datetime",
        "xs:time": "datetime.time",
        "xs:duration": "datetime.timedelta",
    }.get(xsd_type, "str")


def convert_from_text(xsd_type: str, value: Any) -> Any:
    """The Python value of ``value`` (text from the server, or a JSON number/bool).

    Raises ``ValueError`` (naming the type) when the value does not fit the type.
    """
    if value is None:
        return None
    if xsd_type in _INTEGERS or xsd_type in _FLOATS:
        try:
            return _number(xsd_type, value)
        except (ValueError, OverflowError):
            raise ValueError(f"{value!r} is not a valid {xsd_type}") from None
    if xsd_type == "xs:boolean" and isinstance(value, bool):
        return value
    reader = _READERS.get(xsd_type)
    if reader is None:
        return value if isinstance(value, str) else str(value)
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta, isodate.Duration)):
        return value
    try:
        return reader(str(value))
    except (isodate.ISO8601Error, ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a valid {xsd_type}: {exc}") from None


def convert_to_text(xsd_type: str, value: Any) -> str:
    """The text the server stores for ``value``; ``ValueError`` if it does not fit the type."""
    if xsd_type == "xs:boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
        return "true" if _parse_bool(str(value)) else "false"
    if xsd_type in _INTEGERS:
        return str(convert_from_text(xsd_type, value))
    if xsd_type in _FLOATS:
        if isinstance(value, decimal.Decimal):
            return str(value)
        return repr(convert_from_text(xsd_type, value))
    if xsd_type == "xs:dateTime" and isinstance(value, datetime.datetime):
        return value.isoformat()
    if xsd_type == "xs:date" and isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if xsd_type == "xs:duration" and isinstance(value, (datetime.timedelta, isodate.Duration)):
        return str(isodate.duration_isoformat(value))
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if xsd_type in _READERS:
        convert_from_text(xsd_type, value)  # validates the text; raises ValueError
    return str(value)


def check_facets(name: str, xsd_type: str, facets: Facets, value: Any, text: str) -> None:
    """Raise XNATValueError naming ``name`` and the rule when ``value`` breaks a facet."""
    if facets.enumeration and not _in_enumeration(xsd_type, facets.enumeration, text):
        allowed = ", ".join(repr(item) for item in facets.enumeration[:20])
        raise XNATValueError(f"{name}: {text!r} is not one of the allowed values ({allowed})")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        rules: tuple[tuple[str, Callable[[float], bool], str], ...] = (
            ("min_inclusive", lambda limit: bool(value >= limit), ">="),
            ("max_inclusive", lambda limit: bool(value <= limit), "<="),
            ("min_exclusive", lambda limit: bool(value > limit), ">"),
            ("max_exclusive", lambda limit: bool(value < limit), "<"),
        )
        for attribute, ok, symbol in rules:
            limit = getattr(facets, attribute)
            if limit is not None and not ok(limit):
                raise XNATValueError(f"{name}: {value!r} breaks {attribute} (must be {symbol} {limit})")
    length = len(text)
    if facets.length is not None and length != facets.length:
        raise XNATValueError(f"{name}: length {length} breaks length (must be {facets.length})")
    if facets.min_length is not None and length < facets.min_length:
        raise XNATValueError(f"{name}: length {length} breaks min_length ({facets.min_length})")
    if facets.max_length is not None and length > facets.max_length:
        raise XNATValueError(f"{name}: length {length} breaks max_length ({facets.max_length})")


def checked_text(name: str, xsd_type: str, facets: Facets, value: Any) -> str:
    """``value`` as the text XNAT stores for field ``name``, checked against its type and facets."""
    try:
        text = convert_to_text(xsd_type, value)
        typed = convert_from_text(xsd_type, text)
    except ValueError as exc:
        raise XNATValueError(f"{name}: {exc}") from None
    check_facets(name, xsd_type, facets, typed, text)
    return text


def _in_enumeration(xsd_type: str, allowed: list[str], text: str) -> bool:
    if text in allowed:
        return True
    try:  # "1.0" matches an enumerated "1" for numeric types
        value = convert_from_text(xsd_type, text)
        return any(_same(xsd_type, value, item) for item in allowed)
    except ValueError:
        return False


def _same(xsd_type: str, value: Any, item: str) -> bool:
    try:
        return bool(convert_from_text(xsd_type, item) == value)
    except ValueError:
        return False


class _FieldDoc:
    """``__doc__`` of a descriptor class: the class docstring on the class, the schema
    field's documentation on an instance, built only when asked for (connect stays fast)."""

    def __init__(self, class_doc: str | None) -> None:
        self.class_doc = class_doc

    def __get__(self, instance: Any, owner: type | None = None) -> str | None:
        if instance is None:
            return self.class_doc
        return _docstring(instance.field)


class FieldProperty:
    """A simple-valued schema field (a descriptor; see the module docstring)."""

    __doc__ = _FieldDoc(__doc__)

    def __init__(self, field: FieldDef, python_name: str) -> None:
        self.field = field
        self.name = python_name  # the attribute name, e.g. field_strength
        self.xpath = field.name  # the schema/REST name, e.g. fieldStrength
        self.type = field.type
        self.facets = field.facets
        # A text field reads as the text itself: no conversion to look up on every read.
        self._text = self.type not in _INTEGERS and self.type not in _FLOATS and self.type != "xs:boolean" \
            and self.type not in _READERS
        # A date, time or boolean read from text: its reader, without the general dispatch.
        self._reader = _READERS.get(self.type)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return SearchField(getattr(owner, "__xsi_type__", ""), self.xpath, self.type, self.field)
        rows = instance._rows
        if type(rows) is ListingRows and not instance._any_destroyed:
            # A listed object reads its row straight from the listing: the read scripts make
            # once per row of a big listing, kept to one call. An empty or missing value
            # takes the general path, which decides between None and the object's document.
            raw = rows.value(instance._index, self.xpath) or instance._get_field(self.xpath)
        else:
            raw = instance._get_field(self.xpath)
        if self._text:
            return raw if raw is None or type(raw) is str else str(raw)
        reader = self._reader
        if reader is not None and type(raw) is str:
            try:
                return reader(raw)
            except (isodate.ISO8601Error, ValueError, TypeError):
                pass  # convert_from_text below words the warning
        try:
            return convert_from_text(self.type, raw)
        except ValueError as exc:
            # A malformed value from the server should not break reading an object.
            logger.warning("%s.%s: %s; returning the raw value", type(instance).__name__, self.name, exc)
            return raw

    def __set__(self, instance: Any, value: Any) -> None:
        if value is None:
            instance._del_field(self.xpath)
            return
        instance._set_field(self.xpath, checked_text(self.name, self.type, self.facets, value))

    def __delete__(self, instance: Any) -> None:
        instance._del_field(self.xpath)

    def __repr__(self) -> str:
        return f"<FieldProperty {self.name} ({self.xpath}: {self.type})>"


class ChildProperty:
    """A nested object or a repeated element; the object layer decides what it returns.

    ``kind`` is ``"object"`` (one nested object), ``"listing"`` (repeated nested objects)
    or ``"values"`` (repeated simple values). ``item_type`` is the schema type key of the
    items; ``xpath`` may span a wrapper element (``fields/field``) as xnatpy collapses it.
    """

    __doc__ = _FieldDoc(__doc__)

    def __init__(self, field: FieldDef, python_name: str, kind: str, item_type: str, xpath: str) -> None:
        self.field = field
        self.name = python_name
        self.kind = kind
        self.item_type = item_type
        self.xpath = xpath
        self.type = field.type

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return SearchField(getattr(owner, "__xsi_type__", ""), self.xpath, self.item_type, self.field)
        return instance._get_child(self)

    def __set__(self, instance: Any, value: Any) -> None:
        owner = type(instance).__name__
        if self.xpath.endswith("fields/field"):
            hint = f"set one custom field at a time: obj.{self.name}['name'] = value, once the object exists"
        elif self.kind == "object":
            hint = f"set its own fields instead: obj.{self.name}.<field> = value, once the object exists"
        else:
            hint = "change its items once the object exists (create each with parent=obj)"
        what = {"object": "a nested object", "listing": "a list of nested objects", "values": "a list of values"}
        raise XNATValueError(f"{owner}.{self.name} is {what.get(self.kind, self.kind)} in XNAT "
                             f"({self.item_type}), not a value, so it cannot be assigned: {hint}")

    def __repr__(self) -> str:
        return f"<ChildProperty {self.name} ({self.kind} of {self.item_type} at {self.xpath})>"


class SimpleContentProperty(ChildProperty):
    """A single element with a text value and attributes (``scanner``; see the module docstring).

    Reads as its nested object; assigning a value stores the element's text (converted to
    ``value_type``, the builtin type of its content), ``None`` clears it.
    """

    __doc__ = _FieldDoc(__doc__)

    def __init__(self, field: FieldDef, python_name: str, value_type: str) -> None:
        super().__init__(field, python_name, "object", field.type, field.name)
        self.value_type = value_type
        self.facets = field.facets  # the element's own restrictions (set() and mset() check them)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:  # a search compares the element's text: MrSessionData.scanner == "Trio"
            return SearchField(getattr(owner, "__xsi_type__", ""), self.xpath, self.value_type, self.field)
        return instance._get_child(self)

    def __set__(self, instance: Any, value: Any) -> None:
        if value is None:
            instance._del_field(self.xpath)
            return
        if isinstance(value, (dict, list, tuple, set)) or hasattr(value, "__xsi_type__"):
            raise XNATValueError(f"{type(instance).__name__}.{self.name} takes its text value ({self.value_type}), "
                                 f"not {type(value).__name__}: set its attributes with obj.{self.name}.<attribute> "
                                 "= value once the object exists")
        instance._set_field(self.xpath, checked_text(self.name, self.value_type, self.facets, value))

    def __repr__(self) -> str:
        return f"<SimpleContentProperty {self.name} ({self.value_type} text of {self.item_type} at {self.xpath})>"


class SimpleValueProperty:
    """The text of a simpleContent element, read on its nested object (``session.scanner.value``).

    XNAT keeps that text under the element's own name in the document that holds it
    (``data_fields["scanner"]`` beside ``"scanner/model"``); it is assigned through the
    owner (``session.scanner = "..."``).
    """

    def __init__(self, value_type: str) -> None:
        self.value_type = value_type

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        raw = instance._content_text()
        try:
            return convert_from_text(self.value_type, raw)
        except ValueError as exc:
            logger.warning("%s.value: %s; returning the raw value", type(instance).__name__, exc)
            return raw

    def __set__(self, instance: Any, value: Any) -> None:
        name = (instance.fieldname or "element").rsplit("/", 1)[-1]
        raise XNATValueError(f"the text of {name} is set on the object that holds it: obj.{name} = value")

    def __repr__(self) -> str:
        return f"<SimpleValueProperty value ({self.value_type})>"


def _docstring(field: FieldDef) -> str:
    """Plain-text docstring: the schema's documentation plus type and restrictions."""
    lines = [field.doc] if field.doc else []
    lines.append(f"Schema {field.kind} {field.name!r} ({field.type}, Python {python_type_of(field.type)}).")
    facets = field.facets
    if facets.enumeration:
        lines.append("Allowed values: " + ", ".join(repr(item) for item in facets.enumeration[:50]))
    for attribute in ("min_inclusive", "max_inclusive", "min_exclusive", "max_exclusive",
                      "min_length", "max_length", "length"):  # fmt: skip
        limit = getattr(facets, attribute)
        if limit is not None:
            lines.append(f"{attribute}: {limit}")
    return "\n".join(lines)
