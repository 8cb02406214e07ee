"""The base of every generated class: an XNAT object backed by the REST API.

An object is one of three kinds:

* **bound**: made by the object layer (a listing row, :meth:`create_object`, or creation
  with ``parent=``). It knows its ``uri`` and session; a field read comes from the listing
  row it was made from when the row has that column (no request), else from one
  ``GET uri?format=json`` that is then cached (:attr:`fulldata`); a write is
  ``PUT fulluri?xsiType=<type>&<type>/<field>=<value>``.
* **nested**: a part of a bound object's document (``subject.demographics``,
  ``session.scanner``); reads slice the root's :attr:`fulldata`, writes PUT the root
  with an xpath into the part.
* **local**: constructed by hand without ``parent=`` (``classes.MrSessionData()``): a
  plain value holder over ``datafields``, never touching the network.

Creation (``classes.SubjectData(parent=project, label="S1", **fields)``) checks every
field and the parent's type before any request, asks the server whether the label is
taken (that label only), then PUTs once; see :mod:`xnat.classes.creation`.

Nothing here makes a request in ``repr`` or ``dir``.
"""

from __future__ import annotations

import datetime
import html
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast, overload

from ..exceptions import XNATObjectDestroyedError, XNATValueError
from . import rest
from .creation import assign_fields, create_on_server
from .listing import ListingRows, RowView
from .sublisting import child_value

if TYPE_CHECKING:  # pragma: no cover
    from ..schema.model import TypeDef
    from .properties import ChildProperty

__all__ = ["XNATBaseObject", "restore_object"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_V = TypeVar("_V")

# Striped locks: one per object would cost memory on big listings.
_LOCKS = [threading.RLock() for _ in range(64)]

_LOCAL, _BOUND, _NESTED = "local", "bound", "nested"


class _Extra(Generic[_V]):
    """Rarely set per-object state (deleted, caching switch, nested part, local fields, fetched
    document): kept in one dict made on the first write, so a listed object has none."""

    def __init__(self, default: _V) -> None:
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Extra[_V]: ...

    @overload
    def __get__(self, obj: XNATBaseObject, owner: type | None = None) -> _V: ...

    def __get__(self, obj: XNATBaseObject | None, owner: type | None = None) -> _V | _Extra[_V]:
        if obj is None:
            return self
        extra = obj._extra
        return self.default if extra is None else cast(_V, extra.get(self.name, self.default))

    def __set__(self, obj: XNATBaseObject, value: _V) -> None:
        if obj._extra is None:
            obj._extra = {}
        obj._extra[self.name] = value


class _DestroyedFlag(_Extra[bool]):
    """``_destroyed``: also notes, once for the process, that some object was deleted, so that
    reads skip the walk up the parents while nothing has been (see ``_check_alive``)."""

    def __set__(self, obj: XNATBaseObject, value: bool) -> None:
        if value:
            XNATBaseObject._any_destroyed = True
        super().__set__(obj, value)


class _SessionAttribute:
    """``xnat_session``: on an instance the session it belongs to; on a class the session whose
    schemas built it (``_class_session``, set by the class factory)."""

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return getattr(owner, "_class_session", None)
        return obj._session_of

    def __set__(self, obj: Any, value: Any) -> None:
        obj._session_of = value


class XNATBaseObject:
    """An XNAT object of one data type (its xsi type is ``__xsi_type__``).

    Instances are small: a few slots (``__slots__`` here, in the behaviour mixins and in
    every generated class), the listing row kept as the listing's column store and a row
    number, the URI of a listed object read from that row, rare state in one dict made on
    first use. A script may still hang its own attributes on an object, as on xnatpy's: the
    ``__dict__`` slot costs a pointer, and the dict is made only when one is set.
    """

    __slots__ = ("__dict__", "__weakref__", "_extra", "_fieldname", "_id", "_index", "_mode", "_parent", "_path",
                 "_rows", "_session_of")

    __xsi_type__: ClassVar[str] = ""
    #: The schema type this class was built from (set by the class factory).
    __schema_type__: ClassVar[TypeDef | None] = None
    #: Python name -> descriptor, for every schema field of the class and its bases.
    __fields__: ClassVar[dict[str, Any]] = {}
    #: The listing column (and field) used as the human key.
    SECONDARY_LOOKUP_FIELD: ClassVar[str | None] = "label"
    #: Subjects and experiments change their label with ``PUT <uri>?label=`` (XNAT refuses
    #: an xpath write of the label: "Label must be modified through separate URI").
    _RELABEL_BY_QUERY: ClassVar[bool] = False
    #: The session: on a class, the one whose schemas built it (set by the class factory);
    #: on an instance, the one it belongs to.
    xnat_session: Any = _SessionAttribute()
    _class_session: ClassVar[Any] = None
    #: Whether any object of this process was deleted: until then no object can be a deleted
    #: one or belong to one, and a read need not walk its parents to find out.
    _any_destroyed: ClassVar[bool] = False

    # The slots' types.
    _session_of: Any
    _path: str | None
    _id: str | None
    _parent: Any
    _fieldname: str | None
    _mode: str
    _rows: ListingRows | Mapping[str, str] | None
    _index: int
    _extra: dict[str, Any] | None

    # Rare per-instance state, with its defaults (see _Extra).
    _destroyed = _DestroyedFlag(False)
    _caching = _Extra["bool | None"](None)
    _root = _Extra["XNATBaseObject | None"](None)
    _nested_item = _Extra["dict[str, Any] | None"](None)
    _datafields = _Extra["Mapping[str, Any]"](MappingProxyType({}))
    _cache_store = _Extra["dict[str, Any] | None"](None)

    def __init__(
        self,
        uri: str | None = None,
        xnat_session: Any = None,
        id_: str | None = None,
        datafields: dict[str, Any] | None = None,
        parent: Any = None,
        fieldname: str | None = None,
        overwrites: dict[str, Any] | None = None,
        session: Any = None,
        **fields: Any,
    ) -> None:
        self._setup(
            next((s for s in (session, xnat_session, type(self).xnat_session) if s is not None), None),
            uri, id_, parent, fieldname,
        )
        self._datafields = dict(datafields or {})
        if overwrites:
            self._datafields.update(overwrites)
        for name in fields:
            settable = any(hasattr(vars(c).get(name), "__set__") for c in type(self).__mro__)
            if name not in type(self).__fields__ and name != "id" and not settable:
                raise XNATValueError(f"{type(self).__name__} has no field {name!r}")
        if parent is not None and uri is None and fieldname is None:
            create_on_server(self, parent, fields)
            return
        assign_fields(self, fields)

    def _local_fields(self) -> dict[str, Any]:
        """The fields of a local object (not on a server yet): its own dict, made in ``__init__``."""
        fields = self._datafields
        assert isinstance(fields, dict), "only a local object keeps its fields"
        return fields

    def _setup(self, session: Any, uri: str | None, id_: str | None, parent: Any, fieldname: str | None) -> None:
        self._session_of = session
        self._path = uri
        self._id = id_
        self._parent = parent
        self._fieldname = fieldname
        self._mode = _LOCAL
        self._rows = None
        self._index = 0
        self._extra = None

    # -- the listing row ---------------------------------------------------------------------

    @property
    def _row(self) -> Mapping[str, str] | None:
        """The listing row the object was made from (a view of the listing's columns), or a
        dict of the values known from elsewhere, or None."""
        rows = self._rows
        if isinstance(rows, ListingRows):
            return RowView(rows, self._index)
        return rows

    @_row.setter
    def _row(self, row: Mapping[str, str] | None) -> None:
        if type(row) is RowView:
            self._rows, self._index = row.rows, row.index
        else:
            self._rows = row

    @property
    def _uri(self) -> str | None:
        path = self._path
        if path is None and self._rows is not None:  # a listed object: the row's URI
            rows = self._rows
            return (rows.value(self._index, "URI") if isinstance(rows, ListingRows) else rows.get("URI")) or None
        return path

    @_uri.setter
    def _uri(self, uri: str | None) -> None:
        self._path = uri

    # -- construction by the object layer ------------------------------------------------

    @classmethod
    def _bind(cls, session: Any, uri: str, id_: str | None = None, row: dict[str, str] | None = None,
              parent: Any = None) -> XNATBaseObject:
        """A bound object for ``uri`` (no request); used by listings and create_object."""
        obj = cls.__new__(cls)
        obj._setup(session, uri, id_, parent, None)
        obj._mode = _BOUND
        obj._row = row
        return obj

    @classmethod
    def _row_binder(cls, session: Any, rows: ListingRows, ids: Sequence[str],
                    parent: Any) -> Callable[..., XNATBaseObject]:
        """``bind(index, uri=None)``: a bound object for row ``index`` of a listing, whose ID is
        ``ids[index]``; ``uri`` None: the row's URI column. One binder serves a run of rows."""
        new = cls.__new__

        def bind(index: int, uri: str | None = None) -> XNATBaseObject:
            # _setup written out: one call per listed row, where a call and a second pass cost
            obj = new(cls)
            obj._session_of = session
            obj._path = uri
            obj._id = ids[index]
            obj._parent = parent
            obj._fieldname = None
            obj._mode = _BOUND
            obj._rows = rows
            obj._index = index
            obj._extra = None
            return obj

        return bind

    @classmethod
    def _nested(cls, root: XNATBaseObject, xpath: str, item: dict[str, Any] | None,
                holder: XNATBaseObject | None = None) -> XNATBaseObject:
        """A part of ``root``'s document at ``xpath`` (``demographics``, ``scanner``...), inside
        ``holder`` (its parent: ``root``, or a nested part such as ``demographics`` for ``weight``)."""
        obj = cls.__new__(cls)
        obj._setup(root.xnat_session, None, None, holder if holder is not None else root, xpath)
        obj._mode = _NESTED
        obj._root = root
        obj._nested_item = item
        return obj

    # -- pickling ----------------------------------------------------------------------------

    #: What survives pickling a bound object: its session (as a recipe, see
    #: :mod:`xnat.services.recipe`), URI, xsi type, ID and the listing row it was made from.
    __attrs__ = ("xnat_session", "uri", "__xsi_type__", "id", "row")

    def __reduce__(self) -> tuple[Any, ...]:
        if self._mode != _BOUND or self._uri is None:
            raise TypeError(f"only an object read from a server can be pickled, not this {self._mode} "
                            f"{type(self).__name__}: pickle the object it belongs to")
        row = dict(self._row) if self._row is not None else None
        return (restore_object, (self.xnat_session, self._uri, type(self).__xsi_type__, self._id, row))

    # -- identity --------------------------------------------------------------------------

    @property
    def uri(self) -> str | None:
        """The REST path of the object, when known."""
        return self._uri if self._mode != _NESTED else None

    @property
    def fulluri(self) -> str | None:
        """The REST path requests go to (the same as :attr:`uri` here)."""
        return self.uri

    @property
    def id(self) -> str | None:
        """The object's ID (accession ID, scan ID, resource number, file path)."""
        if self._id is not None:
            return self._id
        if self._mode == _LOCAL:
            value = self._datafields.get("ID")
            return None if value is None else str(value)
        value = self._get_field("ID")
        return None if value is None else str(value)

    @id.setter
    def id(self, value: Any) -> None:
        if self._mode != _LOCAL:
            raise XNATValueError(f"the ID of {self!r} cannot be changed (XNAT: 'ID cannot be modified')")
        self._local_fields()["ID"] = None if value is None else str(value)

    @property
    def parent(self) -> Any:
        """The containing object, when known (for a listed object: the listing's owner)."""
        if self._parent is None and self._mode == _BOUND and self._uri:
            self._parent = self._parent_from_uri()
        return self._parent

    def _parent_from_uri(self) -> Any:
        pairs = rest.split_uri(self._uri or "")
        if len(pairs) < 2:
            return None
        path = "/data/" + "/".join(f"{c}/{v}" for c, v in pairs[:-1])
        try:
            return self.xnat_session.create_object(path)
        except Exception:  # noqa: BLE001 -- an unreachable parent is reported as unknown
            logger.debug("could not resolve the parent of %s", self._uri)
            return None

    @property
    def fieldname(self) -> str | None:
        return self._fieldname

    @property
    def xpath(self) -> str:
        """The xpath writes use: ``xnat:mrSessionData`` or ``<root>/<part>[@xsi:type=...]``."""
        if self._mode == _NESTED and self._root is not None:
            schema = type(self).__schema_type__
            predicate = "" if schema is None or schema.anonymous else f"[@xsi:type={self.__xsi_type__}]"
            return f"{self._root.xpath}/{self._fieldname}{predicate}"
        return self.__xsi_type__

    @property
    def is_destroyed(self) -> bool:
        return self._destroyed

    def _check_alive(self) -> None:
        if not XNATBaseObject._any_destroyed:  # the common case: nothing was deleted
            return
        # A scan of a deleted session is gone too: walk the known parents (no requests).
        node: Any = self
        while isinstance(node, XNATBaseObject):
            extra = node._extra
            if extra is None:  # nothing rare set: neither deleted nor a nested part
                node = node._parent
                continue
            if extra.get("_destroyed"):
                what = "was deleted" if node is self else \
                    f"belongs to {type(node).__name__} {node._id}, which was deleted"
                raise XNATObjectDestroyedError(
                    f"{type(self).__name__} {self._id or self._uri} {what}; it cannot be used any more"
                )
            root = extra.get("_root")
            node = root if root is not None else node._parent

    def _session(self) -> Any:
        """The session, for a request (refusing a deleted object)."""
        self._check_alive()
        if self._root is not None:
            self._root._check_alive()
        if self.xnat_session is None:
            raise XNATValueError(f"{type(self).__name__} is not connected to a session")
        return self.xnat_session

    # -- caching ------------------------------------------------------------------------------

    @property
    def caching(self) -> bool:
        """Whether this object caches what it fetched (``None`` set: follow the session)."""
        if self._caching is not None:
            return self._caching
        return bool(getattr(self.xnat_session, "caching", True))

    @caching.setter
    def caching(self, value: bool | None) -> None:
        self._caching = value

    @property
    def _cache(self) -> dict[str, Any]:
        """Fetched document and listings of this object, made on first use."""
        store: dict[str, Any] | None = self._cache_store
        if store is None:
            with _LOCKS[id(self) % 64]:
                store = self._cache_store
                if store is None:
                    store = self._cache_store = {}
        return store

    def clearcache(self) -> None:
        """Forget the fetched document and listings; the listing row is forgotten too."""
        with _LOCKS[id(self) % 64]:
            self._cache.clear()
            if self._row is not None:
                self._row = {k: v for k, v in self._row.items() if k in ("ID", "URI", "xsiType")}

    def _cached(self, key: str, make: Callable[[], _T]) -> _T:
        lock = _LOCKS[id(self) % 64]
        with lock:
            if key in self._cache and self.caching:
                return cast(_T, self._cache[key])
        value = make()
        if self.caching:
            with lock:
                value = self._cache.setdefault(key, value)
        return value

    # -- the document -----------------------------------------------------------------------

    @property
    def fulldata(self) -> dict[str, Any]:
        """The object's document (``GET uri?format=json``, the non-history item); cached."""
        if self._mode == _LOCAL:
            return {"data_fields": dict(self._datafields), "children": [], "meta": {}}
        if self._mode == _NESTED:
            self._session()
            return self._nested_item or {"data_fields": {}, "children": [], "meta": {}}
        self._session()
        return self._cached("fulldata", self._fetch_fulldata)

    def _fetch_fulldata(self) -> dict[str, Any]:
        answer = self._session().get_json(self._uri)
        items = answer.get("items", []) if isinstance(answer, dict) else []
        current: list[dict[str, Any]] = [item for item in items if not item.get("meta", {}).get("isHistory")]
        if not current:
            raise XNATValueError(f"{self._uri}: the server sent no current item")
        return current[0]

    @property
    def data(self) -> dict[str, Any]:
        """The object's own fields (``data_fields`` of :attr:`fulldata`)."""
        if self._mode == _LOCAL:
            return dict(self._datafields)
        return dict(self.fulldata.get("data_fields", {}))

    @property
    def is_history(self) -> bool:
        """Whether the document held is a history version (its ``meta.isHistory``)."""
        return bool(self.fulldata.get("meta", {}).get("isHistory", False))

    @property
    def insert_date(self) -> datetime.datetime | None:
        """When the object was stored, from its listing row (``insert_date``); None when not listed."""
        text = (self._row or {}).get("insert_date") or ""
        for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.datetime.strptime(text, fmt)
            except ValueError:
                continue
        return None

    def _children(self, xpath: str) -> list[dict[str, Any]]:
        """The child items at ``xpath`` in the document (``scans/scan``, ``demographics``...)."""
        if self._flattened():  # e.g. scan parameters: "parameters/addParam"
            holder, key = self._in_holder(xpath)
            return holder._children(key)
        for child in self.fulldata.get("children", []):
            if child.get("field") == xpath:
                return [i for i in child.get("items", []) if not i.get("meta", {}).get("isHistory")]
        return []

    # --- storage seam ----------------------------------------------------------------------
    def _get_field(self, name: str) -> Any:
        """The raw value of schema field ``name`` (as the server spells it), or None."""
        mode = self._mode
        if mode == _LOCAL:
            return self._datafields.get(name)
        self._check_alive()
        if mode == _NESTED and self._flattened():  # single nested parts live in their holder's document
            holder, key = self._in_holder(name)
            return holder._get_field(key)
        rows = self._rows
        if isinstance(rows, ListingRows):  # a listed object: read its row without a view
            value = rows.value(self._index, name)
            if value is not None:
                return value if value != "" else None
        elif rows is not None and name in rows:
            value = rows[name]
            return value if value != "" else None
        return self.fulldata.get("data_fields", {}).get(name)

    def _content_text(self) -> Any:
        """The text of a simpleContent part (``scanner``): its own name's value in the document holding it."""
        if self._mode != _NESTED or self._root is None or not self._fieldname:
            return None
        if self._nested_item is not None:
            return self._nested_item.get("data_fields", {}).get(self._fieldname.rsplit("/", 1)[-1])
        holder, key = self._in_holder(None)
        return holder._get_field(key)

    def _flattened(self) -> bool:
        """A nested part with no item of its own: its values live in its holder's document."""
        return self._mode == _NESTED and self._nested_item is None and self._root is not None

    def _in_holder(self, name: str | None) -> tuple[XNATBaseObject, str]:
        """(the object whose document holds this flattened part, the key of ``name`` there).

        XNAT writes a single part without an item of its own into the document around it:
        ``scanner/model`` in the session's, ``weight/units`` in its ``demographics`` item's.
        """
        holder = self._parent if isinstance(self._parent, XNATBaseObject) else self._root
        assert holder is not None and self._fieldname is not None, "only a nested part has a holder"
        prefix = holder._fieldname if holder is not self._root else None
        local = self._fieldname
        if prefix and local.startswith(prefix + "/"):
            local = local[len(prefix) + 1:]
        return holder, local if name is None else f"{local}/{name}"

    def _set_field(self, name: str, text: str) -> None:
        """Store ``text`` (already converted and checked) for schema field ``name``."""
        if self._mode == _LOCAL:
            self._local_fields()[name] = text
            return
        if name == "label" and self._RELABEL_BY_QUERY and self._mode == _BOUND:
            self._relabel(text)
            return
        self._write({f"{self.xpath}/{name}": text}, name, text)

    def _relabel(self, label: str) -> None:
        if label.startswith(".") or "/" in label:
            raise XNATValueError(f"label: {label!r} is not a valid XNAT label (letters, digits, -, _ and .)")
        session = self._session()
        session.put(self.fulluri, query={"label": label})
        self._after_write()
        if self._row is not None:
            self._row = {**self._row, "label": label}
        layer = getattr(session, "_layer", None)
        if layer is not None:
            layer.refresh_listings()

    def _del_field(self, name: str) -> None:
        """Clear schema field ``name`` (XNAT's ``NULL``)."""
        if self._mode == _LOCAL:
            self._local_fields().pop(name, None)
            return
        self._write({f"{self.xpath}/{name}": "NULL"}, name, "")

    def _write(self, query: dict[str, str], name: str | None = None, text: str | None = None) -> None:
        root = self._root if self._mode == _NESTED and self._root is not None else self
        session = self._session()
        session.put(root.fulluri, query={"xsiType": root.__xsi_type__, **query})
        root._after_write()
        if self._mode == _BOUND and name is not None and self._row is not None and name in self._row:
            self._row = {**self._row, name: text or ""}

    def _after_write(self) -> None:
        with _LOCKS[id(self) % 64]:
            self._cache.pop("fulldata", None)

    def _get_child(self, prop: ChildProperty) -> Any:
        """A nested object, a sub-listing of nested objects, or a list of simple values."""
        if self._mode == _LOCAL:
            return self._datafields.get(prop.xpath)
        return child_value(self, prop, XNATBaseObject)

    # -- xnatpy's generic access ---------------------------------------------------------------

    def get(self, name: str, type_: Any = None) -> Any:
        """A field by its schema name, converted with ``type_`` when given."""
        value = self._get_field(name)
        return type_(value) if type_ is not None and value is not None else value

    def set(self, name: str, value: Any, type_: Any = None) -> None:
        """Set a field by Python or schema name (checked against the schema when known)."""
        descriptor = type(self).__fields__.get(name) or getattr(type(self), "__schema_fields__", {}).get(name)
        if descriptor is not None and hasattr(descriptor, "facets"):
            descriptor.__set__(self, value)
            return
        if descriptor is None and self._mode != _LOCAL and self.xnat_session is not None \
                and getattr(type(self), "__schema_type__", None) is not None:
            raise XNATValueError(f"{type(self).__name__} ({self.__xsi_type__}) has no field {name!r}")
        self._set_field(name, str(type_(value) if type_ is not None else value))

    def mset(self, values: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Set several fields with one request (each checked first; nothing sent on a bad one)."""
        from .properties import check_facets, convert_from_text, convert_to_text

        query: dict[str, str] = {}
        written: dict[str, str] = {}
        for name, value in {**(values or {}), **kwargs}.items():
            descriptor = type(self).__fields__.get(name) or getattr(type(self), "__schema_fields__", {}).get(name)
            if descriptor is None:
                raise XNATValueError(f"{type(self).__name__} has no field {name!r}")
            if not hasattr(descriptor, "facets"):
                descriptor.__set__(self, value)  # a nested object or a list: raises what to do instead
            value_type = getattr(descriptor, "value_type", descriptor.type)  # a simpleContent element: its text's
            try:
                text = convert_to_text(value_type, value)
                check_facets(descriptor.name, value_type, descriptor.facets, convert_from_text(value_type, text), text)
            except ValueError as exc:
                raise XNATValueError(f"{descriptor.name}: {exc}") from None
            query[f"{self.xpath}/{descriptor.xpath}"] = text
            written[descriptor.xpath] = text
        if self._mode == _LOCAL:
            self._local_fields().update(written)
            return
        self._write(query)
        row = self._row
        if row is not None and any(name in row for name in written):  # keep the row true
            self._row = {**row, **{name: text for name, text in written.items() if name in row}}

    def del_(self, name: str) -> None:
        """Clear a field (XNAT's ``NULL``)."""
        descriptor = type(self).__fields__.get(name)
        self._del_field(descriptor.xpath if descriptor is not None else name)

    def delete(self, remove_files: bool = True) -> None:
        """Delete the object on the server (``removeFiles`` too); the object is then unusable."""
        if self._mode != _BOUND:
            raise XNATValueError(f"{type(self).__name__} is not stored on a server; nothing to delete")
        session = self._session()
        session.delete(self.fulluri, query={"removeFiles": "true" if remove_files else "false"})
        self._destroyed = True
        forget = getattr(session, "_forget_object", None)
        if forget is not None:
            forget(self)

    def external_uri(self, query: dict[str, str] | None = None, scheme: str | None = None) -> str:
        """The full URL of the object on the server."""
        return str(self._session().url_for(self, query=query, scheme=scheme))

    # -- presentation: never a request -------------------------------------------------------------

    def _known_key(self) -> str | None:
        """The secondary key when known without a request."""
        key = type(self).SECONDARY_LOOKUP_FIELD
        if not key:
            return None
        if self._mode == _LOCAL:
            value = self._datafields.get(key)
            return None if value is None else str(value)
        if self._row is not None and self._row.get(key):
            return self._row[key]
        data = self._cache.get("fulldata")
        value = data.get("data_fields", {}).get(key) if isinstance(data, dict) else None
        return None if value is None else str(value)

    def __repr__(self) -> str:
        name = type(self).__name__
        if self._mode == _LOCAL:
            return f"<{name} {self._uri or '(not stored)'}>"
        if self._mode == _NESTED:
            return f"<{name} {self._fieldname} of {self._root!r}>"
        key = self._known_key()
        ident = self._id or (self._row or {}).get("ID") or key or self._uri
        dead = " (deleted)" if self._destroyed else ""
        return f"<{name} {ident}{f' ({key})' if key and key != ident else ''}{dead}>"

    def _repr_html_(self) -> str:
        """Jupyter's view: a small table of the fields already known (listing row, fetched
        document) and the sizes of the child listings already loaded. Never a request."""
        fields: dict[str, Any] = {}
        if self._mode == _LOCAL:
            fields.update(self._datafields)
        else:
            data = self._cache.get("fulldata")
            if isinstance(data, dict):
                fields.update(data.get("data_fields", {}))
            fields.update(self._row or {})
        rows = [(str(name), str(value)) for name, value in sorted(fields.items()) if value not in (None, "")]
        for key, listing in sorted(self._cache.items()):
            size = getattr(listing, "loaded_size", None) if key.startswith("listing:") else None
            if size is not None:
                rows.append((key.partition(":")[2], f"{size} entries"))
        body = "".join(f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>" for name, value in rows)
        title = html.escape(repr(self))
        return f"<table><caption>{title}</caption><tbody>{body}</tbody></table>"

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        return sorted(n for n in names if not n.startswith("_") or n == "__xsi_type__")


def restore_object(session: Any, uri: str, xsi_type: str, id_: str | None,
                   row: dict[str, str] | None) -> XNATBaseObject:
    """A pickled object, back in the (rebuilt) session: no request, the row answers what it holds."""
    return cast(XNATBaseObject, session.create_object(uri, type_=xsi_type, datafields=row, id_=id_))
