"""Finding archive objects by URL segment (ID or label) and turning access verdicts into answers.

A :class:`Node` is one resolved URL level. Under a project, subjects and experiments
are found by accession ID or by their label in that project (own or shared label);
under the global ``/data/subjects|experiments`` only by ID (REST-NOTES §2). Who may
reach what is decided by :class:`~xnat.testing.backend.access.Access`; this module
only answers its refusals: 404 for what the user may not see, 403 for the rest.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from ..backend import Verdict
from ..store import loads
from .base import Ctx, HTTPError, forbidden, not_found


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
        return str(self.row["xsi_type"])

    def label_in(self, ctx: Ctx) -> str:
        """The label the object has in the URL's project (its own, or a shared label)."""
        if self.kind not in ("subject", "experiment", "assessor"):
            return str(self.row["id"])
        if self.row["project"] == self.project:
            return str(self.row["label"])
        shared = ctx.backend.archive.share_label(self.kind, self.key, self.project)
        return shared if shared is not None else str(self.row["label"])

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


def refuse(verdict: Verdict, what: str) -> None:
    """Answer an access verdict: nothing when allowed, 404 when hidden, 403 when forbidden."""
    if verdict is Verdict.HIDDEN:
        raise not_found(what)
    if verdict is Verdict.FORBIDDEN:
        raise forbidden()


def project_row(ctx: Ctx, project: str) -> sqlite3.Row | None:
    """A project by ID or alias."""
    return ctx.backend.projects.get(project)


def project_node(ctx: Ctx, project: str, write: bool = False) -> Node:
    """The project, or 404; 403 if the user may not read it (or write to it, with ``write``)."""
    row = project_row(ctx, project)
    if row is None:
        raise not_found("project")
    check_read(ctx, row["id"], row["accessibility"])
    if write and not ctx.backend.access.can_edit(ctx.user, row["id"]):
        raise forbidden()
    return Node("project", row["id"], row, row["id"])


def check_read(ctx: Ctx, project: str, accessibility: str) -> None:
    """404 for a private project the user cannot see, 403 for one it sees but cannot read."""
    refuse(ctx.backend.access.read_project(ctx.user, project, accessibility), "project")


def readable_projects(ctx: Ctx) -> set[str] | None:
    """Projects whose data the user may read; None means all (admin)."""
    return ctx.backend.access.readable_projects(ctx.user)


def find_subject(ctx: Ctx, key: str, project: str | None) -> sqlite3.Row | None:
    """A subject by ID, or by (own or shared) label within ``project``."""
    return ctx.backend.archive.find("subject", key, project)


def find_experiment(ctx: Ctx, key: str, project: str | None) -> sqlite3.Row | None:
    """An experiment (session or assessor) by ID, or by label within ``project``."""
    return ctx.backend.archive.find("experiment", key, project)


def global_node(ctx: Ctx, kind: str, key: str) -> Node:
    """A subject/experiment addressed by ID alone; readable through any project holding it."""
    row = find_subject(ctx, key, None) if kind == "subject" else find_experiment(ctx, key, None)
    if row is None:
        raise not_found(kind)
    holders = ctx.backend.archive.shared_into(kind, row["id"])
    verdict, project = ctx.backend.access.reach(ctx.user, row["project"], holders)
    refuse(verdict, kind)
    node_kind = "assessor" if kind != "subject" and row["session_id"] else kind
    return Node(node_kind, row["id"], row, project)


def require_create(ctx: Ctx, project: str) -> None:
    """403 unless the user may add subjects, experiments or assessors to ``project`` (the one they join)."""
    ctx.require_login()
    if not ctx.backend.access.can_create(ctx.user, project):
        raise forbidden()


def readable_rows(ctx: Ctx, kind: str, rows: list[Any]) -> list[Any]:
    """The subject (``kind`` subject) or experiment rows the user may read, own or shared."""
    return ctx.backend.access.readable_rows(ctx.user, kind, rows)


def require_edit(ctx: Ctx, node: Node) -> None:
    """403 unless the user may modify data in the node's own project."""
    ctx.require_login()
    if not ctx.backend.access.can_edit(ctx.user, owner_project(node)):
        raise forbidden()


def require_delete(ctx: Ctx, node: Node) -> None:
    """403 unless the user may delete data of the node's own project."""
    ctx.require_login()
    if not ctx.backend.access.can_delete(ctx.user, owner_project(node)):
        raise forbidden()


def owner_project(node: Node) -> str:
    """The project that owns the object a node addresses (not the one the URL goes through)."""
    top = node
    while top.parent is not None and top.kind not in ("subject", "experiment", "assessor", "project"):
        top = top.parent
    if top.kind == "project":
        return top.key
    return str(top.row["project"])


def bad_segment(segment: str) -> HTTPError:
    return HTTPError(404, f"Unknown URL segment: {segment}")
