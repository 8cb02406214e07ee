"""Subjects, experiments (sessions and assessors), scans, reconstructions and shares in the store.

Subjects and experiments are found by accession ID or by their label in a project, own
or shared (REST-NOTES §2). A share is a row ``(kind, obj_id, project, label)`` with kind
``subject`` or ``experiment``. Scans and reconstructions are rows of their session keyed
by ``pk``. Methods that take a ``conn`` run inside the caller's transaction (a write that
validates as it goes); the others open their own.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, closing
from operator import itemgetter
from typing import Any

from ..store import Store, dumps, loads, now_string

__all__ = ["LEVEL_TABLES", "STATUSES", "Archive", "ShareConflict", "share_kind", "status_of"]

#: The table of each archive level (subject, experiment, assessor, scan, reconstruction).
LEVEL_TABLES = {"subject": "subjects", "experiment": "experiments", "assessor": "experiments",
                "scan": "scans", "reconstruction": "reconstructions"}
_OWNER_KIND = {"project": "project", "subject": "subject", "experiment": "experiment", "assessor": "experiment",
               "scan": "scan", "reconstruction": "reconstruction"}
_EXPERIMENT_ROWS = ("SELECT e.*, s.label AS subject_label, se.label AS session_label FROM experiments e"
                    " LEFT JOIN subjects s ON s.id = e.subject_id LEFT JOIN experiments se ON se.id = e.session_id")


#: Each listing column of an experiment row, as SQL giving the text the handlers write for it
#: (``handlers/archive.experiment_rows``): "" for none, the label in the listing's project.
_LISTING_SQL = {
    "ID": "e.id", "project": "e.project", "date": "COALESCE(e.date, '')", "xsiType": "e.xsi_type",
    "label": "COALESCE(sh.label, e.label)", "insert_date": "COALESCE(e.insert_date, '')",
    "insert_user": "COALESCE(e.insert_user, '')",
    "last_modified": "COALESCE(NULLIF(e.last_modified, ''), NULLIF(e.insert_date, ''), '')",
    "URI": "'/data/experiments/' || e.id", "subject_ID": "COALESCE(e.subject_id, '')",
    "subject_label": "COALESCE(s.label, '')",
}


def _experiments_where(project: str | None, subject: str | None, session: str | None) -> tuple[str, tuple[str, ...]]:
    """The WHERE clause (and its parameters) selecting the experiments of a listing."""
    if session is not None:
        return "e.session_id=?", (session,)
    if subject is not None:
        return "e.subject_id=? AND e.session_id IS NULL", (subject,)
    if project is not None:
        return ("(e.project=? OR e.id IN (SELECT obj_id FROM shares WHERE kind='experiment' AND project=?))"
                " AND e.session_id IS NULL"), (project, project)
    return "1", ()


@functools.cache
def _json_as_python() -> bool:
    """Whether this process's SQLite writes text in JSON byte for byte as
    ``json.dumps(ensure_ascii=False)`` does (control characters, quotes, backslashes, non-ASCII)."""
    sample = "".join(map(chr, [*range(0x20), 0x22, 0x2F, 0x5C, 0x7F, 0xE9, 0x2028, 0x1F600]))
    with closing(sqlite3.connect(":memory:")) as conn:
        written = conn.execute("SELECT json_object('k', ?)", (sample,)).fetchone()[0]
    return bool(written == json.dumps({"k": sample}, ensure_ascii=False, separators=(",", ":")))


#: An experiment's status as XNAT keeps it in its meta data (``ViewManager``): new data is
#: active; ``quarantine`` until an owner activates it; ``locked``; ``obsolete``.
STATUSES = ("active", "quarantine", "locked", "obsolete")


_HISTORY_TABLE = ("CREATE TABLE IF NOT EXISTS history(pk INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
                  " obj_id TEXT NOT NULL, xsi_type TEXT NOT NULL, label TEXT NOT NULL, date TEXT NOT NULL,"
                  " fields TEXT NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL)")
# What a version of each kind is made of (scans and reconstructions have no label or date).
_VERSIONED = {"subject": ("subjects", "id", "label", "''"), "experiment": ("experiments", "id", "label", "date"),
              "assessor": ("experiments", "id", "label", "date"), "scan": ("scans", "pk", "id", "''"),
              "reconstruction": ("reconstructions", "pk", "id", "''")}


def status_of(row: sqlite3.Row) -> str:
    """The status of an experiment row (a row of a store made before statuses: active)."""
    keys = row.keys()
    return str(row["status"]) if "status" in keys and row["status"] else "active"


def share_kind(kind: str) -> str:
    """``subject`` or ``experiment``: the kind a share row names an object by."""
    return "subject" if kind in ("subject", "subjects") else "experiment"


def _table(kind: str) -> str:
    return "subjects" if share_kind(kind) == "subject" else "experiments"


class Archive:
    """The archive hierarchy below projects."""

    def __init__(self, store: Store, site_id: str) -> None:
        self.store = store
        self.site_id = site_id
        # Columns added after the first stores were made: last_modified (issue 15 item 1: a real
        # listing column) and an experiment's status (NULL: active; see STATUSES).
        with store.transaction() as conn:
            for table, column in (("subjects", "last_modified"), ("experiments", "last_modified"),
                                  ("experiments", "status")):
                names = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
                if column not in names:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        if not store.one("SELECT 1 FROM sqlite_master WHERE name='history'"):
            with store.transaction() as conn:  # earlier versions of items (includeHistory=true)
                conn.execute(_HISTORY_TABLE)

    # -- finding ----------------------------------------------------------------------------
    def find(self, kind: str, key: str, project: str | None) -> sqlite3.Row | None:
        """A subject (``kind`` subject) or experiment by ID, or by own or shared label within ``project``."""
        table, skind = _table(kind), share_kind(kind)
        if project is None:
            return self.store.one(f"SELECT * FROM {table} WHERE id=?", (key,))
        # the ID and the label in the project in one statement (each URL of a file upload asks)
        rows = self.store.all(f"SELECT * FROM {table} WHERE id=? OR (project=? AND label=?)", (key, project, key))
        row = next((r for r in rows if r["id"] == key), None)
        if row is not None and (row["project"] == project or self.is_shared(skind, row["id"], project)):
            return row
        row = next((r for r in rows if r["project"] == project and r["label"] == key), None)
        if row is None:
            share = self.store.one("SELECT obj_id FROM shares WHERE kind=? AND project=? AND label=?",
                                   (skind, project, key))
            if share is not None:
                row = self.store.one(f"SELECT * FROM {table} WHERE id=?", (share["obj_id"],))
        return row

    def child(self, level: str, experiment_id: str, key: str) -> sqlite3.Row | None:
        """A scan or reconstruction (``level``) of a session by its ID."""
        return self.store.one(f"SELECT * FROM {LEVEL_TABLES[level]} WHERE experiment_id=? AND id=?",
                              (experiment_id, key))

    def scans(self, experiment_id: str) -> list[sqlite3.Row]:
        return self.store.all("SELECT * FROM scans WHERE experiment_id=? ORDER BY pk", (experiment_id,))

    def reconstructions(self, experiment_id: str) -> list[sqlite3.Row]:
        return self.store.all("SELECT * FROM reconstructions WHERE experiment_id=? ORDER BY pk", (experiment_id,))

    def assessors(self, session_id: str) -> list[sqlite3.Row]:
        return self.store.all("SELECT * FROM experiments WHERE session_id=? ORDER BY id", (session_id,))

    def subject_experiments(self, subject_id: str) -> list[sqlite3.Row]:
        """The experiments (not assessors) of a subject."""
        return self.store.all("SELECT * FROM experiments WHERE subject_id=? AND session_id IS NULL ORDER BY id",
                              (subject_id,))

    def sessions(self) -> list[sqlite3.Row]:
        """id, project and fields of every experiment that is not an assessor."""
        return self.store.all("SELECT id, project, fields FROM experiments WHERE session_id IS NULL")

    def scan_fields_of(self, experiment_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The stored fields of every scan of these sessions."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(experiment_ids), 500):
            chunk = list(experiment_ids[start:start + 500])
            rows = self.store.all(f"SELECT fields FROM scans WHERE experiment_id IN ({','.join('?' * len(chunk))})",
                                  chunk)
            found += [loads(r["fields"]) for r in rows]
        return found

    def custom_fields(self, kind: str, obj_id: str) -> list[sqlite3.Row]:
        """name, value of the custom variables of an object."""
        return self.store.all("SELECT name, value FROM custom_fields WHERE kind=? AND obj_id=? ORDER BY name",
                              (kind, obj_id))

    # -- shares -----------------------------------------------------------------------------
    def is_shared(self, kind: str, obj_id: str, project: str) -> bool:
        return self.store.one("SELECT 1 FROM shares WHERE kind=? AND obj_id=? AND project=?",
                              (share_kind(kind), obj_id, project)) is not None

    def share_label(self, kind: str, obj_id: str, project: str) -> str | None:
        """The label an object is shared into ``project`` under, or None."""
        row = self.store.one("SELECT label FROM shares WHERE kind=? AND obj_id=? AND project=?",
                             (share_kind(kind), obj_id, project))
        return row["label"] if row else None

    def shares(self, kind: str, obj_id: str) -> list[sqlite3.Row]:
        """project, label of every project an object is shared into, by project."""
        return self.store.all("SELECT project, label FROM shares WHERE kind=? AND obj_id=? ORDER BY project",
                              (share_kind(kind), obj_id))

    def shared_into(self, kind: str, obj_id: str) -> list[str]:
        """The projects an object is shared into (not its own), in store order."""
        rows = self.store.all("SELECT project FROM shares WHERE kind=? AND obj_id=?", (share_kind(kind), obj_id))
        return [r["project"] for r in rows]

    def share(self, kind: str, obj_id: str, project: str, label: str, primary: bool = False) -> None:
        """Share an object into ``project`` under ``label``; :class:`ShareConflict` if it is shared there
        already or the label is taken (checked in one transaction). ``primary`` (experiments) moves
        ownership: the old project keeps a share under the old label."""
        skind = share_kind(kind)
        with self.store.transaction() as conn:
            if conn.execute("SELECT 1 FROM shares WHERE kind=? AND obj_id=? AND project=?",
                            (skind, obj_id, project)).fetchone():
                raise ShareConflict("Already assigned to project")
            if self.label_taken(conn, skind, project, label):
                raise ShareConflict("Specified label is already in use.")
            if skind == "experiment" and primary:
                row = conn.execute("SELECT project, label FROM experiments WHERE id=?", (obj_id,)).fetchone()
                conn.execute("INSERT INTO shares(kind, obj_id, project, label) VALUES(?,?,?,?)",
                             (skind, obj_id, row["project"], row["label"]))
                conn.execute("UPDATE experiments SET project=?, label=? WHERE id=?", (project, label, obj_id))
            else:
                conn.execute("INSERT INTO shares(kind, obj_id, project, label) VALUES(?,?,?,?)",
                             (skind, obj_id, project, label))

    def unshare(self, kind: str, obj_id: str, project: str) -> bool:
        """Take an object out of a project it is shared into; False if it was not shared there."""
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM shares WHERE kind=? AND obj_id=? AND project=?",
                                (share_kind(kind), obj_id, project)).rowcount > 0

    # -- writing (inside the caller's transaction) --------------------------------------------
    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction on the store (see :meth:`Store.transaction`)."""
        return self.store.transaction()

    @staticmethod
    def label_taken(conn: sqlite3.Connection, kind: str, project: str, label: str, own_id: str | None = None) -> bool:
        """Does another subject/experiment than ``own_id`` use ``label`` in ``project`` (own or shared)?"""
        row = conn.execute(f"SELECT id FROM {_table(kind)} WHERE project=? AND label=?", (project, label)).fetchone()
        share = conn.execute("SELECT obj_id FROM shares WHERE kind=? AND project=? AND label=?",
                             (share_kind(kind), project, label)).fetchone()
        return any(hit is not None and hit[0] != own_id for hit in (row, share))

    @staticmethod
    def id_taken(conn: sqlite3.Connection, kind: str, obj_id: str) -> bool:
        """Is ``obj_id`` the ID of a subject (``kind`` "subjects") or experiment already?"""
        return conn.execute(f"SELECT 1 FROM {_table(kind)} WHERE id=?", (obj_id,)).fetchone() is not None

    def _fresh_id(self, conn: sqlite3.Connection, kind: str) -> str:
        """The next generated ID that no object took (an ID given at creation may have)."""
        letter, counter = ("S", "subject") if kind == "subjects" else ("E", "experiment")
        while True:
            new_id = f"{self.site_id}_{letter}{self.store.next_value(conn, counter):05d}"
            if not self.id_taken(conn, kind, new_id):
                return new_id

    def insert_subject(self, conn: sqlite3.Connection, project: str, label: str, xsi_type: str,
                       fields: dict[str, Any], login: str, given_id: str | None = None) -> str:
        """A new subject (with ``given_id`` when the caller checked it is free); its ID."""
        event = self.store.next_value(conn, "event")
        new_id = given_id or self._fresh_id(conn, "subjects")
        conn.execute("INSERT INTO subjects(id, project, label, xsi_type, fields, insert_date, insert_user,"
                     " create_event) VALUES(?,?,?,?,?,?,?,?)",
                     (new_id, project, label, xsi_type, dumps(fields), now_string(), login, event))
        return new_id

    def insert_experiment(self, conn: sqlite3.Connection, project: str, subject_id: str | None,
                          session_id: str | None, label: str, xsi_type: str, date: str, fields: dict[str, Any],
                          login: str, given_id: str | None = None) -> str:
        """A new experiment (or, with ``session_id``, assessor; ``given_id`` as for subjects); its ID."""
        event = self.store.next_value(conn, "event")
        new_id = given_id or self._fresh_id(conn, "experiments")
        conn.execute("INSERT INTO experiments(id, project, subject_id, session_id, label, xsi_type, date,"
                     " fields, insert_date, insert_user, create_event) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                     (new_id, project, subject_id, session_id, label, xsi_type, date, dumps(fields),
                      now_string(), login, event))
        return new_id

    def insert_child(self, conn: sqlite3.Connection, level: str, experiment_id: str, key: str, xsi_type: str,
                     fields: dict[str, Any]) -> int:
        """A new scan or reconstruction (``level``) of a session; its pk."""
        event = self.store.next_value(conn, "event")
        cur = conn.execute(f"INSERT INTO {LEVEL_TABLES[level]}(experiment_id, id, xsi_type, fields, create_event)"
                           " VALUES(?,?,?,?,?)", (experiment_id, key, xsi_type, dumps(fields), event))
        return int(cur.lastrowid or 0)

    @staticmethod
    def stored_fields(conn: sqlite3.Connection, level: str, key: str | int) -> dict[str, Any]:
        """The JSON fields of an object (``key``: ID, or pk for scans and reconstructions)."""
        column = "pk" if level in ("scan", "reconstruction") else "id"
        return loads(conn.execute(f"SELECT fields FROM {LEVEL_TABLES[level]} WHERE {column}=?", (key,)).fetchone()[0])

    @staticmethod
    def set_fields(conn: sqlite3.Connection, level: str, key: str | int, fields: dict[str, Any]) -> None:
        column = "pk" if level in ("scan", "reconstruction") else "id"
        conn.execute(f"UPDATE {LEVEL_TABLES[level]} SET fields=? WHERE {column}=?", (dumps(fields), key))
        if level not in ("scan", "reconstruction"):
            Archive.touch(conn, level, str(key))

    @staticmethod
    def touch(conn: sqlite3.Connection, kind: str, obj_id: str) -> None:
        """Mark a subject or experiment modified now (its ``last_modified``)."""
        conn.execute(f"UPDATE {_table(kind)} SET last_modified=? WHERE id=?", (now_string(), obj_id))

    @staticmethod
    def version(conn: sqlite3.Connection, level: str, key: str | int) -> sqlite3.Row | None:
        """The versioned state of an item (type, label, date, fields, when it began), or None."""
        table, column, label, date = _VERSIONED[level]
        began = "COALESCE(last_modified, insert_date)" if table in ("subjects", "experiments") else "''"
        row: sqlite3.Row | None = conn.execute(
            f"SELECT xsi_type, {label} AS label, {date} AS date, fields, {began} AS began FROM {table}"
            f" WHERE {column}=?", (key,)).fetchone()
        return row

    @staticmethod
    def keep_version(conn: sqlite3.Connection, level: str, key: str | int, before: sqlite3.Row) -> None:
        """Keep ``before`` (a :meth:`version`) as an earlier version of the item, if the item changed since."""
        after = Archive.version(conn, level, key)
        if after is None or tuple(after)[:4] == tuple(before)[:4]:
            return
        conn.execute("INSERT INTO history(kind, obj_id, xsi_type, label, date, fields, start_date, end_date)"
                     " VALUES(?,?,?,?,?,?,?,?)", (share_kind(level) if level in ("subject", "experiment", "assessor")
                                                   else level, str(key), before["xsi_type"], before["label"],
                                                   before["date"] or "", before["fields"], before["began"] or "",
                                                   now_string()))

    def history(self, level: str, key: str | int) -> list[sqlite3.Row]:
        """Earlier versions of an item, newest first."""
        kind = share_kind(level) if level in ("subject", "experiment", "assessor") else level
        return self.store.all("SELECT * FROM history WHERE kind=? AND obj_id=? ORDER BY pk DESC", (kind, str(key)))

    @staticmethod
    def set_status(conn: sqlite3.Connection, experiment_id: str, status: str) -> None:
        """Set an experiment's status (one of :data:`STATUSES`)."""
        if status not in STATUSES:
            raise ValueError(f"not an experiment status: {status}")
        conn.execute("UPDATE experiments SET status=? WHERE id=?", (status, experiment_id))

    @staticmethod
    def set_date(conn: sqlite3.Connection, experiment_id: str, date: str) -> None:
        conn.execute("UPDATE experiments SET date=? WHERE id=?", (date, experiment_id))
        Archive.touch(conn, "experiment", experiment_id)

    @staticmethod
    def relabel(conn: sqlite3.Connection, kind: str, obj_id: str, project: str, owner_project: str,
                label: str) -> None:
        """Set the object's label in ``project``: its own label in its own project, else the share's."""
        if owner_project == project:
            conn.execute(f"UPDATE {_table(kind)} SET label=? WHERE id=?", (label, obj_id))
            Archive.touch(conn, kind, obj_id)
        else:
            conn.execute("UPDATE shares SET label=? WHERE kind=? AND obj_id=? AND project=?",
                         (label, share_kind(kind), obj_id, project))

    @staticmethod
    def id_by_label(conn: sqlite3.Connection, kind: str, project: str, label: str) -> str | None:
        """The ID of the subject/experiment labelled ``label`` in ``project`` (own label, then shared)."""
        row = conn.execute(f"SELECT id FROM {_table(kind)} WHERE project=? AND label=?", (project, label)).fetchone()
        if row is None:
            row = conn.execute("SELECT obj_id AS id FROM shares WHERE kind=? AND project=? AND label=?",
                               (share_kind(kind), project, label)).fetchone()
        return None if row is None else str(row["id"])

    @staticmethod
    def by_own_label(conn: sqlite3.Connection, kind: str, project: str, label: str) -> sqlite3.Row | None:
        """The subject/experiment owned by ``project`` under ``label`` (shares not counted)."""
        row: sqlite3.Row | None = conn.execute(f"SELECT * FROM {_table(kind)} WHERE project=? AND label=?",
                                               (project, label)).fetchone()
        return row

    @staticmethod
    def drop_scans(conn: sqlite3.Connection, experiment_id: str) -> list[str]:
        """Remove a session's scans with their resources and catalogues; the resources' folders."""
        folders = []
        for scan in conn.execute("SELECT pk FROM scans WHERE experiment_id=?", (experiment_id,)).fetchall():
            for res in conn.execute("SELECT pk, folder FROM resources WHERE owner_kind='scan' AND owner_id=?",
                                    (str(scan["pk"]),)).fetchall():
                folders.append(res["folder"])
                conn.execute("DELETE FROM files WHERE resource_pk=?", (res["pk"],))
                conn.execute("DELETE FROM resources WHERE pk=?", (res["pk"],))
        conn.execute("DELETE FROM scans WHERE experiment_id=?", (experiment_id,))
        return folders

    @staticmethod
    def scan_by_id(conn: sqlite3.Connection, experiment_id: str, scan_id: str) -> sqlite3.Row | None:
        """pk, xsi_type and fields of a session's scan, or None."""
        row: sqlite3.Row | None = conn.execute("SELECT pk, xsi_type, fields FROM scans WHERE experiment_id=? AND id=?",
                                               (experiment_id, scan_id)).fetchone()
        return row

    @staticmethod
    def save_custom(conn: sqlite3.Connection, kind: str, obj_id: str, custom: dict[str, str],
                    clear: str = "NULL") -> None:
        """Set custom variables (``fields/field[name=x]``); a value equal to ``clear`` removes one."""
        conn.executemany("INSERT OR REPLACE INTO custom_fields(kind, obj_id, name, value) VALUES(?,?,?,?)",
                         [(kind, obj_id, k, v) for k, v in custom.items() if v != clear])
        conn.executemany("DELETE FROM custom_fields WHERE kind=? AND obj_id=? AND name=?",
                         [(kind, obj_id, k) for k, v in custom.items() if v == clear])

    # -- listings -----------------------------------------------------------------------------
    def subject_rows(self, project: str | None) -> list[sqlite3.Row]:
        """Subjects of ``project`` (own and shared, ``plabel`` = the label there) or, with None, all."""
        if project is None:
            return self.store.all("SELECT s.*, s.label AS plabel FROM subjects s ORDER BY s.id")
        return self.store.all("SELECT s.*, COALESCE(sh.label, s.label) AS plabel FROM subjects s LEFT JOIN shares sh"
                              " ON sh.kind='subject' AND sh.obj_id=s.id AND sh.project=? WHERE s.project=?"
                              " OR sh.project IS NOT NULL ORDER BY s.id", (project, project))

    def experiment_rows(self, project: str | None = None, subject: str | None = None,
                        session: str | None = None) -> list[sqlite3.Row]:
        """Experiments with ``subject_label`` and ``session_label``: the assessors of ``session``, the
        experiments of ``subject`` or those of ``project`` (own and shared), or with none given, all."""
        where, params = _experiments_where(project, subject, session)
        return self.store.all(f"{_EXPERIMENT_ROWS} WHERE {where} ORDER BY e.id", params)

    def experiment_keys(self, project: str | None = None, subject: str | None = None) -> list[sqlite3.Row]:
        """``id`` and ``project`` of the experiments :meth:`experiment_rows` answers (for an access check)."""
        where, params = _experiments_where(project, subject, None)
        return self.store.all(f"SELECT e.id, e.project FROM experiments e WHERE {where} ORDER BY e.id", params)

    def experiment_listing_json(self, columns: Sequence[str], project: str | None = None,
                                subject: str | None = None, labels_in: str | None = None) -> list[str] | None:
        """The listing rows of :meth:`experiment_keys`' experiments as JSON objects of ``columns``,
        built by SQLite in one query (a label is the one in ``labels_in`` for a shared experiment).

        The values are the text the handlers write for them (``""`` for none); None when a
        column is not one of those, or when this SQLite escapes text unlike Python's ``json``.
        """
        if not columns or any(name not in _LISTING_SQL for name in columns) or not _json_as_python():
            return None
        where, params = _experiments_where(project, subject, None)
        pairs = ", ".join(f"'{name}', CAST({_LISTING_SQL[name]} AS TEXT)" for name in columns)  # names: our keys
        rows = self.store.all(
            f"SELECT json_object({pairs}) FROM experiments e LEFT JOIN subjects s ON s.id = e.subject_id"
            " LEFT JOIN shares sh ON sh.kind='experiment' AND sh.project=? AND sh.obj_id=e.id"
            f" WHERE {where} ORDER BY e.id", (labels_in or "", *params))
        return list(map(itemgetter(0), rows))

    def share_labels(self, kind: str, project: str) -> dict[str, str]:
        """Object ID -> label of every object of ``kind`` shared into ``project``."""
        rows = self.store.all("SELECT obj_id, label FROM shares WHERE kind=? AND project=?",
                              (share_kind(kind), project))
        return {r["obj_id"]: r["label"] for r in rows}

    def all_scans(self) -> list[sqlite3.Row]:
        return self.store.all("SELECT * FROM scans ORDER BY pk")

    # -- deleting -------------------------------------------------------------------------------
    def delete_tree(self, kind: str, key: str) -> list[str]:
        """Delete an object, everything below it and their catalogues (one transaction).

        Returns the archive-relative folders of the removed resources (the files stay on disk).
        """
        folders: list[str] = []
        with self.store.transaction() as conn:
            self._delete(conn, kind, key, folders)
        return folders

    def _delete(self, conn: sqlite3.Connection, kind: str, key: str, folders: list[str]) -> None:
        if kind == "resource":
            row = conn.execute("SELECT folder FROM resources WHERE pk=?", (int(key),)).fetchone()
            if row:
                folders.append(row["folder"])
            conn.execute("DELETE FROM files WHERE resource_pk=?", (int(key),))
            conn.execute("DELETE FROM resources WHERE pk=?", (int(key),))
            return
        for r in conn.execute("SELECT pk FROM resources WHERE owner_kind=? AND owner_id=?",
                              (_OWNER_KIND.get(kind), key)).fetchall():
            self._delete(conn, "resource", str(r["pk"]), folders)
        if kind == "project":
            for r in conn.execute("SELECT id FROM subjects WHERE project=?", (key,)).fetchall():
                self._delete(conn, "subject", r["id"], folders)
            for r in conn.execute("SELECT id FROM experiments WHERE project=? AND session_id IS NULL",
                                  (key,)).fetchall():
                self._delete(conn, "experiment", r["id"], folders)
        elif kind == "subject":
            for r in conn.execute("SELECT id FROM experiments WHERE subject_id=? AND session_id IS NULL",
                                  (key,)).fetchall():
                self._delete(conn, "experiment", r["id"], folders)
            self._drop(conn, "subject", key)
        elif kind in ("experiment", "assessor"):
            for r in conn.execute("SELECT id FROM experiments WHERE session_id=?", (key,)).fetchall():
                self._delete(conn, "assessor", r["id"], folders)
            for child in ("scan", "reconstruction"):
                for r in conn.execute(f"SELECT pk FROM {LEVEL_TABLES[child]} WHERE experiment_id=?",
                                      (key,)).fetchall():
                    self._delete(conn, child, str(r["pk"]), folders)
            self._drop(conn, "experiment", key)
        elif kind in ("scan", "reconstruction"):
            conn.execute(f"DELETE FROM {LEVEL_TABLES[kind]} WHERE pk=?", (int(key),))
            conn.execute("DELETE FROM custom_fields WHERE kind=? AND obj_id=?", (kind, key))
            conn.execute("DELETE FROM history WHERE kind=? AND obj_id=?", (kind, key))

    @staticmethod
    def _drop(conn: sqlite3.Connection, kind: str, key: str) -> None:
        conn.execute(f"DELETE FROM {_table(kind)} WHERE id=?", (key,))
        conn.execute("DELETE FROM shares WHERE kind=? AND obj_id=?", (kind, key))
        conn.execute("DELETE FROM custom_fields WHERE kind=? AND obj_id=?", (kind, key))
        conn.execute("DELETE FROM history WHERE kind=? AND obj_id=?", (kind, key))

    # -- bulk -----------------------------------------------------------------------------------
    def bulk_insert(self, conn: sqlite3.Connection, projects: Iterable[Sequence[Any]],
                    subjects: Iterable[Sequence[Any]], experiments: Iterable[Sequence[Any]],
                    scans: Iterable[Sequence[Any]]) -> None:
        """Insert prepared rows (in the tables' column order of :mod:`.populate`) in one go."""
        conn.executemany("INSERT INTO projects(id, secondary_id, name, description, pi_firstname, pi_lastname,"
                         " accessibility, fields, insert_date, insert_user, create_event)"
                         " VALUES(?,?,?,?,?,?,?,?,?,?,?)", projects)
        conn.executemany("INSERT INTO subjects(id, project, label, xsi_type, fields, insert_date, insert_user,"
                         " create_event) VALUES(?,?,?,?,?,?,?,?)", subjects)
        conn.executemany("INSERT INTO experiments(id, project, subject_id, session_id, label, xsi_type, date,"
                         " fields, insert_date, insert_user, create_event) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                         experiments)
        conn.executemany("INSERT INTO scans(experiment_id, id, xsi_type, fields, create_event) VALUES(?,?,?,?,?)",
                         scans)


class ShareConflict(Exception):
    """A share refused because the object is in the project already or the label is taken (409)."""
