"""Finding archive objects by URL segment (ID or label) and checking who may touch them.

A :class:`Node` is one resolved URL level. Under a project, subjects and experiments
are found by accession ID or by their label in that project (own or shared label);
under the global ``/data/subjects|experiments`` only by ID (REST-NOTES §2).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from ..store import loads
from .base import Ctx, HTTPError, forbidden, not_found

KIND_TABLE = {"subject": "subjects", "experiment": "experiments", "assessor": "experiments",
              "scan": "scans", "reconstruction": "reconstructions"}


@dataclass
class Node:
    """One resolved level of an archive URL."""

    kind: str  # project | subject | experiment | assessor | scan | reconstruction | resource
    key: str  # project/subject/experiment ID; scan/reconstruction/resource pk as text
    row: sqlite3.Row
    project: str  # the project the URL addresses it through (access checks, labels)
    parent: Node | None = None
    io: str = ""  # "in"/"out" for assessor and reconstruction resources

    @property
    def fields(self) -> dict[str, Any]:
        return loads(self.row["fields"]) if "fields" in self.row.keys() else {}

    @property
    def xsi_type(self) -> str:
        return self.row["xsi_type"]

    def label_in(self, ctx: Ctx) -> str:
        """The label the object has in the URL's project (its own, or a shared label)."""
        if self.kind not in ("subject", "experiment", "assessor"):
            return self.row["id"]
        if self.row["project"] == self.project:
            return self.row["label"]
        share = ctx.app.store.one("SELECT label FROM shares WHERE kind=? AND obj_id=? AND project=?",
                                  (_share_kind(self.kind), self.key, self.project))
        return share["label"] if share else self.row["label"]

    def uri(self) -> str:
        """The canonical URI XNAT lists for the object (ID form)."""
        if self.kind == "project":
            return f"/data/projects/{self.key}"
        if self.kind == "subject":
            return f"/data/subjects/{self.key}"
        if self.kind in ("experiment", "assessor"):
            return f"/data/experiments/{self.key}"
        assert self.parent is not None
        if self.kind == "scan":
            return f"{self.parent.uri()}/scans/{self.row['id']}"
        if self.kind == "reconstruction":
            return f"{self.parent.uri()}/reconstructions/{self.row['id']}"
        return f"{self.parent.uri()}{'/' + self.io if self.io else ''}/resources/{self.key}"


def _share_kind(kind: str) -> str:
    return "subject" if kind == "subject" else "experiment"


def project_row(ctx: Ctx, project: str) -> sqlite3.Row | None:
    """A project by ID or alias."""
    store = ctx.app.store
    row = store.one("SELECT * FROM projects WHERE id=?", (project,))
    if row is None:
        alias = store.one("SELECT project FROM project_aliases WHERE alias=?", (project,))
        if alias is not None:
            row = store.one("SELECT * FROM projects WHERE id=?", (alias["project"],))
    return row


def project_node(ctx: Ctx, project: str, write: bool = False) -> Node:
    """The project, or 404; 403 if the user may not read it (or write to it, with ``write``)."""
    row = project_row(ctx, project)
    if row is None:
        raise not_found("project")
    check_read(ctx, row["id"], row["accessibility"])
    if write and not ctx.app.auth.can_edit(ctx.user, row["id"]):
        raise forbidden()
    return Node("project", row["id"], row, row["id"])


def check_read(ctx: Ctx, project: str, accessibility: str) -> None:
    """404 for a private project the user cannot see, 403 for one it sees but cannot read."""
    auth = ctx.app.auth
    if auth.can_read(ctx.user, project, accessibility):
        return
    if not auth.can_see(ctx.user, project, accessibility):
        raise not_found("project")
    raise forbidden()


def readable_projects(ctx: Ctx) -> set[str] | None:
    """Projects whose data the user may read; None means all (admin)."""
    if ctx.user.admin:
        return None
    rows = ctx.app.store.all(
        "SELECT id FROM projects WHERE accessibility='public' OR id IN "
        "(SELECT project FROM project_users WHERE login=?)", (ctx.user.login,))
    return {r["id"] for r in rows}


def _find_by_id_or_label(ctx: Ctx, table: str, kind: str, key: str, project: str | None) -> sqlite3.Row | None:
    """A row of ``table`` by ID, or by its own or shared (``kind``) label within ``project``.

    ``table`` and ``kind`` are fixed by the two callers below, never taken from a request.
    """
    store = ctx.app.store
    row = store.one(f"SELECT * FROM {table} WHERE id=?", (key,))
    if project is None:
        return row
    if row is not None and (row["project"] == project or _shared(ctx, kind, row["id"], project)):
        return row
    row = store.one(f"SELECT * FROM {table} WHERE project=? AND label=?", (project, key))
    if row is None:
        share = store.one("SELECT obj_id FROM shares WHERE kind=? AND project=? AND label=?", (kind, project, key))
        if share is not None:
            row = store.one(f"SELECT * FROM {table} WHERE id=?", (share["obj_id"],))
    return row


def find_subject(ctx: Ctx, key: str, project: str | None) -> sqlite3.Row | None:
    """A subject by ID, or by (own or shared) label within ``project``."""
    return _find_by_id_or_label(ctx, "subjects", "subject", key, project)


def find_experiment(ctx: Ctx, key: str, project: str | None) -> sqlite3.Row | None:
    """An experiment (session or assessor) by ID, or by label within ``project``."""
    return _find_by_id_or_label(ctx, "experiments", "experiment", key, project)


def _shared(ctx: Ctx, kind: str, obj_id: str, project: str) -> bool:
    return ctx.app.store.one("SELECT 1 FROM shares WHERE kind=? AND obj_id=? AND project=?",
                             (kind, obj_id, project)) is not None


def projects_of(ctx: Ctx, kind: str, row: sqlite3.Row) -> list[str]:
    """The owning project and every project the object is shared into."""
    shares = ctx.app.store.all("SELECT project FROM shares WHERE kind=? AND obj_id=?", (kind, row["id"]))
    return [row["project"], *(s["project"] for s in shares)]


def global_node(ctx: Ctx, kind: str, key: str) -> Node:
    """A subject/experiment addressed by ID alone; readable through any project holding it."""
    row = find_subject(ctx, key, None) if kind == "subject" else find_experiment(ctx, key, None)
    if row is None:
        raise not_found(kind)
    readable = readable_projects(ctx)
    candidates = projects_of(ctx, "subject" if kind == "subject" else "experiment", row)
    if readable is not None and not any(p in readable for p in candidates):
        proj = project_row(ctx, row["project"])
        if proj is None or not ctx.app.auth.can_see(ctx.user, proj["id"], proj["accessibility"]):
            raise not_found(kind)
        raise forbidden()
    project = row["project"] if readable is None or row["project"] in readable else \
        next(p for p in candidates if p in readable)
    node_kind = "assessor" if kind != "subject" and row["session_id"] else kind
    return Node(node_kind, row["id"], row, project)


def require_edit(ctx: Ctx, node: Node) -> None:
    """403 unless the user may modify data in the node's own project."""
    ctx.require_login()
    owner_project = _owner_project(ctx, node)
    if not ctx.app.auth.can_edit(ctx.user, owner_project):
        raise forbidden()


def _owner_project(ctx: Ctx, node: Node) -> str:
    top = node
    while top.parent is not None and top.kind not in ("subject", "experiment", "assessor", "project"):
        top = top.parent
    if top.kind == "project":
        return top.key
    return top.row["project"]


def bad_segment(segment: str) -> HTTPError:
    return HTTPError(404, f"Unknown URL segment: {segment}")
