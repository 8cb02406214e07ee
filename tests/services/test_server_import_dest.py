"""``POST /data/services/import`` with both ``project=`` and a ``dest=`` naming another project.

XNAT's handlers disagree (see ``xnat.testing.handlers.importer._project``): the default one
(SI) and gradual-DICOM follow ``dest``, DICOM-zip follows ``project``. The loser is ignored,
so only the winner's write access counts, and nothing ever lands in the loser.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testing.conftest import Api
from xnat.testing.app import XNATApp

ZIP = {"Content-Type": "application/zip"}
DESTS = ["/archive/projects/{p}", "/prearchive/projects/{p}"]


@pytest.fixture
def projects(app: XNATApp, admin: Api, alice: Api) -> None:
    """alice owns P1 and P2, only reads P3 (collaborator), and cannot see P4 (private)."""
    for project in ("P2", "P3", "P4"):
        assert admin.put(f"/data/projects/{project}?name={project}").status_code == 201
    app.set_project_access("P2", "alice", "owner")
    app.set_project_access("P3", "alice", "collaborator")


def _query(project: str, dest: str, dest_first: bool, handler: str = "") -> str:
    parts = [f"project={project}", f"dest={dest}"]
    query = "&".join(reversed(parts) if dest_first else parts)
    return f"{query}&import-handler={handler}" if handler else query


def _landed(admin: Api, project: str) -> int:
    """Sessions in ``project``'s archive and prearchive, as the admin sees them."""
    return len(admin.rows(f"/data/projects/{project}/experiments")) + len(
        admin.rows(f"/data/prearchive/projects/{project}"))


@pytest.mark.parametrize("dest_first", [False, True], ids=["project-first", "dest-first"])
@pytest.mark.parametrize("dest", DESTS, ids=["archive", "prearchive"])
@pytest.mark.parametrize(("handler", "winner"), [("", "P2"), ("SI", "P2"), ("DICOM-zip", "P1")],
                         ids=["default-dest-wins", "SI-dest-wins", "DICOM-zip-project-wins"])
def test_the_handler_decides_between_project_and_dest(projects: None, alice: Api, admin: Api, case001_zip: bytes,
                                                      dest: str, dest_first: bool, handler: str, winner: str) -> None:
    """project=P1 and dest naming P2: the session importer follows dest, DICOM-zip follows project."""
    r = alice.post(f"/data/services/import?{_query('P1', dest.format(p='P2'), dest_first, handler)}",
                   data=case001_zip, headers=ZIP)
    assert r.status_code == 200, r.text
    kind = dest.split("/")[1]
    assert r.text.startswith(f"/data/{kind}/projects/{winner}/")
    assert (_landed(admin, "P1"), _landed(admin, "P2")) == ((0, 1) if winner == "P2" else (1, 0))


@pytest.mark.parametrize("dest_first", [False, True], ids=["project-first", "dest-first"])
def test_dest_wins_with_gradual_dicom(projects: None, alice: Api, admin: Api, case001: Path,
                                      dest_first: bool) -> None:
    one = next(p for p in sorted((case001 / "4_SAG LOCALIZER").rglob("*")) if p.is_file())
    r = alice.post(f"/data/services/import?{_query('P1', '/prearchive/projects/P2', dest_first, 'gradual-DICOM')}",
                   data=one.read_bytes(), headers={"Content-Type": "application/dicom"})
    assert r.status_code == 200, r.text
    assert r.text.startswith("/data/prearchive/projects/P2/")
    assert (_landed(admin, "P1"), _landed(admin, "P2")) == (0, 1)


# (handler, the project= one, the dest= one, status): the winner alone is checked, and must be writable
ACCESS = [
    ("SI", "P1", "P3", 403),  # dest wins: P3 only read by alice
    ("SI", "P1", "P4", 404),  # dest wins: P4 not even seen
    ("SI", "P3", "P1", 200),  # dest wins: P1 hers, P3 ignored
    ("SI", "P4", "P1", 200),
    ("DICOM-zip", "P3", "P1", 403),  # project wins
    ("DICOM-zip", "P4", "P1", 404),
    ("DICOM-zip", "P1", "P3", 200),  # project wins: P1 hers, P3 ignored
    ("DICOM-zip", "P1", "P4", 200),
]


@pytest.mark.parametrize("dest", DESTS, ids=["archive", "prearchive"])
@pytest.mark.parametrize("handler, named, destined, status", ACCESS)
def test_no_project_reached_through_another(projects: None, alice: Api, admin: Api, case001_zip: bytes, dest: str,
                                            handler: str, named: str, destined: str, status: int) -> None:
    r = alice.post(f"/data/services/import?{_query(named, dest.format(p=destined), False, handler)}",
                   data=case001_zip, headers=ZIP)
    assert r.status_code == status, r.text
    assert _landed(admin, "P3") == _landed(admin, "P4") == 0  # never where alice may not write
    assert _landed(admin, "P1") == (1 if status == 200 else 0)
