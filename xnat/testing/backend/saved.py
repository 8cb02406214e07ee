"""Saved searches (XNAT's ``xdat:stored_search``): the bundles users keep under an ID.

Who sees and changes one follows XNAT's restlet resources (``SavedSearchListResource``,
``SavedSearchResource``):

* listed and read by everyone signed in when it is not ``secure`` (pyxnat saves with
  ``secure="false"``), else by its allowed users and the members of its allowed groups
  (XNAT's project groups, ``{project}_{role}``). XNAT reads a secure one by ID for anyone
  who may query its root type; here reading follows the listing (a search one is not
  shown is not reached by its ID either), the stricter of the two sources;
* the user who saves a new one becomes one of its allowed users;
* changed (PUT again) only by an allowed user or group member;
* deleted by an allowed user (who is only taken off the list while others remain), a
  group member likewise, or a site admin.

Searches tagged with a project (XNAT's per-project stored searches) are not listed without
``includeTag``, as XNAT lists them. The rows a saved search finds are still filtered by
read access when it runs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass

from ..store import Store
from .access import Access, Verdict

__all__ = ["CachedSearch", "SavedSearch", "SavedSearches"]

_TABLES = """
CREATE TABLE IF NOT EXISTS saved_searches(
    id TEXT PRIMARY KEY, brief_description TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',
    root_element_name TEXT NOT NULL, secure INTEGER NOT NULL DEFAULT 0, tag TEXT, bundle TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS saved_search_users(
    search_id TEXT NOT NULL, login TEXT NOT NULL, PRIMARY KEY(search_id, login));
CREATE TABLE IF NOT EXISTS saved_search_groups(
    search_id TEXT NOT NULL, groupid TEXT NOT NULL, PRIMARY KEY(search_id, groupid));
CREATE TABLE IF NOT EXISTS cached_searches(
    id TEXT PRIMARY KEY, login TEXT NOT NULL, root TEXT NOT NULL, columns TEXT NOT NULL, rows TEXT NOT NULL);
"""
#: The listing's columns: XNAT's ``SELECT xss.*`` over xdat_stored_search.
COLUMNS = ("id", "brief_description", "description", "root_element_name", "secure", "tag")


@dataclass(frozen=True)
class SavedSearch:
    """One stored search: its listing row, the bundle XML, who may use it."""

    row: dict[str, str]
    bundle: str
    users: tuple[str, ...]
    groups: tuple[str, ...]


@dataclass(frozen=True)
class CachedSearch:
    """The results of a ``POST /data/search?cache=true``, kept for paging (XNAT's MaterializedView)."""

    login: str
    root: str
    columns: list[dict[str, str]]
    rows: list[dict[str, str]]


class SavedSearches:
    """Stored searches (who may use them is decided by :class:`~.access.Access`)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.transaction() as conn:
            for statement in filter(str.strip, _TABLES.split(";")):
                conn.execute(statement)

    def _load(self, row: sqlite3.Row) -> SavedSearch:
        users = tuple(r["login"] for r in self.store.all(
            "SELECT login FROM saved_search_users WHERE search_id=? ORDER BY login", (row["id"],)))
        groups = tuple(r["groupid"] for r in self.store.all(
            "SELECT groupid FROM saved_search_groups WHERE search_id=? ORDER BY groupid", (row["id"],)))
        listing = {name: "" if row[name] is None else str(row[name]) for name in COLUMNS}
        return SavedSearch(listing, row["bundle"], users, groups)

    def get(self, search_id: str) -> SavedSearch | None:
        row = self.store.one("SELECT * FROM saved_searches WHERE id=?", (search_id,))
        return None if row is None else self._load(row)

    # -- who may: decided in access.py -------------------------------------------------------
    def visible(self, login: str, groups: Collection[str], tag: str | None = None) -> list[dict[str, str]]:
        """The listing rows a user sees; ``tag``: "true" for every tagged search, else that tag's."""
        if tag is None:
            rows = self.store.all("SELECT * FROM saved_searches WHERE tag IS NULL ORDER BY id")
        elif tag == "true":
            rows = self.store.all("SELECT * FROM saved_searches WHERE tag IS NOT NULL ORDER BY id")
        else:
            rows = self.store.all("SELECT * FROM saved_searches WHERE tag=? ORDER BY id", (tag,))
        found = [self._load(row) for row in rows]
        return [s.row for s in found if Access.may_read_saved_search(s, login, groups)]

    # -- writing ------------------------------------------------------------------------------
    def save(self, search_id: str, row: dict[str, str], bundle: str, users: Collection[str],
             groups: Collection[str]) -> bool:
        """Create or replace a stored search; True when it is new."""
        with self.store.transaction() as conn:
            new = conn.execute("SELECT 1 FROM saved_searches WHERE id=?", (search_id,)).fetchone() is None
            conn.execute("INSERT OR REPLACE INTO saved_searches(id, brief_description, description,"
                         " root_element_name, secure, tag, bundle) VALUES (?,?,?,?,?,?,?)",
                         (search_id, row.get("brief_description", ""), row.get("description", ""),
                          row["root_element_name"], int(row.get("secure") == "1"), row.get("tag") or None, bundle))
            conn.execute("DELETE FROM saved_search_users WHERE search_id=?", (search_id,))
            conn.execute("DELETE FROM saved_search_groups WHERE search_id=?", (search_id,))
            conn.executemany("INSERT OR IGNORE INTO saved_search_users VALUES (?,?)",
                             [(search_id, login) for login in users])
            conn.executemany("INSERT OR IGNORE INTO saved_search_groups VALUES (?,?)",
                             [(search_id, group) for group in groups])
        return new

    def delete_as(self, found: SavedSearch, login: str, groups: Collection[str], admin: bool) -> Verdict:
        """SavedSearchResource.handleDelete, once access allows it: an allowed user (or group) is
        taken off the search, which goes with its last user or group; a site admin deletes it."""
        verdict = Access.may_delete_saved_search(found, login, groups, admin)
        if verdict is not Verdict.ALLOWED:
            return verdict
        search_id = found.row["id"]
        mine = sorted(set(found.groups) & set(groups))
        if login in found.users and (len(found.users) > 1 or found.groups):
            self.remove_user(search_id, login)
        elif login not in found.users and mine and (found.users or len(found.groups) > 1):
            self.remove_group(search_id, mine[0])
        else:  # its last user or group, or a site admin
            self.delete(search_id)
        return Verdict.ALLOWED

    def delete(self, search_id: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM saved_searches WHERE id=?", (search_id,))
            conn.execute("DELETE FROM saved_search_users WHERE search_id=?", (search_id,))
            conn.execute("DELETE FROM saved_search_groups WHERE search_id=?", (search_id,))

    def remove_user(self, search_id: str, login: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM saved_search_users WHERE search_id=? AND login=?", (search_id, login))

    def remove_group(self, search_id: str, groupid: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM saved_search_groups WHERE search_id=? AND groupid=?", (search_id, groupid))

    # -- cached results (/data/search/{id}) ---------------------------------------------------
    def cache(self, login: str, root: str, columns: list[dict[str, str]], rows: list[dict[str, str]]) -> str:
        """Keep a search's results; their ID (XNAT names its materialized views ``xs`` + a number)."""
        with self.store.transaction() as conn:
            search_id = f"xs{self.store.next_value(conn, 'cached_search')}"
            conn.execute("INSERT INTO cached_searches VALUES (?,?,?,?,?)",
                         (search_id, login, root, dumps_list(columns), dumps_list(rows)))
        return search_id

    def cached(self, search_id: str) -> CachedSearch | None:
        row = self.store.one("SELECT * FROM cached_searches WHERE id=?", (search_id,))
        if row is None:
            return None
        return CachedSearch(row["login"], row["root"], json.loads(row["columns"]), json.loads(row["rows"]))


def dumps_list(value: list[dict[str, str]]) -> str:
    return json.dumps(value, separators=(",", ":"))
