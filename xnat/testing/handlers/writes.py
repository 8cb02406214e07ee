"""Reading what a PUT/POST asks to write: the data type and ``xpath=value`` fields.

XNAT builds the item from an XML body (text/xml, ``req_format=xml``, ``inbody=true`` or
an ``.xml`` multipart part) and then overlays query parameters: ``xsiType`` (or
``ELEMENT_0``, or the type prefix of a ``ns:type/path`` key), full xpaths such as
``xnat:mrSessionData/fieldStrength`` and per-level shortcuts (``label``, ``gender``,
``type``...). REST-NOTES §6.
"""

from __future__ import annotations

import datetime
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from .base import Ctx, HTTPError
from .deps import ItemNode, parse_item_xml

logger = logging.getLogger(__name__)

# Query keys that are never fields.
NOT_FIELDS = {"xsiType", "ELEMENT_0", "format", "inbody", "req_format", "event_reason", "event_type",
              "event_action", "event_comment", "event_id", "XNAT_CSRF", "allowDataDeletion",
              "removeFiles", "overwrite", "extract", "content", "tags", "primary",
              "pullDataFromHeaders", "fixScanTypes", "triggerPipelines", "columns", "label",
              "accessibility", "alias", "aliases", "update-stats", "stats", "safe",
              "activate", "quarantine", "_lock", "_unlock", "_obsolete"}  # status flags: see handlers.status
LABEL_RE = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_\-.]*")  # fullmatch; no leading dot: never "." or ".."
MAX_LABEL_BYTES = 255  # XNAT's VARCHAR(255) ID and label columns (see check_label)
_TYPE_PREDICATE = re.compile(r"\[@xsi:type=[^\]]*\]")


# Child items the server keeps in tables of their own (or rebuilds from them): a document's
# copies are read by their own code paths, never kept as documents.
MANAGED_CHILDREN = {"scans/scan", "resources/resource", "sharing/share", "experiments/experiment",
                    "assessors/assessor", "reconstructions/reconstructedImage", "file", "in/file", "out/file",
                    "aliases/alias", "studyProtocol"}
# Single child items the level builders rebuild from flat ``name/field`` paths.
FLATTENED_CHILDREN = {"demographics", "PI"}
#: The ``fields`` key under which other child items (provenance, investigator, validation...)
#: are kept whole, so that every item the server writes is accepted back unchanged (issue 15 item 3).
DOCUMENTS_KEY = "_documents"


@dataclass
class WriteRequest:
    """What a write asks for."""

    xsi_type: str | None
    fields: dict[str, str] = field(default_factory=dict)
    body: ItemNode | None = None
    label: str | None = None
    scans: list[ItemNode] = field(default_factory=list)  # scans/scan children of a session document
    documents: dict[str, list[ItemNode]] = field(default_factory=dict)  # other child items, kept whole


def xml_body(ctx: Ctx) -> bytes | None:
    """The XML document sent with the request, if any."""
    request = ctx.request
    if request.mimetype == "multipart/form-data":
        for storage in request.files.values():
            if (storage.filename or "").lower().endswith(".xml"):
                data: bytes = storage.read()
                return data
        return None
    wants_xml = (request.mimetype in ("text/xml", "application/xml")
                 or (ctx.param("req_format") or "").lower() == "xml"
                 or (ctx.param("inbody") or "").lower() == "true")
    if not wants_xml:
        return None
    data = request.get_data(cache=True)
    return data or None


def read_write(ctx: Ctx, default_type: str | None, shortcuts: dict[str, str]) -> WriteRequest:
    """Parse the body and the query into a :class:`WriteRequest` (422 on malformed XML)."""
    body_node: ItemNode | None = None
    data = xml_body(ctx)
    if data is not None:
        try:
            body_node = parse_item_xml(data, ctx.app.datatypes)
        except ValueError as exc:
            raise HTTPError(422, f"Unable to parse XML document: {exc}") from None
    fields: dict[str, str] = {}
    xsi_type = ctx.param("xsiType") or ctx.param("ELEMENT_0")
    scans: list[ItemNode] = []
    documents: dict[str, list[ItemNode]] = {}
    if body_node is not None:
        xsi_type = xsi_type or body_node.xsi_type
        fields.update({k: _text(v) for k, v in body_node.fields.items() if v is not None})
        scans = _flatten_children(body_node, fields, documents)
        if scans and not ctx.app.datatypes.is_a(scans[0].xsi_type, "xnat:imageScanData"):
            documents["scans/scan"], scans = scans, []  # a QC assessor's scans/scan are its own items
    for key, value in ctx.params.items(multi=True):
        if key in NOT_FIELDS:
            continue
        if key in shortcuts:
            fields[shortcuts[key]] = value
            continue
        head, sep, path = key.partition("/")
        if sep and ":" in head:
            xsi_type = xsi_type or ctx.app.canonical_type(head)
            # xnatpy names the subtype of a child: demographics[@xsi:type=xnat:demographicData]/gender
            fields[_TYPE_PREDICATE.sub("", path)] = value
    if xsi_type:
        xsi_type = ctx.app.canonical_type(xsi_type)
    label = ctx.param("label")
    if label is None and "label" in fields:
        label = fields.pop("label")
    return WriteRequest(xsi_type or default_type, fields, body_node, label, scans, documents)


def _flatten_children(node: ItemNode, fields: dict[str, str], documents: dict[str, list[ItemNode]]) -> list[ItemNode]:
    """Fold a document's child items into field paths; return its scans (kept apart).

    ``demographics`` and ``PI`` become ``name/field`` paths; custom variables become
    ``fields/field[name=x]/field``; scan parameters a keyed list; children kept in tables
    of their own are read elsewhere; every other child item goes whole into ``documents``.
    """
    scans: list[ItemNode] = []
    for name, items in node.children:
        if name == "scans/scan":
            scans.extend(items)
        elif name in MANAGED_CHILDREN:
            continue
        elif name == "fields/field":
            for item in items:
                if item.fields.get("name"):
                    fields[f"fields/field[name={item.fields['name']}]/field"] = _text(item.fields.get("field", ""))
        elif name.endswith("addParam"):  # scan parameters: a list keyed by name
            for item in items:
                if item.fields.get("name"):
                    value = item.fields.get("addField", item.fields.get("addParam", ""))
                    fields[f"{name}[name={item.fields['name']}]/addField"] = _text(value)
        elif name in FLATTENED_CHILDREN and len(items) == 1 and not items[0].children:
            fields.update({f"{name}/{k}": _text(v) for k, v in items[0].fields.items() if v is not None})
        else:
            documents[name] = items
    return scans


def node_to_data(node: ItemNode) -> dict[str, Any]:
    """An item tree as plain JSON-able data (to keep a document part in the store)."""
    return {"type": node.xsi_type, "fields": node.fields,
            "children": [[name, [node_to_data(i) for i in items]] for name, items in node.children]}


def node_from_data(data: dict[str, Any]) -> ItemNode:
    """The inverse of :func:`node_to_data`."""
    return ItemNode(data["type"], dict(data["fields"]), {"isHistory": False},
                    [(name, [node_from_data(i) for i in items]) for name, items in data["children"]])


def merge_documents(current: dict[str, Any], documents: dict[str, list[ItemNode]]) -> None:
    """Keep ``documents`` in a stored ``fields`` dict: each child path given replaces the stored one."""
    if not documents:
        return
    kept = dict(current.get(DOCUMENTS_KEY) or {})
    kept.update({name: [node_to_data(i) for i in items] for name, items in documents.items()})
    current[DOCUMENTS_KEY] = kept


def stored_documents(fields: dict[str, Any]) -> list[tuple[str, list[ItemNode]]]:
    """Pop the kept child items out of a stored ``fields`` dict, as item children."""
    kept = fields.pop(DOCUMENTS_KEY, None) or {}
    return [(name, [node_from_data(d) for d in items]) for name, items in kept.items()]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_type(ctx: Ctx, xsi_type: str | None, base: str, existing: str | None = None) -> str:
    """The type to write: known to the schema and derived from ``base``; 409/417/400 otherwise."""
    if xsi_type is None:
        if existing:
            return existing
        raise HTTPError(417, "Need PUT Contents: no xsiType given")
    datatypes = ctx.app.datatypes
    if not datatypes.exists(xsi_type):
        raise HTTPError(400, f"Unknown data type: {xsi_type}")
    if not datatypes.is_a(xsi_type, base):
        raise HTTPError(400, f"{xsi_type} is not a kind of {base}")
    if existing and existing != xsi_type:
        raise HTTPError(409, "Specified xsiType differs from existing xsiType")
    return xsi_type


def check_fields(ctx: Ctx, xsi_type: str, fields: dict[str, str]) -> dict[str, str]:
    """400 for a field the data type does not have, or a value of the wrong type."""
    datatypes = ctx.app.datatypes
    for path, value in fields.items():
        if datatypes.field_type(xsi_type, path) is None:
            raise HTTPError(400, f"Invalid field for {xsi_type}: {path}")
        if value == "":
            continue
        try:
            datatypes.coerce(xsi_type, path, value)
            _check_temporal(datatypes.field_type(xsi_type, path) or "", value)
        except ValueError:
            raise HTTPError(400, f"Invalid value for {xsi_type}/{path}: {value!r}") from None
    return fields


_TEMPORAL = {
    "xs:date": re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{1,2})/(\d{1,2})/(\d{4})"),
    "xs:time": re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"),
    "xs:dateTime": re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?.*",
                              re.DOTALL),
}


def _check_temporal(xs_type: str, value: str) -> None:
    """Dates and times are kept as text, but must be real ones: ``2020-02-30`` is refused.

    The shape is matched whole (``fullmatch``: no trailing newline slips through), then the
    numbers are parsed, so a month 13 or a day 0 fails as XNAT's date parser fails.
    """
    pattern = _TEMPORAL.get(xs_type)
    if pattern is None:
        return
    match = pattern.fullmatch(value)
    if match is None:
        raise ValueError(value)
    numbers = [int(g) if g is not None else None for g in match.groups()]
    if xs_type == "xs:date":
        year, month, day = numbers[:3] if numbers[0] is not None else (numbers[5], numbers[3], numbers[4])
        _real_date(year, month, day, value)
    elif xs_type == "xs:time":
        _real_time(numbers[0], numbers[1], numbers[2], value)
    else:
        _real_date(numbers[0], numbers[1], numbers[2], value)
        if numbers[3] is not None:
            _real_time(numbers[3], numbers[4], numbers[5], value)


def _real_date(year: int | None, month: int | None, day: int | None, value: str) -> None:
    try:
        datetime.date(year or 0, month or 0, day or 0)
    except ValueError:
        raise ValueError(f"not a real date: {value!r}") from None


def _real_time(hour: int | None, minute: int | None, second: int | None, value: str) -> None:
    try:
        datetime.time(hour or 0, minute or 0, second or 0)
    except ValueError:
        raise ValueError(f"not a real time: {value!r}") from None


def check_label(label: str, what: str = "label") -> str:
    """417 for characters XNAT refuses in IDs and labels; 400 for one too long to store.

    The whole label must match (``fullmatch``: ``$`` alone would let a final newline
    through). XNAT keeps IDs and labels in ``VARCHAR`` columns: xnat.xsd declares them
    ``xs:string`` without ``maxLength``, XFT maps ``string`` to ``VARCHAR``
    (``org.nrg.xft.TypeConverter.PGSQLMapping``) with its default size of 255 (our reading;
    the explicit ``maxLength`` of xnat.xsd's ID-like fields is 255 too), so a longer one
    is a 400 here rather than a database error.
    """
    if len(label.encode("utf-8", "surrogateescape")) > MAX_LABEL_BYTES:
        raise HTTPError(400, f"The {what} is longer than {MAX_LABEL_BYTES} bytes: {label[:40]!r}...")
    if not LABEL_RE.fullmatch(label):
        raise HTTPError(417, f"Invalid character in {what}: {label!r}")
    return label
