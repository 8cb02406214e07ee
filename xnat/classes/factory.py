"""Build Python classes from a :class:`~xnat.schema.model.SchemaModel` with ``type()``.

No source text is ever written or executed: each class is ``type(name, bases, namespace)``
where the namespace holds descriptors (:mod:`xnat.classes.properties`) and plain data.
Class and attribute names are spelled as xnatpy 0.8 spells them and validated as
identifiers; a name that cannot be made safe is skipped with an
:class:`~xnat.schema.model.XNATSchemaWarning` (the type stays reachable through
:attr:`ClassNamespace.lookup`). Inheritance follows the schema (``MrSessionData`` ->
``ImageSessionData`` -> ``SubjectAssessorData`` -> ``ExperimentData``), and the behaviour
mixins registered for a type (:mod:`xnat.classes.registry`) come first in its bases.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from typing import Any

from ..exceptions import XNATKeyError, XNATSchemaError
from ..schema.model import FieldDef, SchemaModel, TypeDef, XNATSchemaWarning
from ..schema.names import anonymous_class_name, pythonize_attribute_name, pythonize_class_name
from .base import XNATBaseObject
from .properties import ChildProperty, FieldProperty
from .registry import behaviours_for, load_behaviours

__all__ = ["GENERATED_MODULE", "ClassNamespace", "build_classes"]

logger = logging.getLogger(__name__)

#: The ``__module__`` of every generated class (there is no such module on disk).
GENERATED_MODULE = "xnat.classes.generated"
_DESCRIPTORS = (FieldProperty, ChildProperty)


class ClassNamespace:
    """The classes built for one session: ``session.classes.MrSessionData``.

    ``dir()`` lists every class (tab completion), ``lookup`` maps xsi types to classes
    (xnatpy's ``XNAT_CLASS_LOOKUP``) and ``classes["xnat:mrSessionData"]`` looks one up.
    """

    def __init__(self, model: SchemaModel, lookup: dict[str, type], by_name: dict[str, type]) -> None:
        self.model = model
        self.lookup = lookup
        self._names = sorted(by_name)
        # Class names always start with a capital letter, so they cannot shadow the
        # lower-case attributes of this object.
        self.__dict__.update(by_name)

    def register(self, xsi_type: str, cls: type) -> None:
        """Add a hand-written class (e.g. for ``xnat:fileData``) to the lookup and namespace."""
        self.lookup[xsi_type] = cls
        name = cls.__name__
        if name[:1].isupper() and name.isidentifier() and name not in self.__dict__:
            self.__dict__[name] = cls
            self._names = sorted([*self._names, name])

    def __getitem__(self, xsi_type: str) -> type:
        try:
            return self.lookup[xsi_type]
        except KeyError:
            raise XNATKeyError(f"the server's schemas define no data type {xsi_type!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self.lookup or key in self._names

    def __iter__(self) -> Iterator[type]:
        return (self.__dict__[name] for name in self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __dir__(self) -> list[str]:
        return [*self._names, "lookup", "model", "register"]

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails, i.e. for an unknown class name.
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"the server's schemas define no class {name!r} (see dir(session.classes))")

    def __repr__(self) -> str:
        return f"<ClassNamespace: {len(self._names)} classes>"


def build_classes(model: SchemaModel, session: Any = None) -> ClassNamespace:
    """One class per type of ``model``, bound to ``session`` (their ``xnat_session``)."""
    load_behaviours()
    names = _class_names(model)
    depth, broken = _inheritance_depths(model)
    classes: dict[str, type] = {}
    reserved: dict[type, frozenset[str]] = {}
    for key in sorted(model.types, key=depth.__getitem__):
        typedef = model.types[key]
        base = classes.get(typedef.base or "") if key not in broken else None
        if typedef.base and base is None and key not in broken:
            logger.debug("type %s: base %s is unknown; built on the generic base", key, typedef.base)
        classes[key] = _build_class(typedef, model, names.get(key), base or XNATBaseObject, session, reserved)
    by_name = {names[key]: cls for key, cls in classes.items() if key in names}
    return ClassNamespace(model, dict(classes), by_name)


def _class_name(typedef: TypeDef) -> str | None:
    if typedef.anonymous:
        return anonymous_class_name(typedef.prefix, typedef.path)
    local = typedef.path[0] if typedef.path else ""
    return pythonize_class_name(f"{typedef.prefix}:{local}" if typedef.prefix else local)


def _class_names(model: SchemaModel) -> dict[str, str]:
    """xsi type -> exposed class name; the core schema wins a clash of names."""
    names: dict[str, str] = {}
    taken: dict[str, str] = {}
    ordered = sorted(model.types.values(), key=lambda t: t.schema != "xnat")
    for typedef in ordered:
        name = _class_name(typedef)
        if name is None:
            _warn(typedef, f"type {typedef.key!r} has no safe Python class name; only in classes.lookup")
        elif name in taken:
            _warn(typedef, f"type {typedef.key!r} would be named {name} like {taken[name]!r}; only in classes.lookup")
        else:
            taken[name] = typedef.key
            names[typedef.key] = name
    return names


def _inheritance_depths(model: SchemaModel) -> tuple[dict[str, int], set[str]]:
    """Depth of each type in its inheritance chain (bases first); cycles are cut with a warning."""
    depth: dict[str, int] = {}
    broken: set[str] = set()
    for key in model.types:
        chain: list[str] = []
        current: str | None = key
        while current in model.types and current not in depth and current not in chain:
            chain.append(current)
            current = model.types[current].base
        if current in chain:
            broken.add(chain[-1])
            _warn(model.types[chain[-1]], f"type {chain[-1]!r} is its own base (a cycle); its base is ignored")
            level = -1
        else:
            level = depth.get(current or "", -1)
        for item in reversed(chain):
            level += 1
            depth[item] = level
    return depth, broken


def _build_class(
    typedef: TypeDef, model: SchemaModel, name: str | None, base: type, session: Any,
    reserved: dict[type, frozenset[str]],
) -> type:
    mixins = tuple(m for m in behaviours_for(typedef.key) if not issubclass(base, m))
    bases = (*mixins, base)
    class_name = name or "XNATUnnamedType"
    namespace: dict[str, Any] = {
        "__module__": GENERATED_MODULE,
        "__qualname__": class_name,
        "__doc__": _class_doc(typedef),
        "__xsi_type__": typedef.key,
        "__schema_type__": typedef,
        "xnat_session": session,
    }
    taken = frozenset().union(*(_reserved(b, reserved) for b in bases))
    fields, schema_fields = _descriptors(typedef, model, taken)
    namespace.update(fields)
    namespace["__fields__"] = {**getattr(base, "__fields__", {}), **fields}
    namespace["__schema_fields__"] = {**getattr(base, "__schema_fields__", {}), **schema_fields}
    try:
        cls = type(class_name, bases, namespace)
    except TypeError as exc:  # e.g. two mixins that cannot be linearised
        raise XNATSchemaError(f"type {typedef.key!r} (schema {typedef.schema!r}): cannot build class: {exc}") from None
    # A generated class adds only descriptors and fixed names to what its bases reserve.
    reserved[cls] = taken
    return cls


def _class_doc(typedef: TypeDef) -> str:
    origin = f"XNAT data type ``{typedef.key}`` (schema ``{typedef.schema}``)."
    return f"{typedef.doc}\n\n{origin}" if typedef.doc else origin


def _reserved(base: type, cache: dict[type, frozenset[str]]) -> frozenset[str]:
    """Names that hand-written code in ``base`` defines: a schema field never shadows them."""
    if base not in cache:
        names: set[str] = set()
        for cls in base.__mro__:
            if cls is not object:
                names.update(n for n, v in vars(cls).items() if not isinstance(v, _DESCRIPTORS))
        cache[base] = frozenset(names)
    return cache[base]


def _descriptors(typedef: TypeDef, model: SchemaModel,
                 reserved: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(python name -> descriptor, schema name -> descriptor) for the type's own fields."""
    fields: dict[str, Any] = {}
    schema_fields: dict[str, Any] = {}
    for field in typedef.fields:
        python_name = pythonize_attribute_name(field.name)
        if python_name is None:
            _warn(typedef, f"field {field.name!r} of {typedef.key!r} has no safe Python name; skipped")
            continue
        descriptor = _descriptor(field, python_name, model)
        schema_fields.setdefault(field.name, descriptor)
        if python_name in reserved:
            logger.debug("%s.%s is defined by hand; the schema field is not exposed", typedef.key, python_name)
        elif python_name in fields:
            # Real schemas do this (display.xsd: DisplayField and display_field), so a
            # warning on every connect would only be noise; both stay in __schema_fields__.
            logger.info("%s: fields %r and %r are both named %r; the first is used",
                        typedef.key, fields[python_name].field.name, field.name, python_name)
        else:
            fields[python_name] = descriptor
    return fields, schema_fields


def _descriptor(field: FieldDef, python_name: str, model: SchemaModel) -> Any:
    target = model.types.get(field.type)
    if target is None:
        if field.is_list:
            return ChildProperty(field, python_name, "values", field.type, field.name)
        return FieldProperty(field, python_name)
    if field.is_list:
        return ChildProperty(field, python_name, "listing", field.type, field.name)
    inner = _collapsed_item(target)
    if inner is not None:
        # A wrapper element around one repeated element (fields/field): one listing, as xnatpy does.
        kind = "listing" if inner.type in model.types else "values"
        return ChildProperty(field, python_name, kind, inner.type, f"{field.name}/{inner.name}")
    return ChildProperty(field, python_name, "object", field.type, field.name)


def _collapsed_item(target: TypeDef) -> FieldDef | None:
    if not target.anonymous or target.base or len(target.fields) != 1:
        return None
    inner = target.fields[0]
    return inner if inner.kind == "element" and inner.is_list else None


def _warn(typedef: TypeDef, message: str) -> None:
    warnings.warn(f"schema {typedef.schema!r}: {message}", XNATSchemaWarning, stacklevel=4)
