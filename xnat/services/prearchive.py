"""``session.prearchive``: sessions received but not yet archived (xnatpy 0.8 API).

::

    for staged in session.prearchive.sessions("P1"):
        if staged.status == "READY":
            experiment = staged.archive(subject="S01", experiment="S01_MR1")

A :class:`PrearchiveSession` reads its fields from the prearchive listing row (string
values as XNAT serves them, converted to dates and times by the properties); ``scans``,
``resources`` and ``files`` read the routes below the session. Nothing is fetched in a
constructor or a ``repr``. Sessions are cached by URI until :meth:`Prearchive.clearcache`.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
from typing import Any

from ..exceptions import XNATValueError
from .dicom import dicom_dump, read_dicom_file

__all__ = ["Prearchive", "PrearchiveFile", "PrearchiveResource", "PrearchiveScan", "PrearchiveSession"]

logger = logging.getLogger(__name__)


def _date(text: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _time(text: str) -> datetime.time | None:
    try:
        return datetime.time.fromisoformat(text) if text else None
    except ValueError:
        return None


def _datetime(text: str) -> datetime.datetime | None:
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y%m%d_%H%M%S%f"):
        try:
            return datetime.datetime.strptime(text, fmt)
        except (TypeError, ValueError):
            continue
    return None


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


class PrearchiveFile:
    """One file of a prearchive scan."""

    def __init__(self, xnat_session: Any, row: dict[str, str]) -> None:
        self.xnat_session = xnat_session
        self.data = row
        self.uri = row["URI"]

    def __repr__(self) -> str:
        return f"<PrearchiveFile {self.name}>"

    @property
    def id(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.data["Name"]

    @property
    def size(self) -> int:
        return int(self.data.get("Size") or 0)

    def download(self, path: str | os.PathLike[str], verbose: bool | None = None) -> str:
        """Save the file to ``path``."""
        return str(self.xnat_session.download(self.uri, path, verbose=verbose))

    def open(self) -> Any:
        """A seekable read-only file over the remote file (fetched by byte ranges)."""
        return self.xnat_session.transferer().open(self.uri, size=self.size or None)


class PrearchiveResource:
    """A resource (``DICOM``, ``secondary``) of a prearchive scan."""

    def __init__(self, xnat_session: Any, row: dict[str, str]) -> None:
        self.xnat_session = xnat_session
        self.data = row
        self.uri = row["URI"]

    def __repr__(self) -> str:
        return f"<PrearchiveResource {self.label} ({self.file_count} files)>"

    @property
    def label(self) -> str:
        return self.data["label"]

    @property
    def file_count(self) -> int:
        return int(self.data.get("file_count") or 0)

    @property
    def file_size(self) -> int:
        return int(self.data.get("file_size") or 0)

    @property
    def files(self) -> list[PrearchiveFile]:
        rows = self.xnat_session.get_json(f"{self.uri}/files")["ResultSet"]["Result"]
        return [PrearchiveFile(self.xnat_session, row) for row in rows]


class PrearchiveScan:
    """A scan (series) of a prearchive session."""

    def __init__(self, session: PrearchiveSession, row: dict[str, str]) -> None:
        self.session = session
        self.xnat_session = session.xnat_session
        self.data = row
        self.uri = row.get("URI") or f"{session.uri}/scans/{row['ID']}"

    def __repr__(self) -> str:
        return f"<PrearchiveScan {self.id} {self.series_description}>"

    @property
    def id(self) -> str:
        return self.data["ID"]

    @property
    def series_description(self) -> str:
        return self.data.get("series_description", "")

    @property
    def resources(self) -> dict[str, PrearchiveResource]:
        rows = self.xnat_session.get_json(f"{self.uri}/resources")["ResultSet"]["Result"]
        return {row["label"]: PrearchiveResource(self.xnat_session, row) for row in rows}

    @property
    def files(self) -> list[PrearchiveFile]:
        resources = self.resources
        for label in ("DICOM", "secondary"):
            if label in resources:
                return resources[label].files
        raise XNATValueError(f"scan {self.id} of {self.session.uri} has no DICOM or secondary resource")

    def download(self, path: str | os.PathLike[str], verbose: bool | None = None) -> str:
        """A zip of the whole session (XNAT zips prearchive sessions, not single scans)."""
        return self.session.download(path, verbose=verbose)

    def dicom_dump(self, fields: list[str] | str | None = None) -> list[dict[str, str]]:
        """The header of the scan's first DICOM file as dump rows."""
        return dicom_dump(self.xnat_session, f"{self.session.uri[5:]}/scans/{self.id}", fields)

    def read_dicom(self, file: PrearchiveFile | None = None, read_pixel_data: bool = False,
                   force: bool = False) -> Any:
        """A ``pydicom`` dataset of one file (the first by default), reading only the bytes needed."""
        chosen = file or self.files[0]
        return read_dicom_file(self.xnat_session, chosen.uri, chosen.size or None, read_pixel_data, force)


class PrearchiveSession:
    """One session in the prearchive (``/data/prearchive/projects/P/TS/NAME``)."""

    def __init__(self, xnat_session: Any, uri: str, row: dict[str, str] | None = None) -> None:
        self.xnat_session = xnat_session
        self.uri = uri if uri.startswith("/data/") else "/data" + uri
        self._row = dict(row) if row else None

    def __repr__(self) -> str:
        return f"<PrearchiveSession {self.uri.partition('/prearchive/projects/')[2]}>"  # no request in a repr

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrearchiveSession) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    @property
    def data(self) -> dict[str, str]:
        """The session's prearchive row (read once, then kept)."""
        if self._row is None:
            rows = self.xnat_session.get_json(self.uri)["ResultSet"]["Result"]
            if not rows:
                raise XNATValueError(f"prearchive session {self.uri} is gone")
            self._row = rows[0]
        return self._row

    def refresh(self) -> None:
        """Forget the row; the next field read fetches it again (status changes on the server)."""
        self._row = None

    fulldata = data

    @property
    def id(self) -> str:
        return f"{self.project}/{self.timestamp_text}/{self.name}"

    @property
    def project(self) -> str:
        return self.data["project"]

    @property
    def timestamp_text(self) -> str:
        return self.data["timestamp"]

    @property
    def timestamp(self) -> datetime.datetime | None:
        return _datetime(self.data["timestamp"])

    @property
    def name(self) -> str:
        return self.data["name"]

    label = name

    @property
    def folder_name(self) -> str:
        return self.data["folderName"]

    @property
    def subject(self) -> str:
        return self.data["subject"]

    @property
    def status(self) -> str:
        return self.data["status"]

    @property
    def tag(self) -> str:
        return self.data.get("tag", "")

    @property
    def autoarchive(self) -> str:
        return self.data.get("autoarchive", "")

    @property
    def prevent_anon(self) -> bool:
        return self.data.get("prevent_anon", "false") == "true"

    @property
    def prevent_auto_commit(self) -> bool:
        return self.data.get("prevent_auto_commit", "false") == "true"

    @property
    def scan_date(self) -> datetime.date | None:
        return _date(self.data.get("scan_date", ""))

    @property
    def scan_time(self) -> datetime.time | None:
        return _time(self.data.get("scan_time", ""))

    @property
    def uploaded(self) -> datetime.datetime | None:
        return _datetime(self.data.get("uploaded", ""))

    @property
    def lastmod(self) -> datetime.datetime | None:
        return _datetime(self.data.get("lastmod", ""))

    @property
    def scans(self) -> list[PrearchiveScan]:
        rows = self.xnat_session.get_json(f"{self.uri}/scans")["ResultSet"]["Result"]
        return [PrearchiveScan(self, row) for row in rows]

    def download(self, path: str | os.PathLike[str], verbose: bool | None = None) -> str:
        """The session's files as a zip at ``path``."""
        return str(self.xnat_session.download_zip(self.uri, path, verbose=verbose))

    def archive(self, overwrite: str | None = None, quarantine: bool | None = None,
                trigger_pipelines: bool | None = None, project: str | None = None, subject: str | None = None,
                experiment: str | None = None) -> Any:
        """Archive the session; returns the archived experiment object.

        :raises XNATResponseError: the server refused (403 when the session is not READY,
            409 when the experiment exists and ``overwrite`` was not given)
        """
        if overwrite not in (None, "none", "append", "delete"):
            raise XNATValueError(f"overwrite should be one of none, append, delete; not {overwrite!r}")
        query = {"src": self.uri[5:], "auto-archive": "false"}
        for key, value in (("overwrite", overwrite), ("quarantine", _flag(quarantine)),
                           ("triggerPipelines", _flag(trigger_pipelines)), ("project", project),
                           ("subject", subject), ("session", experiment)):
            if value is not None:
                query[key] = value
        response = self.xnat_session.post("/data/services/archive", query=query)
        uri = response.text.strip().splitlines()[0].strip()
        self._row = None
        return self.xnat_session.create_object(uri)

    def _batch(self, service: str, asynchronous: bool | None, **extra: str) -> Any:
        query = {"src": self.uri[5:], **extra}
        if asynchronous is not None:
            query["async"] = _flag(asynchronous) or "false"
        response = self.xnat_session.post(f"/data/services/prearchive/{service}", query=query)
        self._row = None
        return response

    def delete(self, asynchronous: bool | None = None) -> Any:
        """Remove the session and its files from the prearchive."""
        return self._batch("delete", asynchronous)

    def rebuild(self, asynchronous: bool | None = None) -> Any:
        """Re-read the session's files (READY again, or ERROR with the reason)."""
        return self._batch("rebuild", asynchronous)

    def move(self, new_project: str, asynchronous: bool | None = None) -> Any:
        """Move the session to another project's prearchive (this object follows it)."""
        response = self._batch("move", asynchronous, newProject=new_project)
        prefix, _, rest = self.uri.partition("/prearchive/projects/")
        self.uri = f"{prefix}/prearchive/projects/{new_project}/{rest.split('/', 1)[1]}"
        return response


class Prearchive:
    """The prearchive of a session's server."""

    def __init__(self, xnat_session: Any) -> None:
        self.xnat_session = xnat_session
        self._cache: dict[str, PrearchiveSession] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Prearchive of {getattr(self.xnat_session, 'server', '?')}>"

    def clearcache(self) -> None:
        with self._lock:
            self._cache.clear()

    def session(self, uri: str, row: dict[str, str] | None = None) -> PrearchiveSession:
        """The session at ``uri`` (the same object for the same URI while cached)."""
        key = uri if uri.startswith("/data/") else "/data" + uri
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                found = self._cache[key] = PrearchiveSession(self.xnat_session, key, row)
            elif row is not None:
                found._row = dict(row)
        return found

    def sessions(self, project: str | None = None, allow_receiving: bool = False) -> list[PrearchiveSession]:
        """Every prearchive session (of ``project``); RECEIVING ones only with ``allow_receiving``."""
        uri = f"/data/prearchive/projects/{project}" if project else "/data/prearchive/projects"
        rows = self.xnat_session.get_json(uri)["ResultSet"]["Result"]
        return [self.session(row["url"], row) for row in rows
                if allow_receiving or row.get("status") != "RECEIVING"]

    def find(self, project: str | None = None, subject: str | None = None, session: str | None = None,
             status: str | None = None, allow_receiving: bool = False) -> list[PrearchiveSession]:
        """The sessions whose project, subject, name and status match (None matches anything)."""
        return [s for s in self.sessions(project, allow_receiving=allow_receiving)
                if (subject is None or s.subject == subject) and (session is None or s.name == session)
                and (status is None or s.status == status)]
