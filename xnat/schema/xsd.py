"""Read XNAT data-type schemas (XSD) into a :class:`~xnat.schema.model.SchemaModel`.

The reader is deliberately liberal in what it accepts, because real servers ship schemas
the XSD grammar does not allow (a DAX plugin puts ``xs:element`` straight inside
``xs:extension``), and deliberately strict about safety, because a schema is server text:

* lxml with entity resolution, DTD loading and network access off, and ``huge_tree`` off
  (libxml2's limits on depth and text size stay on); a document with a DTD is refused;
* namespaces come from the parser (``nsmap``), never from regexes over the text;
* nesting is bounded (:data:`MAX_NESTING`) and group references are followed once;
* facet values are parsed as numbers or dropped, documentation is kept as plain text;
* nothing read here is ever evaluated; names are validated later, by the class factory.

A schema that cannot be read raises :class:`~xnat.exceptions.XNATSchemaError` naming the
schema and the element. An *extension* schema that fails is skipped with an
:class:`~xnat.schema.model.XNATSchemaWarning` when the core schemas are fine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import re
import warnings
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from lxml import etree

from ..exceptions import XNATSchemaError
from ..xmlsafe import safe_parser
from .model import Facets, FieldDef, SchemaInfo, SchemaModel, TypeDef, XNATSchemaWarning

__all__ = ["CORE_SCHEMAS", "MAX_NESTING", "make_parser", "read_schemas"]

logger = logging.getLogger(__name__)

XS = "http://www.w3.org/2001/XMLSchema"
#: The schemas without which no client can work; failures in these are errors.
CORE_SCHEMAS = ("xnat", "xdat")
#: Deepest nesting of anonymous types followed (real schemas use at most 5).
MAX_NESTING = 32
_MAX_DOC = 20_000  # characters of documentation kept per item
_MAX_VALUE = 1_000  # characters kept per annotation attribute or enumeration value
_INTEGER = re.compile(r"^[+-]?\d{1,30}$")
_DECIMAL = re.compile(r"^[+-]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})([eE][+-]?\d{1,3})?$")


class _Problem(Exception):
    """A structural problem; becomes an XNATSchemaError naming the schema."""


#: The only XML parser used for schemas: no entities, no DTD, no network.
make_parser = safe_parser


@dataclass
class _Doc:
    name: str
    root: etree._Element
    namespace: str
    prefix: str
    sha256: str


def parse_document(name: str, data: bytes) -> _Doc:
    """Parse one schema document; ``XNATSchemaError`` if it is not a usable XSD."""
    try:
        root = etree.fromstring(data, make_parser())
    except etree.XMLSyntaxError as exc:
        if b"<!DOCTYPE" in data[:65536]:  # an entity the safe parser would not resolve
            raise XNATSchemaError(f"schema {name!r}: contains a DTD, which is not allowed in a schema") from None
        raise XNATSchemaError(f"schema {name!r}: not well-formed XML: {exc}") from None
    if root is None:
        raise XNATSchemaError(f"schema {name!r}: empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise XNATSchemaError(f"schema {name!r}: contains a DTD, which is not allowed in a schema")
    if root.tag != f"{{{XS}}}schema":
        hint = " (a login page? check the credentials)" if b"<html" in data[:2000].lower() else ""
        raise XNATSchemaError(f"schema {name!r}: root element is {root.tag!r}, not xs:schema{hint}")
    namespace = root.get("targetNamespace", "")
    return _Doc(name, root, namespace, _prefix_for(root, namespace, name), hashlib.sha256(data).hexdigest())


def _prefix_for(root: etree._Element, namespace: str, name: str) -> str:
    """The prefix a schema uses for its own namespace (``xnat``, ``cat``, ...)."""
    if not namespace:
        return ""
    prefixes: list[str] = sorted(str(p) for p, ns in root.nsmap.items() if ns == namespace and p)
    if prefixes:
        return prefixes[0]
    # Declared only as the default namespace: name it after the schema file.
    return re.sub(r"[^A-Za-z0-9_]", "_", name.rsplit("/", 1)[-1]) or "ns"


def _local(node: etree._Element) -> tuple[str, str]:
    """(namespace, local name) of an element's tag (``{namespace}local``, read as text: it is
    asked for every element, and a ``QName`` object each time cost a tenth of reading the schemas).

    Only elements come here (``_children`` leaves comments and processing instructions out).
    """
    tag = node.tag
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _children(node: etree._Element) -> Iterator[etree._Element]:
    return (child for child in node if isinstance(child.tag, str))


class _Reader:
    """Two passes over all documents: index the global definitions, then read the types."""

    def __init__(self, docs: list[_Doc]) -> None:
        self.docs = docs
        self.prefixes: dict[str, str] = {}
        self.complex: dict[tuple[str, str], tuple[_Doc, etree._Element]] = {}
        self.simple: dict[tuple[str, str], etree._Element] = {}
        self.elements: dict[tuple[str, str], tuple[_Doc, etree._Element]] = {}
        self.groups: dict[tuple[str, str], etree._Element] = {}
        self.attr_groups: dict[tuple[str, str], etree._Element] = {}
        self.types: dict[str, TypeDef] = {}
        self.root_elements: dict[str, str] = {}
        self._resolving: set[tuple[str, str]] = set()
        for doc in docs:
            self.prefixes.setdefault(doc.namespace, doc.prefix)
            self._index(doc)

    # --- pass 1 ----------------------------------------------------------------------
    def _index(self, doc: _Doc) -> None:
        # Types and elements keep the document they come from (for its prefixes); the rest is the node alone.
        with_doc: dict[str, dict[tuple[str, str], tuple[_Doc, etree._Element]]] = {
            "complexType": self.complex,
            "element": self.elements,
        }
        node_only: dict[str, dict[tuple[str, str], etree._Element]] = {
            "simpleType": self.simple,
            "group": self.groups,
            "attributeGroup": self.attr_groups,
        }
        for node in _children(doc.root):
            ns, local = _local(node)
            name = node.get("name")
            if ns != XS or (local not in with_doc and local not in node_only) or not name:
                continue
            key = (doc.namespace, name)
            if key in (with_doc[local] if local in with_doc else node_only[local]):
                warnings.warn(
                    f"schema {doc.name!r}: {local} {name!r} is defined twice; the first is used",
                    XNATSchemaWarning,
                    stacklevel=2,
                )
                continue
            if local in with_doc:
                with_doc[local][key] = (doc, node)
            else:
                node_only[local][key] = node

    def key(self, namespace: str, local: str) -> str:
        prefix = self.prefixes.get(namespace, "")
        return f"{prefix}:{local}" if prefix else local

    # --- pass 2 ----------------------------------------------------------------------
    def read(self, doc: _Doc) -> None:
        """Read every named complex type and anonymous root element type of ``doc``."""
        for node in _children(doc.root):
            ns, local = _local(node)
            name = node.get("name") or ""
            if ns != XS or not name:
                continue
            try:
                if local == "complexType":
                    key = self.key(doc.namespace, name)
                    if self.complex.get((doc.namespace, name), (None, None))[1] is node:
                        self._complex(node, doc, key, [name], depth=0)
                elif local == "element":
                    self._root_element(node, doc, name)
            except _Problem as exc:
                raise XNATSchemaError(f"schema {doc.name!r}: {local} {name!r}: {exc}") from None

    def _root_element(self, node: etree._Element, doc: _Doc, name: str) -> None:
        if self.elements.get((doc.namespace, name), (None, None))[1] is not node:
            return
        qualified = self.key(doc.namespace, name)
        self.root_elements[qualified] = self._element_type(node, doc)

    def _element_type(self, node: etree._Element, doc: _Doc) -> str:
        """The type key of a root element (anonymous types keyed by the element name)."""
        if node.get("type"):
            return self.resolve(node, node.get("type", ""))[0]
        inline = _first(node, "complexType")
        if inline is None:
            simple = _first(node, "simpleType")
            return self.simple_type(simple, 0)[0] if simple is not None else "xs:anyType"
        name = node.get("name", "")
        key = self.key(doc.namespace, name)
        if (doc.namespace, name) in self.complex:
            key = f"{key}/"  # an element and a type may share a name in XSD; keep both
        if key not in self.types:
            self._complex(inline, doc, key, [name], depth=0)
        return key

    def _complex(
        self,
        node: etree._Element,
        doc: _Doc,
        key: str,
        path: list[str],
        depth: int,
        parent: str | None = None,
    ) -> TypeDef:
        if depth > MAX_NESTING:
            raise _Problem(f"anonymous types nested deeper than {MAX_NESTING} levels")
        doc_text, xdat = _annotation(node, "element")
        typedef = TypeDef(
            key=key,
            schema=doc.name,
            namespace=doc.namespace,
            prefix=doc.prefix,
            path=path,
            doc=doc_text,
            abstract=node.get("abstract") in ("true", "1"),
            anonymous=parent is not None,
            parent=parent,
            field_name=path[-1] if parent is not None else None,
            xdat=xdat,
        )
        self.types[key] = typedef
        self._walk(node, typedef, doc, depth, many=False, optional=False, seen=set())
        return typedef

    def _walk(
        self,
        node: etree._Element,
        typedef: TypeDef,
        doc: _Doc,
        depth: int,
        many: bool,
        optional: bool,
        seen: set[tuple[str, str]],
    ) -> None:
        """Collect fields below ``node``, wherever the schema put them."""
        for child in _children(node):
            ns, local = _local(child)
            if ns != XS:
                continue  # foreign annotations outside xs:annotation: not data
            if local in ("sequence", "all", "choice"):
                child_many = many or _max_occurs(child) != 1
                child_optional = optional or local == "choice" or child.get("minOccurs") == "0"
                self._walk(child, typedef, doc, depth, child_many, child_optional, seen)
            elif local == "element":
                typedef.fields.append(self._field_element(child, typedef, doc, depth, many, optional))
            elif local == "attribute":
                typedef.fields.append(self._field_attribute(child, typedef))
            elif local in ("group", "attributeGroup") and child.get("ref"):
                target = self._group(child, local, seen)
                if target is not None:
                    self._walk(target, typedef, doc, depth, many, optional, seen)
            elif local in ("complexContent", "simpleContent"):
                typedef.simple_content = typedef.simple_content or local == "simpleContent"
                self._walk(child, typedef, doc, depth, many, optional, seen)
            elif local in ("extension", "restriction"):
                self._derive(child, typedef)
                self._walk(child, typedef, doc, depth, many, optional, seen)

    def _group(self, node: etree._Element, kind: str, seen: set[tuple[str, str]]) -> etree._Element | None:
        ref = self.qname(node, node.get("ref", ""))
        if ref in seen:
            return None  # a group that includes itself: follow it once
        seen.add(ref)
        table = self.groups if kind == "group" else self.attr_groups
        target = table.get(ref)
        if target is None:
            logger.debug("unknown %s %r", kind, node.get("ref"))
        return target

    def _derive(self, node: etree._Element, typedef: TypeDef) -> None:
        """Record the base of an extension/restriction (complex base or simple value type)."""
        base = node.get("base")
        if not base:
            return
        resolved, facets = self.resolve(node, base)
        if resolved.startswith("xs:"):
            if resolved != "xs:anyType":
                typedef.value_type = resolved
                typedef.value_facets = _merge(facets, _facets(node))
        elif resolved != typedef.key:
            typedef.base = resolved

    def _field_element(
        self, node: etree._Element, typedef: TypeDef, doc: _Doc, depth: int, many: bool, optional: bool
    ) -> FieldDef:
        name = node.get("name")
        type_key, facets = "xs:anyType", Facets()
        if not name and node.get("ref"):
            ns, name = self.qname(node, node.get("ref", ""))
            target = self.elements.get((ns, name))
            if target is not None:
                type_key = self._element_type(target[1], target[0])
        elif not name:
            raise _Problem("an xs:element without name or ref")
        if node.get("type"):
            type_key, facets = self.resolve(node, node.get("type", ""))
        simple = _first(node, "simpleType")
        if simple is not None:
            type_key, facets = self.simple_type(simple, 0)
        inline = _first(node, "complexType")
        if inline is not None:
            key = f"{typedef.key}/{name}"
            while key in self.types:  # the same element name twice in one type
                key += "_"
            self._complex(inline, doc, key, typedef.path + [name], depth + 1, parent=typedef.key)
            type_key = key
        doc_text, xdat = _annotation(node, "field")
        return FieldDef(
            name=name,
            kind="element",
            type=type_key,
            min_occurs=0 if optional else _min_occurs(node),
            max_occurs=None if many else _max_occurs(node),
            facets=facets,
            doc=doc_text,
            default=_cap(node.get("default", node.get("fixed"))),
            xdat=xdat,
        )

    def _field_attribute(self, node: etree._Element, typedef: TypeDef) -> FieldDef:
        name = node.get("name")
        if not name and node.get("ref"):
            name = self.qname(node, node.get("ref", ""))[1]
        if not name:
            raise _Problem(f"an xs:attribute without name or ref in {typedef.key!r}")
        type_key, facets = "xs:string", Facets()
        if node.get("type"):
            type_key, facets = self.resolve(node, node.get("type", ""))
        simple = _first(node, "simpleType")
        if simple is not None:
            type_key, facets = self.simple_type(simple, 0)
        doc_text, xdat = _annotation(node, "field")
        return FieldDef(
            name=name,
            kind="attribute",
            type=type_key,
            min_occurs=1 if node.get("use") == "required" else 0,
            max_occurs=1,
            facets=facets,
            doc=doc_text,
            default=_cap(node.get("default", node.get("fixed"))),
            xdat=xdat,
        )

    # --- references ------------------------------------------------------------------
    def qname(self, node: etree._Element, value: str) -> tuple[str, str]:
        """Resolve a QName attribute value with the namespaces in scope at ``node``."""
        prefix, _, local = value.strip().rpartition(":")
        namespace = node.nsmap.get(prefix or None)
        if prefix and namespace is None:
            raise _Problem(f"unknown namespace prefix {prefix!r} in {value!r}")
        return namespace or "", local

    def resolve(self, node: etree._Element, value: str, depth: int = 0) -> tuple[str, Facets]:
        """A type reference as (``xs:<builtin>`` or a complex type key, facets)."""
        ns, local = self.qname(node, value)
        if ns == XS:
            return f"xs:{local}", Facets()
        if (ns, local) in self.simple:
            if (ns, local) in self._resolving:  # a simple type derived from itself
                logger.debug("simple type %r derives from itself; read as a string", value)
                return "xs:string", Facets()
            self._resolving.add((ns, local))
            try:
                return self.simple_type(self.simple[(ns, local)], depth + 1)
            finally:
                self._resolving.discard((ns, local))
        if (ns, local) in self.complex:
            return self.key(ns, local), Facets()
        logger.debug("unknown type %r: its values are read as they come", value)
        return "xs:anyType", Facets()

    def simple_type(self, node: etree._Element, depth: int) -> tuple[str, Facets]:
        """A simpleType as (builtin base, merged facets); lists and unions read as strings."""
        if depth > MAX_NESTING:
            raise _Problem(f"simple types derived deeper than {MAX_NESTING} levels")
        restriction = _first(node, "restriction")
        if restriction is None:
            return "xs:string", Facets()
        base, facets = "xs:string", Facets()
        if restriction.get("base"):
            base, facets = self.resolve(restriction, restriction.get("base", ""), depth + 1)
        inner = _first(restriction, "simpleType")
        if inner is not None:
            base, facets = self.simple_type(inner, depth + 1)
        if not base.startswith("xs:"):
            base = "xs:string"  # a restriction of a complex type is not a simple value
        return base, _merge(facets, _facets(restriction))


def _first(node: etree._Element, local: str) -> etree._Element | None:
    tag = f"{{{XS}}}{local}"
    for child in node:
        if child.tag == tag:
            return child
    return None


def _min_occurs(node: etree._Element) -> int:
    value = node.get("minOccurs", "1")
    return int(value) if value.isdigit() and len(value) < 10 else 1


def _max_occurs(node: etree._Element) -> int | None:
    value = node.get("maxOccurs", "1")
    if value == "unbounded":
        return None
    return int(value) if value.isdigit() and len(value) < 10 else 1


def _cap(value: str | None, limit: int = _MAX_VALUE) -> str | None:
    return None if value is None else value[:limit]


def _text(node: etree._Element) -> str:
    """Plain text of a documentation node, whitespace collapsed, capped."""
    # lxml-stubs type itertext() as str | bytes; on Python 3 lxml yields str only.
    return " ".join("".join(t for t in node.itertext() if isinstance(t, str)).split())[:_MAX_DOC]


def _annotation(node: etree._Element, xdat_name: str) -> tuple[str, dict[str, str]]:
    """(documentation, attributes of the xdat:<xdat_name> annotation) of ``node``.

    The xdat annotations are matched by local name: security.xsd binds the ``xdat`` prefix
    to its own namespace, so the namespace cannot tell them apart.
    """
    annotation = _first(node, "annotation")
    if annotation is None:
        return "", {}
    texts: list[str] = []
    xdat: dict[str, str] = {}
    for child in _children(annotation):
        ns, local = _local(child)
        if (ns, local) == (XS, "documentation"):
            texts.append(_text(child))
        elif (ns, local) == (XS, "appinfo"):
            for item in _children(child):
                if _local(item)[1] == xdat_name:
                    xdat.update(_attributes(item))
                    for sub in _children(item):
                        xdat.update(_attributes(sub, prefix=_local(sub)[1] + "."))
    return " ".join(t for t in texts if t)[:_MAX_DOC], xdat


def _attributes(node: etree._Element, prefix: str = "") -> dict[str, str]:
    # lxml-stubs type attribute values as str | bytes; on Python 3 lxml gives str only.
    return {prefix + etree.QName(k).localname: v[:_MAX_VALUE] for k, v in node.attrib.items() if isinstance(v, str)}


def _number(value: str | None) -> int | float | None:
    """A facet value as a number, or None when it is anything else (an expression, a date)."""
    if value is None:
        return None
    value = value.strip()
    if _INTEGER.match(value):
        return int(value)
    if _DECIMAL.match(value):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _facets(restriction: etree._Element) -> Facets:
    facets = Facets()
    for child in _children(restriction):
        ns, local = _local(child)
        value = child.get("value")
        if ns != XS or value is None:
            continue
        if local == "enumeration":
            facets.enumeration.append(value[:_MAX_VALUE])
        elif local in ("minInclusive", "maxInclusive", "minExclusive", "maxExclusive"):
            attribute = re.sub(r"([A-Z])", r"_\1", local).lower()
            number = _number(value)
            if number is None:
                logger.debug("facet %s=%r is not a number; ignored", local, value)
            setattr(facets, attribute, number)
        elif local in ("minLength", "maxLength", "length"):
            number = _number(value)
            if isinstance(number, int) and number >= 0:
                setattr(facets, re.sub(r"([A-Z])", r"_\1", local).lower(), number)
            else:
                logger.debug("facet %s=%r is not a length; ignored", local, value)
    return facets


def _merge(base: Facets, extra: Facets) -> Facets:
    """Facets of a restriction on top of its base's facets."""
    merged = dataclasses.replace(base, enumeration=list(base.enumeration))
    for name, value in vars(extra).items():
        if name == "enumeration":
            merged.enumeration = list(value) or merged.enumeration
        elif value is not None:
            setattr(merged, name, value)
    return merged


def read_schemas(sources: Sequence[tuple[str, bytes]], core: Collection[str] = CORE_SCHEMAS) -> SchemaModel:
    """Read schema documents ``(name, bytes)`` into one model.

    Names are the ``/xapi/schemas`` entries (``xnat``, ``xdat/display``, ...). A failure in
    a schema named in ``core`` raises :class:`XNATSchemaError`; any other failing schema is
    skipped with an :class:`XNATSchemaWarning`.
    """
    docs: list[_Doc] = []
    notes: list[str] = []
    for name, data in sources:
        try:
            docs.append(parse_document(name, data))
        except XNATSchemaError as exc:
            _fail(name, core, exc, notes)
    reader = _Reader(docs)
    infos: list[SchemaInfo] = []
    for doc in docs:
        before = set(reader.types)
        try:
            reader.read(doc)
        except XNATSchemaError as exc:
            for key in set(reader.types) - before:
                del reader.types[key]
            _fail(doc.name, core, exc, notes)
            continue
        added = len(reader.types) - len(before)
        infos.append(SchemaInfo(doc.name, doc.namespace, doc.prefix, doc.sha256, added))
    return SchemaModel(schemas=infos, types=reader.types, elements=reader.root_elements, notes=notes)


def _fail(name: str, core: Collection[str], exc: XNATSchemaError, notes: list[str]) -> None:
    if name in core:
        raise exc
    message = f"extension schema skipped: {exc}"
    notes.append(message)
    warnings.warn(message, XNATSchemaWarning, stacklevel=3)
