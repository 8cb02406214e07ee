"""Rows for searches and search metadata: every row of a level, counts by data type."""

from __future__ import annotations

import sqlite3

from ..store import Store

__all__ = ["SEARCH_TABLES", "SearchRows"]

#: The archive tables a search can run over.
SEARCH_TABLES = ("projects", "subjects", "experiments", "scans")


class SearchRows:
    """Read-only views of the archive tables for the search engine."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def counts_by_type(self) -> dict[str, int]:
        """xsi type -> number of stored rows of that type, over every searchable table."""
        counts: dict[str, int] = {}
        for table_name in SEARCH_TABLES:
            for row in self.store.all(f"SELECT xsi_type, COUNT(*) AS n FROM {table_name} GROUP BY xsi_type"):
                counts[row["xsi_type"]] = row["n"]
        return counts

    def rows(self, table_name: str) -> list[sqlite3.Row]:
        """Every row of a searchable table: scans with their session's ``project``, experiments
        with their ``subject_label``."""
        if table_name == "scans":
            return self.store.all("SELECT s.*, e.project AS project FROM scans s JOIN experiments e"
                                  " ON e.id = s.experiment_id ORDER BY s.pk")
        if table_name == "experiments":
            return self.store.all("SELECT e.*, s.label AS subject_label FROM experiments e LEFT JOIN subjects s"
                                  " ON s.id = e.subject_id ORDER BY e.id")
        if table_name not in SEARCH_TABLES:
            raise ValueError(f"not a searchable table: {table_name}")
        return self.store.all(f"SELECT * FROM {table_name} ORDER BY id")

    def row(self, table_name: str, key: str) -> sqlite3.Row | None:
        """One row of a searchable table by ID."""
        if table_name not in SEARCH_TABLES:
            raise ValueError(f"not a searchable table: {table_name}")
        return self.store.one(f"SELECT * FROM {table_name} WHERE id=?", (key,))
