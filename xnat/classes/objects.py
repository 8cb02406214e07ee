"""The object layer of one session: listings of each level, rows -> objects, create_object.

Each REST collection has a :data:`SPECS` entry saying which columns to ask for (the ones
scripts read: label, xsi type, date, project, ...), which column is the ID and which the
human key, and the default data type. One listing request then answers every read of
those columns across the listing.

:class:`ObjectLayer` owns the session's :class:`~xnat.classes.rest.IdentityMap` and a
weak set of live listings (so deleting or creating an object refreshes them).
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ..exceptions import XNATValueError
from . import rest
from .listing import ListingRows, RowView, XNATListing

__all__ = ["SPECS", "ListingSpec", "ObjectLayer"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListingSpec:
    """How to list one kind of collection."""

    columns: tuple[str, ...] | None
    secondary_key: str | None
    default_type: str
    id_key: str = "ID"


SPECS: dict[str, ListingSpec] = {
    "projects": ListingSpec(("ID", "URI", "name", "secondary_ID", "description"), "name", "xnat:projectData"),
    "subjects": ListingSpec(("ID", "URI", "label", "project", "insert_date", "insert_user"), "label",
                            "xnat:subjectData"),
    "experiments": ListingSpec(("ID", "URI", "label", "xsiType", "date", "project", "subject_ID", "insert_date"),
                               "label", "xnat:experimentData"),
    "assessors": ListingSpec(("ID", "URI", "label", "xsiType", "date", "project"), "label", "xnat:imageAssessorData"),
    "scans": ListingSpec(("ID", "URI", "type", "xsiType", "quality", "series_description", "note"), "type",
                         "xnat:imageScanData"),
    "reconstructions": ListingSpec(("ID", "URI", "type", "xsiType"), "type", "xnat:reconstructedImageData"),
    # resources and files: the server's default columns are the useful ones
    "resources": ListingSpec(None, "label", "xnat:resourceCatalog"),
    "files": ListingSpec(None, "Name", "xnat:fileData"),
}


class ObjectLayer:
    """Identity map, live listings and row -> object construction for one session."""

    def __init__(self, session: Any, keep: int = 512) -> None:
        self._session_ref = weakref.ref(session)
        self.identity = rest.IdentityMap(keep)
        self._listings: weakref.WeakSet[XNATListing] = weakref.WeakSet()
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        session = self._session_ref()
        if session is None:
            raise XNATValueError("the session of this object no longer exists")
        return session

    # -- listings ----------------------------------------------------------------------

    def listing(self, uri: str, kind: str, parent: Any = None, filters: dict[str, str] | None = None) -> XNATListing:
        """A new listing of the collection ``kind`` at ``uri``."""
        spec = SPECS[kind]

        def make(row: Mapping[str, str], listing: XNATListing) -> Any:
            return self.from_row(row, listing, kind)

        def make_many(rows: ListingRows, listing: XNATListing, span: range) -> list[Any]:
            return self.from_rows(rows, listing, kind, span)

        listing = XNATListing(uri, self._fetcher(kind, uri), make, spec.secondary_key, spec.id_key,
                              spec.columns, filters, parent, kind, make_many=make_many)
        listing.caching_from = parent if parent is not None else self.session
        listing.on_derive = self._track
        listing.on_release = self._release
        self._track(listing)
        return listing

    def _release(self, rows: ListingRows) -> None:
        """A listing let go of ``rows``: so do the objects made for them (see IdentityMap.release)."""
        with self._lock:
            held, rows.held = rows.held, None
        if isinstance(held, rest.RowObjects):
            self.identity.release(held)

    def _track(self, listing: XNATListing) -> None:
        with self._lock:
            self._listings.add(listing)

    def _fetcher(self, kind: str, base_uri: str) -> Any:
        def fetch(uri: str, query: dict[str, str]) -> list[dict[str, str]]:
            answer = self.session.get_json(uri, query={k: v for k, v in query.items() if k != "format"})
            try:
                rows: list[dict[str, str]] = answer["ResultSet"]["Result"]
            except (KeyError, TypeError):
                raise XNATValueError(f"{uri}: the server's answer is not a listing (no ResultSet.Result)") from None
            if kind == "resources":
                for row in rows:
                    row.setdefault("ID", row.get("xnat_abstractresource_id", "") or row.get("label", ""))
                    row.setdefault("URI", f"{rest.normalize_uri(base_uri)}/{row['ID']}")
                    row.setdefault("xsiType", row.get("element_name", ""))
            elif kind == "files":
                for row in rows:
                    uri_text = row.get("URI", "")
                    row.setdefault("ID", unquote(uri_text.split("/files/", 1)[1]) if "/files/" in uri_text
                                   else row.get("Name", ""))
            return rows

        return fetch

    def refresh_listings(self) -> None:
        """Forget the rows of every live listing (after a create or a delete)."""
        with self._lock:
            listings = list(self._listings)
        for listing in listings:
            listing.clearcache()

    # -- objects -----------------------------------------------------------------------

    def class_for(self, xsi_type: str | None, default: str) -> Any:
        return _class_for(self.session, xsi_type, default)

    def from_row(self, row: Mapping[str, str], listing: XNATListing, kind: str) -> Any:
        uri = row.get("URI") or f"{listing.uri}/{row.get(listing.id_key, '')}"
        if kind == "files":
            uri = rest.normalize_uri(uri)
        ident = row.get(listing.id_key) or None
        session = self.session
        cls = _class_for(session, row.get("xsiType"), SPECS[kind].default_type)
        parent = listing.parent
        level = rest.COLLECTIONS.get(kind)
        shared_into = None
        if kind in ("subjects", "experiments"):
            project = _listing_project(listing.uri)
            owner = row.get("project") if project else None
            shared_into = project if owner and owner != project else None
        if ident and shared_into:
            # Seen through a project it is shared into: its own label there, its own object,
            # addressed through that project (a relabel then renames the share).
            key: Any = (f"{level}@{shared_into}", ident)
            uri = f"/data/projects/{shared_into}/{kind}/{ident}"
        elif ident and level in ("project", "subject", "experiment"):
            key = (level, ident)  # the common case, without parsing the URI
        else:
            key = rest.identity_key(uri, ident if kind != "files" else None)

        def build() -> Any:
            return cls._bind(session, uri, ident, row, parent)

        obj = self.identity.get_or_create(key, build)
        _take_row(obj, row, parent)
        return obj

    def from_rows(self, rows: ListingRows, listing: XNATListing, kind: str, span: range) -> list[Any]:
        """The objects of the rows at ``span``: :meth:`from_row` for a run of rows at once.

        Projects, subjects and experiments seen in their own project (the common case) are
        looked up in the identity map in one batch, with the class of each xsi type found
        once; a row shared in from another project, without an ID or of another level goes
        through :meth:`from_row`.
        """
        level = rest.COLLECTIONS.get(kind)
        ids = rows.column(listing.id_key)
        if level not in ("project", "subject", "experiment") or ids is None:
            return [self.from_row(RowView(rows, index), listing, kind) for index in span]
        names = ids[span.start:span.stop]
        project = _listing_project(listing.uri) if kind in ("subjects", "experiments") else None
        owners = rows.column("project") if project else None
        source = self._held_objects(rows, ids, level, listing)
        # Checked with C loops over the columns: every ID a non-empty text, no share.
        if source is None or span.step != 1 or not all(names) or set(map(type, names)) != {str} or \
                (owners is not None and not set(owners[span.start:span.stop]) <= {project, "", None}):
            return [self.from_row(RowView(rows, index), listing, kind) for index in span]
        session, parent, default = self.session, listing.parent, SPECS[kind].default_type
        uris, types = rows.column("URI"), rows.column("xsiType")
        # The URI stays in the row unless some row has none; one class when the type is one.
        all_uris = uris is not None and (type(uris) is not list or all(uris))
        types = [None] if types is None else types
        binders = {xsi_type: _class_for(session, xsi_type, default)._row_binder(session, rows, ids, parent)
                   for xsi_type in set(types)}
        one = next(iter(binders.values())) if len(binders) == 1 else None
        make: Callable[[int], Any]
        if one is not None and all_uris:  # the common case: each row's object is one call
            make = one
        else:
            def make(index: int) -> Any:
                bind = one or binders[types[index]]
                uri = None if all_uris or (uris is not None and uris[index]) else f"{listing.uri}/{ids[index]}"
                return bind(index, uri)

        def refresh(index: int, obj: Any) -> None:
            _take_row(obj, RowView(rows, index), parent)

        return self.identity.get_or_create_rows(level, source, span, make, refresh)

    def _held_objects(self, rows: ListingRows, ids: Any, level: str, listing: XNATListing) -> rest.RowObjects | None:
        """The objects of ``rows`` by row (made on first use), or None when two rows share an
        ID (each row then goes through the identity map by key). They are let go of when the
        listing drops the rows (``on_release``) or is itself freed."""
        with self._lock:
            if rows.held is None:
                weakref.finalize(listing, _release_rows, weakref.ref(self), weakref.ref(rows))
                try:
                    unique = len(set(ids)) == len(ids) if type(ids) is list else len(ids) < 2
                except TypeError:  # an ID that is not text: no batch
                    unique = False
                rows.held = rest.RowObjects(level, ids) if unique else _SHARED_IDS
            return rows.held if isinstance(rows.held, rest.RowObjects) else None

    def create_object(self, uri: str, type_: str | None = None, id_: str | None = None,
                      row: dict[str, str] | None = None, parent: Any = None) -> Any:
        """The object at ``uri``: from the identity map, else typed by ``type_`` or one GET."""
        if not isinstance(uri, str) or not uri.startswith(("/data/", "/REST/")):
            raise XNATValueError(f"create_object needs a REST path such as /data/experiments/ID, not {uri!r}")
        uri = rest.normalize_uri(uri)
        pairs = rest.split_uri(uri)
        if not pairs or not pairs[-1][1]:
            raise XNATValueError(f"{uri} is a collection, not an object: add the ID or label")
        key = rest.identity_key(uri, id_)
        existing = self.identity.get(key)
        if existing is not None:
            return existing
        collection = pairs[-1][0]
        if collection == "files":
            cls = self.class_for("xnat:fileData", "xnat:fileData")
            return self.identity.get_or_create(key, lambda: cls._bind(self.session, uri, pairs[-1][1], row, parent))
        if type_ is None:
            type_, fetched = self._fetch_type(uri, collection)
        else:
            fetched = None
        kind = collection if collection in SPECS else "experiments"
        cls = self.class_for(type_, SPECS[kind].default_type)
        ident = id_ or (str(fetched["data_fields"].get("ID")) if fetched and fetched["data_fields"].get("ID")
                        else None)
        key = rest.identity_key(uri, ident)

        def build() -> Any:
            obj = cls._bind(self.session, uri, ident, row, parent)
            if fetched is not None:
                obj._cache["fulldata"] = fetched
            return obj

        return self.identity.get_or_create(key, build)

    def _fetch_type(self, uri: str, collection: str) -> tuple[str, dict[str, Any] | None]:
        if collection == "resources":
            return "xnat:resourceCatalog", None
        answer = self.session.get_json(uri)
        items = [i for i in answer.get("items", []) if not i.get("meta", {}).get("isHistory")] \
            if isinstance(answer, dict) else []
        if not items:
            raise XNATValueError(f"{uri}: the server sent no item to make an object from")
        return items[0].get("meta", {}).get("xsi:type", ""), items[0]

    def forget(self, obj: Any) -> None:
        """After a delete: out of the identity map, and every listing refreshed."""
        self.identity.remove(rest.identity_key(obj._uri or "", obj._id))
        self.identity.remove(("uri", rest.normalize_uri(obj._uri or "")))
        self.refresh_listings()
        parent = obj._parent
        if parent is not None and hasattr(parent, "_after_write"):
            parent._after_write()

    def register_new(self, obj: Any, parent: Any) -> None:
        """After a create: into the identity map, listings refreshed."""
        self.identity.put(rest.identity_key(obj._uri, obj._id), obj)
        self.refresh_listings()
        if parent is not None and hasattr(parent, "_after_write"):
            parent._after_write()

    def clearcache(self) -> None:
        self.identity.clear()
        self.refresh_listings()
        for obj in self.identity.values():
            obj.clearcache()


def _release_rows(layer: weakref.ref[ObjectLayer], rows: weakref.ref[ListingRows]) -> None:
    """A listing was freed: its rows, if something still holds them, let go of their objects."""
    alive_layer, alive_rows = layer(), rows()
    if alive_layer is not None and alive_rows is not None:
        alive_layer._release(alive_rows)


#: ``rows.held`` of a listing where two rows share an ID.
_SHARED_IDS = object()


def _take_row(obj: Any, row: Mapping[str, str], parent: Any) -> None:
    """A listed object seen again: the newer listing values win over what it knew."""
    old = obj._row
    if old is not row:
        obj._row = row if old is None or isinstance(old, RowView) else {**old, **row}
    if obj._parent is None and parent is not None:
        obj._parent = parent


def _class_for(session: Any, xsi_type: str | None, default: str) -> Any:
    lookup = getattr(session.classes, "lookup", None)
    if lookup is None:
        raise XNATValueError("this session has no classes (connected with no_parse_model=True?)")
    cls = lookup.get(xsi_type or "") or lookup.get(default)
    if cls is None:
        raise XNATValueError(f"the server's schemas define neither {xsi_type!r} nor {default!r}")
    return cls


@functools.lru_cache(maxsize=256)
def _listing_project(listing_uri: str) -> str | None:
    """The project a listing is under, if any: a row whose own project differs is a share
    (parsed once per listing URI, not once per row)."""
    if not listing_uri.startswith(("/data/projects/", "/data/archive/projects/")):
        return None
    pairs = rest.split_uri(listing_uri)
    return pairs[0][1] if pairs and pairs[0][0] == "projects" else None
