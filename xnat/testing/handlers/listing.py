"""Listings ("tables") as XNAT serves them: columns, filters, xsiType, sorting, paging, format.

A level hands :func:`table` every row as a dict of *all* its aliases (strings) plus two
private keys, ``_type`` (the row's xsi type) and ``_fields`` (its data-type fields), from
which ``columns=`` xpaths and xpath filters are answered (REST-NOTES §4.2, §5).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Sequence
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

from werkzeug.wrappers import Response

from .base import Ctx, HTTPError
from .deps import coerce_value, render_table, table_json_encoded

# Query parameters that steer the listing itself and never become filters.
CONTROL = {"format", "columns", "sortBy", "sortOrder", "limit", "offset", "xsiType", "stats",
           "event_reason", "event_type", "event_action", "event_comment", "event_id", "XNAT_CSRF",
           "accessible", "owner", "member", "collaborator", "recent", "favorite", "activeSince",
           "locator", "recursive", "structure", "all", "includeHistory", "concealHiddenFields"}
FORMATS = ("json", "csv", "xml", "html")

Row = dict[str, Any]
XpathResolver = Callable[[Row, str], str | None]
# ``demographics[@xsi:type=xnat:demographicData]/gender`` names the nested item's type, as pyxnat's
# attrs.get sends it; the field is stored under its plain path (``demographics/gender``).
_TYPE_PREDICATE = re.compile(r"\[@xsi:type=[^\]]*\]", re.IGNORECASE)


def _xpath_value(ctx: Ctx, row: Row, xpath: str, memo: dict[Any, Any] | None = None) -> str | None:
    """The value of a ``type/path`` column for ``row``; None when the row is not of that type.

    The row's own type is tried first, then the joined items it carries in ``_related``
    (its subject, one of its scans...), as XNAT joins tables named in an xpath. ``memo``
    keeps what holds for every row of a listing (does a type match, a field's xs type), so
    a listing resolves each of those once, not once per row.
    """
    memo = {} if memo is None else memo
    type_name, _, path = xpath.partition("/")
    low = _TYPE_PREDICATE.sub("", path).lower()
    own = row.get("_type", "")
    if own and _type_matches_memo(ctx, memo, own, type_name):
        key, value = _lookup(row, {}, low)
        if not key:  # not one of the level's aliases: the item's fields (decoded only now)
            key, value = _lookup({}, fields_of(row), low)
        return _as_xnat_writes(ctx, own, key, value, memo)
    for item_type, values in row.get("_related", ()):
        if item_type and _type_matches_memo(ctx, memo, item_type, type_name):
            key, value = _lookup(values, values, low)
            return _as_xnat_writes(ctx, item_type, key, value, memo)
    return None


def _type_matches_memo(ctx: Ctx, memo: dict[Any, Any], row_type: str, type_name: str) -> bool:
    key = ("type", row_type, type_name)
    if key not in memo:
        memo[key] = _type_matches(ctx, row_type, type_name)
    return bool(memo[key])


def fields_of(row: Row) -> dict[str, Any]:
    """A row's data-type fields. A level may hand them over as the stored JSON text: it is
    decoded here, on the first xpath that needs it, and kept in the row."""
    fields = row.get("_fields")
    if isinstance(fields, str):
        fields = row["_fields"] = json.loads(fields) if fields else {}
    return fields or {}


def _lookup(aliases: Row, fields: dict[str, Any], low: str) -> tuple[str, str]:
    """(the field's own spelling, its value as text) of a lower-cased path; ("", "") if unset."""
    for key in aliases:  # the level's own aliases (id, label, project, date...)
        if key.lower() == low and not key.startswith("_"):
            return key, "" if aliases[key] is None else str(aliases[key])
    for key, value in fields.items():
        if key.lower() == low:
            return key, "" if value is None else str(value)
    return "", ""


def _as_xnat_writes(ctx: Ctx, item_type: str, path: str, value: str, memo: dict[Any, Any]) -> str:
    """A stored value as XNAT's tables write it: a float field set to ``42`` reads ``42.0``
    (Java's ``Double.toString``; issue 15 item 7). Other values are kept as stored."""
    if not value or not path:
        return value
    key = ("field", item_type, path)
    if key not in memo:
        try:
            memo[key] = ctx.app.datatypes.field_type(item_type, path) or "xs:string"
        except KeyError:
            memo[key] = None
    if memo[key] is None:
        return value
    try:
        typed = coerce_value(memo[key], value, path)   # as DataTypes.coerce types it
    except (ValueError, KeyError):
        return value
    return repr(typed) if isinstance(typed, float) else value


def _type_matches(ctx: Ctx, row_type: str, type_name: str) -> bool:
    """Is ``row_type`` the type ``type_name`` or derived from it? (xpaths are often lower-cased)"""
    if row_type.lower() == type_name.lower():
        return True
    return ctx.app.datatypes.is_a(row_type, ctx.app.canonical_type(type_name))


def _matches(value: str, pattern: str) -> bool:
    """XNAT string criteria: comma-separated alternatives, ``*`` wildcards, case-insensitive."""
    value = value.lower()
    for alt in pattern.split(","):
        alt = alt.strip().lower()
        if "*" in alt or "?" in alt:
            if fnmatch.fnmatchcase(value, alt):
                return True
        elif value == alt:
            return True
    return False


def _paging(ctx: Ctx, name: str) -> int | None:
    value = ctx.param(name)
    if value is None or value == "" or (name == "limit" and value == "*"):
        return None
    if not re.fullmatch(r"\d+", value):
        raise HTTPError(400, f"Invalid {name} value: {value!r}")
    return int(value)


def xpaths_named(ctx: Ctx) -> list[str]:
    """Every xpath the query names, as a column or as a filter."""
    named = [c.strip() for c in (ctx.param("columns") or "").split(",")]
    named += [k for k in ctx.params if k not in CONTROL]
    return [x for x in named if "/" in x and ":" in x.split("/", 1)[0]]


def select_rows(ctx: Ctx, rows: list[Row], aliases: Sequence[str]) -> list[Row]:
    """Apply ``xsiType=`` and the alias/xpath filters of the query to ``rows``."""
    xsi_type = ctx.param("xsiType")
    if xsi_type:
        rows = [r for r in rows if r.get("_type") and _type_matches(ctx, r["_type"], xsi_type)]
    lower_aliases = {a.lower(): a for a in aliases}
    memo: dict[Any, Any] = {}
    for key, value in ctx.params.items(multi=True):
        if key in CONTROL:
            continue
        if key.lower() in lower_aliases:
            alias = lower_aliases[key.lower()]
            rows = [r for r in rows if _matches(str(r.get(alias, "")), value)]
        elif "/" in key and ":" in key.split("/", 1)[0]:
            rows = [r for r in rows if _matches(_xpath_value(ctx, r, key, memo) or "", value)]
    return rows


def table(ctx: Ctx, rows: list[Row], defaults: Sequence[str], title: str | None = "",
          always: Sequence[str] = ("URI",), columns_meta: list[dict[str, str]] | None = None,
          total: bool = True, xpath_aliases: dict[str, str] | None = None, keys: Sequence[str] = ()) -> Response:
    """Filter, project, sort, page and render a listing per the request's parameters.

    ``xpath_aliases`` maps lower-cased xpaths to the level's alias for the same field
    (``xnat:subjectassessordata/subject_id`` -> ``subject_ID``): such a column comes back
    under the alias, as the real server names it; other xpaths keep the lower-cased xpath.
    ``keys`` are the level's key columns (ID, and the project of a child): XNAT keeps them
    first whatever ``columns=`` asks (issue 15 item 1, as seen on XNAT 1.8: ``columns=alias``
    answers ``ID,alias,URI``), as it keeps ``URI`` last.
    """
    fmt = (ctx.param("format") or "json").lower()
    if fmt not in FORMATS:
        raise HTTPError(400, f"Unsupported format: {fmt}")
    aliases = [k for k in (rows[0] if rows else dict.fromkeys(defaults)) if not k.startswith("_")]
    aliases = list(dict.fromkeys([*aliases, *(d for d in defaults if "/" not in d)]))
    rows = select_rows(ctx, rows, aliases)
    columns = _columns(ctx, aliases, defaults, always, keys)
    if xpath_aliases:
        columns = list(dict.fromkeys(
            xpath_aliases[c.lower()] if c not in aliases and xpath_aliases.get(c.lower()) in aliases else c
            for c in columns))
    out = _projected(ctx, rows, columns, aliases)
    names = [c if c in aliases else c.lower() for c in columns]
    sort_by = ctx.param("sortBy")
    if sort_by:
        keys = [k.strip() for k in sort_by.split(",") if k.strip()]
        reverse = (ctx.param("sortOrder") or "ASC").upper() == "DESC"
        out.sort(key=lambda r: tuple(_sort_key(r.get(k, r.get(k.lower(), ""))) for k in keys), reverse=reverse)
    offset, limit = _paging(ctx, "offset") or 0, _paging(ctx, "limit")
    if offset or limit is not None:
        out = out[offset: None if limit is None else offset + limit]
    # Every row holds exactly ``names``, in order (_projected made them so): the writer need
    # not check each row's keys again unless two columns share a lower-cased name.
    exact = bool(out) and len(set(names)) == len(names)
    body, mimetype = render_table(out, None if exact else names, fmt, title=title or None, columns=columns_meta,
                                  total=total)
    return Response(body, mimetype=mimetype.split(";")[0])


def plain_json_columns(ctx: Ctx, aliases: Sequence[str], defaults: Sequence[str], always: Sequence[str] = ("URI",),
                       keys: Sequence[str] = ()) -> list[str] | None:
    """The columns of a listing asked in JSON with no filter, sort, paging or ``xsiType`` and only
    alias columns (what a client's listing asks): a level may then write the rows in one query.
    None for any other query, which :func:`table` answers."""
    if (ctx.param("format") or "json").lower() != "json" or any(key not in CONTROL for key in ctx.params):
        return None
    if any(ctx.param(name) for name in ("sortBy", "offset", "limit", "xsiType")):
        return None
    columns = _columns(ctx, aliases, defaults, always, keys)
    return columns if all(column in aliases for column in columns) else None


def encoded_table(rows: list[str], title: str) -> Response:
    """A JSON listing of rows already written as JSON objects, shaped as :func:`table` writes it."""
    return Response(table_json_encoded(rows, title), mimetype="application/json")


def _projected(ctx: Ctx, rows: list[Row], columns: list[str], aliases: Sequence[str]) -> list[dict[str, str]]:
    """Each row reduced to ``columns``, every value as text (None as ""); an xpath column is
    keyed lower-case, as XNAT does."""
    if len(columns) > 1 and all(col in aliases for col in columns):
        # The common listing: alias columns only, taken and checked with C loops over the rows.
        try:
            cells = list(map(itemgetter(*columns), rows))
        except KeyError:  # a row without one of the columns
            cells = []
        if len(cells) == len(rows) and set(map(type, chain.from_iterable(cells))) <= {str}:
            return list(map(dict, map(zip, repeat(columns), cells)))
    out = []
    memo: dict[Any, Any] = {}
    for row in rows:
        made = {}
        for col in columns:
            if col in aliases:
                made[col] = "" if row.get(col) is None else str(row.get(col))
            else:  # an xpath column, keyed lower-case as XNAT does
                value = _xpath_value(ctx, row, col, memo)
                made[col.lower()] = "" if value is None else value
        out.append(made)
    return out


def _sort_key(value: str) -> tuple[int, Any]:
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, str(value).lower())


def _columns(ctx: Ctx, aliases: Sequence[str], defaults: Sequence[str], always: Sequence[str],
             keys: Sequence[str] = ()) -> list[str]:
    raw = ctx.param("columns")
    if not raw or raw.upper() == "DEFAULT":
        wanted = list(defaults)
    else:
        wanted = []
        lower = {a.lower(): a for a in aliases}
        for col in (c.strip() for c in raw.split(",")):
            if col.lower() in lower:
                wanted.append(lower[col.lower()])
            elif "/" in col and ":" in col.split("/", 1)[0]:
                wanted.append(col)
            # unknown aliases are dropped, as XNAT logs and drops them
    wanted = [k for k in keys if k not in wanted] + wanted
    for col in always:
        if col not in wanted:
            wanted.append(col)
    return list(dict.fromkeys(wanted))
