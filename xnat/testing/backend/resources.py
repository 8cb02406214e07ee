"""Resources (catalogues) and their files' metadata in the store.

A resource row belongs to an owner ``(owner_kind, owner_id)`` (project, subject,
experiment, scan or reconstruction; ``io`` is ``in``/``out`` for assessor and
reconstruction resources) and keeps its files in ``folder``, relative to the archive
root. A ``files`` row is one catalogued file: path, size, MD5 and attributes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ..filestore import FileStore, StoredFile
from ..store import Store

__all__ = ["Resources"]


class Resources:
    """The ``resources`` and ``files`` tables."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- resources ----------------------------------------------------------------------------
    def find(self, owner_kind: str, owner_id: str, io: str, key: str) -> sqlite3.Row | None:
        """A resource of an owner by label or by its numeric ``xnat_abstractresource_id``."""
        row = self.store.one("SELECT * FROM resources WHERE owner_kind=? AND owner_id=? AND io=? AND label=?",
                             (owner_kind, owner_id, io, key))
        if row is None and key.isdigit():
            row = self.store.one("SELECT * FROM resources WHERE owner_kind=? AND owner_id=? AND io=? AND pk=?",
                                 (owner_kind, owner_id, io, int(key)))
        return row

    def of_owner(self, owner_kind: str, owner_id: str, io: str | None = None,
                 label: str | None = None) -> list[sqlite3.Row]:
        """The resources of an owner, by pk: of one ``io`` side (None: all), with one ``label`` (None: any)."""
        sql, params = "SELECT * FROM resources WHERE owner_kind=? AND owner_id=?", [owner_kind, owner_id]
        if io is not None:
            sql += " AND io=?"
            params.append(io)
        if label is not None:
            sql += " AND label=?"
            params.append(label)
        return self.store.all(sql + " ORDER BY pk", params)

    def with_stats(self, owner_kind: str, owner_id: str, io: str) -> list[sqlite3.Row]:
        """The resources of an owner with ``n`` (file count) and ``s`` (total size)."""
        return self.store.all(
            "SELECT r.*, COUNT(f.path) AS n, COALESCE(SUM(f.size), 0) AS s FROM resources r LEFT JOIN files f"
            " ON f.resource_pk = r.pk WHERE r.owner_kind=? AND r.owner_id=? AND r.io=? GROUP BY r.pk ORDER BY r.pk",
            (owner_kind, owner_id, io))

    def stats(self, pk: int) -> tuple[int, int]:
        """(file count, total size) of a resource."""
        row = self.store.one("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS s FROM files WHERE resource_pk=?", (pk,))
        return (int(row["n"]), int(row["s"])) if row else (0, 0)

    def insert(self, owner_kind: str, owner_id: str, io: str, label: str, xsi_type: str, attributes: dict[str, str],
               folder: str) -> tuple[sqlite3.Row, bool]:
        """Create a resource row unless the owner has one of that label: ``(row, created)``."""
        with self.store.transaction() as conn:
            existing = self.by_label(conn, owner_kind, owner_id, io, label)
            if existing is not None:
                return existing, False
            pk = self.insert_in(conn, owner_kind, owner_id, io, label, xsi_type, attributes, folder)
            row = conn.execute("SELECT * FROM resources WHERE pk=?", (pk,)).fetchone()
        return row, True

    @staticmethod
    def by_label(conn: sqlite3.Connection, owner_kind: str, owner_id: str, io: str, label: str) -> sqlite3.Row | None:
        """A resource of an owner by label, inside the caller's transaction."""
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM resources WHERE owner_kind=? AND owner_id=? AND io=? AND label=?",
            (owner_kind, owner_id, io, label)).fetchone()
        return row

    def insert_in(self, conn: sqlite3.Connection, owner_kind: str, owner_id: str, io: str, label: str, xsi_type: str,
                  attributes: dict[str, str], folder: str) -> int:
        """Insert a resource row inside the caller's transaction; its pk."""
        event = self.store.next_value(conn, "event")
        cur = conn.execute(
            "INSERT INTO resources(owner_kind, owner_id, io, label, xsi_type, format, content, description, tags,"
            " folder, create_event) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
            (owner_kind, owner_id, io, label, xsi_type, attributes.get("format", ""), attributes.get("content", ""),
             attributes.get("description", ""), attributes.get("tags", ""), folder, event))
        return int(cur.lastrowid or 0)

    def first_dicom(self, experiment_id: str, scan_id: str | None) -> sqlite3.Row | None:
        """folder, path of the first file of a DICOM resource of a session's scans (of one scan)."""
        sql = ("SELECT r.folder, f.path FROM scans s JOIN resources r ON r.owner_kind='scan'"
               " AND r.owner_id=CAST(s.pk AS TEXT) JOIN files f ON f.resource_pk=r.pk WHERE s.experiment_id=?"
               " AND (r.label='DICOM' OR r.format='DICOM')")
        params: list[Any] = [experiment_id]
        if scan_id is not None:
            sql += " AND s.id=?"
            params.append(scan_id)
        return self.store.one(sql + " ORDER BY s.pk, f.path LIMIT 1", params)

    # -- files --------------------------------------------------------------------------------
    def files(self, pk: int) -> list[sqlite3.Row]:
        """The catalogued files of a resource, by path."""
        return self.store.all("SELECT * FROM files WHERE resource_pk=? ORDER BY path", (pk,))

    def file(self, pk: int, path: str) -> sqlite3.Row | None:
        return self.store.one("SELECT * FROM files WHERE resource_pk=? AND path=?", (pk, path))

    def has_file(self, pk: int, path: str) -> bool:
        return self.store.one("SELECT 1 FROM files WHERE resource_pk=? AND path=?", (pk, path)) is not None

    def has_folder(self, pk: int, path: str) -> bool:
        """Does the resource catalogue files below ``path/``?"""
        return self.store.one("SELECT 1 FROM files WHERE resource_pk=? AND substr(path, 1, ?) = ?",
                              (pk, len(path) + 1, path + "/")) is not None

    def catalogue(self, pk: int, stored: Sequence[StoredFile], attributes: dict[str, str]) -> None:
        """Catalogue files that landed in the resource's folder (replacing entries of the same path)."""
        now = time.time()
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO files(resource_pk, path, size, md5, format, content, tags, modified)"
                " VALUES(?,?,?,?,?,?,?,?)",
                [(pk, f.path, f.size, f.md5, attributes["format"], attributes["content"], attributes["tags"], now)
                 for f in stored])

    @staticmethod
    def catalogue_in(conn: sqlite3.Connection, pk: int, path: str, size: int, md5: str,
                     attributes: dict[str, str], modified: float) -> None:
        """Catalogue one file inside the caller's transaction (replacing an entry of the same path)."""
        conn.execute("INSERT OR REPLACE INTO files(resource_pk, path, size, md5, format, content, tags, modified)"
                     " VALUES(?,?,?,?,?,?,?,?)", (pk, path, size, md5, attributes.get("format", ""),
                                                 attributes.get("content", ""), attributes.get("tags", ""), modified))

    def uncatalogue(self, pk: int, path: str) -> bool:
        """Remove a file's catalogue entry; False if there was none."""
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM files WHERE resource_pk=? AND path=?", (pk, path)).rowcount > 0

    def refresh(self, resources: Iterable[sqlite3.Row], options: set[str], files: FileStore) -> None:
        """Re-read resource folders into their catalogues (one transaction).

        ``delete`` drops entries whose file is gone, ``append`` catalogues files not yet
        listed, ``checksum`` re-reads sizes and MD5s of listed files.
        """
        now = time.time()
        with self.store.transaction() as conn:
            for res in resources:
                folder = files.resource_dir(*res["folder"].split("/"))
                on_disk = set(files.list_files(folder))
                catalogued = {r["path"] for r in conn.execute("SELECT path FROM files WHERE resource_pk=?",
                                                              (res["pk"],))}
                if "delete" in options:
                    conn.executemany("DELETE FROM files WHERE resource_pk=? AND path=?",
                                     [(res["pk"], p) for p in catalogued - on_disk])
                if "append" in options:
                    for rel in sorted(on_disk - catalogued):
                        f = files.describe(folder, rel)
                        conn.execute("INSERT INTO files(resource_pk, path, size, md5, modified) VALUES(?,?,?,?,?)",
                                     (res["pk"], f.path, f.size, f.md5, now))
                if "checksum" in options:
                    for rel in sorted(on_disk & catalogued):
                        f = files.describe(folder, rel)
                        conn.execute("UPDATE files SET size=?, md5=? WHERE resource_pk=? AND path=?",
                                     (f.size, f.md5, res["pk"], rel))
