"""Read an ``xdat:bundle`` (the body of ``POST /data/search``) into a plain description.

The embedded server runs searches from what :func:`parse_bundle` returns; it never looks at
the XML again. Bundles come from xnatpy (``xnat.search``), pyxnat (``select(...).where(...)``)
and XNAT's own stored searches (with ``hidden_fields`` comments, extra attributes and
namespaces); all three parse to the same shapes.

The document is untrusted: the parser resolves no entities, loads no DTD and touches no
network, and a document that declares a DTD at all is refused. Anything that is not a
well-formed bundle raises :class:`ValueError` with the reason, which the server answers
with 422 as XNAT does.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from lxml import etree

from ..xmlsafe import safe_parser

__all__ = [
    "COMPARISONS",
    "XDAT_NS",
    "CriteriaGroup",
    "Criterion",
    "SearchColumn",
    "SearchRequest",
    "parse_bundle",
]

logger = logging.getLogger(__name__)

XDAT_NS = "http://nrg.wustl.edu/security"

#: Comparison types accepted in ``<xdat:comparison_type>`` (after trimming and upper-casing).
COMPARISONS = frozenset({"=", "!=", "<>", "<", ">", "<=", ">=", "LIKE", "NOT LIKE", "IS", "IS NOT", "IN"})

MAX_BUNDLE_BYTES = 1024 * 1024  # a bundle is a few kB; anything near this is not a search
MAX_DEPTH = 32  # nesting of child_set; real searches use two or three levels
MAX_ITEMS = 2000  # columns + criteria

_XSI_TYPE = re.compile(r"^[A-Za-z_][\w.-]*:[A-Za-z_][\w.-]*$")


@dataclass(frozen=True)
class SearchColumn:
    """One ``xdat:search_field``: a column of the result."""

    element_name: str
    field_id: str
    header: str = ""
    type: str = ""
    sequence: int = 0
    value: str | None = None  # the parameter of a parameterised display field (``ID=value``)

    @property
    def is_schema_path(self) -> bool:
        """True when ``field_id`` is a schema path (``xnat:mrSessionData/label``), not a display field id."""
        return "/" in self.field_id

    @property
    def schema_path(self) -> str:
        """The field as a path from its data type: ``xnat:mrSessionData/label``.

        For a display field id (``PROJECT``) or a relative path (pyxnat sends ``label``)
        this is ``element_name/field_id``; the server decides which of the two it is.
        """
        return self.field_id if self.is_schema_path else f"{self.element_name}/{self.field_id}"

    @property
    def column_id(self) -> str:
        """The column id XNAT reports in ``Columns[].id``.

        A schema path becomes ``XNAT_COL_`` + the type's local name + the path without
        separators, upper-cased (``xnat:mrSessionData/label`` -> ``XNAT_COL_MRSESSIONDATALABEL``,
        as recorded from a real server); a display field keeps its id.
        """
        if not self.is_schema_path:
            return self.field_id
        element, _, path = self.field_id.partition("/")
        local = element.split(":", 1)[-1]
        return "XNAT_COL_" + re.sub(r"[/.:]", "", local + path).upper()

    @property
    def key(self) -> str:
        """The lower-case key of the column in result rows (``project``, ``scan_count_type_t1``)."""
        return re.sub(r"[^0-9a-z_]", "_", self.column_id.lower())


@dataclass(frozen=True)
class Criterion:
    """One ``xdat:criteria``: ``schema_field comparison_type value``."""

    schema_field: str
    comparison_type: str  # trimmed and upper-cased: "=", "LIKE", ...
    value: str
    override_value_formatting: bool = False

    @property
    def element_name(self) -> str:
        """The data type the field belongs to (before the first ``/`` or ``.``)."""
        return _split_field(self.schema_field)[0]

    @property
    def field_path(self) -> str:
        """The field within its type: ``label``, ``PROJECT``, ``sharing/share/project``."""
        return _split_field(self.schema_field)[1]


@dataclass(frozen=True)
class CriteriaGroup:
    """An ``xdat:search_where`` or ``xdat:child_set``: items joined by AND or OR."""

    method: str  # "AND" or "OR"
    items: tuple[Criterion | CriteriaGroup, ...] = ()

    def criteria(self) -> list[Criterion]:
        """Every criterion in the tree, depth first."""
        found: list[Criterion] = []
        for item in self.items:
            found.extend(item.criteria() if isinstance(item, CriteriaGroup) else [item])
        return found


@dataclass(frozen=True)
class SearchRequest:
    """A parsed bundle: the root data type, the columns in sequence order, and the criteria."""

    root_element_name: str
    columns: tuple[SearchColumn, ...] = ()
    where: CriteriaGroup = field(default_factory=lambda: CriteriaGroup("AND"))
    bundle_id: str | None = None
    description: str | None = None


def _split_field(schema_field: str) -> tuple[str, str]:
    # XNAT accepts both xnat:mrSessionData/label and xnat:mrSessionData.LABEL
    slash, dot = schema_field.find("/"), schema_field.find(".")
    cut = min(i for i in (slash, dot) if i >= 0) if max(slash, dot) >= 0 else -1
    if cut < 0:
        return schema_field, ""
    return schema_field[:cut], schema_field[cut + 1 :]


def _local(elem: etree._Element, expected: str | None = None) -> str:
    if not isinstance(elem.tag, str):
        raise ValueError("the bundle holds an entity reference or other non-element node")
    qname = etree.QName(elem)
    if qname.namespace != XDAT_NS:
        raise ValueError(f"unexpected element {elem.tag} (expected the xdat namespace {XDAT_NS})")
    if expected is not None and qname.localname != expected:
        raise ValueError(f"expected xdat:{expected}, found xdat:{qname.localname}")
    return qname.localname


def _text(elem: etree._Element, name: str, required: bool = True) -> str | None:
    """The text of the single child ``xdat:<name>``, stripped."""
    children = elem.findall(f"{{{XDAT_NS}}}{name}")
    if len(children) > 1:
        raise ValueError(f"xdat:{etree.QName(elem).localname} has {len(children)} xdat:{name} elements")
    if not children:
        if required:
            raise ValueError(f"xdat:{etree.QName(elem).localname} has no xdat:{name}")
        return None
    node = children[0]
    if len(node):
        raise ValueError(f"xdat:{name} must hold text, not elements")
    return (node.text or "").strip()


class _Counter:
    def __init__(self) -> None:
        self.items = 0

    def add(self) -> None:
        self.items += 1
        if self.items > MAX_ITEMS:
            raise ValueError(f"the bundle has more than {MAX_ITEMS} columns and criteria")


def _column(elem: etree._Element, index: int) -> SearchColumn:
    element_name = _text(elem, "element_name") or ""
    field_id = _text(elem, "field_ID") or ""
    if not _XSI_TYPE.match(element_name):
        raise ValueError(f"search_field element_name {element_name!r} is not a data type (prefix:name)")
    if not field_id:
        raise ValueError(f"search_field {index} has an empty field_ID")
    sequence_text = _text(elem, "sequence", required=False)
    try:
        sequence = int(sequence_text) if sequence_text else index
    except ValueError:
        raise ValueError(f"search_field sequence {sequence_text!r} is not an integer") from None
    return SearchColumn(
        element_name=element_name,
        field_id=field_id,
        header=_text(elem, "header", required=False) or "",
        type=_text(elem, "type", required=False) or "",
        sequence=sequence,
        value=_text(elem, "value", required=False),
    )


def _criterion(elem: etree._Element) -> Criterion:
    schema_field = _text(elem, "schema_field") or ""
    if not _XSI_TYPE.match(_split_field(schema_field)[0]) or not _split_field(schema_field)[1]:
        raise ValueError(f"criteria schema_field {schema_field!r} is not a field of a data type")
    comparison = " ".join((_text(elem, "comparison_type") or "").split()).upper()
    if comparison not in COMPARISONS:
        raise ValueError(f"unknown comparison_type {comparison!r}")
    value = _text(elem, "value", required=False)
    override = (elem.get("override_value_formatting") or "0").strip().lower() in ("1", "true")
    return Criterion(schema_field, comparison, value or "", override)


def _group(elem: etree._Element, depth: int, counter: _Counter) -> CriteriaGroup:
    if depth > MAX_DEPTH:
        raise ValueError(f"criteria are nested more than {MAX_DEPTH} levels deep")
    method = (elem.get("method") or "AND").strip().upper()
    if method not in ("AND", "OR"):
        raise ValueError(f"criteria method {method!r} is neither AND nor OR")
    items: list[Criterion | CriteriaGroup] = []
    for child in elem:
        name = _local(child)
        counter.add()
        if name == "criteria":
            items.append(_criterion(child))
        elif name == "child_set":
            items.append(_group(child, depth + 1, counter))
        else:
            raise ValueError(f"unexpected xdat:{name} in xdat:{etree.QName(elem).localname}")
    return CriteriaGroup(method, tuple(items))


def _parse_document(data: bytes | str) -> etree._Element:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"a bundle is XML text or bytes, not {type(data).__name__}")
    if not data.strip():
        raise ValueError("the search bundle is empty")
    if len(data) > MAX_BUNDLE_BYTES:
        raise ValueError(f"the search bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        root = etree.fromstring(bytes(data), safe_parser())
    except etree.XMLSyntaxError as error:
        raise ValueError(f"the search bundle is not well-formed XML: {error}") from None
    if root is None:
        raise ValueError("the search bundle has no root element")
    docinfo = root.getroottree().docinfo
    doctype: str = docinfo.doctype  # type: ignore[union-attr]  # lxml-stubs lack DocInfo.doctype
    if doctype or docinfo.internalDTD is not None:
        raise ValueError("the search bundle declares a DTD; DTDs and entities are not accepted")
    return root


def parse_bundle(data: bytes | str) -> SearchRequest:
    """Parse a search bundle; ValueError (answered 422) when it is not a usable one."""
    root = _parse_document(data)
    _local(root, "bundle")
    root_name = _text(root, "root_element_name") or ""
    if not _XSI_TYPE.match(root_name):
        raise ValueError(f"root_element_name {root_name!r} is not a data type (prefix:name)")
    counter = _Counter()
    columns: list[SearchColumn] = []
    wheres: list[CriteriaGroup] = []
    for child in root:
        name = _local(child)
        if name == "search_field":
            counter.add()
            columns.append(_column(child, len(columns)))
        elif name == "search_where":
            wheres.append(_group(child, 0, counter))
        elif name != "root_element_name":
            # allowed_user, sort_by, ...: known bundle parts a search does not need
            logger.debug("ignoring xdat:%s in a search bundle", name)
    # Several search_where sets all have to hold, as in XNAT.
    where = wheres[0] if len(wheres) == 1 else CriteriaGroup("AND", tuple(wheres))
    columns.sort(key=lambda column: column.sequence)  # stable: ties keep document order
    return SearchRequest(
        root_element_name=root_name,
        columns=tuple(columns),
        where=where,
        bundle_id=root.get("ID"),
        description=root.get("brief-description") or root.get("description") or None,
    )
