"""The embedded server's prearchive: sessions received but not (yet) archived.

XNAT keeps each received session in ``prearchive/{project}/{timestamp}/{folder}`` with a
row in its ``prearchive`` table (REST-NOTES §5, §9). Here the row lives in the same SQLite
database as the archive (table ``prearchive``, created on first use so the archive's own
schema stays untouched) and the DICOM files in ``<data_dir>/prearchive/...`` through a
:class:`~xnat.testing.filestore.FileStore` of their own.

A row carries what the importer read from the headers (the session's xsi type and
fields, and per scan its type, fields and catalogued files) as JSON, so archiving it
later needs no second pass over the DICOM.

Statuses are XNAT's: ``RECEIVING`` (files arriving), ``READY`` (may be archived),
``ERROR`` (a build or archive step failed; ``error`` says why), and the transient
``BUILDING``, ``ARCHIVING``, ``MOVING``, ``DELETING``, ``QUEUED_*`` a client may see.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .filestore import FileStore
from .store import Store, now_string

__all__ = ["IN_PROGRESS", "STATUSES", "UNASSIGNED", "PrearchiveSession", "PrearchiveStore", "prearchive_of",
           "timestamp_now"]

#: The prearchive "project" of uploads that name none (XNAT's ``PrearcUtils.COMMON``): only
#: site admins see it; its sessions are moved into a project, or archived with ``project=``.
UNASSIGNED = "Unassigned"

STATUSES = ("READY", "RECEIVING", "BUILDING", "ARCHIVING", "MOVING", "DELETING", "ERROR", "CONFLICT",
            "QUEUED_BUILDING", "QUEUED_ARCHIVING", "QUEUED_MOVING", "QUEUED_DELETING", "_RECEIVING",
            "_BUILDING", "_ARCHIVING", "_MOVING", "_DELETING")
#: Statuses of a session another operation is working on: XNAT refuses to act on them.
IN_PROGRESS = frozenset(s for s in STATUSES if s not in ("READY", "ERROR", "CONFLICT"))

SCHEMA = """
CREATE TABLE IF NOT EXISTS prearchive(
    project TEXT NOT NULL, timestamp TEXT NOT NULL, folder_name TEXT NOT NULL, name TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, uploaded TEXT NOT NULL DEFAULT '',
    lastmod TEXT NOT NULL, scan_date TEXT NOT NULL DEFAULT '', scan_time TEXT NOT NULL DEFAULT '',
    tag TEXT NOT NULL DEFAULT '', autoarchive TEXT NOT NULL DEFAULT 'Manual',
    prevent_anon TEXT NOT NULL DEFAULT 'false', prevent_auto_commit TEXT NOT NULL DEFAULT 'false',
    source TEXT NOT NULL DEFAULT '', visit TEXT NOT NULL DEFAULT '', protocol TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL DEFAULT '', xsi_type TEXT NOT NULL DEFAULT '', fields TEXT NOT NULL DEFAULT '{}',
    scans TEXT NOT NULL DEFAULT '[]', error TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT '',
    PRIMARY KEY(project, timestamp, folder_name));
"""

_READY_LOCK = threading.Lock()


def timestamp_now() -> str:
    """A prearchive timestamp as XNAT writes it: ``20211229_101128996`` (local time, ms)."""
    t = time.time()
    return time.strftime("%Y%m%d_%H%M%S", time.localtime(t)) + f"{int(t * 1000) % 1000:03d}"


@dataclass
class PrearchiveSession:
    """One prearchive row, decoded."""

    project: str
    timestamp: str
    folder_name: str
    name: str
    subject: str
    status: str
    uploaded: str = ""
    lastmod: str = ""
    scan_date: str = ""
    scan_time: str = ""
    tag: str = ""
    autoarchive: str = "Manual"
    prevent_anon: str = "false"
    prevent_auto_commit: str = "false"
    source: str = ""
    visit: str = ""
    protocol: str = ""
    timezone: str = ""
    xsi_type: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    scans: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    owner: str = ""

    @property
    def url(self) -> str:
        """``/prearchive/projects/P/TS/NAME``: the ``url`` column (no ``/data``)."""
        return f"/prearchive/projects/{self.project}/{self.timestamp}/{self.folder_name}"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.project, self.timestamp, self.folder_name)

    def row(self) -> dict[str, str]:
        """The listing row, with XNAT's column names (REST-NOTES §5)."""
        return {"project": self.project, "timestamp": self.timestamp, "lastmod": self.lastmod,
                "uploaded": self.uploaded, "scan_date": self.scan_date, "scan_time": self.scan_time,
                "subject": self.subject, "folderName": self.folder_name, "name": self.name, "tag": self.tag,
                "status": self.status, "url": self.url, "autoarchive": self.autoarchive,
                "prevent_anon": self.prevent_anon, "prevent_auto_commit": self.prevent_auto_commit,
                "SOURCE": self.source, "VISIT": self.visit, "PROTOCOL": self.protocol, "TIMEZONE": self.timezone}

    def scan(self, scan_id: str) -> dict[str, Any] | None:
        """The scan record with this ID, or None."""
        return next((s for s in self.scans if s["id"] == scan_id), None)


def _decode(row: sqlite3.Row) -> PrearchiveSession:
    data = {k: row[k] for k in row.keys()}
    data["fields"] = json.loads(data["fields"] or "{}")
    data["scans"] = json.loads(data["scans"] or "[]")
    return PrearchiveSession(**data)


class PrearchiveStore:
    """Rows and files of the prearchive, on the app's store and data folder."""

    def __init__(self, store: Store, root: Path, durable: bool = True) -> None:
        self.store = store
        self.files = FileStore(root, durable=durable)
        with _READY_LOCK:
            self.store.connection().executescript(SCHEMA)

    # -- rows ---------------------------------------------------------------------------
    def get(self, project: str, timestamp: str, folder: str) -> PrearchiveSession | None:
        row = self.store.one("SELECT * FROM prearchive WHERE project=? AND timestamp=? AND folder_name=?",
                             (project, timestamp, folder))
        return _decode(row) if row else None

    def list(self, projects: set[str] | None = None) -> list[PrearchiveSession]:
        """Every session (of ``projects`` when given), oldest first."""
        rows = [_decode(r) for r in self.store.all("SELECT * FROM prearchive ORDER BY timestamp, folder_name")]
        return [s for s in rows if projects is None or s.project in projects]

    def insert(self, conn: sqlite3.Connection, session: PrearchiveSession) -> None:
        """Add a row inside the caller's transaction (the timestamp must be free)."""
        conn.execute(
            "INSERT INTO prearchive(project, timestamp, folder_name, name, subject, status, uploaded, lastmod,"
            " scan_date, scan_time, tag, autoarchive, prevent_anon, prevent_auto_commit, source, visit, protocol,"
            " timezone, xsi_type, fields, scans, error, owner) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (session.project, session.timestamp, session.folder_name, session.name, session.subject,
             session.status, session.uploaded, session.lastmod or now_string(), session.scan_date,
             session.scan_time, session.tag, session.autoarchive, session.prevent_anon,
             session.prevent_auto_commit, session.source, session.visit, session.protocol, session.timezone,
             session.xsi_type, json.dumps(session.fields, sort_keys=True), json.dumps(session.scans),
             session.error, session.owner))

    def free_timestamp(self, conn: sqlite3.Connection, project: str, folder: str) -> str:
        """A timestamp not yet used by ``project/*/folder`` (bumped by a millisecond on a clash)."""
        stamp = timestamp_now()
        while conn.execute("SELECT 1 FROM prearchive WHERE project=? AND timestamp=? AND folder_name=?",
                           (project, stamp, folder)).fetchone():
            stamp = stamp[:-3] + f"{(int(stamp[-3:]) + 1) % 1000:03d}"
        return stamp

    def set_status(self, session: PrearchiveSession, status: str, error: str = "") -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE prearchive SET status=?, error=?, lastmod=? WHERE project=? AND timestamp=?"
                         " AND folder_name=?", (status, error, now_string(), *session.key))
        session.status, session.error = status, error

    def mark_ready(self, session: PrearchiveSession, scans: builtins.list[dict[str, Any]]) -> None:
        """Store a session's scans (files received) and make it READY."""
        with self.store.transaction() as conn:
            conn.execute("UPDATE prearchive SET scans=?, status='READY', lastmod=? WHERE project=? AND timestamp=?"
                         " AND folder_name=?", (json.dumps(scans), now_string(), *session.key))
        session.scans, session.status = scans, "READY"

    def mark_rebuilt(self, session: PrearchiveSession, scans: builtins.list[dict[str, Any]]) -> None:
        """Store the scans a rebuild read and make the session READY again."""
        with self.store.transaction() as conn:
            conn.execute("UPDATE prearchive SET scans=?, status='READY', error='' WHERE project=? AND timestamp=?"
                         " AND folder_name=?", (json.dumps(scans), *session.key))
        session.scans, session.status, session.error = scans, "READY", ""

    def remove(self, session: PrearchiveSession) -> None:
        """Delete the row and the session's files."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM prearchive WHERE project=? AND timestamp=? AND folder_name=?", session.key)
        folder = self.files.root / session.project / session.timestamp / session.folder_name
        if folder.exists():
            self.files.delete(folder)
        for empty in (folder.parent, folder.parent.parent):  # tidy the timestamp/project folders
            try:
                empty.rmdir()
            except OSError:
                break

    def move(self, session: PrearchiveSession, new_project: str) -> PrearchiveSession:
        """Move a session (row and files) to another project's prearchive."""
        src = self.files.root / session.project / session.timestamp / session.folder_name
        dest_parent = self.files.resource_dir(new_project, session.timestamp)
        dest = dest_parent / session.folder_name
        with self.store.transaction() as conn:
            conn.execute("UPDATE prearchive SET project=?, lastmod=? WHERE project=? AND timestamp=?"
                         " AND folder_name=?", (new_project, now_string(), *session.key))
            if src.exists():
                src.rename(dest)  # same file system: atomic; a failure rolls the row back
        for empty in (src.parent, src.parent.parent):
            try:
                empty.rmdir()
            except OSError:
                break
        session.project = new_project
        return session

    # -- files ----------------------------------------------------------------------------
    def scan_folder(self, session: PrearchiveSession, scan_id: str, resource: str = "DICOM") -> Path:
        """``prearchive/P/TS/FOLDER/SCANS/{scan}/{resource}``, created on demand."""
        return self.files.resource_dir(session.project, session.timestamp, session.folder_name, "SCANS",
                                       scan_id, resource)

    def file_path(self, session: PrearchiveSession, scan_id: str, resource: str, relpath: str) -> Path:
        return self.files.path_of(self.scan_folder(session, scan_id, resource), relpath)


def prearchive_of(app: Any) -> PrearchiveStore:
    """The app's prearchive, made on first use (kept on the app object)."""
    found = getattr(app, "_prearchive_store", None)
    if found is None:
        with _READY_LOCK:
            found = getattr(app, "_prearchive_store", None)
        if found is None:
            found = PrearchiveStore(app.store, Path(app.data_dir) / "prearchive", durable=app.files.durable)
            app._prearchive_store = found
    return found
