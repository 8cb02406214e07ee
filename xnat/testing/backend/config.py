"""The configuration service's store (``/data/config``, ``/data/projects/P/config``): versioned
text documents by tool and path, site-wide (project ``""``) or per project.

XNAT's ConfigService keeps every version; a read answers the latest, ``version=N`` an older one.
"""

from __future__ import annotations

import sqlite3

from ..store import Store, now_string

__all__ = ["COLUMNS", "Configs"]

_TABLE = """
CREATE TABLE IF NOT EXISTS configs(
    project TEXT NOT NULL, tool TEXT NOT NULL, path TEXT NOT NULL, version INTEGER NOT NULL,
    contents TEXT NOT NULL, login TEXT NOT NULL, create_date TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'enabled', PRIMARY KEY(project, tool, path, version))
"""
#: The listing's columns, as recorded (REST-NOTES §5, ConfigResource).
COLUMNS = ("tool", "path", "project", "user", "create_date", "reason", "contents", "unversioned", "version", "status")


class Configs:
    """Versioned configuration documents."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.transaction() as conn:
            conn.execute(_TABLE)

    def latest(self, project: str, tool: str | None = None, path: str | None = None,
               version: int | None = None) -> list[sqlite3.Row]:
        """The latest version (or ``version``) of each document of ``project``, narrowed to a tool and path."""
        sql = ("SELECT c.* FROM configs c WHERE c.project=?"
               + (" AND c.tool=?" if tool is not None else "") + (" AND c.path=?" if path is not None else ""))
        params: list[object] = [project, *(v for v in (tool, path) if v is not None)]
        if version is None:
            sql += (" AND c.version=(SELECT MAX(version) FROM configs d WHERE d.project=c.project"
                    " AND d.tool=c.tool AND d.path=c.path)")
        else:
            sql += " AND c.version=?"
            params.append(version)
        return self.store.all(sql + " ORDER BY c.tool, c.path", params)

    def put(self, project: str, tool: str, path: str, contents: str, login: str, reason: str) -> int:
        """Store a new version of a document; its version number."""
        with self.store.transaction() as conn:
            row = conn.execute("SELECT MAX(version) FROM configs WHERE project=? AND tool=? AND path=?",
                               (project, tool, path)).fetchone()
            version = int(row[0] or 0) + 1
            conn.execute("INSERT INTO configs(project, tool, path, version, contents, login, create_date, reason)"
                         " VALUES(?,?,?,?,?,?,?,?)", (project, tool, path, version, contents, login, now_string(),
                                                       reason))
        return version

    def set_status(self, project: str, tool: str, path: str, status: str) -> bool:
        """Enable or disable a document (its latest version); False when there is none."""
        with self.store.transaction() as conn:
            cur = conn.execute("UPDATE configs SET status=? WHERE project=? AND tool=? AND path=? AND version=("
                               "SELECT MAX(version) FROM configs WHERE project=? AND tool=? AND path=?)",
                               (status, project, tool, path, project, tool, path))
            return cur.rowcount > 0
