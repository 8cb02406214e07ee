"""URI rules and the identity map: which object a REST path is, and one object per path.

XNAT names the same object in several ways: ``/data/experiments/XNAT_E00001``,
``/data/archive/projects/P/subjects/S/experiments/XNAT_E00001`` and the ``/REST/``
spellings. :func:`normalize_uri` folds the spellings of one path together and
:func:`identity_key` maps every spelling of a project, subject, experiment or resource to
its accession ID, so ``session.projects['P'].subjects['S']`` and ``session.subjects[ID]``
are the same Python object.

The :class:`IdentityMap` holds objects weakly (an object nobody uses is freed) plus a
bounded set of the most recently used ones, so a walk down the hierarchy does not rebuild
objects (and refetch their listings) at every step, and memory stays bounded however many
rows a script visits. The objects made for a listing's rows are held by those rows
(:class:`RowObjects`, a slot per row instead of a weak reference each) while the listing
keeps them, and found through them; when the listing lets go of its rows they become weak
entries like the others. It is safe to use from several threads.
"""

from __future__ import annotations

import collections
import re
import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any

__all__ = ["COLLECTIONS", "IdentityMap", "RowObjects", "identity_key", "normalize_uri", "split_uri"]

#: REST collection segment -> the level name used in identity keys.
COLLECTIONS = {
    "projects": "project",
    "subjects": "subject",
    "experiments": "experiment",
    "assessors": "experiment",
    "scans": "scan",
    "reconstructions": "reconstruction",
    "resources": "resource",
    "files": "file",
}
# Levels whose IDs are unique across the whole server (accession IDs, resource numbers).
_GLOBAL_IDS = {"project", "subject", "experiment"}
_ACCESSION = re.compile(r"^[A-Za-z0-9_\-]+_[ESX][A-Za-z0-9]*\d+$")


def normalize_uri(uri: str) -> str:
    """One spelling per path: ``/REST`` and ``/data/archive`` become ``/data``; no query, no trailing /."""
    path = uri.split("?", 1)[0].rstrip("/")
    if path.startswith("/REST/"):
        path = "/data/" + path[len("/REST/"):]
    if path.startswith("/data/archive/"):
        path = "/data/" + path[len("/data/archive/"):]
    return path


def split_uri(uri: str) -> list[tuple[str, str]]:
    """``/data/projects/P/subjects/S`` -> ``[("projects", "P"), ("subjects", "S")]`` (files: rest of path)."""
    parts = normalize_uri(uri).split("/")[2:]
    pairs: list[tuple[str, str]] = []
    index = 0
    while index < len(parts):
        collection = parts[index]
        if collection == "files":
            pairs.append(("files", "/".join(parts[index + 1:])))
            break
        value = parts[index + 1] if index + 1 < len(parts) else ""
        if collection in ("in", "out") and value == "resources":  # assessor in/out resources
            index += 1
            continue
        pairs.append((collection, value))
        index += 2
    return pairs


def identity_key(uri: str, id_: str | None = None) -> Hashable:
    """The key under which the object at ``uri`` lives in the identity map.

    Projects, subjects and experiments (and assessors) are keyed by their accession ID
    when the path or ``id_`` gives it, whatever path led to them; anything else by its
    normalized path.
    """
    pairs = split_uri(uri)
    if pairs:
        collection, value = pairs[-1]
        level = COLLECTIONS.get(collection)
        if level in _GLOBAL_IDS:
            if level == "project":
                return ("project", value)
            ident = id_ or (value if _ACCESSION.match(value) else None)
            if ident:
                return (level, ident)
        elif level == "resource" and (id_ or value).isdigit():
            return ("resource", id_ or value)
        # Scans, reconstructions, files...: anchor the path at the innermost accession ID, so
        # /data/projects/P/subjects/S/experiments/E/scans/1 and /data/experiments/E/scans/1 meet.
        for index in range(len(pairs) - 2, -1, -1):
            anchor, ident = pairs[index]
            if anchor in ("subjects", "experiments", "assessors") and _ACCESSION.match(ident):
                anchor = "experiments" if anchor == "assessors" else anchor
                rest = "/".join(f"{c}/{v}" for c, v in pairs[index + 1:])
                return ("uri", f"/data/{anchor}/{ident}/{rest}")
    return ("uri", normalize_uri(uri))


class RowObjects:
    """The objects made for the rows of one listing response, by row number.

    A listing's rows hold one of these: the objects live as long as the rows (the listing's
    cache, or any object made from them, holds those), without a weak reference each. The
    :class:`IdentityMap` finds them again by name (``names``: the ID of each row, unique),
    through an index built the first time it is asked.
    """

    __slots__ = ("__weakref__", "_index", "names", "objects", "space")

    def __init__(self, space: Hashable, names: Sequence[Hashable]) -> None:
        self.space = space
        self.names = names
        self.objects: list[Any] = [None] * len(names)
        self._index: dict[Hashable, int] | None = None

    def find(self, name: Hashable) -> Any:
        """The object made for the row named ``name``, or None."""
        if self._index is None:
            self._index = dict(zip(self.names, range(len(self.names))))
        position = self._index.get(name)
        return None if position is None else self.objects[position]

    def forget(self, name: Hashable) -> None:
        """After a delete: the row's object is no longer found."""
        if self.find(name) is not None and self._index is not None:
            self.objects[self._index[name]] = None


def _alive(weak: dict[Hashable, weakref.ref[Any]], others: list[RowObjects], name: Hashable) -> Any:
    """The live object named ``name``: made alone (``weak``) or for another listing's rows."""
    ref = weak.get(name)
    obj = None if ref is None else ref()
    return obj if obj is not None or not others else _found_in(others, name)


def _found_in(sources: list[RowObjects], name: Hashable) -> Any:
    for source in sources:
        obj = source.find(name)
        if obj is not None:
            return obj
    return None


class IdentityMap:
    """Weakly held objects by key, with the ``keep`` most recently used held strongly.

    Keys are ``(space, name)`` pairs (``("experiment", "XNAT_E00001")``); each space is its
    own dictionary of ``weakref.ref`` keyed by the name alone, so an entry costs no key
    tuple of its own. Plain weak references (made in C) instead of a
    ``WeakValueDictionary`` (whose entries are made in Python) keep a 50,000-row listing's
    objects cheap; entries of dead objects are swept when a space has doubled since the
    last sweep. ``get_or_create(key, factory)`` returns the live object for ``key`` or
    stores the one ``factory()`` makes; two threads asking for the same key get the same
    object.
    """

    def __init__(self, keep: int = 512) -> None:
        self._spaces: dict[Hashable, dict[Hashable, weakref.ref[Any]]] = {}
        self._swept: dict[Hashable, int] = {}   # space -> its size after the last sweep
        self._recent: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()
        self._keep = keep
        self._lock = threading.RLock()
        #: space -> the objects of listings' rows (weakly: they live as long as their rows)
        self._sources: dict[Hashable, list[weakref.ref[RowObjects]]] = {}

    def _space(self, key: Hashable) -> tuple[dict[Hashable, weakref.ref[Any]], Hashable]:
        space, name = key if isinstance(key, tuple) and len(key) == 2 else ("", key)
        objects = self._spaces.get(space)
        if objects is None:
            objects = self._spaces[space] = {}
        return objects, name

    def _store(self, key: Hashable, objects: dict[Hashable, weakref.ref[Any]], name: Hashable, obj: Any) -> None:
        objects[name] = weakref.ref(obj)
        self._sweep(key[0] if isinstance(key, tuple) and len(key) == 2 else "", objects)

    def _sweep(self, space: Hashable, objects: dict[Hashable, weakref.ref[Any]]) -> None:
        if len(objects) > 2 * self._swept.get(space, 512):
            for dead in [n for n, ref in objects.items() if ref() is None]:
                del objects[dead]
            self._swept[space] = max(len(objects), 512)

    def _touch(self, key: Hashable, obj: Any) -> None:
        recent = self._recent
        recent[key] = obj
        recent.move_to_end(key)
        while len(recent) > self._keep:
            recent.popitem(last=False)

    def _lookup(self, key: Hashable) -> tuple[Any, dict[Hashable, weakref.ref[Any]], Hashable]:
        """(the live object for ``key`` or None, its space's weak entries, its name)."""
        objects, name = self._space(key)
        ref = objects.get(name)
        obj = None if ref is None else ref()
        if obj is None and self._sources:
            space = key[0] if isinstance(key, tuple) and len(key) == 2 else ""
            obj = _found_in(self._live_sources(space), name)
        return obj, objects, name

    def get(self, key: Hashable) -> Any:
        with self._lock:
            obj, _, _ = self._lookup(key)
            if obj is not None:
                self._touch(key, obj)
            return obj

    def get_or_create(self, key: Hashable, factory: Callable[[], Any]) -> Any:
        with self._lock:
            obj, objects, name = self._lookup(key)
            if obj is None:
                obj = factory()
                self._store(key, objects, name, obj)
            self._touch(key, obj)
            return obj

    def get_or_create_rows(self, space: Hashable, source: RowObjects, positions: range,
                           make: Callable[[int], Any], refresh: Callable[[int, Any], None]) -> list[Any]:
        """The objects of the rows at ``positions`` of a listing, in order (``get_or_create`` for a
        whole listing): held by ``source``, found again through it by row or by name.

        An object already alive for a row's name (made alone, or by another listing) is reused
        and ``refresh(position, obj)`` updates it; a missing one is ``make(position)``. A row
        costs a slot in ``source.objects`` and a dictionary probe: no weak reference, and only
        the last ``keep`` objects become the recently used ones.
        """
        with self._lock:
            self._add_source(space, source)
            weak = self._spaces.get(space) or {}
            others = [other for other in self._live_sources(space) if other is not source]
            names, objects = source.names, source.objects
            out: list[Any] = []
            append = out.append
            fresh = not weak and not others  # nothing of this space alive elsewhere: a missing row's object is new
            for position in positions:
                obj = objects[position]
                if obj is None:
                    found = None if fresh else _alive(weak, others, names[position])
                    if found is None:
                        obj = make(position)
                    else:
                        obj = found
                        refresh(position, obj)
                    objects[position] = obj
                append(obj)
            tail = len(out) - min(self._keep, len(out))
            for position, obj in zip(positions[tail:], out[tail:]):
                self._touch((space, names[position]), obj)
            return out

    def release(self, source: RowObjects) -> None:
        """The listing rows ``source`` belongs to are no longer held by their listing: its
        objects become weakly held entries (those still in use stay found; the rest are
        freed), so an object kept by a script does not keep the objects of its whole listing."""
        with self._lock:
            refs = self._sources.get(source.space, [])
            refs[:] = [ref for ref in refs if ref() is not None and ref() is not source]
            objects = self._spaces.setdefault(source.space, {})
            for name, obj in zip(source.names, source.objects):
                if obj is not None:
                    ref = objects.get(name)
                    if ref is None or ref() is None:
                        objects[name] = weakref.ref(obj)
            source.objects = []
            source._index = None
            self._sweep(source.space, objects)

    def _add_source(self, space: Hashable, source: RowObjects) -> None:
        refs = self._sources.setdefault(space, [])
        if not any(ref() is source for ref in refs):
            refs[:] = [ref for ref in refs if ref() is not None]  # forget the rows of dead listings
            refs.append(weakref.ref(source))

    def _live_sources(self, space: Hashable) -> list[RowObjects]:
        found = (ref() for ref in self._sources.get(space, ()))
        return [source for source in found if source is not None]

    def put(self, key: Hashable, obj: Any) -> None:
        with self._lock:
            objects, name = self._space(key)
            self._store(key, objects, name, obj)
            self._touch(key, obj)

    def remove(self, key: Hashable) -> None:
        with self._lock:
            objects, name = self._space(key)
            objects.pop(name, None)
            self._recent.pop(key, None)
            space = key[0] if isinstance(key, tuple) and len(key) == 2 else ""
            for source in self._live_sources(space):
                source.forget(name)

    def clear(self) -> None:
        """Drop the strong references (objects still in use elsewhere stay reachable)."""
        with self._lock:
            self._recent.clear()

    def values(self) -> list[Any]:
        """Every live object, once (weakly held ones and those the rows of live listings hold)."""
        with self._lock:
            found = (ref() for objects in self._spaces.values() for ref in objects.values())
            alive = {id(obj): obj for obj in found if obj is not None}
            for space in self._sources:
                for source in self._live_sources(space):
                    alive.update((id(obj), obj) for obj in source.objects if obj is not None)
            return list(alive.values())

    def __len__(self) -> int:
        return len(self.values())

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return self._lookup(key)[0] is not None
