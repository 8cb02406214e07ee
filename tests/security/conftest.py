"""The security suite's world: one server, six kinds of caller, three project accessibilities.

* users ``admin`` (site admin), ``owner``, ``member``, ``collab`` (collaborator) and
  ``outsider`` (no role), plus the anonymous guest (the server allows anonymous access);
* projects ``PRIV``, ``PROT`` and ``PUB`` (private, protected, public), in each of which
  owner, member and collab hold their role, with the same tree: subject ``S``, MR session
  ``E`` with scan ``1`` (resource ``DICOM``, file ``a.txt``), session resource ``R`` (file
  ``f.txt``), project resource ``PR`` (file ``p.txt``);
* ``SRC``: a private project of the admin's, whose objects are shared into the others;
* ``D_<user>``: a private project each signed-in user owns, the destination of shares and moves.

Writes in the grid act on objects made for the one cell (:meth:`World.fresh`), so cells
never depend on each other and the read cells always find the fixed tree.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.test import TestResponse

from tests.testing.conftest import Api
from xnat.testing.app import XNATApp

ROLES = ("admin", "owner", "member", "collab", "outsider", "guest")
ACCESSIBILITIES = ("private", "protected", "public")
PROJECT_OF = {"private": "PRIV", "protected": "PROT", "public": "PUB"}
PROJECT_ROLE = {"owner": "owner", "member": "member", "collab": "collaborator"}
MR = "xnat:mrSessionData"


class Caller(Api):
    """One user's in-process client (its own cookie jar: sessions never cross users)."""

    def __init__(self, app: XNATApp, role: str) -> None:
        super().__init__(app, None if role == "guest" else (role, role))
        self.role = role


@dataclass
class Tree:
    """IDs of one subject/session tree."""

    project: str
    subject: str  # subject ID
    session: str  # session ID
    subject_label: str
    session_label: str


class World:
    """The app, a caller per role and the fixed trees."""

    def __init__(self, app: XNATApp) -> None:
        self.app = app
        self.callers = {role: Caller(app, role) for role in ROLES}
        self.admin = self.callers["admin"]
        self._count = itertools.count(1)
        self.trees: dict[str, Tree] = {}
        for accessibility, project in PROJECT_OF.items():
            self._project(project, accessibility)
            self.trees[project] = self.tree(project, "S", "E")
        self._project("SRC", "private", roles=False)
        for role in ROLES[1:-1]:
            self._project(f"D_{role}", "private", roles=False)
            app.set_project_access(f"D_{role}", role, "owner")
        self._project("D_admin", "private", roles=False)

    def ok(self, response: TestResponse, *expected: int) -> TestResponse:
        assert response.status_code in (expected or (200, 201)), (response.status_code, response.text)
        return response

    def _project(self, project: str, accessibility: str, roles: bool = True) -> None:
        self.ok(self.admin.put(f"/data/projects/{project}?accessibility={accessibility}"))
        self.ok(self.admin.put(f"/data/projects/{project}/resources/PR/files/p.txt?inbody=true", data=b"project"))
        if roles:
            for user, role in PROJECT_ROLE.items():
                self.app.set_project_access(project, user, role)

    def project(self, accessibility: str) -> str:
        """A fresh project of that accessibility with the usual roles."""
        project = f"X{next(self._count)}"
        self._project(project, accessibility)
        return project

    def tree(self, project: str, subject: str | None = None, session: str | None = None) -> Tree:
        """A subject with a session, a scan, resources and files in ``project`` (fresh labels by default)."""
        n = next(self._count)
        subject, session = subject or f"S{n}", session or f"E{n}"
        base = f"/data/projects/{project}/subjects/{subject}"
        subject_id = self.ok(self.admin.put(base)).text
        session_id = self.ok(self.admin.put(f"{base}/experiments/{session}?xsiType={MR}")).text
        exp = f"/data/experiments/{session_id}"
        self.ok(self.admin.put(f"{exp}/scans/1?xsiType=xnat:mrScanData"))
        self.ok(self.admin.put(f"{exp}/scans/1/resources/DICOM/files/a.txt?inbody=true", data=b"scan data"))
        self.ok(self.admin.put(f"{exp}/resources/R/files/f.txt?inbody=true", data=b"session data"))
        self.ok(self.admin.put(f"/data/subjects/{subject_id}/resources/SR/files/s.txt?inbody=true", data=b"s"))
        return Tree(project, subject_id, session_id, subject, session)

    def shared_tree(self, into: str) -> Tree:
        """A tree of ``SRC`` (whose users have no role there) shared into ``into`` under its labels."""
        tree = self.tree("SRC")
        self.ok(self.admin.put(f"/data/projects/SRC/subjects/{tree.subject}/projects/{into}"))
        self.ok(self.admin.put(f"/data/projects/SRC/experiments/{tree.session}/projects/{into}"))
        return Tree(into, tree.subject, tree.session, tree.subject_label, tree.session_label)

    def exists(self, url: str) -> bool:
        """Does the admin find ``url``?"""
        return self.admin.get(url).status_code == 200

    def next(self) -> int:
        return next(self._count)


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data: Path = tmp_path_factory.mktemp("security")
    users = ["admin:admin:admin", *(f"{r}:{r}" for r in ROLES[1:-1])]
    app = XNATApp(data_dir=data, users=users, site_id="XNAT", allow_anonymous=True)
    try:
        yield World(app)
    finally:
        app.close()


@pytest.fixture
def fresh_world(tmp_path: Path) -> Iterator[World]:
    """A world of its own, for a test that changes roles or accessibility."""
    users = ["admin:admin:admin", *(f"{r}:{r}" for r in ROLES[1:-1])]
    app = XNATApp(data_dir=tmp_path / "data", users=users, site_id="XNAT", allow_anonymous=True)
    try:
        yield World(app)
    finally:
        app.close()
