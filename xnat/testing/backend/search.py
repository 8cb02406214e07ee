"""Rows for searches and search metadata: every row of a level, counts by data type."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from ..store import Store

__all__ = ["SEARCH_TABLES", "SearchRows"]

#: The archive tables a search can run over.
SEARCH_TABLES = ("projects", "subjects", "experiments", "scans", "reconstructions")


_COUNTS = {
    "projects": "SELECT t.xsi_type, COUNT(*) AS n FROM projects t",
    "subjects": "SELECT t.xsi_type, COUNT(*) AS n FROM subjects t",
    "experiments": "SELECT t.xsi_type, COUNT(*) AS n FROM experiments t",
    "scans": "SELECT t.xsi_type, COUNT(*) AS n FROM scans t JOIN experiments e ON e.id = t.experiment_id",
    "reconstructions": "SELECT t.xsi_type, COUNT(*) AS n FROM reconstructions t"
                       " JOIN experiments e ON e.id = t.experiment_id",
}
# Rows a reader of the projects {marks} may count: its own project's, or shared into one.
_READABLE = {
    "projects": "t.id IN ({marks})",
    "subjects": "(t.project IN ({marks}) OR t.id IN (SELECT obj_id FROM shares WHERE kind='subject'"
                " AND project IN ({marks})))",
    "experiments": "(t.project IN ({marks}) OR t.id IN (SELECT obj_id FROM shares WHERE kind='experiment'"
                   " AND project IN ({marks})))",
    "scans": "(e.project IN ({marks}) OR e.id IN (SELECT obj_id FROM shares WHERE kind='experiment'"
             " AND project IN ({marks})))",
}
_READABLE["reconstructions"] = _READABLE["scans"]  # a reconstruction goes with its session too


class SearchRows:
    """Read-only views of the archive tables for the search engine."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def counts_by_type(self, readable: Collection[str] | None = None) -> dict[str, int]:
        """xsi type -> number of stored rows of that type, over every searchable table.

        With ``readable`` (see :meth:`.access.Access.readable_projects`), only rows of those
        projects or shared into them count (a scan goes with its session).
        """
        counts: dict[str, int] = {}
        for table_name in SEARCH_TABLES:
            sql, params = _COUNTS[table_name], []
            if readable is not None:
                marks = ",".join("?" * len(readable))
                sql = f"{sql} WHERE {_READABLE[table_name].format(marks=marks)}"
                params = [*readable, *readable] if table_name != "projects" else list(readable)
            for row in self.store.all(f"{sql} GROUP BY t.xsi_type", params):
                counts[row["xsi_type"]] = row["n"]
        return counts

    def rows(self, table_name: str) -> list[sqlite3.Row]:
        """Every row of a searchable table: scans and reconstructions with their session's ``project``, experiments
        with their ``subject_label``."""
        if table_name in ("scans", "reconstructions"):
            return self.store.all(f"SELECT s.*, e.project AS project FROM {table_name} s JOIN experiments e"
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
