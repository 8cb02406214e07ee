"""The embedded server's access rules, asked of the backend directly (xnat.testing.backend.access).

Every route asks :class:`Access`; these tests pin the rules it answers with, so that the
next change to them is a deliberate one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xnat.testing.app import XNATApp
from xnat.testing.auth import GUEST, User
from xnat.testing.backend import Access, Verdict

ADMIN, ALICE, BOB, GUEST_USER = User("admin", admin=True), User("alice"), User("bob"), User(GUEST)


@pytest.fixture
def access(tmp_path: Path):
    with XNATApp(tmp_path, users=("admin:admin:admin", "alice:alice", "bob:bob", "carol:carol")) as app:
        store = app.backend.projects
        for project, accessibility in (("PRIV", "private"), ("PROT", "protected"), ("PUB", "public")):
            store.create(project, {"secondary_id": project, "name": project}, {}, accessibility, "alice", (),
                         owner="alice")
        app.set_project_access("PRIV", "bob", "member")
        app.set_project_access("PROT", "carol", "collaborator")
        yield app.backend.access


def test_reading_and_seeing_projects(access: Access) -> None:
    assert access.read_project(ADMIN, "PRIV", "private") is Verdict.ALLOWED
    assert access.read_project(BOB, "PRIV", "private") is Verdict.ALLOWED  # a member
    assert access.read_project(User("carol"), "PRIV", "private") is Verdict.HIDDEN
    assert access.read_project(User("carol"), "PROT", "protected") is Verdict.ALLOWED  # a collaborator
    assert access.read_project(BOB, "PROT", "protected") is Verdict.FORBIDDEN  # seen, not read
    assert access.read_project(GUEST_USER, "PUB", "public") is Verdict.ALLOWED
    assert access.read_project(GUEST_USER, "PROT", "protected") is Verdict.FORBIDDEN
    assert access.readable_projects(ADMIN) is None
    assert access.readable_projects(BOB) == {"PRIV", "PUB"}
    assert access.readable_projects(GUEST_USER) == {"PUB"}


def test_editing_owning_and_the_prearchive(access: Access) -> None:
    assert access.can_edit(BOB, "PRIV") and not access.is_owner(BOB, "PRIV")
    assert access.is_owner(ALICE, "PRIV") and access.is_owner(ADMIN, "PRIV")
    assert not access.can_edit(User("carol"), "PROT")  # collaborators read only
    assert not access.can_edit(BOB, "PUB")  # public data is read, not written
    # XNAT's member role creates and edits but does not delete; owners delete
    assert not access.can_delete(BOB, "PRIV") and access.can_delete(ALICE, "PRIV") and access.can_delete(ADMIN, "PRIV")
    assert access.can_create(BOB, "PRIV") and not access.can_create(User("carol"), "PROT")
    assert access.prearchive_projects(ADMIN) is None
    assert access.prearchive_projects(BOB) == {"PRIV"}
    assert access.use_prearchive(User("carol"), "PROT", "protected") is Verdict.FORBIDDEN
    assert access.use_prearchive(User("carol"), "PRIV", "private") is Verdict.HIDDEN


def test_reaching_an_object_through_the_projects_holding_it(access: Access) -> None:
    assert access.reach(BOB, "PRIV", ["PUB"]) == (Verdict.ALLOWED, "PRIV")  # its own project first
    assert access.reach(User("carol"), "PRIV", ["PROT"]) == (Verdict.ALLOWED, "PROT")  # through a share
    assert access.reach(User("carol"), "PRIV", []) == (Verdict.HIDDEN, "PRIV")
    assert access.reach(BOB, "PROT", []) == (Verdict.FORBIDDEN, "PROT")


def test_the_site_rules(access: Access) -> None:
    assert not access.signed_in(GUEST_USER) and access.signed_in(BOB)
    assert access.manages_users(ADMIN) and not access.manages_users(ALICE)
    assert access.may_view_user(ALICE, "alice") and not access.may_view_user(ALICE, "bob")
