"""``obj.attrs``: read and write an object's fields by pyxnat's xpaths or short names.

``attrs.get("xnat:mrSessionData/date")``, ``attrs.get("date")`` and
``attrs.get("xnat:subjectData/demographics[@xsi:type=xnat:demographicData]/gender")`` all
read the row the object came with from its listing when the row holds the field (no
request), else the object's document (one ``GET <uri>?format=json``); pyxnat lists the
whole parent collection twice for each. Values come back as strings, as pyxnat gives them; a field that
is not set reads as ``""``. ``set``/``mset`` send one ``PUT <uri>?xsiType=<type>&<path>=<value>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ..exceptions import XNATValueError

__all__ = ["Attributes", "flatten_item"]

_PREDICATE = re.compile(r"\[[^\]]*\]")


class _Target(Protocol):
    """What attributes need of an object: its URI, its session and its data type."""

    _uri: str
    _row: dict[str, str] | None

    @property
    def _session(self) -> Any: ...

    def datatype(self) -> str | None: ...


def flatten_item(document: Mapping[str, Any]) -> dict[str, str]:
    """An item document (``{"items": [...]}``) as ``{"field": ..., "child/field": ...}`` strings."""
    items = document.get("items") or []
    if not items:
        return {}
    found: dict[str, str] = {}
    _flatten(items[0], "", found)
    return found


def _flatten(item: Mapping[str, Any], prefix: str, found: dict[str, str]) -> None:
    for key, value in (item.get("data_fields") or {}).items():
        found.setdefault(prefix + key, "" if value is None else str(value))
    for child in item.get("children") or []:
        entries = child.get("items") or []
        if len(entries) == 1:  # a single nested element (demographics); lists (scans, files) are not fields
            _flatten(entries[0], f"{prefix}{child.get('field', '')}/", found)


def _short(path: str) -> str:
    """``xnat:subjectData/demographics[@xsi:type=...]/gender`` -> ``demographics/gender``."""
    path = _PREDICATE.sub("", path)
    head, _, rest = path.partition("/")
    if rest and ":" in head:
        path = rest
    return path.strip("/").lower()


def lookup(fields: Mapping[str, str], path: str) -> str:
    """The value of ``path`` among flattened fields; ``""`` when the object does not have it set."""
    wanted = _short(path)
    lowered = {key.lower(): value for key, value in fields.items()}
    if wanted in lowered:
        return lowered[wanted]
    last = wanted.rpartition("/")[2]
    for key, value in lowered.items():
        if key.rpartition("/")[2] == last:
            return value
    return ""


class Attributes:
    """pyxnat's ``attrs`` of one object."""

    def __init__(self, target: _Target) -> None:
        self._target = target

    def __repr__(self) -> str:
        return f"<Attributes of {self._target._uri}>"

    def _fields(self) -> dict[str, str]:
        document = self._target._session.get_json(self._target._uri)
        return flatten_item(document)

    def _known(self, path: str) -> str | None:
        """The value from the row the object already holds (its listing row), if it has the field."""
        row = self._target._row
        if not row:
            return None
        wanted = _short(path)
        for key, value in row.items():
            if key.lower() == wanted:
                return "" if value is None else str(value)
        return None

    def get(self, path: str) -> str:
        """The value of one field, as a string (from the listing row when it holds the field)."""
        known = self._known(path)
        return known if known is not None else lookup(self._fields(), path)

    def mget(self, paths: Iterable[str]) -> list[str]:
        """The values of several fields, read from one document at most."""
        paths = list(paths)
        known = [self._known(path) for path in paths]
        if all(value is not None for value in known):
            return [str(value) for value in known]
        fields = self._fields()
        return [lookup(fields, path) for path in paths]

    def set(self, path: str, value: Any, **kwargs: Any) -> None:
        """Set one field (one PUT)."""
        self.mset({path: value}, **kwargs)

    def mset(self, values: Mapping[str, Any], **kwargs: Any) -> None:
        """Set several fields in one PUT; ``params=`` adds query parameters (``event_reason``)."""
        if not values:
            raise XNATValueError("attrs.mset needs at least one path and value")
        query: dict[str, Any] = {str(key): "" if value is None else str(value) for key, value in values.items()}
        datatype = self._target.datatype()
        if datatype:
            query["xsiType"] = datatype
        query.update(kwargs.get("params") or {})
        self._target._session.put(self._target._uri, query=query)
        self._target._row = None  # read again after a change
