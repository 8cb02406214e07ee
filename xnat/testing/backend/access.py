"""Who may do what in the embedded server's archive: the one place access is decided.

Every route asks this module (through :class:`Access`) before it reads, lists, writes,
shares or deletes: which projects a user may read or see, whether it may edit or own a
project, whether it may use a project's prearchive, whether it may manage users. The
handlers only turn a refusal into XNAT's answer (404 for what the user may not even see,
403 for what it sees but may not touch), so tightening a rule means changing it here.

Rules (REST-NOTES §3): admins may do anything. A project is *seen* (listed, its
description shown) when it is public or protected, or when the user may read it; its data
is *read* when it is public or the user has a role in it. Owners and members edit a
project's data; owners change or delete the project itself, its settings and its users.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from ..auth import User
from ..store import Store

__all__ = ["Access", "Verdict"]


class Verdict(enum.Enum):
    """The answer to "may this user reach this?"."""

    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"  # the user sees it exists but may not do this: 403
    HIDDEN = "hidden"  # the user may not know it exists: 404


class Access:
    """Access decisions over the project roles and accessibility held in ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- roles ------------------------------------------------------------------------------
    def role(self, user: User, project: str) -> str | None:
        """``owner``/``member``/``collaborator`` of ``user`` in ``project``, or None."""
        row = self.store.one("SELECT role FROM project_users WHERE project=? AND login=?", (project, user.login))
        return row["role"] if row else None

    def roles(self, user: User) -> dict[str, str]:
        """Project -> role of every project ``user`` has a role in."""
        rows = self.store.all("SELECT project, role FROM project_users WHERE login=?", (user.login,))
        return {r["project"]: r["role"] for r in rows}

    def _accessibility(self, project: str) -> str | None:
        row = self.store.one("SELECT accessibility FROM projects WHERE id=?", (project,))
        return row["accessibility"] if row else None

    # -- projects ---------------------------------------------------------------------------
    def can_read(self, user: User, project: str, accessibility: str) -> bool:
        """May ``user`` read the data of a project?"""
        if user.admin or accessibility == "public":
            return True
        return not user.is_guest and self.role(user, project) is not None

    def can_see(self, user: User, project: str, accessibility: str) -> bool:
        """Does the project appear to ``user`` (in listings, as an item)?"""
        return accessibility in ("public", "protected") or self.can_read(user, project, accessibility)

    def can_edit(self, user: User, project: str) -> bool:
        """May ``user`` create and modify data in a project (owners and members)?"""
        return user.admin or self.role(user, project) in ("owner", "member")

    def can_delete(self, user: User, project: str) -> bool:
        """May ``user`` delete data of a project (owners, and members for non-project items)?"""
        return self.can_edit(user, project)

    def is_owner(self, user: User, project: str) -> bool:
        """May ``user`` change or delete the project itself (settings, accessibility, users)?"""
        return user.admin or self.role(user, project) == "owner"

    def read_project(self, user: User, project: str, accessibility: str) -> Verdict:
        """May ``user`` read a project's data: allowed, forbidden (it sees the project) or hidden."""
        if self.can_read(user, project, accessibility):
            return Verdict.ALLOWED
        if not self.can_see(user, project, accessibility):
            return Verdict.HIDDEN
        return Verdict.FORBIDDEN

    def readable_projects(self, user: User) -> set[str] | None:
        """Projects whose data ``user`` may read; None means all (admin)."""
        if user.admin:
            return None
        rows = self.store.all("SELECT id FROM projects WHERE accessibility='public' OR id IN "
                              "(SELECT project FROM project_users WHERE login=?)", (user.login,))
        return {r["id"] for r in rows}

    def reach(self, user: User, owner_project: str, holders: Iterable[str]) -> tuple[Verdict, str]:
        """Through which project ``user`` reads an object owned by ``owner_project`` and shared
        into ``holders`` (the owner first): ``(ALLOWED, project)``, or a refusal and the owner."""
        candidates = [owner_project, *holders]
        readable = self.readable_projects(user)
        if readable is None or owner_project in readable:
            return Verdict.ALLOWED, owner_project
        for project in candidates:
            if project in readable:
                return Verdict.ALLOWED, project
        accessibility = self._accessibility(owner_project)
        if accessibility is None or not self.can_see(user, owner_project, accessibility):
            return Verdict.HIDDEN, owner_project
        return Verdict.FORBIDDEN, owner_project

    # -- prearchive ---------------------------------------------------------------------------
    def prearchive_projects(self, user: User) -> set[str] | None:
        """Projects whose prearchive ``user`` may see and act on (owners, members); None: all (admin)."""
        if user.admin:
            return None
        rows = self.store.all("SELECT project FROM project_users WHERE login=? AND role IN ('owner','member')",
                              (user.login,))
        return {r["project"] for r in rows}

    def use_prearchive(self, user: User, project: str, accessibility: str) -> Verdict:
        """May ``user`` use a project's prearchive (a private project it cannot read stays hidden)?"""
        allowed = self.prearchive_projects(user)
        if allowed is None or project in allowed:
            return Verdict.ALLOWED
        return Verdict.FORBIDDEN if self.can_see(user, project, accessibility) else Verdict.HIDDEN

    # -- the site -------------------------------------------------------------------------------
    @staticmethod
    def signed_in(user: User) -> bool:
        """Writes (and most services) need a real account, not the anonymous guest."""
        return not user.is_guest

    @staticmethod
    def manages_users(user: User) -> bool:
        """May ``user`` list and create site users and issue tokens for others (admins)?"""
        return user.admin

    @staticmethod
    def may_view_user(user: User, login: str) -> bool:
        """May ``user`` read the account ``login`` (admins, or the user itself)?"""
        return user.admin or user.login == login
