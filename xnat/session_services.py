"""What a session gains from the services layer (issue 8), as one mixin.

``session.services``, ``session.prearchive``, ``session.users``, ``session.inspect``,
``session.plugins`` (each made once per session, on first use; no request until then),
``session.scanners`` and ``session.scan_types`` (one request each, cached with the
session's server information), and the bulk operations ``session.map``,
``session.search`` and ``session.batch_download`` of :mod:`xnat.mapping`.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from . import mapping
from . import services_behaviour  # noqa: F401  (registers scan/project/mapping behaviour)
from .inspect import Inspect
from .plugins import Plugins
from .prearchive import Prearchive
from .services import Services
from .users import Users

__all__ = ["SessionServicesMixin"]

_LOCK = threading.Lock()


class SessionServicesMixin:
    """Services, prearchive, users, inspect, plugins and bulk operations of a session."""

    def _helper(self, name: str, factory: Any) -> Any:
        found = self.__dict__.get(name)
        if found is None:
            with _LOCK:
                found = self.__dict__.setdefault(name, factory(self))
        return found

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
    def scan_types(self) -> list[dict[str, str]]:
        """The scan types in the archive: the rows of ``/data/archive/scan_types`` (as xnatpy)."""
        return list(self.get_json("/data/archive/scan_types")["ResultSet"]["Result"])  # type: ignore[attr-defined]

    def map(self, function: Any, level: Any, args: Any = None, kwargs: Any = None, filter_function: Any = None,
            logfile: str | os.PathLike | None = None) -> dict[str, Any]:
        """``function(obj)`` on every object at ``level``; resumable with ``logfile`` (see :mod:`xnat.mapping`)."""
        return mapping.map_objects(self, function, level, args, kwargs, filter_function, logfile)

    def search(self, project: Any = None, subject: Any = None, experiment: Any = None, scan: Any = None,
               resource: Any = None, use_regex: bool = False, level: Any = mapping.MappingLevel.SCAN) -> list[Any]:
        """The objects at ``level`` matching the name filters (see :mod:`xnat.mapping`)."""
        return mapping.search(self, project, subject, experiment, scan, resource, use_regex, level)

    def batch_download(self, target_directory: str | os.PathLike, project: Any = None, subject: Any = None,
                       experiment: Any = None, scan: Any = None, resource: Any = None, use_regex: bool = False,
                       level: Any = mapping.MappingLevel.SCAN) -> list[str]:
        """``download_dir`` on every object matching the filters (see :mod:`xnat.mapping`)."""
        return mapping.batch_download(self, target_directory, project, subject, experiment, scan, resource,
                                      use_regex, level)
