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
import html
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from ..classes.listing import XNATListing
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


def _flag(name: str, value: bool | None) -> str | None:
    """``value`` as the server's ``true``/``false``; anything but a bool or None is refused (as xnatpy)."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise TypeError(f"{name} should be a bool, not {type(value).__name__} ({value!r})")
    return "true" if value else "false"


def _html_table(title: str, row: dict[str, Any] | None) -> str:
    """Jupyter's view of a prearchive object: its listing row, if read (never a request)."""
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in sorted((row or {}).items()) if v not in (None, ""))
    return f"<table><caption>{html.escape(title)}</caption><tbody>{body}</tbody></table>"


def _child_listing(parent: Any, path: str, child: type, id_key: str, secondary_key: str) -> XNATListing:
    """The rows at ``{parent.uri}/{path}`` as an :class:`~xnat.classes.listing.XNATListing` of
    ``child`` objects, indexed by position, ID or secondary key, as xnatpy's listings are."""
    uri = f"{parent.uri}/{path}"
    session = parent.xnat_session

    def fetch(listing_uri: str, query: dict[str, str]) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = session.get_json(listing_uri, query=query)["ResultSet"]["Result"]
        return rows

    made: dict[str, Any] = {}  # one object per row's URI, so scans["T1"] is scans["1"]

    def make(row: Mapping[str, str], listing: XNATListing) -> Any:
        data = dict(row)
        child_uri = data.get("URI") or f"{uri}/{data[id_key]}"
        if child_uri not in made:
            made[child_uri] = child(child_uri, session, datafields=data, parent=parent, fieldname=path)
        return made[child_uri]

    # Each use of ``session.scans`` (or ``.resources``, ``.files``) makes a new listing, which
    # reads the server once: a prearchive session changes while it is being received.
    return XNATListing(uri, fetch, make, secondary_key=secondary_key, id_key=id_key, parent=parent, name=path)


class _PrearchiveChild:
    """A scan, resource or file below a prearchive session, read from its parent's listing
    (XNAT serves these only as rows of a listing). xnatpy's constructor signature."""

    _XSI_TYPE = ""
    _KEY = "ID"

    def __init__(self, uri: str, xnat_session: Any, id_: str | None = None, datafields: dict[str, Any] | None = None,
                 parent: Any = None, fieldname: str | None = None) -> None:
        self.uri = uri
        self.xnat_session = xnat_session
        self.parent = parent
        self.fieldname = fieldname
        self._id = id_
        self._row = dict(datafields) if datafields else None

    @property
    def data(self) -> dict[str, Any]:
        """This object's row of its parent's listing (read once, then kept)."""
        if self._row is None:
            key = self._id or self.uri.rstrip("/").rsplit("/", 1)[1]
            rows = self.xnat_session.get_json(self.uri.rstrip("/").rsplit("/", 1)[0])["ResultSet"]["Result"]
            found = next((row for row in rows if row.get(self._KEY) == key), None)
            if found is None:
                raise XNATValueError(f"{self.uri} is not in the prearchive")
            self._row = found
        return self._row

    fulldata = data

    def _repr_html_(self) -> str:
        return _html_table(repr(self), self._row)

    @property
    def xpath(self) -> str:
        """xnatpy's name of this kind of prearchive object (``xnatpy:prearchiveScan``, ...)."""
        return self._XSI_TYPE

    __xsi_type__ = property(lambda self: self._XSI_TYPE)


class PrearchiveFile(_PrearchiveChild):
    """One file of a prearchive scan."""

    _XSI_TYPE = "xnatpy:prearchiveFile"
    _KEY = "Name"

    def __repr__(self) -> str:
        return f"<PrearchiveFile {self.uri.rsplit('/', 1)[-1]}>"

    @property
    def id(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return str(self.data["Name"])

    @property
    def size(self) -> int:
        return int(self.data.get("Size") or 0)

    def download(self, path: str | os.PathLike[str], verbose: bool | None = None) -> str | os.PathLike[str]:
        """Save the file to ``path`` (verified); returns ``path`` as given, as xnatpy does."""
        self.xnat_session.download(self.uri, path, verbose=verbose)
        return path

    def open(self) -> Any:
        """A seekable read-only file over the remote file (fetched by byte ranges)."""
        return self.xnat_session.transferer().open(self.uri, size=self.size or None)


class PrearchiveResource(_PrearchiveChild):
    """A resource (``DICOM``, ``secondary``) of a prearchive scan."""

    _XSI_TYPE = "xnatpy:prearchiveResource"
    _KEY = "label"

    def __repr__(self) -> str:
        return f"<PrearchiveResource {self.uri.rsplit('/', 1)[-1]}>"

    @property
    def label(self) -> str:
        return str(self.data["label"])

    @property
    def file_count(self) -> int:
        return int(self.data.get("file_count") or 0)

    @property
    def file_size(self) -> int:
        return int(self.data.get("file_size") or 0)

    @property
    def files(self) -> XNATListing:
        return _child_listing(self, "files", PrearchiveFile, "Name", "Name")


class PrearchiveScan(_PrearchiveChild):
    """A scan (series) of a prearchive session."""

    _XSI_TYPE = "xnatpy:prearchiveScan"

    def __repr__(self) -> str:
        return f"<PrearchiveScan {self.uri.rsplit('/', 1)[-1]}>"  # no request in a repr

    @property
    def session(self) -> Any:
        """The prearchive session holding this scan."""
        return self.parent

    @property
    def id(self) -> str:
        return str(self.data["ID"])

    @property
    def series_description(self) -> str:
        return str(self.data.get("series_description", ""))

    @property
    def resources(self) -> XNATListing:
        return _child_listing(self, "resources", PrearchiveResource, "label", "label")

    @property
    def files(self) -> XNATListing:
        resources = self.resources
        for label in ("DICOM", "secondary"):
            if label in resources:
                return resources[label].files  # type: ignore[no-any-return]  # a listing of files
        raise XNATValueError(f"scan {self.id} of {self.uri} has no DICOM or secondary resource")

    def download(self, path: str | os.PathLike[str], verbose: bool | None = None) -> str | os.PathLike[str]:
        """A zip of the whole session at ``path`` (XNAT zips prearchive sessions, not single
        scans); returns ``path`` as given, as xnatpy does."""
        if self.parent is not None:
            return self.parent.download(path, verbose=verbose)  # type: ignore[no-any-return]  # the path given
        self.xnat_session.download_zip(self.uri.rsplit("/scans/", 1)[0], path, verbose=verbose)
        return path

    def dicom_dump(self, fields: list[str] | str | None = None) -> list[dict[str, str]]:
        """The header of the scan's first DICOM file as dump rows."""
        return dicom_dump(self.xnat_session, self.uri[5:] if self.uri.startswith("/data/") else self.uri, fields)

    def read_dicom(self, file: PrearchiveFile | None = None, read_pixel_data: bool = False,
                   force: bool = False) -> Any:
        """A ``pydicom`` dataset of one file (the first by default), reading only the bytes needed."""
        chosen = file or self.files[0]
        return read_dicom_file(self.xnat_session, chosen.uri, chosen.size or None, read_pixel_data, force)


class PrearchiveSession:
    """One session in the prearchive (``/data/prearchive/projects/P/TS/NAME``)."""

    def __init__(self, uri: str | None = None, xnat_session: Any = None, id_: str | None = None,
                 datafields: dict[str, Any] | None = None, parent: Any = None, fieldname: str | None = None,
                 overwrites: dict[str, Any] | None = None, **kwargs: Any) -> None:
        # xnatpy's constructor; only uri, xnat_session and datafields (the listing row) matter here.
        if uri is None or xnat_session is None:
            raise XNATValueError("PrearchiveSession needs the session's uri and the xnat_session")
        if kwargs:
            raise XNATValueError(f"PrearchiveSession got unexpected arguments: {', '.join(sorted(kwargs))}")
        self.xnat_session = xnat_session
        self.uri = uri if uri.startswith("/data/") else "/data" + uri
        row = {**(datafields or {}), **(overwrites or {})}
        self._row: dict[str, str] | None = row or None

    def __repr__(self) -> str:
        return f"<PrearchiveSession {self.uri.partition('/prearchive/projects/')[2]}>"  # no request in a repr

    def _repr_html_(self) -> str:
        return _html_table(repr(self), self._row)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrearchiveSession) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    #: xnatpy's name of this kind of object.
    __xsi_type__ = "xnatpy:prearchiveSession"

    def cli_str(self) -> str:
        """How the command line names this session (xnatpy's ``cli_str``)."""
        return f"Prearchive session {self.label}"

    @property
    def xpath(self) -> str:
        """``xnatpy:prearchiveSession``, as xnatpy names it."""
        return self.__xsi_type__

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
    def prevent_anon(self) -> str | None:
        """The server's own value (XNAT serves ``"true"``/``"false"``), as xnatpy returns it."""
        return self.data.get("prevent_anon")

    @property
    def prevent_auto_commit(self) -> str | None:
        """The server's own value (XNAT serves ``"true"``/``"false"``), as xnatpy returns it."""
        return self.data.get("prevent_auto_commit")

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
    def scans(self) -> XNATListing:
        """The session's scans, by position, ID or series description (``scans['1']``)."""
        return _child_listing(self, "scans", PrearchiveScan, "ID", "series_description")

    def download(self, path: str | os.PathLike[str], verbose: bool | None = None) -> str | os.PathLike[str]:
        """The session's files as a zip at ``path``; returns ``path`` as given, as xnatpy does."""
        self.xnat_session.download_zip(self.uri, path, verbose=verbose)
        return path

    def archive(self, overwrite: str | None = None, quarantine: bool | None = None,
                trigger_pipelines: bool | None = None, project: str | None = None, subject: str | None = None,
                experiment: str | None = None) -> Any:
        """Archive the session; returns the archived experiment object.

        :raises XNATResponseError: the server refused (403 when the session is not READY,
            409 when the experiment exists and ``overwrite`` was not given)
        """
        if overwrite not in (None, "none", "append", "delete"):
            raise XNATValueError(f"overwrite should be one of none, append, delete; not {overwrite!r}")
        query = {"src": self.uri, "auto-archive": "false"}  # /data-prefixed, as xnatpy sends it
        for key, value in (("overwrite", overwrite), ("quarantine", _flag("quarantine", quarantine)),
                           ("triggerPipelines", _flag("trigger_pipelines", trigger_pipelines)), ("project", project),
                           ("subject", subject), ("session", experiment)):
            if value is not None:
                query[key] = value
        response = self.xnat_session.post("/data/services/archive", query=query)
        uri = response.text.strip().splitlines()[0].strip()
        self._row = None
        return self.xnat_session.create_object(uri)

    def _batch(self, service: str, asynchronous: bool | None, **extra: str) -> Any:
        flag = _flag("asynchronous", asynchronous)
        query = {"src": self.uri, **extra}
        if flag is not None:
            query["async"] = flag
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
        self._caching: bool | None = None

    @property
    def caching(self) -> bool:
        """Keep one object per prearchive session (default: the session's ``caching``); with
        ``False`` every :meth:`sessions` call makes fresh objects from the rows it read."""
        if self._caching is not None:
            return self._caching
        return bool(getattr(self.xnat_session, "caching", True))

    @caching.setter
    def caching(self, value: bool | None) -> None:
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"caching should be a bool or None, not {type(value).__name__}")
        self._caching = value

    @caching.deleter
    def caching(self) -> None:
        self._caching = None

    def __repr__(self) -> str:
        return f"<Prearchive of {getattr(self.xnat_session, 'server', '?')}>"

    def clearcache(self) -> None:
        with self._lock:
            self._cache.clear()

    def session(self, uri: str, row: dict[str, str] | None = None) -> PrearchiveSession:
        """The session at ``uri`` (the same object for the same URI while cached)."""
        key = uri if uri.startswith("/data/") else "/data" + uri
        if not self.caching:
            return PrearchiveSession(key, self.xnat_session, datafields=row)
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                found = self._cache[key] = PrearchiveSession(key, self.xnat_session, datafields=row)
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
