"""Projects in the store: rows, aliases, settings, member roles, create/update/delete.

Methods take and return plain values and ``sqlite3.Row`` objects; they decide nothing
about who may call them (that is :mod:`.access`) and raise nothing HTTP.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

from ..store import Store, dumps, loads, now_string

__all__ = ["PROJECT_COLUMNS", "Projects"]

#: A project's aliases as a write gives them: names, or alias -> its ``source`` attribute.
Aliases = Mapping[str, str] | Iterable[str]

#: Columns of the ``projects`` table a write may set besides the JSON ``fields``.
PROJECT_COLUMNS = ("secondary_id", "name", "description", "pi_firstname", "pi_lastname")


class Projects:
    """The ``projects``, ``project_aliases``, ``project_settings`` and ``project_users`` tables."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Columns added after the first stores were made: an alias's ``source`` (the schema's
        # attribute of aliases/alias) and a project's ``last_modified``.
        for table, column in (("project_aliases", "source"), ("projects", "last_modified")):
            if column not in {r[1] for r in store.all(f"PRAGMA table_info({table})")}:
                with store.transaction() as conn:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

    # -- reading ----------------------------------------------------------------------------
    def get(self, key: str) -> sqlite3.Row | None:
        """A project by ID or alias."""
        row = self.store.one("SELECT * FROM projects WHERE id=?", (key,))
        if row is None:
            alias = self.store.one("SELECT project FROM project_aliases WHERE alias=?", (key,))
            if alias is not None:
                row = self.store.one("SELECT * FROM projects WHERE id=?", (alias["project"],))
        return row

    def exists(self, project: str) -> bool:
        """Is there a project with this ID (aliases do not count)?"""
        return self.store.one("SELECT 1 FROM projects WHERE id=?", (project,)) is not None

    def all(self) -> list[sqlite3.Row]:
        """Every project, by ID."""
        return self.store.all("SELECT * FROM projects ORDER BY id")

    def was_deleted(self, project: str) -> bool:
        """Was a project with this ID deleted (XNAT never reuses the ID)?"""
        return self.store.one("SELECT 1 FROM deleted_projects WHERE id=?", (project,)) is not None

    def aliases_by_project(self) -> dict[str, list[str]]:
        """Project -> its aliases, sorted (the project listing joins them, one row per alias)."""
        found: dict[str, list[str]] = {}
        for a in self.store.all("SELECT alias, project FROM project_aliases ORDER BY alias"):
            found.setdefault(a["project"], []).append(a["alias"])
        return found

    def aliases(self, project: str) -> list[str]:
        """The aliases of ``project``, sorted."""
        return [a["alias"] for a in self.store.all("SELECT alias FROM project_aliases WHERE project=? ORDER BY alias",
                                                   (project,))]

    def alias_sources(self, project: str) -> dict[str, str]:
        """Alias -> its ``source`` ("" when none was given) of every alias of ``project``, sorted."""
        rows = self.store.all("SELECT alias, source FROM project_aliases WHERE project=? ORDER BY alias", (project,))
        return {r["alias"]: r["source"] or "" for r in rows}

    def alias_owner(self, alias: str) -> str | None:
        """The project holding ``alias``, or None."""
        row = self.store.one("SELECT project FROM project_aliases WHERE alias=?", (alias,))
        return row["project"] if row else None

    def column_taken(self, column: str, value: str, project: str) -> bool:
        """Does another project than ``project`` use ``value`` as its ``secondary_id``/``name``?"""
        if column not in ("secondary_id", "name"):
            raise ValueError(f"not a unique project column: {column}")
        return self.store.one(f"SELECT 1 FROM projects WHERE {column}=? AND id<>?", (value, project)) is not None

    def setting(self, project: str, name: str) -> str | None:
        """A project setting (``prearchive_code``, ``studyProtocol``...), or None if never set."""
        row = self.store.one("SELECT value FROM project_settings WHERE project=? AND name=?", (project, name))
        return row["value"] if row else None

    def members(self, project: str) -> list[sqlite3.Row]:
        """login, firstname, lastname, email, xdat_user_id and role of every user with a role in ``project``."""
        return self.store.all(
            "SELECT u.login, u.firstname, u.lastname, u.email, u.xdat_user_id, pu.role FROM project_users pu"
            " JOIN users u ON u.login = pu.login WHERE pu.project=? ORDER BY u.login", (project,))

    # -- writing ----------------------------------------------------------------------------
    def create(self, project: str, columns: dict[str, str], fields: dict[str, str], accessibility: str,
               login: str, aliases: Aliases, owner: str | None) -> None:
        """Insert a project (with its aliases: names, or alias -> source; ``owner`` gets the owner role
        when given)."""
        with self.store.transaction() as conn:
            event = self.store.next_value(conn, "event")
            conn.execute(
                "INSERT INTO projects(id, secondary_id, name, description, pi_firstname, pi_lastname,"
                " accessibility, fields, insert_date, insert_user, create_event) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (project, columns["secondary_id"], columns["name"], columns.get("description", ""),
                 columns.get("pi_firstname", ""), columns.get("pi_lastname", ""), accessibility,
                 dumps(fields), now_string(), login, event))
            _save_aliases(conn, project, aliases)
            if owner is not None:
                conn.execute("INSERT INTO project_users(project, login, role) VALUES(?,?,'owner')", (project, owner))

    def update(self, project: str, columns: dict[str, str], fields: dict[str, str], cleared: Iterable[str],
               accessibility: str | None, aliases: Aliases) -> None:
        """Set columns, merge ``fields`` into the stored ones (dropping ``cleared``), add aliases
        (alias -> source; a source given replaces the stored one); the project is modified now."""
        with self.store.transaction() as conn:
            for column, value in columns.items():
                if column not in PROJECT_COLUMNS:
                    raise ValueError(f"not a project column: {column}")
                conn.execute(f"UPDATE projects SET {column}=? WHERE id=?", (value, project))
            if fields:
                current = loads(conn.execute("SELECT fields FROM projects WHERE id=?", (project,)).fetchone()[0])
                current.update(fields)
                for key in cleared:
                    current.pop(key, None)
                conn.execute("UPDATE projects SET fields=? WHERE id=?", (dumps(current), project))
            if accessibility:
                conn.execute("UPDATE projects SET accessibility=? WHERE id=?", (accessibility, project))
            _save_aliases(conn, project, aliases)
            self.touch(conn, project)

    def set_accessibility(self, project: str, value: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE projects SET accessibility=? WHERE id=?", (value, project))
            self.touch(conn, project)

    def set_setting(self, project: str, name: str, value: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO project_settings(project, name, value) VALUES(?,?,?)",
                         (project, name, value))
            self.touch(conn, project)

    @staticmethod
    def touch(conn: sqlite3.Connection, project: str) -> None:
        """Mark a project modified now (its ``last_modified``)."""
        conn.execute("UPDATE projects SET last_modified=? WHERE id=?", (now_string(), project))

    def set_role(self, project: str, login: str, role: str | None) -> None:
        """Give ``login`` a role in ``project`` (None removes it)."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM project_users WHERE project=? AND login=?", (project, login))
            if role is not None:
                conn.execute("INSERT INTO project_users(project, login, role) VALUES(?,?,?)", (project, login, role))

    def forget(self, project: str) -> None:
        """Remove the project's own rows (its data went first); its ID stays reserved."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM projects WHERE id=?", (project,))
            for table_name in ("project_aliases", "project_users", "project_settings", "shares"):
                conn.execute(f"DELETE FROM {table_name} WHERE project=?", (project,))
            conn.execute("INSERT OR IGNORE INTO deleted_projects(id) VALUES(?)", (project,))


def _save_aliases(conn: sqlite3.Connection, project: str, aliases: Aliases) -> None:
    """Add aliases (names, or alias -> source) to ``project``; a source given replaces the stored
    one. The caller checked that no other project holds them."""
    sources = dict(aliases) if isinstance(aliases, Mapping) else dict.fromkeys(aliases, "")
    conn.executemany("INSERT INTO project_aliases(alias, project, source) VALUES(?,?,?) ON CONFLICT(alias)"
                     " DO UPDATE SET source=excluded.source WHERE excluded.source<>''",
                     [(a, project, source) for a, source in sources.items()])
