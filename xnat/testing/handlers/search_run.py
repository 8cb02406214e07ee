"""``POST /data/search``: run an ``xdat:bundle`` against the store (REST-NOTES §10).

The bundle is parsed by :func:`xnat.testing.bundles.parse_bundle` (422 when malformed).
Rows are the stored objects of the root data type and its subtypes (projects, subjects,
experiments, scans or reconstructions) in projects the user may read. A field is found by name, without
regard to case, among the row's own columns (``ID``, ``project``, ``label``, ``date``,
``insert_date``...), XNAT's display-field names (``PROJECT``, ``SUBJECT_ID``,
``SUBJECT_LABEL``, ``INSERT_DATE``...) and the type's stored schema fields
(``scanner/manufacturer``); a field the schema has but the row leaves empty is "".
Criteria on the subject or project of an experiment (``xnat:subjectData/label``) follow
the row to its subject or project; a field the schema does not have is a 422.

``LIKE`` runs without backtracking (see :func:`like`), and a search that runs past the
app's ``search_timeout`` is stopped with 503 and the reason, so one search cannot hold
the server.

The answer has the recorded shape: ``Columns`` (``key``, ``type``, ``xPATH``,
``element_name``, ``header``, ``id``, then ``quarantine_status`` for experiments),
``Result`` rows keyed by the lower-case column keys in the order Java's ``HashMap``
gives them (as XNAT writes them), ``rootElementName`` and ``totalRecords``.
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

from werkzeug.wrappers import Response

from ..bundles import CriteriaGroup, Criterion, SearchColumn, SearchRequest, parse_bundle
from ..representations import render_table, table_json
from ..store import loads
from .base import Ctx, HTTPError
from .lookup import readable_projects
from .search_display import DisplayValues, element_display, find

Record = dict[str, Any]

_LEVELS = (("xnat:projectData", "projects"), ("xnat:subjectData", "subjects"),
           ("xnat:experimentData", "experiments"), ("xnat:imageScanData", "scans"),
           ("xnat:reconstructedImageData", "reconstructions"))
# XNAT display-field names that are not simply a column's name.
_DISPLAY = {"expt_id": "id", "session_id": "id", "subject_id": "subject_id", "subjectid": "subject_id",
            "subject_label": "subject_label", "insert_date": "insert_date", "insert_user": "insert_user",
            "project": "project", "label": "label", "xsi_type": "xsi_type", "element_name": "xsi_type",
            "secondary_id": "secondary_id", "name": "name", "projects": "project"}
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y")


class SearchError(ValueError):
    """A bundle that parses but cannot run (unknown type or field): 422."""


class SearchTimeout(Exception):
    """A search ran past its time bound: 503."""


# -- Java HashMap key order -------------------------------------------------------------------
def _java_hash(text: str) -> int:
    data, h = text.encode("utf-16-be"), 0  # String.hashCode runs over UTF-16 code units
    for index in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[index:index + 2], "big")) & 0xFFFFFFFF
    return h


def java_hashmap_order(keys: list[str]) -> list[str]:
    """The iteration order of a ``java.util.HashMap`` filled with ``keys`` in this order."""
    capacity = 16
    while len(keys) > capacity * 3 // 4:
        capacity *= 2
    buckets: dict[int, list[str]] = {}
    for key in keys:
        h = _java_hash(key)
        buckets.setdefault((h ^ (h >> 16)) & (capacity - 1), []).append(key)
    return [key for index in sorted(buckets) for key in buckets[index]]


# -- rows -------------------------------------------------------------------------------------
def _level(ctx: Ctx, xsi_type: str) -> str:
    for base, table_name in _LEVELS:
        if ctx.app.datatypes.is_a(xsi_type, base):
            return table_name
    raise SearchError(f"{xsi_type} cannot be searched here (search projects, subjects, experiments, scans or"
                      " reconstructions)")


def _records(ctx: Ctx, table_name: str, root: str) -> list[Record]:
    datatypes = ctx.app.datatypes
    readable = readable_projects(ctx)
    rows = ctx.backend.search.rows(table_name)
    out = []
    for row in rows:
        project = row["id"] if table_name == "projects" else row["project"]
        if readable is not None and project not in readable:
            continue
        if not datatypes.is_a(row["xsi_type"], root):
            continue
        record = _record(row)
        if table_name in ("scans", "reconstructions"):
            record["image_session_id"] = record["id_session"] = row["experiment_id"]
        elif table_name == "subjects":  # the subject display fields SUBJECT_ID / SUBJECT_LABEL
            record["subject_id"], record["subject_label"] = record["id"], record["label"]
        out.append(record)
    return out


def _record(row: Any) -> Record:
    """A stored row as a search record: its columns, and its schema fields under ``_fields``
    (a subject's ``demographics/gender`` also as ``gender``, the path its display fields read)."""
    record: Record = {k.lower(): ("" if row[k] is None else str(row[k])) for k in row.keys() if k != "fields"}
    record["_fields"] = {k.lower(): str(v) for k, v in loads(row["fields"]).items() if v is not None}
    for key, value in list(record["_fields"].items()):
        if key.startswith("demographics/"):
            record["_fields"].setdefault(key.split("/", 1)[1], value)
    return record


def _lookup(record: Record, path: str) -> str | None:
    key = path.lower().strip("/")
    key = _DISPLAY.get(key, key)
    if key in record and not key.startswith("_"):
        return str(record[key])
    fields = record["_fields"]
    if key in fields:
        return str(fields[key])
    found = fields.get(key.replace("_", "/"))
    return None if found is None else str(found)


class _Resolver:
    """Field values of a record, following experiments to their subject and project."""

    def __init__(self, ctx: Ctx, root: str) -> None:
        self.ctx = ctx
        self.root = root
        self._related: dict[tuple[str, str], Record | None] = {}
        self.display = DisplayValues(ctx, self._related_record, _lookup)

    def _related_record(self, kind: str, key: str) -> Record | None:
        if (kind, key) not in self._related:
            row = self.ctx.backend.search.row(kind, key)
            self._related[(kind, key)] = None if row is None else _record(row)
        return self._related[(kind, key)]

    def _target(self, record: Record, element: str) -> Record | None:
        datatypes = self.ctx.app.datatypes
        canonical = datatypes.canonical(element)
        if canonical is None:
            raise SearchError(f"Unknown data type {element} in the search")
        if datatypes.is_a(self.root, canonical) or datatypes.is_a(canonical, self.root):
            return record
        if datatypes.is_a(canonical, "xnat:subjectData") and record.get("subject_id"):
            return self._related_record("subjects", record["subject_id"])
        if datatypes.is_a(canonical, "xnat:projectData") and record.get("project"):
            return self._related_record("projects", record["project"])
        raise SearchError(f"Fields of {canonical} cannot be used in a search of {self.root}")

    def value(self, record: Record, element: str, path: str) -> str:
        target = self._target(record, element)
        if target is None:
            return ""
        canonical = self.ctx.app.datatypes.canonical(element) or element
        # a display field of the element (its display document; xdat DisplayField) before a column
        display = None if "/" in path else find(self.ctx, canonical, path)
        if display is not None:
            return self.display.value(target, display)
        found = _lookup(target, path)
        if found is not None:
            return found
        if self.ctx.app.datatypes.field(canonical, path) is not None:
            return ""
        raise SearchError(f"Unknown search field {element}/{path}")


# -- criteria ---------------------------------------------------------------------------------
def _as_date(text: str) -> tuple[datetime.datetime, bool] | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text.strip(), fmt), ("%H" in fmt)
        except ValueError:
            continue
    return None


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _ordered(value: str, operand: str) -> tuple[Any, Any]:
    """The two sides as comparable values: dates, else numbers, else text."""
    right = _as_date(operand)
    left = _as_date(value) if right is not None else None
    if right is not None and left is not None:
        if not right[1]:  # a date without time compares with the day of a timestamp
            return left[0].date(), right[0].date()
        return left[0], right[0]
    left_n, right_n = _as_number(value), _as_number(operand)
    if left_n is not None and right_n is not None:
        return left_n, right_n
    return value, operand


def _segment(text: str) -> re.Pattern[str]:
    """A LIKE segment (no ``%``): literals and ``_``, each matching exactly one character."""
    return re.compile("".join("." if c == "_" else re.escape(c) for c in text), re.IGNORECASE | re.DOTALL)


def like(value: str, pattern: str) -> bool:
    """SQL ``LIKE`` (``%`` any run, ``_`` one character, no case), without backtracking.

    The pattern is cut at each ``%`` into fixed-length segments; the first must match at
    the start, the last at the end, and those between are found leftmost-first, in order.
    Taking the leftmost match of each never loses a match that exists, so one pass over
    the value decides: time grows with value x pattern length, never exponentially
    (a ``.*`` regular expression backtracks on ``%%%%%%%x``).
    """
    texts = pattern.split("%")
    if len(texts) == 1:
        return _segment(pattern).fullmatch(value) is not None
    first, last = _segment(texts[0]).match(value), texts[-1]
    if first is None:
        return False
    position = first.end()
    for text in texts[1:-1]:
        found = _segment(text).search(value, position) if text else None
        if text and found is None:
            return False
        position = found.end() if found else position
    start = len(value) - len(last)
    return start >= position and _segment(last).fullmatch(value, start) is not None


def _holds(value: str, op: str, operand: str) -> bool:
    if op in ("IS", "IS NOT"):
        is_null = value == ""
        return is_null if op == "IS" else not is_null
    if op == "IN":
        return value in [v.strip() for v in operand.split(",")]
    if op in ("LIKE", "NOT LIKE"):
        return like(value, operand) == (op == "LIKE")
    if value == "" and op not in ("!=", "<>"):
        return operand == "" and op == "="
    left, right = _ordered(value, operand)
    try:
        return bool({"=": left == right, "!=": left != right, "<>": left != right, "<": left < right,
                     ">": left > right, "<=": left <= right, ">=": left >= right}[op])
    except TypeError:
        return False


def _matches(resolver: _Resolver, record: Record, group: CriteriaGroup) -> bool:
    results = []
    for item in group.items:
        if isinstance(item, CriteriaGroup):
            results.append(_matches(resolver, record, item))
        else:
            results.append(_criterion(resolver, record, item))
    if not results:
        return True
    return all(results) if group.method == "AND" else any(results)


def _criterion(resolver: _Resolver, record: Record, criterion: Criterion) -> bool:
    value = resolver.value(record, criterion.element_name, criterion.field_path)
    return _holds(value, criterion.comparison_type, criterion.value)


# -- the answer -------------------------------------------------------------------------------
def _column_path(column: SearchColumn) -> tuple[str, str]:
    if column.is_schema_path:
        element, _, path = column.field_id.partition("/")
        return element, path
    return column.element_name, column.field_id


# Schema paths XNAT answers under a display field's name (its display documents map them),
# which is what xnatpy's FROM_SEARCH_URI templates expect: {session_id}, {subjectid}...
_PATH_DISPLAY = {"experiments": {"id": "SESSION_ID", "project": "PROJECT", "subject_id": "SUBJECT_ID"},
                 "subjects": {"id": "SUBJECTID", "project": "PROJECT"},
                 "projects": {"id": "ID"}}


def _column_id(column: SearchColumn, table_name: str) -> str:
    if column.is_schema_path:
        element, _, path = column.field_id.partition("/")
        if element.lower() == column.element_name.lower():
            mapped = _PATH_DISPLAY.get(table_name, {}).get(path.lower())
            if mapped:
                return mapped
    return column.column_id


def _column_meta(ctx: Ctx, column: SearchColumn, table_name: str, root: str) -> dict[str, str]:
    column_id = _column_id(column, table_name)
    key = re.sub(r"[^0-9a-z_]", "_", column_id.lower())
    element = ctx.app.datatypes.canonical(column.element_name) or column.element_name
    if not column.is_schema_path and not (ctx.app.datatypes.is_a(root, element)
                                          or ctx.app.datatypes.is_a(element, root)):
        # a field of a joined element is keyed by the element's SQL name: xnat_subjectdata_subject_label
        # (recorded: responses/recorded/pyxnat-tests/search_results.format-csv.csv, psytool_..._iteration)
        key = re.sub(r"[^0-9a-z_]", "_", element.replace(":", "_").lower()) + "_" + key
    return {"key": key, "type": "string",
            "xPATH": f"{column.element_name}.{column_id}", "element_name": column.element_name,
            "header": column.header or column.field_id, "id": column_id}


def _default_columns(ctx: Ctx, root: str) -> list[SearchColumn]:
    display = element_display(ctx, root)
    if display is None:
        return []
    columns = []
    for sequence, (element, field_id) in enumerate(display.listing):
        found = find(ctx, element, field_id)
        columns.append(SearchColumn(element, field_id, found.header if found else field_id,
                                    found.type if found else "string", sequence))
    return columns


def run(ctx: Ctx, request: SearchRequest) -> tuple[list[dict[str, str]], list[dict[str, str]], str]:
    """(rows, column metadata, canonical root type) of a parsed search; SearchTimeout past the bound."""
    deadline = time.monotonic() + ctx.app.search_timeout
    root = ctx.app.datatypes.canonical(request.root_element_name)
    if root is None:
        raise SearchError(f"Unknown data type {request.root_element_name}")
    table_name = _level(ctx, root)
    resolver = _Resolver(ctx, root)
    # no search_field (xnatpy's query().tabulate_*()): the type's default "listing" columns, as XNAT's
    # DisplaySearch falls back to the element's listing display version
    columns = list(request.columns) or _default_columns(ctx, root)
    meta = [_column_meta(ctx, c, table_name, root) for c in columns]
    keys = [m["key"] for m in meta]
    if table_name == "experiments":
        meta.append({"key": "quarantine_status"})
        keys.append("quarantine_status")
    rows = []
    for record in _records(ctx, table_name, root):
        if time.monotonic() > deadline:
            raise SearchTimeout(f"The search ran longer than {ctx.app.search_timeout:g} s and was stopped;"
                                " narrow its criteria")
        if not _matches(resolver, record, request.where):
            continue
        row = {key: resolver.value(record, *_column_path(c)) for key, c in zip(keys, columns)}
        if table_name == "experiments":
            row["quarantine_status"] = record.get("status") or "active"  # the experiment's meta status
        rows.append({k: row[k] for k in java_hashmap_order(list(dict.fromkeys(keys)))})
    return rows, meta, root


def search(ctx: Ctx) -> Response:
    """``POST /data/search?format=json|csv|xml|html`` with a bundle as the body."""
    if ctx.method != "POST":
        raise HTTPError(405, "Method Not Allowed")
    # no login needed: the guest searches public data, as XNAT lets it (rows are filtered by read access)
    fmt = (ctx.param("format") or "json").lower()
    if fmt not in ("json", "csv", "xml", "html"):
        raise HTTPError(400, f"Unsupported format: {fmt}")
    return answer(ctx, ctx.request.get_data(cache=False), fmt)


def answer(ctx: Ctx, body: bytes | str, fmt: str) -> Response:
    """The results of a bundle (a POSTed one, or a saved search's) in ``fmt``."""
    try:
        request = parse_bundle(body)
        rows, meta, root = run(ctx, request)
    except ValueError as error:  # SearchError included
        raise HTTPError(422, f"Unable to run the search: {error}") from None
    except SearchTimeout as error:
        raise HTTPError(503, str(error)) from None
    names = [m["key"] for m in meta]
    extra = {"rootElementName": root}
    if ctx.flag("cache") and ctx.backend.access.signed_in(ctx.user):
        # SearchResource: cache=true keeps the results for paging via /data/search/{ID} and names
        # the ID in the answer (REST-NOTES §10)
        extra["ID"] = ctx.backend.saved_searches.cache(ctx.user.login, root, meta, rows)
    if fmt == "json":
        payload = table_json(rows, None, meta, True, meta=extra)
        return Response(payload, mimetype="application/json")
    payload, mimetype = render_table(rows, names, fmt)
    return Response(payload, mimetype=mimetype.split(";")[0])
