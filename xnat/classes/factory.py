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
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..exceptions import XNATKeyError, XNATSchemaError
from ..schema.model import FieldDef, SchemaModel, TypeDef, TypeHeader, XNATSchemaWarning
from ..schema.names import anonymous_class_name, pythonize_attribute_name, pythonize_class_name
from .base import XNATBaseObject
from .properties import ChildProperty, FieldProperty, SimpleContentProperty, SimpleValueProperty
from .registry import behaviours_for, load_behaviours

__all__ = ["GENERATED_MODULE", "ClassLookup", "ClassNamespace", "build_classes"]

logger = logging.getLogger(__name__)

#: The ``__module__`` of every generated class (there is no such module on disk).
GENERATED_MODULE = "xnat.classes.generated"
_DESCRIPTORS = (FieldProperty, ChildProperty, SimpleValueProperty)


class ClassNamespace:
    """The classes of one session: ``session.classes.MrSessionData``, each built the first time it is used.

    A class is made when it is named (``classes.MrSessionData``), looked up by xsi type
    (``classes["xnat:mrSessionData"]``, ``lookup.get(...)``, a listing's rows) or needed as
    the base of one, so a session that touches five types builds five classes (and their
    bases), not every type of the schemas. ``dir()`` lists every class name without building
    any (tab completion), ``lookup`` maps xsi types to classes (xnatpy's
    ``XNAT_CLASS_LOOKUP``); iterating over the namespace or the lookup's values builds all.
    Building is thread-safe: a type is built once, whichever thread asks first.
    """

    def __init__(self, model: SchemaModel, session: Any = None) -> None:
        self.model = model
        self._session = session
        self._type_names = _class_names(model)
        self._types_by_name = {name: key for key, name in self._type_names.items()}
        self._names = sorted(self._types_by_name)
        self._depth, self._broken = _inheritance_depths(model)
        self._built: dict[str, type] = {}
        self._pending: dict[str, type] = {}
        self._reserved: dict[type, frozenset[str]] = {}
        self._hooks: dict[str, Callable[[type], None]] = {}
        self._lock = threading.RLock()
        #: xsi type -> class, built on first use (xnatpy's ``XNAT_CLASS_LOOKUP``).
        self.lookup = ClassLookup(self)

    def _build(self, xsi_type: str) -> type | None:
        """The class of ``xsi_type`` (built now if it was not yet); None for a type the model lacks."""
        cls = self._built.get(xsi_type)
        if cls is not None:
            return cls
        if xsi_type not in self.model.types:
            return None
        load_behaviours()  # the mixins, imported with the first class (a session may never need one)
        with self._lock:
            return self._build_locked(xsi_type)

    def _build_locked(self, key: str) -> type:
        # The unbuilt ancestors first, deepest first: a loop, as a chain may be long.
        chain: list[str] = []
        current: str | None = key
        while current is not None and self._ready(current) is None and current not in chain:
            chain.append(current)
            typedef = self.model.types[current]
            base = typedef.base if typedef.base and current not in self._broken else None
            if base is not None and base not in self.model.types:
                logger.debug("type %s: base %s is unknown; built on the generic base", current, base)
                base = None
            current = base
        for item in reversed(chain):
            self._build_one(item)
        return self._ready(key)  # type: ignore[return-value]  # built just above

    def _ready(self, key: str) -> type | None:
        """A class built, or being finished by a hook that looks it up."""
        return self._built.get(key) or self._pending.get(key)

    def _build_one(self, key: str) -> None:
        typedef = self.model.types[key]
        base = self._ready(typedef.base) if typedef.base and key not in self._broken else None
        cls = _build_class(typedef, self.model, self._type_names.get(key), base or XNATBaseObject, self._session,
                           self._reserved)
        # Other threads see the class only once every hook has run on it.
        self._pending[key] = cls
        try:
            for hook in self._hooks.values():
                hook(cls)
        finally:
            del self._pending[key]
        self._built[key] = cls
        name = self._type_names.get(key)
        if name is not None:
            self.__dict__[name] = cls  # later reads are plain attribute reads

    def built(self) -> dict[str, type]:
        """The classes made so far, by xsi type (nothing is built by asking)."""
        return dict(self._built)

    def on_build(self, name: str, hook: Callable[[type], None]) -> None:
        """Run ``hook(cls)`` on every class: those built already and each one built later.

        ``name`` identifies the hook: installing one under the same name again replaces it.
        """
        with self._lock:
            self._hooks[name] = hook
            for cls in list(self._built.values()):
                hook(cls)

    def register(self, xsi_type: str, cls: type) -> None:
        """Add a hand-written class (e.g. for ``xnat:fileData``) to the lookup and namespace."""
        with self._lock:
            self._built[xsi_type] = cls
            name = cls.__name__
            if name[:1].isupper() and name.isidentifier() and name not in self._types_by_name:
                self._types_by_name[name] = xsi_type
                self.__dict__[name] = cls
                self._names = sorted([*self._names, name])

    def _known(self, xsi_type: str) -> bool:
        """Whether ``xsi_type`` has a class here, built or not (nothing is built by asking)."""
        return xsi_type in self._built or xsi_type in self.model.types

    def _types(self) -> list[str]:
        """Every xsi type with a class here, built or not."""
        return [*self.model.types, *(key for key in self._built if key not in self.model.types)]

    def __getitem__(self, xsi_type: str) -> type:
        cls = self._build(xsi_type) if isinstance(xsi_type, str) else None
        if cls is None:
            raise XNATKeyError(f"the server's schemas define no data type {xsi_type!r}")
        return cls

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (self._known(key) or key in self._types_by_name)

    def __iter__(self) -> Iterator[type]:
        return (getattr(self, name) for name in list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def __dir__(self) -> list[str]:
        return [*self._names, "built", "lookup", "model", "on_build", "register"]

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: a class not built yet, or an unknown name.
        if name.startswith("_"):
            raise AttributeError(name)
        key = self.__dict__.get("_types_by_name", {}).get(name)
        cls = self._build(key) if key is not None else None
        if cls is None:
            raise AttributeError(f"the server's schemas define no class {name!r} (see dir(session.classes))")
        return cls

    def __repr__(self) -> str:
        return f"<ClassNamespace: {len(self._names)} classes, {len(self._built)} built>"


class ClassLookup(Mapping[str, type]):
    """xsi type -> class of a :class:`ClassNamespace`, building a class when it is read.

    ``in``, ``len`` and ``keys()`` build nothing; reading a value (``[]``, ``get``,
    ``values()``, ``items()``) builds what it returns.
    """

    def __init__(self, namespace: ClassNamespace) -> None:
        self._namespace = namespace

    def __getitem__(self, xsi_type: str) -> type:
        cls = self._namespace._build(xsi_type) if isinstance(xsi_type, str) else None
        if cls is None:
            raise KeyError(xsi_type)
        return cls

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._namespace._known(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._namespace._types())

    def __len__(self) -> int:
        return len(self._namespace._types())

    def __setitem__(self, xsi_type: str, cls: type) -> None:
        self._namespace.register(xsi_type, cls)

    def __repr__(self) -> str:
        return f"<ClassLookup: {len(self)} types, {len(self._namespace.built())} built>"


def build_classes(model: SchemaModel, session: Any = None) -> ClassNamespace:
    """The classes of ``model``, bound to ``session`` (their ``xnat_session``), built as they are used."""
    return ClassNamespace(model, session)


def _class_name(typedef: TypeHeader) -> str | None:
    if typedef.anonymous:
        return anonymous_class_name(typedef.prefix, typedef.path)
    local = typedef.path[0] if typedef.path else ""
    return pythonize_class_name(f"{typedef.prefix}:{local}" if typedef.prefix else local)


def _class_names(model: SchemaModel) -> dict[str, str]:
    """xsi type -> exposed class name; the core schema wins a clash of names."""
    names: dict[str, str] = {}
    taken: dict[str, str] = {}
    ordered = sorted((model.header(key) for key in model.types), key=lambda t: t.schema != "xnat")
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
        while current is not None and current in model.types and current not in depth and current not in chain:
            chain.append(current)
            current = model.header(current).base
        if current in chain:
            broken.add(chain[-1])
            _warn(model.header(chain[-1]), f"type {chain[-1]!r} is its own base (a cycle); its base is ignored")
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
        "_class_session": session,  # read as the class's xnat_session
        "__slots__": (),  # instances keep the base's few slots: no dict per object
    }
    taken = frozenset().union(*(_reserved(b, reserved) for b in bases))
    fields, schema_fields = _descriptors(typedef, model, taken)
    namespace.update(fields)
    if typedef.simple_content and "value" not in fields and "value" not in taken:
        namespace["value"] = SimpleValueProperty(typedef.value_type or "xs:string")  # the element's text
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
    if target.simple_content:  # a text value with attributes (scanner): XNAT takes the text as a value
        return SimpleContentProperty(field, python_name, target.value_type or "xs:string")
    return ChildProperty(field, python_name, "object", field.type, field.name)


def _collapsed_item(target: TypeDef) -> FieldDef | None:
    if not target.anonymous or target.base or len(target.fields) != 1:
        return None
    inner = target.fields[0]
    return inner if inner.kind == "element" and inner.is_list else None


def _warn(typedef: TypeDef | TypeHeader, message: str) -> None:
    warnings.warn(f"schema {typedef.schema!r}: {message}", XNATSchemaWarning, stacklevel=4)
