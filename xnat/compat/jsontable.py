"""pyxnat's ``JsonTable``: a list of row dictionaries with table helpers.

Search results and ``array`` listings come back as one. ``data`` is the rows,
``headers()`` the column names, ``as_list()`` the header row then the values,
``items()`` the rows as tuples; ``[name]`` is a column, ``[index]`` a row, ``[names]`` a
selection. ``dumps_csv`` writes real CSV (pyxnat's writes one character per cell).
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["JsonTable"]


class JsonTable:
    """Rows of strings, keyed by column name."""

    def __init__(self, data: Sequence[dict[str, Any]], order_by: Sequence[str] | None = None,
                 headers: Sequence[str] | None = None) -> None:
        self.data = [dict(row) for row in data]
        names = list(headers) if headers is not None else (list(self.data[0]) if self.data else [])
        if order_by:
            names = [name for name in order_by if name in names] + [name for name in names if name not in order_by]
        self._headers = names

    def __repr__(self) -> str:
        return f"<JsonTable {len(self.data)}:{len(self._headers)}> {', '.join(self._headers[:5])}"

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.data)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):  # as pyxnat: the column, one value alone when there is one row
            return self.get(key)
        if isinstance(key, int):
            return JsonTable([self.data[key]], headers=self._headers)
        if isinstance(key, slice):
            return JsonTable(self.data[key], headers=self._headers)
        return self.select(list(key))

    def headers(self) -> list[str]:
        return list(self._headers)

    def has_header(self, name: str) -> bool:
        return name in self._headers

    def items(self) -> list[tuple[Any, ...]]:
        return [tuple(row.get(name) for name in self._headers) for row in self.data]

    def as_list(self) -> list[list[Any]]:
        return [self.headers()] + [list(values) for values in self.items()]

    def select(self, columns: Sequence[str]) -> JsonTable:
        return JsonTable([{name: row.get(name) for name in columns} for row in self.data], headers=columns)

    def get(self, col: str, val_pattern: str = "*", always_list: bool = False) -> Any:
        """The values of ``col`` matching ``val_pattern``; with one row (and ``always_list``
        False) its value alone, as pyxnat answers (``None`` when it does not match)."""
        values = [row.get(col) for row in self.data if fnmatch.fnmatch(str(row.get(col, "")), val_pattern)]
        if len(self.data) == 1 and not always_list:
            return values[0] if values else None
        return values

    def where(self, **constraints: str) -> JsonTable:
        """The rows whose columns match the given glob patterns."""
        return JsonTable([row for row in self.data
                          if all(fnmatch.fnmatch(str(row.get(key, "")), str(pattern))
                                 for key, pattern in constraints.items())], headers=self._headers)

    def where_not(self, **constraints: str) -> JsonTable:
        kept = self.where(**constraints).data
        return JsonTable([row for row in self.data if row not in kept], headers=self._headers)

    def dumps_json(self) -> str:
        return json.dumps(self.data)

    def dump_json(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(self.dumps_json())

    def dumps_csv(self, delimiter: str = ",") -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter)
        writer.writerows(self.as_list())
        return buffer.getvalue()

    def dump_csv(self, path: str, delimiter: str = ",") -> None:
        with open(path, "w", encoding="utf-8", newline="") as stream:
            stream.write(self.dumps_csv(delimiter))
