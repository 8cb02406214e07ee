"""What a session gains from the services layer, as one mixin (a base of :class:`xnat.session.BaseXNATSession`).

``session.services``, ``session.prearchive``, ``session.users``, ``session.inspect``,
``session.plugins`` (each made once per session, on first use; no request until then),
``session.scanners`` and ``session.scan_types`` (one request each, cached with the
session's server information), and the bulk operations ``session.map``,
``session.search`` and ``session.batch_download`` of :mod:`xnat.services.mapping` (the same
:class:`~xnat.services.behaviour.MappableBehaviour` that objects have).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from .behaviour import MappableBehaviour
from .inspect import Inspect
from .plugins import Plugins
from .prearchive import Prearchive
from .services import Services
from .users import Users

__all__ = ["SessionServicesMixin"]

_LOCK = threading.Lock()
_T = TypeVar("_T")


class SessionServicesMixin(MappableBehaviour):
    """Services, prearchive, users, inspect, plugins and bulk operations of a session."""

    def _helper(self, name: str, factory: Callable[[Any], _T]) -> _T:
        found = self.__dict__.get(name)
        if found is None:
            with _LOCK:
                found = self.__dict__.setdefault(name, factory(self))
        return cast(_T, found)

    @property
    def services(self) -> Services:
        """Import, DICOM dump, tokens, catalog refresh."""
        return self._helper("_services", Services)

    @property
    def prearchive(self) -> Prearchive:
        """Sessions received but not archived."""
        return self._helper("_prearchive", Prearchive)

    @property
    def users(self) -> Users:
        """The server's users, by login."""
        return self._helper("_users", Users)

    @property
    def inspect(self) -> Inspect:
        """The server's searchable data types and fields."""
        return self._helper("_inspect", Inspect)

    @property
    def plugins(self) -> Plugins:
        """The server's plugins, by id."""
        return self._helper("_plugins", Plugins)

    def _table_column(self, uri: str, column: str) -> list[str]:
        rows = self.get_json(uri)["ResultSet"]["Result"]  # type: ignore[attr-defined]
        return [str(row[column]) for row in rows if row.get(column)]

    @property
    def scanners(self) -> list[str]:
        """The scanner names of the sessions in the archive (``/data/archive/scanners``)."""
        return self._table_column("/data/archive/scanners", "scanner")

    @property
    def access_levels(self) -> dict[str, str]:
        """project ID -> the logged-in user's role in it (``/xapi/access/projects``, XNAT 1.8+; an
        older server answers ``{}``, as in xnatpy). One request per read: roles change."""
        if not self.check_version((1, 8, 0), "Access levels"):  # type: ignore[attr-defined]
            return {}
        rows = self.get_json("/xapi/access/projects")  # type: ignore[attr-defined]
        return {str(row["ID"]): str(row["role"]) for row in rows if isinstance(row, dict) and "ID" in row
                and "role" in row}

    @property
    def scan_types(self) -> list[dict[str, str]]:
        """The scan types in the archive: the rows of ``/data/archive/scan_types`` (as xnatpy)."""
        return list(self.get_json("/data/archive/scan_types")["ResultSet"]["Result"])  # type: ignore[attr-defined]
