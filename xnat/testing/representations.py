"""Writers (and one reader) for what the embedded server sends, shaped as XNAT writes it.

Tables (listings) come out as XNAT's hand-written table JSON
(``{"ResultSet":{["Columns":[...],]"Result":[...], "totalRecords": "N","title": "..."}}``,
every row value a string), as CSV with commons-lang ``escapeCsv`` quoting, as the XML
table format and as an HTML table. Items come out as item JSON
(``{"items":[{"children":[...],"meta":{...},"data_fields":{...}}]}``, typed values) and as
item XML shaped by the schema (attributes and elements where the schema puts them,
nested paths as nested elements, child collections inside their wrapper elements).
:func:`parse_item_xml` reads such a document back for PUT/POST bodies, refusing DTDs and
entities outright.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from lxml import etree

from xnat.testing.datatypes import XSI_NS, DataTypes, FieldDef, coerce_value

from ..xmlsafe import safe_parser

logger = logging.getLogger(__name__)

#: Content types by ``format=`` value, as Restlet labels them.
CONTENT_TYPES = {
    "json": "application/json;charset=UTF-8",
    "csv": "text/csv;charset=UTF-8",
    "xml": "text/xml;charset=UTF-8",
    "html": "text/html;charset=UTF-8",
}

# Characters XML 1.0 cannot carry at all; they are dropped from XML output.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XSI_TYPE = "{%s}type" % XSI_NS


@dataclass
class ItemNode:
    """One XNAT item (project, subject, experiment, scan, resource, file entry...)."""

    xsi_type: str
    fields: dict[str, object]
    meta: dict[str, object] = field(default_factory=dict)
    children: list[tuple[str, list[ItemNode]]] = field(default_factory=list)

    def child_items(self, path: str) -> list[ItemNode]:
        """The child items under one path ("scans/scan"), empty if none."""
        return [item for key, items in self.children if key == path for item in items]


# ====================================================================== tables


def _cell(value: object) -> str:
    """A row value as XNAT's table writer renders it: ``toString()``, null as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _project(rows: Iterable[Mapping[str, object]], column_names: list[str] | None) -> list[dict[str, str]]:
    rows = list(rows)
    if _written_as_is(rows, column_names):
        return rows  # type: ignore[return-value]  # checked: dicts of str, the right keys
    if column_names is None:
        return [{k: _cell(v) for k, v in row.items()} for row in rows]
    return [{name: _cell(row.get(name)) for name in column_names} for row in rows]


def _written_as_is(rows: list[Mapping[str, object]], column_names: list[str] | None) -> bool:
    """Whether the rows already are what the writers need: dicts holding only strings and,
    with ``column_names``, exactly those keys in that order. Checked with C loops (``map``
    over the rows), so a 50,000-row listing costs no Python step per row or cell."""
    if not rows:
        return True
    if set(map(type, rows)) != {dict}:
        return False
    if column_names is not None and set(map(tuple, rows)) != {tuple(column_names)}:
        return False
    return set(map(type, chain.from_iterable(map(dict.values, rows)))) == {str}  # type: ignore[arg-type]


def _compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def table_json(rows: list[dict[str, str]], title: str | None = None, columns: list[dict[str, Any]] | None = None,
               total: bool = True, *, total_records: int | None = None,
               meta: Mapping[str, str] | None = None) -> bytes:
    """Listing JSON exactly as XNAT writes it.

    Key order is ``ResultSet`` -> [``Columns``], ``Result``, then the meta keys written by
    hand after ``Result`` (``, "totalRecords": "3","title": "Projects"``). Every row value
    is a string. ``total_records`` overrides the count (a paged listing reports all
    matches); ``meta`` adds keys such as ``rootElementName``.
    """
    return _table_json_body(_compact_json(_project(rows, None)), len(rows), title, columns, total,
                            total_records, meta)


def table_json_encoded(encoded_rows: list[str], title: str | None = None) -> bytes:
    """:func:`table_json` of rows each already written as a compact JSON object of strings
    (by SQLite: see ``backend.archive.experiment_listing_json``)."""
    return _table_json_body("[" + ",".join(encoded_rows) + "]", len(encoded_rows), title, None, True, None, None)


def _table_json_body(result: str, count: int, title: str | None, columns: list[dict[str, Any]] | None,
                     total: bool, total_records: int | None, meta: Mapping[str, str] | None) -> bytes:
    body = ['{"ResultSet":{']
    if columns is not None:
        body.append('"Columns":' + _compact_json(columns) + ",")
    body.append('"Result":' + result)
    extra: list[tuple[str, str]] = list((meta or {}).items())
    if total:
        extra.append(("totalRecords", str(count if total_records is None else total_records)))
    if title is not None:
        extra.append(("title", title))
    for index, (key, value) in enumerate(extra):
        body.append((", " if index == 0 else ",") + f"{_compact_json(key)}: {_compact_json(_cell(value))}")
    body.append("}}")
    return "".join(body).encode("utf-8")


def _escape_csv(value: str) -> str:
    """commons-lang ``StringEscapeUtils.escapeCsv``: quote only when needed."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def table_csv(rows: list[dict[str, str]], column_names: list[str]) -> bytes:
    """CSV: a header row of column names, ``\\n`` line ends, values quoted only when needed."""
    lines = [",".join(_escape_csv(name) for name in column_names)]
    for row in _project(rows, column_names):
        lines.append(",".join(_escape_csv(row[name]) for name in column_names))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _xml_text(value: str) -> str:
    return html.escape(_XML_ILLEGAL.sub("", value), quote=False)


def _xml_attr(value: str) -> str:
    return html.escape(_XML_ILLEGAL.sub("", value), quote=True)


def table_xml(rows: list[dict[str, str]], column_names: list[str], title: str | None = None, *,
              total_records: int | None = None) -> bytes:
    """The XML table format: meta as attributes of ``ResultSet``, columns, then rows of cells."""
    count = len(rows) if total_records is None else total_records
    attrs = f' totalRecords="{count}"' + (f' title="{_xml_attr(title)}"' if title is not None else "")
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<ResultSet{attrs}><results><columns>"]
    out.extend(f"<column>{_xml_text(name)}</column>" for name in column_names)
    out.append("</columns>\n<rows>")
    for row in _project(rows, column_names):
        out.append("<row>" + "".join(f"<cell>{_xml_text(row[n])}</cell>" for n in column_names) + "</row>")
    out.append("</rows></results></ResultSet>")
    return "".join(out).encode("utf-8")


def table_html(rows: list[dict[str, str]], column_names: list[str], title: str | None = None) -> bytes:
    """A plain HTML table (what a browser sees for ``format=html``)."""
    def esc(text: str) -> str:
        return html.escape(text, quote=True)

    head = f"<title>{esc(title)}</title>" if title is not None else ""
    out = [f"<html><head>{head}</head><body><table>",
           "<tr>" + "".join(f"<th>{esc(n)}</th>" for n in column_names) + "</tr>"]
    for row in _project(rows, column_names):
        out.append("<tr>" + "".join(f"<td>{esc(row[n])}</td>" for n in column_names) + "</tr>")
    out.append("</table></body></html>")
    return "\n".join(out).encode("utf-8")


def render_table(rows: list[dict[str, str]], column_names: list[str] | None, fmt: str,
                 title: str | None = None, columns: list[dict[str, Any]] | None = None,
                 total: bool = True, *, total_records: int | None = None) -> tuple[bytes, str]:
    """A listing in ``fmt`` (json | csv | xml | html): ``(body, content type)``.

    Rows are projected onto ``column_names`` (missing values become ""), in that order;
    ``None`` keeps each row as given (the first row's keys name the CSV/XML/HTML columns).
    An unknown format raises ValueError.
    """
    names = column_names if column_names is not None else (list(rows[0]) if rows else [])
    projected = _project(rows, column_names)
    if fmt == "json":
        body = table_json(projected, title, columns, total, total_records=total_records)
    elif fmt == "csv":
        body = table_csv(projected, names)
    elif fmt == "xml":
        body = table_xml(projected, names, title, total_records=total_records)
    elif fmt == "html":
        body = table_html(projected, names, title)
    else:
        raise ValueError(f"unsupported table format {fmt!r} (json, csv, xml, html)")
    return body, CONTENT_TYPES[fmt]


# ====================================================================== item JSON


def _item_dict(node: ItemNode, headers: bool) -> dict[str, object]:
    # XNAT's meta: event ids first, then xsi:type and isHistory, then dates.
    meta: dict[str, object] = {k: node.meta[k] for k in ("create_event_id", "modified_event_id")
                               if node.meta.get(k) is not None}
    meta["xsi:type"] = node.xsi_type
    meta["isHistory"] = bool(node.meta.get("isHistory", False))
    meta.update((k, v) for k, v in node.meta.items() if k not in meta and v is not None)
    children = [{"field": path, **_items(items, headers)} for path, items in node.children if items]
    data_fields = {k: v for k, v in node.fields.items() if v is not None}
    return {"children": children, "meta": meta, "data_fields": data_fields}


def _items(nodes: list[ItemNode], headers: bool) -> dict[str, object]:
    """XNAT's ItemJSONBuilder.convert: ``items``, and with ``headers`` the data field names
    of those items in the order first seen (at every level, as it converts each child list)."""
    items = [_item_dict(node, headers) for node in nodes]
    out: dict[str, object] = {"items": items}
    if headers:
        names: dict[str, None] = {}
        for node in nodes:
            names.update((k, None) for k, v in node.fields.items() if v is not None)
        out["headers"] = list(names)
    return out


def item_json(node: ItemNode, history: list[ItemNode] | None = None, headers: bool = False) -> bytes:
    """``GET <item>?format=json``: ``{"items":[{"children":[...],"meta":{...},"data_fields":{...}}]}``.

    ``data_fields`` keep their types (ints stay JSON numbers); None values are omitted,
    as are empty child collections. ``history`` (``includeHistory=true``) follows the item
    as more entries of ``items`` (their ``meta.isHistory`` true); ``headers``
    (``includeHeaders=true``) adds the field names (XNAT's ItemJSONBuilder).
    """
    return _compact_json(_items([node, *(history or [])], headers)).encode("utf-8")


# ====================================================================== item XML


def _text_of(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_ILLEGAL.sub("", str(value))


class _XMLWriter:
    """Writes an ItemNode tree as an XNAT item document, driven by the schema."""

    def __init__(self, datatypes: DataTypes) -> None:
        self.types = datatypes
        self.prefixes = datatypes.namespaces()

    def tag(self, prefixed: str) -> str:
        prefix, _, local = prefixed.rpartition(":")
        uri = self.prefixes.get(prefix)
        return f"{{{uri}}}{local}" if uri else local

    def write_item(self, elem: etree._Element, node: ItemNode, text_key: str | None,
                   layout: str | None = None) -> None:
        # An item type the schema does not describe (a store's own name for a share or
        # custom field item) is laid out as the element's declared type.
        layout = node.xsi_type if self.types.describes(node.xsi_type) or layout is None else layout
        fields = self.types.fields_of(layout)
        children: dict[str, list[ItemNode]] = {}
        for path, items in node.children:
            children.setdefault(path, []).extend(items)
        text_type = self.types.text_type(layout)
        if text_key and node.fields.get(text_key) is None:
            # XNAT keys the text of a named simple-content type by the type's name
            # (addParam items of xnat:addField carry "addField"), else by the element's.
            text_key = layout.rpartition(":")[2]
        if text_key and (text_type or not fields) and node.fields.get(text_key) is not None:
            elem.text = _text_of(node.fields[text_key])
        self.fill(elem, fields, node.fields, children, "")

    def fill(self, elem: etree._Element, fields: list[FieldDef], values: Mapping[str, object],
             children: Mapping[str, list[ItemNode]], prefix: str) -> None:
        for found in fields:
            if found.kind == "attribute" and values.get(prefix + found.name) is not None:
                elem.set(found.name, _text_of(values[prefix + found.name]))
        for found in fields:
            if found.kind != "element":
                continue
            path = prefix + found.name
            tag = f"{{{found.namespace}}}{found.name}" if found.namespace else found.name
            if self.types.is_child(found):
                declared = self.types.child_type(found)
                for item in children.get(path, []):
                    sub = etree.SubElement(elem, tag)
                    # XNAT names the concrete type when it is not the declared one: recorded
                    # items show <xnat:scan xsi:type="xnat:mrScanData">, <xnat:demographics
                    # xsi:type="xnat:demographicData"> but a bare <xnat:PI> (investigatorData);
                    # an addParam (xnat:addField) has none (issue 15 item 7)
                    if self.types.exists(item.xsi_type) and item.xsi_type != declared:
                        sub.set(_XSI_TYPE, item.xsi_type)
                    self.write_item(sub, item, found.name, declared)
            elif found.nested is not None:
                sub = etree.Element(tag)
                if found.nested.text_type and values.get(path) is not None:
                    sub.text = _text_of(values[path])
                self.fill(sub, list(found.nested.fields.values()), values, children, path + "/")
                if sub.text is not None or len(sub) or sub.attrib:
                    elem.append(sub)
            elif values.get(path) is not None:
                etree.SubElement(elem, tag).text = _text_of(values[path])


def item_xml(node: ItemNode, datatypes: DataTypes, site_url: str) -> bytes:
    """``GET <item>?format=xml``: the item document, e.g. ``<xnat:MRSession ...>``.

    The root element comes from the schema (``datatypes.root_element``), every schema
    namespace is declared on it, and ``xsi:schemaLocation`` lists the schema files at
    ``<site_url>/schemas/<file>.xsd``. Fields the schema does not know (internal ids)
    are left out.
    """
    writer = _XMLWriter(datatypes)
    nsmap = dict(datatypes.namespaces())
    nsmap["xsi"] = XSI_NS
    root = etree.Element(writer.tag(datatypes.root_element(node.xsi_type)), nsmap=nsmap)
    writer.write_item(root, node, None)
    location = datatypes.schema_location(site_url)
    if location:
        root.set("{%s}schemaLocation" % XSI_NS, location)
    # XNAT's declaration uses double quotes; lxml's own would use single ones.
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(
        root, xml_declaration=False, encoding="UTF-8", pretty_print=True)


# ====================================================================== item XML in


# A DOCTYPE can declare entities (billion laughs, external files); item documents never
# need one, so any is refused before parsing, in the encodings XML allows.
_FORBIDDEN = [marker.encode(codec) for marker in ("<!DOCTYPE", "<!ENTITY")
              for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")]


def parse_item_xml(body: bytes, datatypes: DataTypes) -> ItemNode:
    """Read an item document (a PUT/POST body) into an ItemNode.

    Values are typed as in item JSON; empty values are left out (XNAT treats them as
    unset). Raises ValueError with a short reason for malformed XML, a DTD or entity,
    an unknown root element, type, element or attribute, or a value of the wrong type.
    """
    if not isinstance(body, (bytes, bytearray)):
        raise ValueError("item XML must be bytes")
    if not body.strip():
        raise ValueError("empty XML document")
    if any(marker in body for marker in _FORBIDDEN):
        raise ValueError("DTDs and entity declarations are not allowed in item XML")
    try:
        root = etree.fromstring(bytes(body), safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"malformed XML: {exc.msg or exc}") from None
    tree = root.getroottree()
    doctype: str = tree.docinfo.doctype  # type: ignore[union-attr]  # lxml-stubs lack DocInfo.doctype
    if doctype or tree.docinfo.internalDTD is not None:
        raise ValueError("DTDs and entity declarations are not allowed in item XML")
    return _Reader(datatypes).read_root(root)


class _Reader:
    def __init__(self, datatypes: DataTypes) -> None:
        self.types = datatypes
        self.prefix_of = {uri: prefix for prefix, uri in datatypes.namespaces().items()}

    def name_of(self, elem: etree._Element) -> str:
        qname = etree.QName(elem)
        prefix = self.prefix_of.get(qname.namespace or "")
        return f"{prefix}:{qname.localname}" if prefix else qname.localname

    def read_root(self, root: etree._Element) -> ItemNode:
        name = self.name_of(root)
        # a type no element is declared for (xnat:mrAssessorData) is written under its type
        # name (item_xml, datatypes.root_element): read that name back as the type
        xsi_type = self.types.element_type(name) or (name if self.types.exists(name) else None)
        forced = root.get(_XSI_TYPE)
        if forced is not None:
            xsi_type = self.checked_type(forced, xsi_type, name)
        if xsi_type is None or not self.types.exists(xsi_type):
            raise ValueError(f"unknown root element {name}")
        return self.read_item(root, self.types.canonical(xsi_type) or xsi_type, None)

    def checked_type(self, given: str, declared: str | None, where: str) -> str:
        canonical = self.types.canonical(given)
        if canonical is None:
            raise ValueError(f"unknown xsi:type {given!r} on {where}")
        if declared and self.types.exists(declared) and not self.types.is_a(canonical, declared):
            raise ValueError(f"xsi:type {given} on {where} is not a {declared}")
        return canonical

    def read_item(self, elem: etree._Element, xsi_type: str, text_key: str | None) -> ItemNode:
        node = ItemNode(xsi_type, {})
        fields = self.types.fields_of(xsi_type)
        text_type = self.types.text_type(xsi_type)
        if text_key and (text_type or not fields):
            self.put(node, text_key, text_type or "xs:string", elem.text)
        self.read_into(elem, fields, node, "", xsi_type)
        return node

    def put(self, node: ItemNode, path: str, xs_type: str, text: str | None) -> None:
        if text is None or not text.strip():
            return
        value = coerce_value(self.types.builtin(xs_type), text, path)
        if value is not None:
            node.fields[path] = value

    def read_into(self, elem: etree._Element, fields: list[FieldDef], node: ItemNode,
                  prefix: str, xsi_type: str) -> None:
        attributes = {f.name: f for f in fields if f.kind == "attribute"}
        elements = {f.name: f for f in fields if f.kind == "element"}
        for key, value in elem.attrib.items():
            qname = etree.QName(key)
            if qname.namespace == XSI_NS:
                continue
            found = attributes.get(qname.localname) if not qname.namespace else None  # None: no namespace
            if found is None:
                raise ValueError(f"unknown attribute {prefix}{qname.localname} on {xsi_type}")
            # lxml gives attribute values as str (its stubs say str | bytes)
            self.put(node, prefix + found.name, found.xs_type or "xs:string", str(value))
        for child in elem.iterchildren("*"):  # elements only: no comments or processing instructions
            local = etree.QName(child).localname
            found = elements.get(local)
            if found is None:
                raise ValueError(f"unknown element {prefix}{local} in {xsi_type}")
            self.read_element(child, found, node, prefix + local, xsi_type)

    def read_element(self, child: etree._Element, found: FieldDef, node: ItemNode,
                     path: str, xsi_type: str) -> None:
        if self.types.is_child(found):
            declared = self.types.child_type(found)
            forced = child.get(_XSI_TYPE)
            item_type = self.checked_type(forced, declared, path) if forced else declared
            item = self.read_item(child, item_type, found.name)
            for key, items in node.children:
                if key == path:
                    items.append(item)
                    break
            else:
                node.children.append((path, [item]))
        elif found.nested is not None:
            if found.nested.text_type:
                self.put(node, path, found.nested.text_type, child.text)
            self.read_into(child, list(found.nested.fields.values()), node, path + "/", xsi_type)
        else:
            if len(child):
                raise ValueError(f"element {path} in {xsi_type} holds a value, not elements")
            self.put(node, path, found.xs_type or "xs:string", child.text)
