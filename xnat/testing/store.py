"""SQLite metadata store of the embedded XNAT server.

A small pool of connections: a request takes one for its thread and gives it back
when it ends (:meth:`Store.release`), so a server that starts a thread per request
does not leave a connection (three file descriptors) behind per thread. WAL journal so
readers never block the writer, a busy timeout so concurrent writers queue instead of
failing, and every write inside an explicit ``BEGIN IMMEDIATE`` transaction so a failed
request leaves nothing behind.

A full disk must not keep the server from starting: opening a WAL database writes its
``-shm`` index, so the store keeps a small reserve file beside the database
(``xnat.db-reserve``) and gives its space up when the open fails for lack of room; it is
laid down again at a later start when there is room. The app spends it the same way
to let a delete through on a full disk (see ``XNATApp.handle``). Start-up writes nothing else when
the schema is already in place.

This is the low-level layer: connections, transactions, the schema. The statements the
server runs live in :mod:`xnat.testing.backend` (and in ``auth`` and ``prearchive_store``).

The schema is deliberately plain: one table per archive level, extra data-type
fields as a JSON object keyed by XNAT item path (``fieldStrength``,
``scanner/manufacturer``), so any schema set the server is given can be stored.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Bytes kept in reserve beside the database, freed so that it can open on a full disk.
RESERVE_BYTES = 1 << 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users(
    login TEXT PRIMARY KEY, xdat_user_id INTEGER UNIQUE, salt TEXT NOT NULL, pwhash TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0, firstname TEXT DEFAULT '', lastname TEXT DEFAULT '',
    email TEXT DEFAULT '', enabled INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS tokens(
    alias TEXT PRIMARY KEY, secret TEXT NOT NULL, login TEXT NOT NULL, id INTEGER NOT NULL,
    created REAL NOT NULL, expires REAL NOT NULL, enabled INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS projects(
    id TEXT PRIMARY KEY, secondary_id TEXT NOT NULL DEFAULT '', name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '', pi_firstname TEXT NOT NULL DEFAULT '',
    pi_lastname TEXT NOT NULL DEFAULT '', accessibility TEXT NOT NULL DEFAULT 'private',
    xsi_type TEXT NOT NULL DEFAULT 'xnat:projectData', fields TEXT NOT NULL DEFAULT '{}',
    insert_date TEXT NOT NULL, insert_user TEXT NOT NULL, create_event INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deleted_projects(id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS project_aliases(alias TEXT PRIMARY KEY, project TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS project_settings(
    project TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(project, name));
CREATE TABLE IF NOT EXISTS project_users(
    project TEXT NOT NULL, login TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY(project, login));
CREATE TABLE IF NOT EXISTS subjects(
    id TEXT PRIMARY KEY, project TEXT NOT NULL, label TEXT NOT NULL,
    xsi_type TEXT NOT NULL DEFAULT 'xnat:subjectData', fields TEXT NOT NULL DEFAULT '{}',
    insert_date TEXT NOT NULL, insert_user TEXT NOT NULL, create_event INTEGER NOT NULL,
    UNIQUE(project, label));
CREATE TABLE IF NOT EXISTS experiments(
    id TEXT PRIMARY KEY, project TEXT NOT NULL, subject_id TEXT, session_id TEXT,
    label TEXT NOT NULL, xsi_type TEXT NOT NULL, date TEXT NOT NULL DEFAULT '',
    fields TEXT NOT NULL DEFAULT '{}', insert_date TEXT NOT NULL, insert_user TEXT NOT NULL,
    create_event INTEGER NOT NULL, UNIQUE(project, label));
CREATE INDEX IF NOT EXISTS experiments_subject ON experiments(subject_id);
CREATE INDEX IF NOT EXISTS experiments_session ON experiments(session_id);
CREATE TABLE IF NOT EXISTS shares(
    kind TEXT NOT NULL, obj_id TEXT NOT NULL, project TEXT NOT NULL, label TEXT NOT NULL,
    PRIMARY KEY(kind, obj_id, project), UNIQUE(kind, project, label));
CREATE TABLE IF NOT EXISTS scans(
    pk INTEGER PRIMARY KEY AUTOINCREMENT, experiment_id TEXT NOT NULL, id TEXT NOT NULL,
    xsi_type TEXT NOT NULL, fields TEXT NOT NULL DEFAULT '{}', create_event INTEGER NOT NULL,
    UNIQUE(experiment_id, id));
CREATE TABLE IF NOT EXISTS reconstructions(
    pk INTEGER PRIMARY KEY AUTOINCREMENT, experiment_id TEXT NOT NULL, id TEXT NOT NULL,
    xsi_type TEXT NOT NULL, fields TEXT NOT NULL DEFAULT '{}', create_event INTEGER NOT NULL,
    UNIQUE(experiment_id, id));
CREATE TABLE IF NOT EXISTS resources(
    pk INTEGER PRIMARY KEY AUTOINCREMENT, owner_kind TEXT NOT NULL, owner_id TEXT NOT NULL,
    io TEXT NOT NULL DEFAULT '', label TEXT NOT NULL,
    xsi_type TEXT NOT NULL DEFAULT 'xnat:resourceCatalog', format TEXT NOT NULL DEFAULT '',
    content TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '', folder TEXT NOT NULL, create_event INTEGER NOT NULL,
    UNIQUE(owner_kind, owner_id, io, label));
CREATE TABLE IF NOT EXISTS files(
    resource_pk INTEGER NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, md5 TEXT NOT NULL,
    format TEXT NOT NULL DEFAULT '', content TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '',
    modified REAL NOT NULL, PRIMARY KEY(resource_pk, path));
CREATE TABLE IF NOT EXISTS custom_fields(
    kind TEXT NOT NULL, obj_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY(kind, obj_id, name));
"""


def now_string() -> str:
    """A timestamp as XNAT listings write ``insert_date`` (``2020-09-15 17:01:51.751``), in UTC."""
    t = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}"


def loads(text: str | None) -> dict[str, Any]:
    """Decode a ``fields`` column (a JSON object)."""
    return json.loads(text) if text else {}


def dumps(fields: dict[str, Any]) -> str:
    """Encode a ``fields`` column."""
    return json.dumps(fields, sort_keys=True)


class Store:
    """Thread-safe access to the SQLite database at ``path``."""

    def __init__(self, path: Path, busy_timeout: float = 30.0, pool_size: int = 16) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.pool_size = pool_size
        self._local = threading.local()
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.reserve = self.path.with_name(self.path.name + "-reserve")
        try:
            conn = self.connection()
        except sqlite3.OperationalError:
            if not self.free_reserve():
                raise
            conn = self.connection()  # the reserve's space is enough to open
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
        if self._missing_tables(conn):  # CREATE ... IF NOT EXISTS is cheap, but skipped: no write at all
            conn.executescript(SCHEMA)
        self.release()
        self.lay_reserve()

    @staticmethod
    def _missing_tables(conn: sqlite3.Connection) -> bool:
        have = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        wanted = {word.split("(")[0].split()[0] for word in SCHEMA.split("IF NOT EXISTS ")[1:]}
        return not wanted <= have

    def free_reserve(self) -> bool:
        """Delete the reserve file; False if there was none."""
        try:
            self.reserve.unlink()
        except FileNotFoundError:
            return False
        logger.warning("disk full: released the %d-byte reserve beside %s", RESERVE_BYTES, self.path)
        return True

    def lay_reserve(self) -> None:
        """Write the reserve file if it is missing and there is room (quietly skipped otherwise)."""
        if self.reserve.exists():
            return
        try:
            with open(self.reserve, "wb") as handle:
                handle.write(bytes(RESERVE_BYTES))
        except OSError as exc:
            logger.info("no room for the reserve beside %s (%s); will try at the next start", self.path, exc)
            self.reserve.unlink(missing_ok=True)

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so reads run in autocommit.
        # check_same_thread=False: a pooled connection serves one thread at a time, but
        # not always the same one.
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error:
            conn.close()
            raise
        with self._lock:
            self._all.append(conn)
        return conn

    def connection(self) -> sqlite3.Connection:
        """The calling thread's connection: taken from the pool (or opened) on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._open()
            self._local.conn = conn
        return conn

    def release(self) -> None:
        """Give the calling thread's connection back to the pool (at the end of a request)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        if conn.in_transaction:  # never expected: transaction() always ends its own
            conn.execute("ROLLBACK")
        if self._idle.qsize() < self.pool_size:
            self._idle.put(conn)
            return
        with self._lock:
            self._all.remove(conn)
        conn.close()

    @property
    def open_connections(self) -> int:
        """How many connections are open (pooled or in use)."""
        with self._lock:
            return len(self._all)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back on any error."""
        conn = self.connection()
        if conn.in_transaction:  # nested use: join the outer transaction
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a read query and return every row."""
        return self.connection().execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """Run a read query and return its first row, or None."""
        row: sqlite3.Row | None = self.connection().execute(sql, params).fetchone()
        return row

    def next_value(self, conn: sqlite3.Connection, name: str, count: int = 1) -> int:
        """Reserve ``count`` values of counter ``name`` (inside a transaction); return the first."""
        row = conn.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
        first = (row["value"] if row else 0) + 1
        conn.execute("INSERT INTO counters(name, value) VALUES(?, ?) ON CONFLICT(name) "
                     "DO UPDATE SET value=excluded.value", (name, first + count - 1))
        return first

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` of the database: ``"ok"`` when intact."""
        return str(self.connection().execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        """Close every connection opened by any thread."""
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:  # closed already, or owned by a dead thread
                    pass
            self._all.clear()
        self._local = threading.local()
        self._idle = queue.LifoQueue()
