"""``interface.select``: the entry to the archive tree and to the search engine.

``select.projects()``, ``select.project("P")``, ``select.experiments()`` ... start a
chain (:mod:`xnat.compat.objects`); ``select("/project/P/subjects/*")`` reads a path
(:mod:`xnat.compat.paths`) into the same chain; ``select("xnat:mrSessionData", [columns])``
starts a search (:mod:`xnat.compat.search`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import quote, unquote

from ..exceptions import XNATValueError
from .errors import NotSupportedError
from .objects import TAGS, CObject, EObject, Node, Union, element_class
from .paths import LEVELS, routes
from .search import Search

__all__ = ["Select"]


class _Root(EObject):
    """The top of the tree, ``/data``."""

    def __init__(self, session: Any) -> None:
        super().__init__(session, "/data", "root")


class Select(Node):
    """``interface.select``: chaining methods from the top, and ``select(path_or_datatype)``."""

    _level = "root"

    def __init__(self, session: Any) -> None:
        self._session = session
        self._root = _Root(session)

    def __repr__(self) -> str:
        return "<Root Object>"

    def tag(self, name: str) -> None:
        raise NotSupportedError(TAGS)

    def tags(self) -> None:
        raise NotSupportedError(TAGS)

    def _child(self, level: str, name: str) -> EObject:
        self._check_child(level)
        uri = f"/data/{LEVELS[level].segment}/{quote(name, safe='')}"
        return element_class(level)(self._session, uri, level)

    def _children(self, level: str, id_filter: str) -> CObject:
        self._check_child(level)
        return CObject(self._session, lambda: [self._root], level, id_filter)

    def __call__(self, path_or_datatype: str, columns: Sequence[str] | None = None) -> Any:
        """A path (``/projects/P/subjects/*``) -> an object or a collection; a data type -> a search."""
        if not isinstance(path_or_datatype, str):
            raise XNATValueError(f"select() takes a path or a data type, not {path_or_datatype!r}")
        if not path_or_datatype.startswith("/"):
            return Search(self._session, path_or_datatype, columns)
        if path_or_datatype.startswith("/tag"):
            raise NotSupportedError(TAGS)
        if path_or_datatype.rstrip("/") in ("", "/data"):
            return self
        if path_or_datatype.startswith("/data/"):
            path_or_datatype = path_or_datatype[len("/data"):]
        found = [self._follow(route) for route in routes(path_or_datatype)]
        if len(found) == 1:
            return found[0]
        return Union(self._session, [self._single(node) if isinstance(node, EObject) else cast(CObject, node)
                                     for node in found])

    def _follow(self, route: list[tuple[str, str]]) -> Node:
        """The object or collection at the end of one route; a glob anywhere makes it a collection."""
        current: Node = self
        for level, name in route:
            exact = not set("*?[") & set(name)
            if exact and not isinstance(current, CObject):
                current = current._child(level, name)
            else:
                current = current._children(level, name)
        return current

    def _single(self, obj: EObject) -> CObject:
        """One object as a collection of one (a route of a ``//`` path that names it exactly)."""
        parent = obj._parent or self._root
        return CObject(self._session, lambda: [parent], obj._level, unquote(obj._uri.rpartition("/")[2]))
