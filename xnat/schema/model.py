"""The schema model: plain, inert dataclasses describing the server's data types.

The XSD reader (:mod:`xnat.schema.xsd`) produces a :class:`SchemaModel`; the class factory
(:mod:`xnat.classes.factory`) consumes it. The model holds only strings, numbers, lists and
dicts, so it round-trips through JSON (:meth:`SchemaModel.to_json`, :meth:`SchemaModel.from_json`)
for the on-disk cache. Loading JSON checks every value's type: a tampered cache file can at
worst be rejected, never run anything.

Keys of :attr:`SchemaModel.types` are xsi types (``xnat:mrSessionData``). An anonymous type
nested in an element is keyed by its containing type and the element path,
``xnat:mrScanData/parameters``: a ``/`` cannot occur in an XML name, so these keys never
collide with a named type, and the namespace prefix keeps two schemas apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

__all__ = [
    "MODEL_FORMAT",
    "Facets",
    "FieldDef",
    "SchemaInfo",
    "SchemaModel",
    "TypeDef",
    "TypeHeader",
    "TypeTable",
    "XNATSchemaWarning",
]

#: Bumped whenever the shape of the model changes, so older cache files are not used.
MODEL_FORMAT = 1

Number = int | float


class XNATSchemaWarning(UserWarning):
    """Something in a schema was skipped or renamed (an unsafe name, an unreadable
    extension schema, a clash of names). The rest of the schema is still used."""


@dataclass
class Facets:
    """Restrictions on a simple value (XSD facets). Numbers only; anything else is dropped."""

    enumeration: list[str] = field(default_factory=list)
    min_inclusive: Number | None = None
    max_inclusive: Number | None = None
    min_exclusive: Number | None = None
    max_exclusive: Number | None = None
    min_length: int | None = None
    max_length: int | None = None
    length: int | None = None

    def is_empty(self) -> bool:
        """True when no facet is set."""
        return self == Facets()


@dataclass
class FieldDef:
    """One XSD attribute or element of a complex type."""

    name: str  # the name as written in the schema (also the REST field name)
    kind: str  # "attribute" or "element"
    type: str  # "xs:<builtin>" for simple values, otherwise a key of SchemaModel.types
    min_occurs: int = 0
    max_occurs: int | None = 1  # None means unbounded
    facets: Facets = field(default_factory=Facets)
    doc: str = ""
    default: str | None = None
    xdat: dict[str, str] = field(default_factory=dict)  # the xdat:field annotation

    @property
    def is_list(self) -> bool:
        """True when the element may occur more than once."""
        return self.max_occurs is None or self.max_occurs > 1


@dataclass
class TypeDef:
    """A complex type: named (``xnat:mrSessionData``) or anonymous (``xnat:mrScanData/parameters``)."""

    key: str
    schema: str  # the schema entry it was read from, e.g. "xnat" or "xdat/display"
    namespace: str
    prefix: str
    path: list[str]  # [local name] or [containing type's local name, element, ...]
    base: str | None = None  # key of the base type, or "xs:<builtin>" for simple content
    fields: list[FieldDef] = field(default_factory=list)
    doc: str = ""
    abstract: bool = False
    anonymous: bool = False
    parent: str | None = None  # anonymous types: the key of the containing type
    field_name: str | None = None  # anonymous types: the element holding this type
    simple_content: bool = False
    value_type: str | None = None  # simple content: the builtin type of the text value
    value_facets: Facets = field(default_factory=Facets)
    xdat: dict[str, str] = field(default_factory=dict)  # the xdat:element annotation

    @property
    def display_identifiers(self) -> list[str]:
        """The xdat ``displayIdentifiers`` (the secondary key, e.g. ``label``)."""
        raw = self.xdat.get("displayIdentifiers", "")
        return [item.strip() for item in raw.split(",") if item.strip()]


@dataclass
class SchemaInfo:
    """One schema document the model was read from."""

    name: str
    namespace: str
    prefix: str
    sha256: str
    type_count: int = 0


@dataclass(frozen=True)
class TypeHeader:
    """What naming a type's class and placing it in the inheritance tree need of it."""

    key: str
    schema: str
    prefix: str
    path: tuple[str, ...]
    anonymous: bool
    base: str | None


class TypeTable(Mapping[str, TypeDef]):
    """The types of a model read back from JSON: each checked and built the first time it is read.

    A warm connect reads the model from the cache and then builds the few classes a session
    uses; building all 517 :class:`TypeDef` (and their 1,700 fields) up front was most of
    its time. The headers (:meth:`header`) are checked when the table is made, so a cache
    file with a damaged entry is refused at load like any other damaged file; a damaged
    field list is refused with a :class:`ValueError` naming the type when it is first read.
    """

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw: dict[str, dict[str, Any]] = {}
        self._headers: dict[str, TypeHeader] = {}
        for key, data in raw.items():
            self._headers[_str(key)] = _header(key, data)
            self._raw[key] = data
        self._built: dict[str, TypeDef] = {}

    def header(self, key: str) -> TypeHeader:
        return self._headers[key]

    def __getitem__(self, key: str) -> TypeDef:
        typedef = self._built.get(key)
        if typedef is None:
            try:
                typedef = _build_type(self._raw[key])
            except ValueError as exc:
                raise ValueError(f"schema model: type {key!r} is damaged ({exc}); "
                                 "xnat.schema.loader.clear_cache() removes the cached model") from None
            self._built[key] = typedef  # two threads building the same type make equal ones
        return typedef

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"<TypeTable: {len(self._raw)} types, {len(self._built)} built>"


@dataclass
class SchemaModel:
    """All data types of a server, as read from its schemas."""

    schemas: list[SchemaInfo] = field(default_factory=list)
    types: Mapping[str, TypeDef] = field(default_factory=dict)
    elements: dict[str, str] = field(default_factory=dict)  # root element -> type key
    notes: list[str] = field(default_factory=list)  # warnings raised while reading
    format: int = MODEL_FORMAT

    def header(self, key: str) -> TypeHeader:
        """The naming and inheritance facts of type ``key`` (without building it when read from JSON)."""
        if isinstance(self.types, TypeTable):
            return self.types.header(key)
        typedef = self.types[key]
        return TypeHeader(typedef.key, typedef.schema, typedef.prefix, tuple(typedef.path), typedef.anonymous,
                          typedef.base)

    def to_json(self) -> str:
        """The model as compact JSON text (fields equal to their default are left out)."""
        return json.dumps(_compact(self), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> SchemaModel:
        """Rebuild a model from :meth:`to_json` output; ``ValueError`` if anything is off."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise ValueError("not a schema model of format %d" % MODEL_FORMAT)
        unknown = set(data) - {"schemas", "types", "elements", "notes", "format"}
        if unknown:
            raise ValueError(f"SchemaModel: unexpected keys {sorted(unknown)}")
        return cls(
            schemas=[_build(SchemaInfo, item) for item in _list(data, "schemas")],
            types=TypeTable(_dict(data, "types")),
            elements={_str(k): _str(v) for k, v in _dict(data, "elements").items()},
            notes=[_str(v) for v in _list(data, "notes")],
        )


# --- strict JSON -> dataclass conversion (no reflection on untrusted names) -------------

def _defaults(kind: type) -> dict[str, Any]:
    """Field name -> default value of dataclass ``kind`` (fresh containers each call)."""
    values = {}
    for item in fields(kind):
        if item.default is not MISSING:
            values[item.name] = item.default
        elif item.default_factory is not MISSING:
            values[item.name] = item.default_factory()
    return values


_DEFAULTS: dict[type, dict[str, Any]] = {}


#: dataclass -> its field names, in order (``dataclasses.fields`` is slow to ask per object).
_NAMES: dict[type, tuple[str, ...]] = {}


def _compact(obj: Any) -> Any:
    """Dataclasses as dicts without the fields that equal their defaults."""
    kind = type(obj)
    names = _NAMES.get(kind)
    if names is None and hasattr(obj, "__dataclass_fields__"):
        names = _NAMES[kind] = tuple(item.name for item in fields(obj))
        _DEFAULTS[kind] = _defaults(kind)  # only compared with, never handed out
    if names is not None:
        defaults = _DEFAULTS[kind]
        out = {}
        for name in names:
            value = getattr(obj, name)
            if name not in defaults or value != defaults[name] or name == "format":
                out[name] = _compact(value)
        return out
    if isinstance(obj, list):
        return [_compact(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: _compact(v) for k, v in obj.items()}
    return obj


def _exact(*allowed: type) -> Callable[[Any], Any]:
    """A check that a JSON value has one of the ``allowed`` types exactly (so a bool is no int)."""
    def check(value: Any) -> Any:
        if type(value) not in allowed:
            raise ValueError("bad value")
        return value
    return check


def _str_list(value: Any) -> list[str]:
    return [_str(v) for v in _as_list(value)]


def _str_dict(value: Any) -> dict[str, str]:
    return {_str(k): _str(v) for k, v in _as_dict(value).items()}


def _facets(value: Any) -> Facets:
    facets: Facets = _build(Facets, value)
    return facets


def _field_list(value: Any) -> list[FieldDef]:
    return [_build(FieldDef, v) for v in _as_list(value)]


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "str": _exact(str),
    "str | None": _exact(str, type(None)),
    "int": _exact(int),
    "int | None": _exact(int, type(None)),
    "bool": _exact(bool),
    "Number | None": _exact(int, float, type(None)),
    "list[str]": _str_list,
    "dict[str, str]": _str_dict,
    "Facets": _facets,
    "list[FieldDef]": _field_list,
}
#: dataclass -> field name -> the check (and conversion) of its JSON value; made once per class.
_PLANS: dict[type, dict[str, Callable[[Any], Any]]] = {}


def _plan(kind: type) -> dict[str, Callable[[Any], Any]]:
    plan = _PLANS.get(kind)
    if plan is None:
        plan = {}
        for item in fields(kind):
            check = _CHECKS.get(str(item.type))
            if check is None:  # pragma: no cover - a new field type must be added above
                raise ValueError(f"{kind.__name__}.{item.name}: unsupported type {item.type}")
            plan[item.name] = check
        _PLANS[kind] = plan
    return plan


def _build(kind: type, data: Any) -> Any:
    """Instantiate dataclass ``kind`` from a dict whose values must have the declared types.

    Missing keys take their defaults (the JSON is compact); unknown keys are refused.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{kind.__name__}: expected an object")
    plan = _plan(kind)
    values: dict[str, Any] = {}
    for name, value in data.items():
        check = plan.get(name)
        if check is None:
            raise ValueError(f"{kind.__name__}: unexpected keys {sorted(set(data) - set(plan))}")
        try:
            values[name] = check(value)
        except ValueError as exc:
            raise ValueError(f"{kind.__name__}.{name}: {exc}") from None
    return kind(**values)


def _header(key: Any, data: Any) -> TypeHeader:
    """A type's header, checked like the rest of the model (``ValueError`` if anything is off)."""
    if not isinstance(data, dict):
        raise ValueError(f"TypeDef {key!r}: expected an object")
    known = _plan(TypeDef)
    if not data.keys() <= known.keys():
        raise ValueError(f"TypeDef {key!r}: unexpected keys {sorted(set(data) - set(known))}")
    path = _str_list(data.get("path", []))
    base = data.get("base")
    anonymous = data.get("anonymous", False)
    if not isinstance(anonymous, bool) or not (base is None or isinstance(base, str)):
        raise ValueError(f"TypeDef {key!r}: bad base or anonymous")
    return TypeHeader(_str(key), _str(data.get("schema")), _str(data.get("prefix")), tuple(path), anonymous, base)


def _build_type(data: Any) -> TypeDef:
    typedef: TypeDef = _build(TypeDef, data)
    return typedef


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value


def _as_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("expected an object")
    return value


def _list(data: dict[str, Any], key: str) -> list[Any]:
    return _as_list(data.get(key, []))


def _dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    return _as_dict(data.get(key, {}))
