"""pyxnat's ``manage.prearchive``: sessions waiting in the prearchive, named by a triple
``(project, timestamp, folderName)`` as pyxnat names them.

``get()`` lists the triples; ``status``, ``get_uri``, ``get_scans``, ``get_resources`` and
``get_files`` read one session; ``move`` (to another project), ``reset`` (rebuild) and
``delete`` act on sessions through XNAT's prearchive services. A triple the prearchive
does not hold is a clear error (pyxnat answers an empty list). pyxnat 1.6.4's ``move``
fails on Python 3 (it calls ``urllib.urlencode``); this one works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ..exceptions import XNATValueError
from .jsontable import JsonTable

__all__ = ["PreArchive"]

_ROOT = "/data/prearchive/projects"


class PreArchive:
    """The prearchive, as pyxnat's ``interface.manage.prearchive``."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __repr__(self) -> str:
        return "<PreArchive>"

    def _table(self, uri: str) -> JsonTable:
        return JsonTable(self._session.get_json(uri)["ResultSet"]["Result"])

    def _row(self, triple: Sequence[str]) -> dict[str, Any]:
        project, timestamp, folder = _triple(triple)
        rows = self._table(_ROOT).where(project=project, timestamp=timestamp, folderName=folder).data
        if not rows:
            raise XNATValueError(f"the prearchive holds no session {project}/{timestamp}/{folder}; "
                                 "manage.prearchive.get() lists the triples it holds")
        return rows[0]

    def get(self) -> list[list[str]]:
        """``[project, timestamp, folderName]`` of every session the user may see."""
        return [[row["project"], row["timestamp"], row["folderName"]] for row in self._table(_ROOT)]

    def status(self, triple: Sequence[str]) -> str:
        """``READY``, ``RECEIVING``, ``CONFLICT``, ``ERROR``..."""
        return str(self._row(triple)["status"])

    def get_uri(self, triple: Sequence[str]) -> str:
        """The session's URI (``/prearchive/projects/P/TS/S``), as ``move`` and ``delete`` take it."""
        return str(self._row(triple)["url"])

    def _below(self, triple: Sequence[str], rest: str) -> JsonTable:
        self._row(triple)
        path = "/".join(quote(part, safe="") for part in _triple(triple))
        return self._table(f"{_ROOT}/{path}/{rest}")

    def get_scans(self, triple: Sequence[str]) -> Any:
        """The scan IDs (one alone when there is one, as pyxnat answers)."""
        return self._below(triple, "scans").get("ID")

    def get_resources(self, triple: Sequence[str], scan_id: str) -> Any:
        return self._below(triple, f"scans/{quote(scan_id, safe='')}/resources").get("label")

    def get_files(self, triple: Sequence[str], scan_id: str, resource_id: str) -> Any:
        return self._below(triple, f"scans/{quote(scan_id, safe='')}/resources/{quote(resource_id, safe='')}"
                                   "/files").get("Name")

    def move(self, uris: Sequence[str], new_project: str) -> str:
        """Move sessions (by URI) to another project's prearchive; not archived."""
        data = [("src", uri) for uri in _uris(uris)]
        data += [("newProject", new_project), ("async", "true" if len(data) > 1 else "false")]
        return str(self._session.post("/data/services/prearchive/move", query={"format": "csv"}, data=data).text)

    def reset(self, triple: Sequence[str]) -> str:
        """Rebuild the session from its files (cancels an operation scheduled on it)."""
        self._row(triple)
        path = "/".join(quote(part, safe="") for part in _triple(triple))
        return str(self._session.post(f"{_ROOT}/{path}", query={"format": "single"}, data={"action": "build"}).text)

    def delete(self, uri: str) -> str:
        """Delete a session (by URI) from the prearchive."""
        data = [("src", uri) for uri in _uris([uri])] + [("async", "false")]
        return str(self._session.post("/data/services/prearchive/delete", query={"format": "csv"}, data=data).text)


def _triple(triple: Sequence[str]) -> tuple[str, str, str]:
    if isinstance(triple, str) or len(triple) != 3:
        raise XNATValueError(f"a prearchive session is named by (project, timestamp, folderName), not {triple!r}")
    return str(triple[0]), str(triple[1]), str(triple[2])


def _uris(uris: Sequence[str]) -> list[str]:
    if isinstance(uris, str) or not uris:
        raise XNATValueError(f"give a list of prearchive session URIs, not {uris!r}")
    return [str(uri) for uri in uris]
