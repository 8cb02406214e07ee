"""Listings: XNAT's REST collections as read-only Python mappings.

``session.projects``, ``project.subjects``, ``experiment.scans``, ``resource.files``...
are :class:`XNATListing` objects. A listing is fetched with **one** request the first
time it is used and then cached until :meth:`XNATListing.clearcache`. It asks the
server for the columns that scripts commonly read (label, xsi type, date, ...), so
reading those across a listing costs no further request.

Memory: rows are kept by column (one list per column, built in one pass in C), repeated
values (project, xsi type, dates, users) are stored once, a column with one value in every
row holds it once and a URI made of a prefix and the ID holds the prefix; the ID and label
indexes are built on the first lookup by key. Objects are made only when asked for, a run
of rows at a time (``make_many``): one small object per row (slots, reading its row from
the columns), held by the rows they were made for and let go of when the listing drops
them (see :mod:`xnat.classes.rest`). That is what keeps a 50,000-row listing small.

Indexing follows xnatpy: ``listing["XNAT_E00001"]`` by ID, ``listing["label"]`` by the
secondary key (label, or name for projects, type for scans), ``listing[0]`` and
``listing[1:3]`` by position. Iterating a listing yields its objects, as xnatpy's does;
``keys()``, ``values()`` and ``items()`` work as on a mapping.
"""

from __future__ import annotations

import csv
import html
import io
import operator
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

from xnat.collector import collector_paused
from xnat.exceptions import XNATKeyError, XNATValueError

__all__ = ["ListingAttribute", "ListingRows", "RowView", "XNATListing"]

# fetch(uri, query) -> list of row dicts, as the server's ResultSet.Result
Fetch = Callable[[str, dict[str, str]], list[dict[str, str]]]
# make(row, listing) -> the object for a row (a read-only mapping of column -> text)
Make = Callable[[Mapping[str, str], "XNATListing"], Any]
# make_many(rows, listing, span) -> the objects of the rows at the positions in span, in order
MakeMany = Callable[["ListingRows", "XNATListing", range], list[Any]]
# How many objects __iter__ makes at a time: a loop that stops early makes few more than it uses.
_BATCH = 1024


class ListingAttribute:
    """A read-only attribute whose value is a listing (``session.projects``,
    ``project.subjects``, ``experiment.scans``...), made on first read without a request (it
    loads when it is used). Subclasses say where the listing comes from (:meth:`listing_of`).

    A descriptor rather than a ``property``: IPython completes ``x.subjects.<TAB>`` and
    ``x.subjects['<TAB>`` only through attributes it may read, and it runs no property;
    reading this one runs no request either.
    """

    #: How the error for an assignment names the attribute's owner ("session." or nothing).
    owner_name = ""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self.kind = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.kind = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return self.listing_of(obj)

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"{self.owner_name}{self.kind} is read-only")

    def listing_of(self, obj: Any) -> XNATListing:
        raise NotImplementedError


class ListingRows:
    """The rows of one listing response, stored by column.

    ``columns`` names the columns; each holds that column's value for every row. Building
    them is one pass per column in C (``itemgetter`` and ``dict.setdefault`` mapped over the
    parsed rows): no Python work per cell, and values that repeat across rows (project, xsi
    type, dates, users) are stored once; a column whose first rows do not repeat (IDs,
    labels) is kept as parsed. Values are read as text (a missing value is ``""``).
    """

    __slots__ = ("__weakref__", "_position", "columns", "data", "held")

    def __init__(self, result: Sequence[Mapping[str, Any]]) -> None:
        #: What the object layer keeps with these rows (the objects made for them), or None.
        self.held: Any = None
        self.columns: tuple[str, ...] = _columns_of(result)
        self._position = {name: index for index, name in enumerate(self.columns)}
        shared: dict[Any, Any] = {}
        #: One sequence per column, in ``columns`` order: a list, or for a column with one
        #: value in every row (project, xsi type) that value once, or for a URI that is a fixed
        #: prefix and the row's ID (``/data/experiments/<ID>``) the prefix once.
        self.data: list[Sequence[Any]] = [_column(result, name, shared) for name in self.columns]
        _derive_uris(self)

    def __len__(self) -> int:
        return len(self.data[0]) if self.data else 0

    @property
    def rows(self) -> list[tuple[str, ...]]:
        """Every row as a tuple in ``columns`` order (built on demand)."""
        return [tuple(map(_text, row)) for row in zip(*self.data)]

    def row(self, index: int) -> tuple[str, ...]:
        return tuple(_text(column[index]) for column in self.data)

    def column(self, name: str) -> Sequence[Any] | None:
        """The raw values of one column, or None when the listing has no such column."""
        position = self._position.get(name)
        return None if position is None else self.data[position]

    def value(self, index: int, column: str) -> str | None:
        position = self._position.get(column)
        if position is None:
            return None
        value = self.data[position][index]
        return value if type(value) is str else _text(value)  # read per field of a listed object: kept lean

    def as_dict(self, index: int) -> dict[str, str]:
        return dict(zip(self.columns, self.row(index)))


def _columns_of(result: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    if not result:
        return ()
    columns: dict[str, None] = dict.fromkeys(result[0])
    if len(set(map(len, result))) > 1:  # some servers leave keys out of some rows
        for row in result:
            if len(row) != len(columns):
                columns.update(dict.fromkeys(row))
    return tuple(columns)


class _Same(Sequence[Any]):
    """A column with one value in every row, held once."""

    __slots__ = ("_length", "_value")

    def __init__(self, value: Any, length: int) -> None:
        self._value, self._length = value, length

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._value] * len(range(self._length)[index])
        range(self._length)[index]  # raises IndexError as a list does
        return self._value

    def __iter__(self) -> Iterator[Any]:
        return iter(self[:])


class _Prefixed(Sequence[Any]):
    """A column whose every value is one prefix and the same row's value in another column
    (a URI that is ``/data/experiments/`` and the ID): the prefix is held once."""

    __slots__ = ("_base", "_prefix")

    def __init__(self, prefix: str, base: Sequence[str]) -> None:
        self._prefix, self._base = prefix, base

    def __len__(self) -> int:
        return len(self._base)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return list(map(operator.concat, repeat(self._prefix), self._base[index]))
        return self._prefix + self._base[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self[:])


def _derive_uris(rows: ListingRows) -> None:
    """Hold the URI column as a prefix of the ID column when every row's URI is that prefix
    and its ID (checked with C loops: ``map`` and a list comparison)."""
    uris, ids = rows.column("URI"), rows.column("ID")
    if type(uris) is not list or type(ids) is not list or not ids:
        return
    first_uri, first_id = uris[0], ids[0]
    if not (isinstance(first_uri, str) and isinstance(first_id, str) and first_id
            and first_uri.endswith("/" + first_id)):
        return
    prefix = first_uri[:-len(first_id)]
    try:
        derived = list(map(operator.concat, repeat(prefix), ids))
    except TypeError:  # an ID that is not text
        return
    if derived == uris:
        rows.data[rows.columns.index("URI")] = _Prefixed(prefix, ids)


def _column(result: Sequence[Mapping[str, Any]], name: str, shared: dict[Any, Any]) -> Sequence[Any]:
    try:
        values = list(map(itemgetter(name), result))
    except KeyError:  # a row without this column
        values = [row.get(name) for row in result]
    sample = values[:256]
    if len(values) > 1 and values[-1] == values[0] and sample.count(values[0]) == len(sample) \
            and values.count(values[0]) == len(values):
        return _Same(values[0], len(values))
    try:
        if len(set(sample)) == len(sample):  # no repeats in the first rows (IDs, labels): keep as parsed
            return values
        # Repeated values (types, dates, projects, users) become one object.
        return list(map(shared.setdefault, values, values))
    except TypeError:  # an unhashable value: keep the column as parsed
        return values


class RowView(Mapping[str, str]):
    """One row of a :class:`ListingRows` as a read-only mapping, without copying it.

    Objects made from a listing keep one of these (two slots) instead of a dict per row.
    """

    __slots__ = ("_index", "_rows")

    def __init__(self, rows: ListingRows, index: int) -> None:
        self._rows = rows
        self._index = index

    @property
    def rows(self) -> ListingRows:
        """The listing's rows this view reads."""
        return self._rows

    @property
    def index(self) -> int:
        """The row's position in :attr:`rows`."""
        return self._index

    def __getitem__(self, key: str) -> str:
        position = self._rows._position.get(key)
        if position is None:
            raise KeyError(key)
        value = self._rows.data[position][self._index]
        return value if type(value) is str else _text(value)

    def get(self, key: str, default: Any = None) -> Any:
        # Read once per object made from a listing (URI, ID, xsi type): kept lean.
        position = self._rows._position.get(key)
        if position is None:
            return default
        value = self._rows.data[position][self._index]
        return value if type(value) is str else _text(value)

    def __contains__(self, key: object) -> bool:
        return key in self._rows._position

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows.columns)

    def __len__(self) -> int:
        return len(self._rows.columns)

    def __repr__(self) -> str:
        return f"RowView({dict(self)!r})"


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


class XNATListing:
    """A REST collection, indexable by ID, secondary key and position.

    :param uri: the collection's REST path, e.g. ``/data/projects/P/subjects``
    :param fetch: ``fetch(uri, query)`` returning the rows of the listing
    :param make: ``make(row, listing)`` returning the object for one row
    :param secondary_key: the column used as the human key (``label``, ``name``, ...)
    :param id_key: the column holding the ID
    :param columns: the columns to ask for (``None``: the server's defaults)
    :param filters: query parameters narrowing the listing (server-side, ``*`` wildcards)
    :param parent: the object owning this listing (``None`` for the session's)
    :param make_many: ``make_many(rows, listing, span)``, the objects of many rows at once
        (``values()`` and iteration use it; ``make`` alone does otherwise)
    """

    def __init__(
        self,
        uri: str,
        fetch: Fetch,
        make: Make,
        secondary_key: str | None = "label",
        id_key: str = "ID",
        columns: Sequence[str] | None = None,
        filters: Mapping[str, str] | None = None,
        parent: Any = None,
        name: str = "",
        make_many: MakeMany | None = None,
    ) -> None:
        self.uri = uri
        self.parent = parent
        self.secondary_key = secondary_key
        self.id_key = id_key
        self.columns = tuple(columns) if columns else None
        self.filters = dict(filters or {})
        self.name = name
        self._caching: bool | None = None
        #: Whose ``caching`` setting this listing follows while its own is None (session, owner).
        self.caching_from: Any = None
        #: Called with every listing made from this one by :meth:`filter` (the session
        #: keeps track of them to refresh them after a create or delete).
        self.on_derive: Callable[[XNATListing], None] | None = None
        #: Called with the rows this listing stops holding (cache cleared, rows fetched
        #: again): the object layer then lets go of the objects it made for them.
        self.on_release: Callable[[ListingRows], None] | None = None
        self._fetch = fetch
        self._make = make
        self._make_many = make_many
        self._lock = threading.RLock()
        self._rows: ListingRows | None = None
        self._by_id: dict[str, int] | None = None
        self._by_key: dict[str, int] | None = None
        self._ambiguous: set[str] = set()

    # -- loading --------------------------------------------------------------------

    @property
    def caching(self) -> bool:
        """Whether rows are kept between uses (set None to follow :attr:`caching_from`)."""
        if self._caching is not None:
            return self._caching
        return bool(getattr(self.caching_from, "caching", True))

    @caching.setter
    def caching(self, value: bool | None) -> None:
        self._caching = value

    def _query(self, columns: Sequence[str] | None = None) -> dict[str, str]:
        query = {"format": "json"}
        wanted = columns or self.columns
        if wanted:
            query["columns"] = ",".join(wanted)
        query.update(self.filters)
        return query

    @property
    def rows(self) -> ListingRows:
        """The listing's rows, fetched on first use (one request)."""
        rows = self._rows
        if rows is None or not self.caching:
            with self._lock:
                rows = self._rows if self.caching else None
                if rows is None:
                    rows = ListingRows(self._fetch(self.uri, self._query()))
                    self._release(self._rows)
                    self._rows, self._by_id, self._by_key = rows, None, None
        return rows

    def clearcache(self) -> None:
        """Forget the cached rows: the next use asks the server again."""
        with self._lock:
            self._release(self._rows)
            self._rows = self._by_id = self._by_key = None
            self._ambiguous = set()

    def _release(self, rows: ListingRows | None) -> None:
        if rows is not None and self.on_release is not None:
            self.on_release(rows)

    def _indexes(self) -> tuple[dict[str, int], dict[str, int]]:
        rows = self.rows
        with self._lock:
            if self._by_id is None or self._by_key is None or self._rows is not rows:
                ids = list(map(_text, rows.column(self.id_key) or ()))
                keys = list(map(_text, rows.column(self.secondary_key or "") or ()))
                by_id = dict(zip(ids, range(len(ids))))
                by_key: dict[str, int] = {}
                ambiguous: set[str] = set()
                for index, key in enumerate(keys):
                    if not key:
                        continue
                    first = by_key.setdefault(key, index)
                    if first != index and ids and ids[first] != ids[index]:
                        ambiguous.add(key)
                self._by_id, self._by_key, self._ambiguous = by_id, by_key, ambiguous
            return self._by_id, self._by_key

    # -- mapping and sequence access -----------------------------------------------------

    def _object(self, index: int) -> Any:
        rows = self.rows
        if self._make_many is not None:  # the object values() made for this row, if any
            return self._make_many(rows, self, range(index, index + 1))[0]
        return self._make(RowView(rows, index), self)

    def _locate(self, key: str) -> int:
        by_id, by_key = self._indexes()
        if key in by_id:
            return by_id[key]
        if key in self._ambiguous:
            ids = [self.rows.value(i, self.id_key) for i in range(len(self.rows))
                   if self.rows.value(i, self.secondary_key or "") == key]
            raise XNATKeyError(
                f"{key!r} is the {self.secondary_key} of several entries in {self.uri} "
                f"({', '.join(str(i) for i in ids)}): use the ID instead"
            )
        if key in by_key:
            return by_key[key]
        raise XNATKeyError(f"no entry with ID or {self.secondary_key or 'key'} {key!r} in {self.uri}"
                           + _suggestion(key, list(by_id) + list(by_key)))

    def __getitem__(self, item: int | slice | str) -> Any:
        if isinstance(item, slice):
            rows = self.rows
            return self._objects(rows, range(len(rows))[item])
        if isinstance(item, int) and not isinstance(item, bool):
            try:
                index = range(len(self.rows))[item]
            except IndexError:
                raise IndexError(f"listing {self.uri} has {len(self.rows)} entries, no index {item}") from None
            return self._object(index)
        if not isinstance(item, str):
            raise XNATKeyError(
                f"listing keys are IDs, {self.secondary_key or 'keys'} or positions, not {type(item).__name__}"
            )
        return self._object(self._locate(item))

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            by_id, by_key = self._indexes()
            return item in by_id or item in by_key
        identifier = getattr(item, "id", None)
        return isinstance(identifier, str) and identifier in self._indexes()[0]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Any]:
        # xnatpy yields the objects, not the keys: scripts rely on it.
        rows = self.rows
        for start in range(0, len(rows), _BATCH):
            yield from self._objects(rows, range(start, min(start + _BATCH, len(rows))))

    def keys(self) -> list[str]:
        """The IDs of the entries, in listing order."""
        rows = self.rows
        return [rows.value(index, self.id_key) or "" for index in range(len(rows))]

    def values(self) -> list[Any]:
        rows = self.rows
        return self._objects(rows, range(len(rows)))

    def _objects(self, rows: ListingRows, span: range) -> list[Any]:
        with collector_paused:  # one tracked object per row, none of them garbage
            if self._make_many is not None:
                return self._make_many(rows, self, span)
            make = self._make
            return [make(RowView(rows, index), self) for index in span]

    def items(self) -> list[tuple[str, Any]]:
        return list(zip(self.keys(), self))

    def _ipython_key_completions_(self) -> list[str]:
        # listing['<TAB> in IPython: the IDs and labels of a listing already fetched, and
        # never a request (an unloaded listing completes nothing until it is used).
        if self._rows is None or not self.caching:
            return []
        by_id, by_key = self._indexes()
        return sorted(set(by_id) | set(by_key))

    # -- filtering and tables --------------------------------------------------------------

    def filter(self, filters: Mapping[str, str] | None = None, **kwargs: str) -> XNATListing:
        """A new listing narrowed by the server: ``listing.filter(label="S*")``."""
        combined = {**self.filters, **(filters or {}), **kwargs}
        for key, value in combined.items():
            if not isinstance(value, (str, int, float)):
                raise XNATValueError(f"filter {key}={value!r}: values must be strings or numbers")
        narrowed = XNATListing(self.uri, self._fetch, self._make, self.secondary_key, self.id_key,
                               self.columns, {k: str(v) for k, v in combined.items()}, self.parent, self.name,
                               self._make_many)
        narrowed.caching_from = self.caching_from
        narrowed._caching = self._caching
        narrowed.on_derive = self.on_derive
        narrowed.on_release = self.on_release
        if self.on_derive is not None:
            self.on_derive(narrowed)
        return narrowed

    def tabulate_dict(self, columns: Sequence[str] | None = None,
                      filter: Mapping[str, str] | None = None) -> list[dict[str, str]]:
        """The listing as a list of dicts, with the given columns (one request)."""
        query = self._query(columns)
        query.update(filter or {})
        result = self._fetch(self.uri, query)
        if columns:
            return [{name: _text(row.get(name)) for name in columns} for row in result]
        return [{name: _text(value) for name, value in row.items()} for row in result]

    def tabulate(self, columns: Sequence[str] | None = None,
                 filter: Mapping[str, str] | None = None) -> list[tuple[Any, ...]]:
        """The listing as named tuples (one field per column)."""
        table = self.tabulate_dict(columns, filter)
        names = list(columns or (table[0].keys() if table else ()))
        Row = namedtuple("Row", [_field_name(name) for name in names], rename=True)  # type: ignore[misc]
        return [Row(*(row.get(name, "") for name in names)) for row in table]

    def tabulate_csv(self, columns: Sequence[str] | None = None, filter: Mapping[str, str] | None = None,
                     header: bool = True) -> str:
        """The listing as CSV text."""
        table = self.tabulate_dict(columns, filter)
        names = list(columns or (table[0].keys() if table else ()))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if header:
            writer.writerow(names)
        writer.writerows([row.get(name, "") for name in names] for row in table)
        return out.getvalue()

    def tabulate_pandas(self, columns: Sequence[str] | None = None, filter: Mapping[str, str] | None = None) -> Any:
        """The listing as a pandas DataFrame (needs the ``pandas`` extra)."""
        try:
            import pandas
        except ImportError:
            raise XNATValueError('tabulate_pandas needs pandas: pip install "xnat[pandas]"') from None
        return pandas.DataFrame(self.tabulate_dict(columns, filter), columns=list(columns) if columns else None)

    # -- display: never a request -------------------------------------------------------------

    @property
    def loaded_size(self) -> int | None:
        """How many rows the listing holds when it has been loaded, else None (never a request)."""
        rows = self._rows
        return None if rows is None else len(rows)

    def __repr__(self) -> str:
        rows = self._rows
        if rows is None:
            return f"<XNATListing {self.uri} ({NOT_LOADED})>"
        entries = []
        for index in range(min(len(rows), 10)):
            key = rows.value(index, self.secondary_key or "") or ""
            try:  # objects are made from the row alone: no request
                shown = f": {self._object(index)!r}"
            except Exception:  # noqa: BLE001 -- a repr must not fail
                shown = ""
            entries.append(f"({rows.value(index, self.id_key)}, {key}){shown}")
        more = f", ... {len(rows) - 10} more" if len(rows) > 10 else ""
        # xnatpy's shape: <XNATListing (ID, label): <Obj>, (ID, label): <Obj>>
        return f"<XNATListing {', '.join(entries)}{more}>"

    def __str__(self) -> str:
        """Like ``repr``, but loads the listing first (``print(listing)`` shows the entries)."""
        _ = self.rows  # load the listing; repr shows what is loaded
        return repr(self)

    def _repr_html_(self) -> str:
        rows = self._rows
        if rows is None:
            return f"<p>XNATListing {html.escape(self.uri)} ({NOT_LOADED})</p>"
        head = "".join(f"<th>{html.escape(name)}</th>" for name in rows.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(value)}</td>" for value in rows.row(index)) + "</tr>"
            for index in range(min(len(rows), 50))
        )
        more = f"<p>... {len(rows) - 50} more rows</p>" if len(rows) > 50 else ""
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


#: What the repr of a listing not yet fetched says (a repr never sends a request).
NOT_LOADED = "not loaded: print() it, len() or a loop fetches it"


def _field_name(column: str) -> str:
    name = "".join(ch if ch.isalnum() else "_" for ch in column.split("/")[-1]).strip("_")
    return name or "column"


def _suggestion(key: str, candidates: list[str]) -> str:
    import difflib

    # dict.fromkeys: a project's ID is often also its name; name it once
    close = difflib.get_close_matches(key, list(dict.fromkeys(candidates)), n=3)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
