"""pyxnat's selected objects (``EObject``) and collections (``CObject``).

An object is a URI and, when it came out of a listing, the listing's row: ``id()``,
``label()`` and ``datatype()`` then cost nothing (pyxnat lists the whole parent again for
each). A collection is lazy: iterating it lists each parent once (one request per parent,
JSON) and filters the rows with pyxnat's ``fnmatch`` globs on the ID (as pyxnat does).
``collection.where([...])`` keeps the objects whose subject the constraints select
(:mod:`xnat.compat.subjects`), filtering as high up the chain as it can: at the subjects
level when the chain has one, so that nothing is listed below the subjects left out. A
``//level`` path with several routes is a :class:`Union` of one collection per route.

The chaining methods (``subjects()``, ``experiment("E")``, ...) are written out rather than
made by a metaclass, so that editors and type checkers see them. A level that does not hang
below this one (``subject.scans()``) is a clear error, not an empty list.

Deliberate difference: where pyxnat answers a dead server or a wrong path with ``[]``,
these raise (:mod:`xnat.compat.errors`); only ``exists()`` answers False for a missing object.
"""

from __future__ import annotations

import fnmatch
import os
import weakref
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from ..exceptions import XNATIOError, XNATValueError
from ..xmlsafe import parse_xml
from . import transfers
from .attributes import Attributes, flatten_item
from .errors import NotSupportedError
from .paths import LEVELS, ROOT_CHILDREN
from .projects import ProjectAdmin
from .provenance import Provenance
from .search import resolve
from .subjects import matching_subjects

__all__ = ["CALLBACKS", "TAGS", "CObject", "Derived", "EObject", "Experiment", "File", "Node", "Project", "Resource",
           "Subject", "Union", "element_class", "subject_of"]

_MISSING = (403, 404)
#: listing columns asked for beside XNAT's defaults: an experiment's subject, so that where()
#: needs no request per experiment (XNAT's default experiment columns, plus subject_ID)
_COLUMNS = {"experiments": "ID,label,xsiType,date,project,subject_ID,insert_date,URI"}
#: why tags are not offered: pyxnat 1.6.4's own fail on first use (they read the accessibility
#: of the ``metabase_<user>`` project before creating it) and write rows as characters on Python 3
TAGS = ("tags are not offered: pyxnat 1.6.4's own do not work on Python 3 (they fail on first use); "
        "keep such lists in a resource file of your own project instead")


#: pyxnat's ``manage.register_callback``: per session, called with (collection, element) for every
#: element a collection yields. Weak keys: a callback goes with its closed session.
CALLBACKS: weakref.WeakKeyDictionary[Any, Callable[[Any, Any], Any]] = weakref.WeakKeyDictionary()


class Node:
    """What can have children: the chaining methods of pyxnat, shared by objects and collections."""

    _level = ""

    def _allowed(self) -> tuple[str, ...]:
        return ROOT_CHILDREN if self._level == "root" else LEVELS[self._level].children

    def _check_child(self, level: str) -> None:
        if level not in self._allowed():
            what = "the top level" if self._level == "root" else f"a {self._level[:-1]}"
            below = ", ".join(self._allowed()) or "nothing"
            raise XNATValueError(f"{level} do not hang below {what}: it has {below}")

    def _child(self, level: str, name: str) -> Any:
        raise NotImplementedError

    def _children(self, level: str, id_filter: str) -> CObject:
        raise NotImplementedError

    def project(self, id: str) -> Project:
        return self._child("projects", id)  # type: ignore[no-any-return]  # the level fixes the class

    def projects(self, id_filter: str = "*") -> CObject:
        return self._children("projects", id_filter)

    def subject(self, id: str) -> Subject:
        return self._child("subjects", id)  # type: ignore[no-any-return]  # the level fixes the class

    def subjects(self, id_filter: str = "*") -> CObject:
        return self._children("subjects", id_filter)

    def experiment(self, id: str) -> Experiment:
        return self._child("experiments", id)  # type: ignore[no-any-return]  # the level fixes the class

    def experiments(self, id_filter: str = "*") -> CObject:
        return self._children("experiments", id_filter)

    def scan(self, id: str) -> EObject:
        return self._child("scans", id)  # type: ignore[no-any-return]  # always an EObject

    def scans(self, id_filter: str = "*") -> CObject:
        return self._children("scans", id_filter)

    def assessor(self, id: str) -> Derived:
        return self._child("assessors", id)  # type: ignore[no-any-return]  # the level fixes the class

    def assessors(self, id_filter: str = "*") -> CObject:
        return self._children("assessors", id_filter)

    def reconstruction(self, id: str) -> Derived:
        return self._child("reconstructions", id)  # type: ignore[no-any-return]  # the level fixes the class

    def reconstructions(self, id_filter: str = "*") -> CObject:
        return self._children("reconstructions", id_filter)

    def resource(self, id: str) -> Resource:
        return self._child("resources", id)  # type: ignore[no-any-return]  # the level fixes the class

    def resources(self, id_filter: str = "*") -> CObject:
        return self._children("resources", id_filter)

    def in_resource(self, id: str) -> Resource:
        return self._child("in_resources", id)  # type: ignore[no-any-return]  # the level fixes the class

    def in_resources(self, id_filter: str = "*") -> CObject:
        return self._children("in_resources", id_filter)

    def out_resource(self, id: str) -> Resource:
        return self._child("out_resources", id)  # type: ignore[no-any-return]  # the level fixes the class

    def out_resources(self, id_filter: str = "*") -> CObject:
        return self._children("out_resources", id_filter)

    def file(self, id: str) -> File:
        return self._child("files", id)  # type: ignore[no-any-return]  # the level fixes the class

    def files(self, id_filter: str = "*") -> CObject:
        return self._children("files", id_filter)


class EObject(Node):
    """One object of the archive, by URI; nothing is sent until it is asked something."""

    def __init__(self, session: Any, uri: str, level: str, row: dict[str, str] | None = None,
                 parent: EObject | None = None) -> None:
        self._session = session
        self._uri = uri
        self._level = level
        self._row = row
        self._parent = parent
        self.attrs = Attributes(self)

    def __repr__(self) -> str:  # no request: pyxnat sends up to four here
        return f"<{type(self).__name__} Object> {self._uri.rpartition('/')[2]}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EObject) and other._uri == self._uri

    def __hash__(self) -> int:
        return hash(self._uri)

    # -- chaining -------------------------------------------------------------------
    def _child(self, level: str, name: str) -> EObject:
        self._check_child(level)
        # A file may sit in a folder of its resource ("sub/b.txt"); nothing else has a slash.
        parts = name.split("/") if level == "files" else [name]
        if not name or any(part in ("", ".", "..") or "/" in part for part in parts):
            raise XNATValueError(f"{name!r} is not a valid {level[:-1]} ID or label")
        segment = LEVELS[level].segment
        path = "/".join(quote(part, safe="") for part in parts)
        return element_class(level)(self._session, f"{self._uri}/{segment}/{path}", level, parent=self)

    def _children(self, level: str, id_filter: str) -> CObject:
        self._check_child(level)
        return CObject(self._session, lambda: [self], level, id_filter)

    def _list(self, level: str) -> list[dict[str, str]]:
        """The rows of the listing of ``level`` below this object (one request)."""
        query = {"columns": _COLUMNS[level]} if level in _COLUMNS else None
        document = self._session.get_json(f"{self._uri}/{LEVELS[level].segment}", query=query)
        return list(document["ResultSet"]["Result"])

    def parent(self) -> EObject | None:
        """The object this one hangs below (None at the top)."""
        return self._parent

    def tag(self, name: str) -> None:
        raise NotSupportedError(TAGS)

    untag = tag

    # -- identity -------------------------------------------------------------------
    def _document_row(self) -> dict[str, str]:
        if self._row is None:
            document = self._session.get_json(self._uri)
            row = flatten_item(document)
            items = document.get("items") or [{}]
            row["xsiType"] = str((items[0].get("meta") or {}).get("xsi:type", ""))
            self._row = row
        return self._row

    def id(self) -> str:
        """The XNAT ID (an accession number for subjects and experiments)."""
        return self._document_row().get(LEVELS[self._level].id_column, "")

    def label(self) -> str:
        """The label (the ID where the level has no labels)."""
        return self._document_row().get(LEVELS[self._level].label_column, "")

    def datatype(self) -> str | None:
        """The xsi type, e.g. ``xnat:mrSessionData``."""
        row = self._document_row()
        return row.get("xsiType") or row.get("element_name") or LEVELS[self._level].default_type

    def exists(self) -> bool:
        """Whether the object is there and readable; other failures (a dead server) raise."""
        response = self._session.get(self._uri, format="json", accepted_status=(200, *_MISSING))
        return bool(response.status_code == 200)

    def get(self) -> str:
        """The object's XML document."""
        return str(self._session.get(self._uri, format="xml").text)

    def xpath(self, expression: str) -> list[Any]:
        """Evaluate an XPath on the object's XML document (namespace prefixes ``xnat``, ``xdat``...)."""
        content = self._session.get(self._uri, format="xml").content
        tree = parse_xml(content, f"the document of {self._uri}")
        namespaces = {key: value for key, value in tree.nsmap.items() if key}
        found = tree.xpath(expression, namespaces=namespaces)
        return found if isinstance(found, list) else [found]  # a count or a string for scalar expressions

    def children(self, show_names: bool = True) -> list[str] | dict[str, list[str]]:
        """The levels below this one; with ``show_names`` also the IDs in each (one listing per level)."""
        levels = list(self._allowed())
        if not show_names:
            return levels
        return {level: self._children(level, "*").get() for level in levels}

    # -- writing --------------------------------------------------------------------
    def create(self, **params: Any) -> EObject:
        """Create the object (and missing parents); ``experiments="xnat:petSessionData"`` picks a type.

        Other keywords are fields (``xnat:subjectData/group="control"``); ``params=`` adds query
        parameters such as ``event_reason``.
        """
        extra = dict(params.pop("params", None) or {})
        params.pop("use_label", None)
        types = {name: params.pop(name) for name in list(params) if name in LEVELS}
        if self._parent is not None and self._parent._level in LEVELS and not self._parent.exists():
            self._parent.create(**types)
        query: dict[str, Any] = {str(key): str(value) for key, value in params.items()}
        datatype = types.get(self._level) or LEVELS[self._level].default_type
        if datatype:
            query["xsiType"] = datatype
        query.update(extra)
        self._session.put(self._uri, query=query)
        self._row = None
        return self

    insert = create

    def delete(self, delete_files: bool = True) -> None:
        """Delete the object (its files too, unless ``delete_files=False``)."""
        self._session.delete(self._uri, query={"removeFiles": "true" if delete_files else "false"})
        self._row = None


class Project(EObject, ProjectAdmin):
    """A project: its data, and its users, settings and pipelines (:mod:`xnat.compat.projects`)."""


class Subject(EObject):
    """A subject; also shared into other projects."""

    def share(self, project: str, label: str | None = None, primary: bool = False) -> None:
        """Share into ``project`` (optionally under another label)."""
        query = {"primary": "true"} if primary else {}
        if label:
            query["label"] = label
        self._session.put(f"{self._uri}/projects/{quote(project, safe='')}", query=query)

    def unshare(self, project: str) -> None:
        """Stop sharing into ``project``."""
        self._session.delete(f"{self._uri}/projects/{quote(project, safe='')}")

    def shares(self, id_filter: str = "*") -> CObject:
        """The projects this object is in."""
        return CObject(self._session, lambda: [_SharedIn(self)], "projects", id_filter)


class _SharedIn(EObject):
    """The ``<object>/projects`` listing, seen as a parent of projects."""

    def __init__(self, owner: EObject) -> None:
        super().__init__(owner._session, owner._uri, "shares", parent=owner)

    def _list(self, level: str) -> list[dict[str, str]]:
        return list(self._session.get_json(f"{self._uri}/projects")["ResultSet"]["Result"])


class Experiment(Subject):
    """An experiment (a session or an assessor at the top of an experiment path)."""


class Derived(EObject):
    """An assessor or a reconstruction: data made by processing, with its provenance."""

    @property
    def provenance(self) -> Provenance:
        """The processing steps that made it (:mod:`xnat.compat.provenance`)."""
        return Provenance(self._session, self._uri)


class Resource(EObject):
    """A resource: a folder of files."""

    def get(self, dest_dir: str | os.PathLike[str], extract: bool = False) -> Any:  # type: ignore[override]
        """Download the resource: the zip ``dest_dir/<label>.zip``, or with ``extract`` its files
        in ``dest_dir/<label>/`` (the list of their paths)."""
        label = unquote(self._uri.rpartition("/")[2])
        if extract:
            return transfers.extract_resource(self._session, self._uri, label, dest_dir)
        return transfers.download_zip(self._session, f"{self._uri}/files", Path(dest_dir) / f"{label}.zip")

    def put_zip(self, zip_location: str | os.PathLike[str], overwrite: bool = False, extract: bool = True,
                **params: Any) -> None:
        """Upload a zip; with ``extract`` (the default) the server unpacks it into the resource."""
        transfers.upload_zip(self._session, self._uri, zip_location, overwrite, extract)

    def put(self, sources: Iterable[str], overwrite: bool = False, extract: bool = True,
            **params: Any) -> None:
        """Upload local files into the resource, by their file names."""
        for source in sources:
            self.file(os.path.basename(source)).put(source, overwrite=overwrite)

    def put_dir(self, src_dir: str | os.PathLike[str], overwrite: bool = False, extract: bool = True,
                **params: Any) -> None:
        """Upload a folder tree into the resource."""
        folder = Path(src_dir)
        if not folder.is_dir():
            raise XNATIOError(f"cannot upload {folder}: it is not a folder")
        self._session.transferer().upload_tree(f"{self._uri}/files", folder, overwrite=overwrite)


class File(EObject):
    """One file of a resource."""

    def _document_row(self) -> dict[str, str]:
        if self._row is None:
            resource_uri, _, path = self._uri.rpartition("/files/")
            name = unquote(path)
            rows = self._session.get_json(f"{resource_uri}/files")["ResultSet"]["Result"]
            found = [row for row in rows
                     if unquote(row.get("URI", "").partition("/files/")[2]) == name or row.get("Name") == name]
            if not found:
                raise XNATValueError(f"there is no file {name!r} in {resource_uri}")
            self._row = dict(found[0])
        return self._row

    def datatype(self) -> str | None:
        return None

    def exists(self) -> bool:
        response = self._session.head(self._uri, accepted_status=(200, *_MISSING))
        return bool(response.status_code == 200)

    def get(self, dest: str | os.PathLike[str] | None = None, force_default: bool = False) -> str:
        """Download to ``dest`` (default ``~/Downloads/<name>``), verified against the listed MD5."""
        name = unquote(self._uri.rpartition("/")[2])
        target = dest if dest is not None else Path("~/Downloads").expanduser() / name
        digest = self._row.get("digest") if self._row else None
        return transfers.download_file(self._session, self._uri, target, digest)

    get_copy = get

    def put(self, src: Any, format: str | None = None, content: str | None = None, tags: str | None = None,
            overwrite: bool = False, **params: Any) -> None:
        """Upload ``src`` (a path, or the content itself); a missing resource and parents are created."""
        owner = self._parent._parent if self._parent is not None else None
        if owner is not None and owner._level in LEVELS and not owner.exists():
            owner.create()  # pyxnat creates missing ancestors; the server creates the resource itself
        query = {key: value for key, value in (("format", format), ("content", content), ("tags", tags)) if value}
        query.update({str(key): str(value) for key, value in (params.pop("params", None) or {}).items()})
        transfers.upload_file(self._session, self._uri, src, query, overwrite)
        self._row = None

    insert = put  # type: ignore[assignment]  # pyxnat's alias

    def create(self, **params: Any) -> EObject:
        raise NotSupportedError("a file is created by uploading it: file.put(path_or_content)")

    def size(self) -> str:
        return self._document_row().get("Size", "")

    def format(self) -> str:
        return self._document_row().get("file_format", "")

    def content(self) -> str:
        return self._document_row().get("file_content", "")

    def labels(self) -> str:
        return self._document_row().get("file_tags", "")

    def attributes(self) -> dict[str, str]:
        return dict(self._document_row())

    def last_modified(self) -> str:
        return str(self._session.head(self._uri).headers.get("Last-Modified", ""))


_CLASSES: dict[str, type[EObject]] = {
    "projects": Project, "subjects": Subject, "experiments": Experiment,
    "assessors": Derived, "reconstructions": Derived,
    "resources": Resource, "in_resources": Resource, "out_resources": Resource, "files": File,
}


def element_class(level: str) -> type[EObject]:
    """The object class of a level (scans are plain objects)."""
    return _CLASSES.get(level, EObject)


def _row_path(level: str, row: dict[str, str], id_: str, label: str) -> str:
    """The URL path of a listed child: a file's path inside its resource, a resource's label, else the ID."""
    if level == "files":
        relative = row.get("URI", "").partition("/files/")[2] or row.get("Name", "")
        parts = relative.split("/")
        if not relative or any(part in ("", ".", "..") for part in parts):
            raise XNATValueError(f"the server listed a file with an unusable path: {relative!r}")
        return "/".join(quote(part, safe="") for part in parts)
    return quote(label if level.endswith("resources") else id_, safe="")


def subject_of(obj: EObject) -> str:
    """The ID of the subject an object belongs to: its own, or its nearest subject's; an
    experiment listed without its subject has it in its row, one selected by ID reads its
    document (one request)."""
    node: EObject | None = obj
    while node is not None and node._level in LEVELS:
        if node._level == "subjects":
            return node.id()
        if node._level == "experiments" and (node._parent is None or node._parent._level != "subjects"):
            row = node._row or {}
            return row.get("subject_ID") or flatten_item(node._session.get_json(node._uri)).get("subject_ID", "")
        node = node._parent
    return ""


class CObject(Node):
    """A lazy collection: the ``level`` children of every object ``parents()`` yields, filtered."""

    def __init__(self, session: Any, parents: Callable[[], Iterable[EObject]], level: str,
                 id_filter: str = "*", source: CObject | None = None,
                 subjects: frozenset[str] | None = None) -> None:
        self._session = session
        self._parents = parents
        self._level = level
        self._filter = id_filter or "*"
        self._source = source  #: the collection the parents come from, if any (for where())
        self._subjects = subjects  #: keep only objects of these subjects (set by where())

    def __repr__(self) -> str:
        return f"<Collection Object> {self._level} {self._filter}"

    def __iter__(self) -> Iterator[Any]:
        cls = element_class(self._level)
        level = LEVELS[self._level]
        for parent in self._parents():
            for row in parent._list(self._level):
                id_, label = row.get(level.id_column, ""), row.get(level.label_column, "")
                # pyxnat matches the ID only; a resource's label is matched too, as its ID is a bare number
                names = (id_, label) if level.id_column.startswith("xnat_abstract") else (id_,)
                if self._filter != "*" and not any(fnmatch.fnmatch(name, self._filter) for name in names):
                    continue
                uri = f"{parent._uri}/{level.segment}/{_row_path(self._level, row, id_, label)}"
                obj = cls(self._session, uri, self._level, row=dict(row), parent=parent)
                if self._subjects is None or subject_of(obj) in self._subjects:
                    callback = CALLBACKS.get(self._session)
                    if callback is not None:
                        callback(self, obj)
                    yield obj

    def _child(self, level: str, name: str) -> CObject:
        return self._children(level, name)

    def _children(self, level: str, id_filter: str) -> CObject:
        self._check_child(level)
        return CObject(self._session, lambda: iter(self), level, id_filter, source=self)

    def get(self, *args: str) -> list[Any]:
        """IDs (default), ``get("label")``, ``get("obj")``, or several: ``get("id", "label")`` -> tuples."""
        wanted = args or ("id",)
        for what in wanted:
            if what not in ("id", "label", "obj"):
                raise XNATValueError(f"get() takes 'id', 'label' or 'obj', not {what!r}")
        values = []
        for obj in self:
            picked = [obj if what == "obj" else obj.id() if what == "id" else obj.label() for what in wanted]
            values.append(picked[0] if len(picked) == 1 else tuple(picked))
        return values

    def fetchall(self) -> list[Any]:
        return list(self)

    def first(self) -> Any:
        """The first object, or None when there is none."""
        return next(iter(self), None)

    fetchone = first

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return list(islice(self, index.start, index.stop, index.step))
        found = next(islice(self, index, None), None)
        if found is None:
            raise IndexError(f"the collection has fewer than {index + 1} {self._level}")
        return found

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return self.first() is not None

    def where(self, constraints: Any = None, template: Any = None, query: Any = None) -> CObject:
        """The objects of this collection whose subject the constraints select (pyxnat's
        ``where`` on a collection): constraints as :meth:`Search.where` takes them, an RPN
        string, ``template=(name, values)`` or ``query=name``. One search per constraint."""
        if self._level == "projects":
            raise XNATValueError("where() keeps objects by their subject: projects have none; "
                                 "filter their subjects or experiments instead")
        return self._keep(matching_subjects(self._session, resolve(self._session, constraints, template, query)))

    def _keep(self, subjects: frozenset[str]) -> CObject:
        """This collection, keeping only what belongs to ``subjects``, filtered as high up the chain as it can be."""
        source = self._source
        if self._level != "subjects" and source is not None and source._level != "projects":
            kept = source._keep(subjects)
            return CObject(self._session, lambda: iter(kept), self._level, self._filter, source=kept)
        return CObject(self._session, self._parents, self._level, self._filter, source=source, subjects=subjects)

    def tag(self, name: str) -> None:
        raise NotSupportedError(TAGS)

    untag = tag

    def share(self, project: str) -> None:
        for obj in self:
            obj.share(project)

    def unshare(self, project: str) -> None:
        for obj in self:
            obj.unshare(project)

    def download(self, dest_dir: str | os.PathLike[str], type: str = "ALL", name: str | None = None,
                 extract: bool = False, safe: bool = False, removeZip: bool = False) -> Any:
        """Files: each into ``dest_dir`` (verified), their paths. Scans, assessors, reconstructions:
        one zip per experiment of the resources of ``type`` (``"ALL"``, ``"T1,T2"``)."""
        folder = Path(dest_dir).expanduser()
        if not folder.is_dir():
            raise XNATIOError(f"cannot download into {folder}: it is not an existing folder")
        if self._level == "files":  # each under its name (pyxnat flattens folders too)
            return [obj.get(folder / unquote(obj._uri.rpartition("/")[2])) for obj in self]
        if self._level not in ("scans", "assessors", "reconstructions"):
            raise NotSupportedError(f"download() works on files, scans, assessors and reconstructions, "
                                    f"not on {self._level}")
        segment = LEVELS[self._level].segment
        paths = []
        for parent in self._parents():
            zip_name = f"{name or parent._uri.rpartition('/')[2]}.zip"
            target = transfers.download_zip(self._session, f"{parent._uri}/{segment}/{type}/files",
                                            folder / zip_name)
            if extract:
                transfers.extract_zip_file(target, folder)
                if removeZip:
                    os.remove(target)
            paths.append(target)
        return paths[0] if len(paths) == 1 else paths


class Union(CObject):
    """Several collections of one level read as one: a ``//level`` path with many routes."""

    def __init__(self, session: Any, members: list[CObject]) -> None:
        super().__init__(session, lambda: (), members[0]._level)
        self._members = members

    def __repr__(self) -> str:
        return f"<Collection Object> {self._level} from {len(self._members)} routes"

    def __iter__(self) -> Iterator[Any]:
        for member in self._members:
            yield from member

    def _keep(self, subjects: frozenset[str]) -> CObject:
        return Union(self._session, [member._keep(subjects) for member in self._members])
