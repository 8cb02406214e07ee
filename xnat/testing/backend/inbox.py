"""DICOM inbox import requests (``/xapi/dicom/{id}``): what was asked, by whom, and how it ended.

XNAT queues an ``import-handler=inbox`` import as a ``DicomInboxImportRequest`` and answers its
URI; this server runs the import at once and keeps the request so that it can be read back.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from ..store import Store

__all__ = ["InboxRequests"]


class InboxRequests:
    """The ``dicom_inbox_requests`` table."""

    def __init__(self, store: Store) -> None:
        self.store = store
        if not store.one("SELECT 1 FROM sqlite_master WHERE name='dicom_inbox_requests'"):
            with store.transaction() as conn:  # a table added after the first stores were made
                conn.execute("CREATE TABLE IF NOT EXISTS dicom_inbox_requests(id INTEGER PRIMARY KEY AUTOINCREMENT,"
                             " username TEXT NOT NULL, session_path TEXT NOT NULL, parameters TEXT NOT NULL,"
                             " cleanup INTEGER NOT NULL, status TEXT NOT NULL, resolution TEXT NOT NULL,"
                             " created REAL NOT NULL, timestamp REAL NOT NULL)")

    def add(self, username: str, session_path: str, parameters: dict[str, str], cleanup: bool) -> int:
        """Record a new request (status ``Importing``); its ID."""
        now = time.time()
        with self.store.transaction() as conn:
            cur = conn.execute("INSERT INTO dicom_inbox_requests(username, session_path, parameters, cleanup, status,"
                               " resolution, created, timestamp) VALUES(?,?,?,?,'Importing','',?,?)",
                               (username, session_path, json.dumps(parameters), int(cleanup), now, now))
            return int(cur.lastrowid or 0)

    def finish(self, request_id: int, status: str, resolution: str) -> None:
        """Set how a request ended (``Completed`` or ``Failed``, and the URIs or the reason)."""
        with self.store.transaction() as conn:
            conn.execute("UPDATE dicom_inbox_requests SET status=?, resolution=?, timestamp=? WHERE id=?",
                         (status, resolution, time.time(), request_id))

    def get(self, request_id: int) -> sqlite3.Row | None:
        return self.store.one("SELECT * FROM dicom_inbox_requests WHERE id=?", (request_id,))

    @staticmethod
    def as_json(row: sqlite3.Row) -> dict[str, Any]:
        """A request as XNAT serialises its ``DicomInboxImportRequest`` entity (times in ms)."""
        return {"id": row["id"], "username": row["username"], "sessionPath": row["session_path"],
                "parameters": json.loads(row["parameters"]), "cleanupAfterImport": bool(row["cleanup"]),
                "status": row["status"], "resolution": row["resolution"], "enabled": True, "disabled": 0,
                "created": int(row["created"] * 1000), "timestamp": int(row["timestamp"] * 1000)}
