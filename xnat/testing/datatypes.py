"""What the embedded server knows of the schema set it serves.

:class:`DataTypes` reads a folder of XNAT schemas laid out as XNAT ships them
(``<dir>/<name>.xsd``) with lxml, and answers the questions the server asks while
handling a request: which data types exist, which type extends which, what xs type a
field path has (``scanner/manufacturer``, ``parameters/voxelRes/x``), how to type a value
for item JSON, which root element an item document uses, and how ``/xapi/schemas`` lists
the files.

The reader is deliberately tolerant: it walks a complexType's content looking for
``xs:element`` and ``xs:attribute`` wherever they appear, because some plugin schemas
place them where the XSD grammar does not allow (``xs:element`` directly inside an
``xs:extension``). Nothing read from a schema is ever executed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lxml import etree

from ..xmlsafe import safe_parser

logger = logging.getLogger(__name__)

XS_NS = "http://www.w3.org/2001/XMLSchema"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_XS = "{%s}" % XS_NS

#: The compact schema set shipped with the package.
DEFAULT_SCHEMAS_DIR = Path(__file__).parent / "schemas"

#: Type of an anonymous complex element without text content (XSD's ur-type).
ANY_TYPE = "xs:anyType"

_INT_TYPES = frozenset({
    "xs:int", "xs:integer", "xs:long", "xs:short", "xs:byte", "xs:nonNegativeInteger",
    "xs:positiveInteger", "xs:nonPositiveInteger", "xs:negativeInteger", "xs:unsignedLong",
    "xs:unsignedInt", "xs:unsignedShort", "xs:unsignedByte",
})
_FLOAT_TYPES = frozenset({"xs:float", "xs:double", "xs:decimal"})
_BOOL_TYPES = frozenset({"xs:boolean"})
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_PREDICATE_RE = re.compile(r"^([^\[\]]+)\[@xsi:type=['\"]?([^'\"\]]+)['\"]?\]$")


@dataclass
class FieldDef:
    """One attribute or element of a complex type."""

    name: str
    kind: str                       # "attribute" | "element"
    xs_type: str | None             # "xs:string", "xnat:investigatorData"; None: anonymous complex
    namespace: str                  # namespace of the schema that declares it (element names)
    owner: str                      # the named type that declares it, e.g. "xnat:imageScanData"
    multiple: bool = False          # maxOccurs > 1
    nested: TypeDef | None = None  # content of an anonymous complexType


@dataclass
class TypeDef:
    """A named or anonymous complex type: its base, text type and fields in schema order."""

    name: str                       # "xnat:mrSessionData"; synthetic for anonymous items
    namespace: str
    base: str | None = None
    text_type: str | None = None    # simpleContent base (e.g. "xs:string" for scanner)
    fields: dict[tuple[str, str], FieldDef] = field(default_factory=dict)  # (kind, name) -> def

    def own(self, kind: str) -> list[FieldDef]:
        """The fields of one kind this type declares itself, in schema order."""
        return [f for (k, _), f in self.fields.items() if k == kind]


@dataclass
class _SchemaFile:
    relpath: str                    # "xnat/xnat.xsd"
    path: Path
    namespace: str | None
    own_prefix: str | None


class DataTypes:
    """What the server knows of the schema set it serves. Built with lxml, no client code."""

    def __init__(self, schemas_dir: Path) -> None:
        self.schemas_dir = Path(schemas_dir)
        self._files: list[_SchemaFile] = []
        self._types: dict[str, TypeDef] = {}          # canonical name -> named complex type
        self._items: dict[str, TypeDef] = {}          # synthetic anonymous item types
        self._simple: dict[str, str] = {}             # named simpleType -> builtin base
        self._roots: dict[str, str] = {}              # "xnat:MRSession" -> "xnat:mrSessionData"
        self._root_of: dict[str, str] = {}            # "xnat:mrSessionData" -> "xnat:MRSession"
        self._prefix: dict[str, str] = {}             # namespace -> canonical prefix
        self._lower: dict[str, str] = {}              # lower-cased type name -> canonical
        self.schema_entries: list[str] = []
        self._load()

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, schemas_dir: Path | str | None = None) -> DataTypes:
        """Read a schema folder (``None``: the compact default set in ``xnat/testing/schemas``)."""
        folder = Path(schemas_dir) if schemas_dir is not None else DEFAULT_SCHEMAS_DIR
        if not folder.is_dir():
            raise FileNotFoundError(f"schema folder {folder} does not exist")
        return cls(folder)

    def _load(self) -> None:
        docs: list[tuple[_SchemaFile, etree._Element]] = []
        for path in sorted(self.schemas_dir.glob("*/*.xsd")):
            relpath = path.relative_to(self.schemas_dir).as_posix()
            try:
                root = etree.parse(str(path), safe_parser()).getroot()
            except etree.XMLSyntaxError as exc:
                raise ValueError(f"schema {relpath} is not well-formed XML: {exc}") from exc
            if root.tag != _XS + "schema":
                logger.warning("skipping %s: root element is not xs:schema", relpath)
                continue
            namespace = root.get("targetNamespace")
            own = next((p for p, uri in root.nsmap.items() if p and uri == namespace), None)
            info = _SchemaFile(relpath, path, namespace, own)
            self._files.append(info)
            docs.append((info, root))
        if not self._files:
            raise ValueError(f"no schemas (<dir>/<name>.xsd) found in {self.schemas_dir}")
        self._assign_prefixes(docs)
        for info, root in docs:
            self._read_schema(info, root)
        self._lower = {name.lower(): name for name in self._types}
        self.schema_entries = sorted(self._entry(info.relpath) for info in self._files)
        logger.debug("loaded %d schema files, %d types from %s",
                     len(self._files), len(self._types), self.schemas_dir)

    def _assign_prefixes(self, docs: list[tuple[_SchemaFile, etree._Element]]) -> None:
        # A schema's own prefix for its target namespace wins; a namespace whose schema
        # binds it only as the default namespace borrows a prefix other schemas use.
        taken: set[str] = {"xs", "xsi"}
        for info, _ in docs:
            if info.namespace and info.own_prefix and info.namespace not in self._prefix \
                    and info.own_prefix not in taken:
                self._prefix[info.namespace] = info.own_prefix
                taken.add(info.own_prefix)
        for info, _ in docs:
            if not info.namespace or info.namespace in self._prefix:
                continue
            borrowed = [p for _, r in docs for p, uri in r.nsmap.items()
                        if p and uri == info.namespace and p not in taken]
            prefix = borrowed[0] if borrowed else PurePosixPath(info.relpath).stem
            while prefix in taken:
                prefix += "_"
            self._prefix[info.namespace] = prefix
            taken.add(prefix)

    @staticmethod
    def _entry(relpath: str) -> str:
        directory, name = relpath[:-len(".xsd")].split("/", 1)
        return directory if name == directory else f"{directory}/{name}"

    def _qname(self, ref: str | None, context: etree._Element) -> str | None:
        """A QName from schema text ("xnat:foo") as a canonical "prefix:local" name."""
        if not ref:
            return None
        prefix, _, local = ref.rpartition(":")
        uri = context.nsmap.get(prefix or None)
        if uri == XS_NS:
            return "xs:" + local
        if uri is None:
            return ref if prefix else local
        return f"{self._prefix.get(uri, prefix)}:{local}"

    def _read_schema(self, info: _SchemaFile, root: etree._Element) -> None:
        namespace = info.namespace or ""
        prefix = self._prefix.get(namespace)
        qualify = (lambda n: f"{prefix}:{n}") if prefix else (lambda n: n)
        for child in root:
            name = child.get("name")
            if not isinstance(child.tag, str) or not name:
                continue
            if child.tag == _XS + "simpleType":
                self._simple[qualify(name)] = self._simple_base(child) or "xs:string"
            elif child.tag == _XS + "complexType":
                typedef = TypeDef(qualify(name), namespace)
                self._read_content(child, typedef, typedef.name)
                if typedef.name in self._types:
                    logger.warning("type %s defined twice; keeping the first", typedef.name)
                else:
                    self._types[typedef.name] = typedef
            elif child.tag == _XS + "element":
                element_type = self._qname(child.get("type"), child)
                if element_type:
                    self._roots[qualify(name)] = element_type
                    self._root_of.setdefault(element_type, qualify(name))

    def _simple_base(self, node: etree._Element) -> str | None:
        """The builtin base of an inline or named simpleType (list/union read as strings)."""
        for sub in node.iter(_XS + "restriction", _XS + "extension"):
            return self._qname(sub.get("base"), sub)
        return None

    def _read_content(self, node: etree._Element, typedef: TypeDef, owner: str) -> None:
        """Collect attributes and elements found anywhere in a complexType's content."""
        for child in node:
            if not isinstance(child.tag, str) or child.tag == _XS + "annotation":
                continue
            if child.tag == _XS + "element":
                self._add_element(child, typedef, owner)
            elif child.tag == _XS + "attribute":
                self._add_attribute(child, typedef, owner)
            elif child.tag in (_XS + "simpleContent", _XS + "complexContent"):
                for derivation in child:
                    if derivation.tag in (_XS + "extension", _XS + "restriction"):
                        base = self._qname(derivation.get("base"), derivation)
                        if child.tag == _XS + "simpleContent":
                            typedef.text_type = base
                        else:
                            typedef.base = base
                        self._read_content(derivation, typedef, owner)
            elif child.tag.startswith(_XS):
                self._read_content(child, typedef, owner)   # sequence, choice, all, group...

    def _add_element(self, node: etree._Element, typedef: TypeDef, owner: str) -> None:
        name = node.get("name")
        xs_type = self._qname(node.get("type"), node)
        if not name and node.get("ref"):
            ref = self._qname(node.get("ref"), node) or ""
            name, xs_type = ref.rpartition(":")[2], ref     # resolved later via _roots
        if not name:
            return
        max_occurs = node.get("maxOccurs", "1")
        multiple = max_occurs == "unbounded" or (max_occurs.isdigit() and int(max_occurs) > 1)
        nested = None
        inline = node.find(_XS + "complexType")
        if xs_type is None and inline is not None:
            nested = TypeDef(f"{owner}_{name}", typedef.namespace)
            self._read_content(inline, nested, owner)
            if multiple:
                self._items.setdefault(nested.name, nested)
        elif xs_type is None:
            inline_simple = node.find(_XS + "simpleType")
            xs_type = (self._simple_base(inline_simple) if inline_simple is not None else None) \
                or "xs:string"
        typedef.fields[("element", name)] = FieldDef(
            name, "element", xs_type, typedef.namespace, owner, multiple, nested)

    def _add_attribute(self, node: etree._Element, typedef: TypeDef, owner: str) -> None:
        name = node.get("name")
        if not name:
            return
        xs_type = self._qname(node.get("type"), node)
        if xs_type is None:
            xs_type = self._simple_base(node) or "xs:string"
        typedef.fields[("attribute", name)] = FieldDef(
            name, "attribute", xs_type, typedef.namespace, owner)

    # ------------------------------------------------------------------ schema files

    def schema_file(self, entry: str) -> Path | None:
        """The .xsd file for an ``/xapi/schemas`` entry ("xnat", "xdat/display", "xnat/xnat")."""
        for info in self._files:
            directory, name = info.relpath[:-len(".xsd")].split("/", 1)
            if entry in (self._entry(info.relpath), f"{directory}/{name}"):
                return info.path
        return None

    def find_schema_file(self, relpath: str) -> Path | None:
        """A file for ``/schemas/xnat/xnat.xsd`` or flat ``/schemas/xnat.xsd`` style lookups.

        Only files of the loaded set are ever returned; the path is never joined onto
        the file system, so ``..`` and absolute paths simply find nothing.
        """
        relpath = relpath.strip("/")
        for info in self._files:
            if relpath == info.relpath:
                return info.path
        flat = [info for info in self._files if PurePosixPath(info.relpath).name == relpath]
        return flat[0].path if flat else None

    def schema_location(self, site_url: str) -> str:
        """The ``xsi:schemaLocation`` of item XML: "<ns> <site>/schemas/<file>.xsd ..."."""
        base = site_url.rstrip("/")
        pairs = [f"{info.namespace} {base}/schemas/{PurePosixPath(info.relpath).name}"
                 for info in self._files if info.namespace]
        return " ".join(pairs)

    def namespaces(self) -> dict[str, str]:
        """Prefix -> namespace URI of every loaded schema with a target namespace."""
        return {prefix: uri for uri, prefix in self._prefix.items()}

    # ------------------------------------------------------------------ types

    def datatypes(self) -> list[str]:
        """All named complex types ("xnat:mrSessionData", ...), sorted."""
        return sorted(self._types)

    def canonical(self, xsi_type: str) -> str | None:
        """The type's name as the schema spells it (XNAT matches type names loosely)."""
        if xsi_type in self._types:
            return xsi_type
        return self._lower.get(xsi_type.lower())

    def exists(self, xsi_type: str) -> bool:
        """True for a named complex type of the loaded schemas (case-insensitive)."""
        return self.canonical(xsi_type) is not None

    def describes(self, xsi_type: str) -> bool:
        """True when fields of this type are known: a named type or an anonymous item
        type such as "xnat:experimentData_share"."""
        return self._typedef(xsi_type) is not None

    def base_of(self, xsi_type: str) -> str | None:
        """The direct base type, or None."""
        typedef = self._typedef(xsi_type)
        return typedef.base if typedef else None

    def ancestors(self, xsi_type: str) -> list[str]:
        """The type and its bases, most derived first."""
        chain: list[str] = []
        typedef = self._typedef(xsi_type)
        while typedef is not None and typedef.name not in chain:
            chain.append(typedef.name)
            typedef = self._types.get(typedef.base) if typedef.base else None
        return chain

    def is_a(self, xsi_type: str, base: str) -> bool:
        """Inheritance: ``is_a("xnat:mrSessionData", "xnat:experimentData")`` is True."""
        target = self.canonical(base) or base
        return target in self.ancestors(xsi_type)

    def subtypes(self, base: str) -> list[str]:
        """Every named type that is (or extends) ``base``, sorted."""
        return sorted(name for name in self._types if self.is_a(name, base))

    def root_element(self, xsi_type: str) -> str:
        """The document element of an item: "xnat:mrSessionData" -> "xnat:MRSession".

        A type without a top-level element is written under its own type name, as XFT does.
        """
        name = self.canonical(xsi_type) or xsi_type
        return self._root_of.get(name, name)

    def element_type(self, element: str) -> str | None:
        """The type of a top-level element: "xnat:MRSession" -> "xnat:mrSessionData"."""
        return self._roots.get(element)

    def fields_of(self, xsi_type: str) -> list[FieldDef]:
        """All fields of a type, inherited ones first (XSD extension order)."""
        typedef = self._typedef(xsi_type)
        if typedef is None:
            return []
        chain = [self._types[n] for n in reversed(self.ancestors(typedef.name))] \
            if typedef.name in self._types else [typedef]
        return [f for t in chain for f in t.fields.values()]

    def text_type(self, xsi_type: str) -> str | None:
        """The simpleContent type of a type (e.g. addField), inherited; None if none."""
        for name in self.ancestors(xsi_type) or [xsi_type]:
            typedef = self._typedef(name)
            if typedef is not None and typedef.text_type:
                return self._builtin(typedef.text_type)
        return None

    def _typedef(self, xsi_type: str) -> TypeDef | None:
        if xsi_type in self._items:
            return self._items[xsi_type]
        name = self.canonical(xsi_type)
        return self._types.get(name) if name else None

    def _find(self, typedef: TypeDef, name: str) -> FieldDef | None:
        """A field by name in a type or its bases; attributes before elements."""
        chain = [typedef] + [self._types[n] for n in self.ancestors(typedef.name)[1:]] \
            if typedef.name in self._types else [typedef]
        for current in chain:
            for kind in ("attribute", "element"):
                found = current.fields.get((kind, name))
                if found is not None:
                    return found
        return None

    def field(self, xsi_type: str, path: str) -> FieldDef | None:
        """The definition of a field path ("scanner/manufacturer"), or None if unknown.

        Accepts XNAT's spellings: a leading type name ("xnat:mrSessionData/label", any
        type the item is), and ``[@xsi:type=...]`` predicates on a segment
        ("demographics[@xsi:type=xnat:demographicData]/gender"). A path into an abstract
        named type also looks into its subtypes.
        """
        resolved = self._resolve(xsi_type, path)
        return resolved[0] if resolved else None

    def _resolve(self, xsi_type: str, path: str) -> tuple[FieldDef, TypeDef | None] | None:
        typedef = self._typedef(xsi_type)
        segments = [s for s in path.strip("/").split("/") if s]
        if typedef is None or not segments:
            return None
        first = self.canonical(segments[0])
        if first and first in self.ancestors(typedef.name):
            segments = segments[1:]
        candidates: list[TypeDef] = [typedef]
        found: FieldDef | None = None
        for index, segment in enumerate(segments):
            segment, forced = self._split_predicate(segment)
            found = next((f for t in candidates if (f := self._find(t, segment))), None)
            if found is None:
                return None
            if index == len(segments) - 1:
                return found, (self._typedef(forced) if forced else None)
            candidates = self._descend(found, forced)
            if not candidates:
                return None
        return None

    @staticmethod
    def _split_predicate(segment: str) -> tuple[str, str | None]:
        match = _PREDICATE_RE.match(segment)
        return (match.group(1), match.group(2)) if match else (segment, None)

    def _descend(self, found: FieldDef, forced: str | None) -> list[TypeDef]:
        if found.nested is not None:
            return [found.nested]
        target = forced or found.xs_type
        if not target or target.startswith("xs:"):
            return []
        if target in self._roots:                      # element ref to a top-level element
            target = self._roots[target]
        typedef = self._typedef(target)
        if typedef is None:
            return []
        return [typedef] + [self._types[s] for s in self.subtypes(typedef.name) if s != typedef.name]

    def is_child(self, found: FieldDef) -> bool:
        """True when XNAT keeps an element as separate child items (``children`` in JSON).

        Repeated elements and elements of a named complex type are items of their own
        ("scans/scan", "sharing/share", "demographics", "PI"); single anonymous
        structures ("scanner", "parameters/voxelRes") are flattened into their parent.
        """
        if found.kind != "element":
            return False
        if found.multiple:
            return True
        if found.nested is not None or not found.xs_type:
            return False
        target = self._roots.get(found.xs_type, found.xs_type)
        return self._typedef(target) is not None

    def child_type(self, found: FieldDef) -> str:
        """The item type of a child field: its named type, or XNAT's synthetic name
        for an anonymous repeated element ("xnat:experimentData_share")."""
        if found.nested is not None:
            return found.nested.name
        target = self._roots.get(found.xs_type or "", found.xs_type or "")
        return self.canonical(target) or f"{found.owner}_{found.name}"

    def field_type(self, xsi_type: str, path: str) -> str | None:
        """The xs type of a field path, inherited fields resolved; None if unknown.

        Simple fields give their builtin type ("fieldStrength" -> "xs:string"); an
        element with text and attributes gives its text type ("scanner" -> "xs:string");
        an element of a named complex type gives that type ("demographics" ->
        "xnat:abstractDemographicData"); an anonymous structure gives ``xs:anyType``.
        """
        resolved = self._resolve(xsi_type, path)
        if resolved is None:
            return None
        found, forced = resolved
        if forced is not None:
            return forced.name
        if found.nested is not None:
            return self._builtin(found.nested.text_type) if found.nested.text_type else ANY_TYPE
        return self._builtin(found.xs_type or ANY_TYPE)

    def builtin(self, name: str) -> str:
        """Follow named simple types down to a builtin xs type ("xdat:LONGVARCHAR" -> "xs:string")."""
        return self._builtin(name)

    def _builtin(self, name: str) -> str:
        """Follow named simple types down to a builtin xs type."""
        seen: set[str] = set()
        while name in self._simple and name not in seen:
            seen.add(name)
            name = self._simple[name]
        return name

    def coerce(self, xsi_type: str, path: str, value: str) -> object:
        """A typed value for item JSON: int, float, bool or str.

        Integers (xs:int/integer/long/short...) -> int, xs:float/double/decimal -> float,
        xs:boolean ("true"/"1"/"false"/"0") -> bool; dates, times and everything else stay
        the string XNAT writes. An empty string for a number or boolean means "no value"
        and gives None. A value that is not a number where one is required raises
        ValueError naming the field.
        """
        return coerce_value(self.field_type(xsi_type, path) or "xs:string", value, path)

    def iter_files(self) -> Iterator[tuple[str, Path]]:
        """(relpath, file) of every loaded schema, as served under ``/schemas``."""
        for info in self._files:
            yield info.relpath, info.path


def coerce_value(xs_type: str, value: str, label: str = "value") -> object:
    """Type one value by its builtin xs type (see :meth:`DataTypes.coerce`)."""
    if not isinstance(value, str):
        raise TypeError(f"{label}: expected a string, got {type(value).__name__}")
    if xs_type not in _INT_TYPES | _FLOAT_TYPES | _BOOL_TYPES:
        return value
    text = value.strip()
    if text == "":
        return None
    if xs_type in _INT_TYPES:
        if not _INT_RE.fullmatch(text):
            raise ValueError(f"{label}: {value!r} is not an integer ({xs_type})")
        return int(text)
    if xs_type in _FLOAT_TYPES:
        # NaN/INF are valid XSD floats but not valid JSON, so they are refused.
        if not _FLOAT_RE.fullmatch(text):
            raise ValueError(f"{label}: {value!r} is not a number ({xs_type})")
        return float(text)
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"{label}: {value!r} is not a boolean (true/false/1/0)")
