"""Site settings set through ``/xapi/siteConfig`` (``adminEmail``...), kept in the store.

XNAT keeps its site preferences in its database (``xhbm_preference``), so a value set once is
read back after a restart; so here, one row per property with its JSON-encoded value (a
boolean stays a boolean, a number a number).
"""

from __future__ import annotations

import json

from ..store import Store

__all__ = ["SiteSettings"]


class SiteSettings:
    """The ``site_settings`` table: property name -> JSON value."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.transaction() as conn:  # a table added after the first stores were made
            conn.execute("CREATE TABLE IF NOT EXISTS site_settings(name TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def all(self) -> dict[str, object]:
        """Every property set so far, by name."""
        rows = self.store.all("SELECT name, value FROM site_settings ORDER BY name")
        return {r["name"]: json.loads(r["value"]) for r in rows}

    def set(self, values: dict[str, object]) -> None:
        """Set properties (one transaction: all or none)."""
        with self.store.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO site_settings(name, value) VALUES(?,?)",
                             [(name, json.dumps(value)) for name, value in values.items()])
