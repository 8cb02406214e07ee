"""Who may do what in the embedded server's archive: the one place access is decided.

Every route asks this module (through :class:`Access`) before it reads, lists, writes,
shares or deletes. The handlers only turn a refusal into XNAT's answer (404 for what the
user may not even see, 403 for what it sees but may not touch), so tightening a rule
means changing it here.

The rule table
==============

Sources: [RN §n] ``xnat-reference/REST-NOTES.md``; [SRC path] XNAT's server source
(``NrgXnat/xnat-web``, ``src/main/java/org/nrg/xnat/restlet/resources/``); [ROLES] XNAT's
default project roles (owners: read, create, edit, delete and manage the project;
members: read, create, edit; collaborators: read), as XNAT's project user management
documents them; [DECIDED] a rule we chose where no source settles it.

=========================  ===============================================================
action                     who may (admins may do everything)
=========================  ===============================================================
see a project              public or protected, or a role in it  [RN §3; ROLES]
read its data              public, or a role in it; the guest reads public data only
                           [RN §3; ROLES]
read a shared object       through its own project or any project it is shared into
                           (a share makes it part of that project) [RN §2, §6]
list anything              only rows the user may read, by the rule above, at every level
                           (a subject's experiments, a session's assessors, global
                           listings, item JSON children, search rows and counts)
                           [SRC ProjSubExptList, ProjectSubjectList: listings are
                           security-filtered queries]
name a sharing project     only projects the user may see (share rows of others are left
                           out of listings and item ``sharing`` blocks) [DECIDED]
create subject/experiment  owner or member of the project the new object joins: the URL's
 or assessor               project, also for an assessor of a session shared into it
                           [SRC SubjectResource/SubjAssessmentResource handlePut
                           ``Permissions.canCreate``; ROLES]
edit (fields, scans,       owner or member of the object's own project [SRC
 resources, file upload)   SubjectResource handlePut ``Permissions.canEdit``; ROLES]
relabel                    in its own project: edit there; in a project it is shared into
                           (the share's label): owner or member of that project
                           [SRC SubjectResource handlePut: ``rename(proj, ...)`` sets the
                           label of the URL's project]
delete (objects, files)    owner of the object's own project; members do not delete
                           [RN §7; ROLES]
unshare                    owner of the project it is shared into [DECIDED: the delete
                           rule, applied to the project that loses it]
share into project D       read the object, owner or member of D, and the right to share
                           it out: owner or member of a project holding it, or public data
                           [SRC SubjectResource handlePut: ``Permissions.canRead`` on the
                           source, ``Permissions.canCreate(... /project, D)``; share-out:
                           DECIDED, collaborators never share out private data]
move (``primary=true``)    read it, delete rights in its own project (owner), owner or
                           member of D [SRC SubjectResource handlePut:
                           ``Permissions.canDelete`` before ``ChangePrimaryProject``]
PUT under an existing ID   an object the user may not read is not there for it: the PUT
                           creates a new one with that label; one it reads is shared, by
                           the share rule [SRC SubjectResource: existing objects are looked
                           up with the user's permissions]
import, overwrite=delete   owner (it drops the existing session's scans) [DECIDED: the
                           delete rule]; other imports: owner or member [ROLES]; an import
                           naming no project: any signed-in user, into the Unassigned
                           prearchive, which only admins see [SRC PrearcUtils COMMON]
change a project           owner (settings, accessibility, users, delete) [ROLES]
change a status            owner of the experiment's own project (``activate``,
 (quarantine...)           ``quarantine``, ``_lock``, ``_unlock``, ``_obsolete``) [SRC
                           SecureResource.postSaveManageStatus ``canActivate``; ROLES]
search                     any user, the guest included, over what it may read
                           [RN §10: 403 only without access]
=========================  ===============================================================
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol

from ..auth import User
from ..store import Store

__all__ = ["EDITORS", "Access", "SharedWith", "Verdict"]


class SharedWith(Protocol):
    """What access reads of a stored search: its listing row and who it is shared with."""

    @property
    def row(self) -> Mapping[str, str]: ...
    @property
    def users(self) -> Collection[str]: ...
    @property
    def groups(self) -> Collection[str]: ...

#: Roles that create and edit a project's data (XNAT's default owner and member roles).
EDITORS = ("owner", "member")


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

    def can_create(self, user: User, project: str) -> bool:
        """May ``user`` add subjects, experiments and assessors to a project (owners, members)?"""
        return user.admin or self.role(user, project) in EDITORS

    def can_edit(self, user: User, project: str) -> bool:
        """May ``user`` modify a project's data: fields, labels, scans, resources, files (owners, members)?"""
        return user.admin or self.role(user, project) in EDITORS

    def can_delete(self, user: User, project: str) -> bool:
        """May ``user`` delete a project's data (owners: XNAT's member role does not delete)?"""
        return self.is_owner(user, project)

    def can_activate(self, user: User, project: str) -> bool:
        """May ``user`` change the status of a project's experiments (activate, quarantine, lock,
        obsolete)? Owners: XNAT asks ``Permissions.canActivate``, which its default roles grant
        the owner role only."""
        return self.is_owner(user, project)

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

    def write_project(self, user: User, project: str, accessibility: str, allowed: bool) -> Verdict:
        """A write to a project's data the rule allows or not: hidden stays hidden (404, as GET says)."""
        if allowed:
            return Verdict.ALLOWED
        return Verdict.FORBIDDEN if self.can_see(user, project, accessibility) else Verdict.HIDDEN

    def readable_projects(self, user: User) -> set[str] | None:
        """Projects whose data ``user`` may read; None means all (admin)."""
        if user.admin:
            return None
        if user.is_guest:
            rows = self.store.all("SELECT id FROM projects WHERE accessibility='public'")
        else:
            rows = self.store.all("SELECT id FROM projects WHERE accessibility='public' OR id IN "
                                  "(SELECT project FROM project_users WHERE login=?)", (user.login,))
        return {r["id"] for r in rows}

    def visible_projects(self, user: User) -> set[str] | None:
        """Projects ``user`` may see (name, description); None means all (admin)."""
        readable = self.readable_projects(user)
        if readable is None:
            return None
        rows = self.store.all("SELECT id FROM projects WHERE accessibility IN ('public','protected')")
        return readable | {r["id"] for r in rows}

    # -- archive objects ----------------------------------------------------------------------
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

    def readable_rows(self, user: User, kind: str, rows: Sequence[Any]) -> list[Any]:
        """The rows (subjects with ``kind`` subject, else experiments; each with ``id`` and
        ``project``) ``user`` may read, through their own project or one they are shared into."""
        readable = self.readable_projects(user)
        if readable is None:
            return list(rows)
        shared = {r["obj_id"] for r in self.store.all("SELECT obj_id, project FROM shares WHERE kind=?",
                                                      ("subject" if kind == "subject" else "experiment",))
                  if r["project"] in readable}
        return [r for r in rows if r["project"] in readable or r["id"] in shared]

    def may_share(self, user: User, owner_project: str, holders: Sequence[str], destination: str, *,
                  primary: bool) -> Verdict:
        """May ``user`` share (``primary``: move) an object of ``owner_project`` held by ``holders``
        into ``destination``? HIDDEN when it may not read the object at all."""
        verdict, _ = self.reach(user, owner_project, holders)
        if verdict is not Verdict.ALLOWED:
            return verdict
        if not self.can_create(user, destination):
            return Verdict.FORBIDDEN
        if primary:  # changing the primary project takes the object away from its owner
            return Verdict.ALLOWED if self.can_delete(user, owner_project) else Verdict.FORBIDDEN
        return Verdict.ALLOWED if self._shares_out(user, owner_project, holders) else Verdict.FORBIDDEN

    def _shares_out(self, user: User, owner_project: str, holders: Sequence[str]) -> bool:
        """Owners and members of a project holding the object share it on; public data anyone may."""
        if user.admin or self._accessibility(owner_project) == "public":
            return True
        return any(self.role(user, p) in EDITORS for p in (owner_project, *holders))

    def may_relabel(self, user: User, project: str) -> bool:
        """May ``user`` set an object's label in ``project`` (its own label there, or the share's)?"""
        return self.can_edit(user, project)

    def may_unshare(self, user: User, holder: str) -> bool:
        """May ``user`` take an object out of a project it is shared into (that project's owners)?"""
        return self.can_delete(user, holder)

    # -- prearchive ---------------------------------------------------------------------------
    def prearchive_projects(self, user: User) -> set[str] | None:
        """Projects whose prearchive ``user`` may see and act on (owners, members); None: all (admin)."""
        if user.admin:
            return None
        rows = self.store.all("SELECT project FROM project_users WHERE login=? AND role IN ('owner','member')",
                              (user.login,))
        return {r["project"] for r in rows}

    @staticmethod
    def uses_unassigned(user: User) -> bool:
        """May ``user`` see and act on the Unassigned prearchive, where uploads that name no project
        land (site admins, as XNAT's prearchive shows it to them only)?"""
        return user.admin

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

    def may_configure(self, user: User, project: str | None) -> bool:
        """May ``user`` write configuration documents: the site's (admins) or a project's
        (its owners; XNAT's ProjectConfig writes need owner rights)?"""
        return user.admin or (project is not None and self.is_owner(user, project))

    @staticmethod
    def manages_site(user: User) -> bool:
        """May ``user`` change the site configuration (admins; XNAT's SiteConfigApi is admin only)?"""
        return user.admin

    @staticmethod
    def may_view_user(user: User, login: str) -> bool:
        """May ``user`` read the account ``login`` (admins, or the user itself)?"""
        return user.admin or user.login == login

    # -- saved searches (XNAT's SavedSearchListResource / SavedSearchResource) ---------------
    @staticmethod
    def on_saved_search(search: SharedWith, login: str, groups: Collection[str]) -> bool:
        """Is ``login`` an allowed user of a stored search, or in one of its allowed groups?
        (Only they change it, and delete it or take themselves off it.)"""
        return login in search.users or bool(set(search.groups) & set(groups))

    @staticmethod
    def may_read_saved_search(search: SharedWith, login: str, groups: Collection[str]) -> bool:
        """XNAT lists ``secure=0 OR allowed user OR group member``; reading by ID follows the
        listing here (XNAT lets anyone who may query the root type read a secure one: stricter
        on purpose, a search one is not shown is not reached by its ID either)."""
        return search.row["secure"] in ("0", "") or Access.on_saved_search(search, login, groups)

    @staticmethod
    def may_delete_saved_search(search: SharedWith, login: str, groups: Collection[str], admin: bool) -> Verdict:
        """Its allowed users and group members (each takes itself off) and site admins delete a
        stored search; others are refused, HIDDEN when they may not even read it."""
        if admin or Access.on_saved_search(search, login, groups):
            return Verdict.ALLOWED
        return Verdict.FORBIDDEN if Access.may_read_saved_search(search, login, groups) else Verdict.HIDDEN

