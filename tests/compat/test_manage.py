"""pyxnat's ``manage.users`` and ``manage.prearchive`` (sessions staged from the reference DICOM)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.conftest import zip_folder
from xnat.compat.pyxnat import Interface, InterfaceError
from xnat.testing import XNATServer


@pytest.fixture(scope="module")
def localizer_zip() -> bytes:
    reference = os.environ.get("XNAT_REFERENCE")
    if not reference:
        pytest.skip("XNAT_REFERENCE is unset: the prearchive tests stage its DICOM")
    folder = Path(reference) / "dicom" / "Case001" / "4_SAG LOCALIZER"
    assert folder.is_dir(), f"{folder} is missing from the reference data"
    return zip_folder(folder)


@pytest.fixture(scope="module")
def x() -> Iterator[Interface]:
    with XNATServer(users=["admin:admin:admin", "bob:bob"]) as running:
        interface = Interface(server=running.url, user="admin", password="admin")
        yield interface
        interface.disconnect()


def stage(x: Interface, project: str, data: bytes) -> list[str]:
    x.select.project(project).create()
    response = x.post("/data/services/import", params={"dest": f"/prearchive/projects/{project}"}, data=data,
                      headers={"Content-Type": "application/zip"})
    assert response.status_code == 200, response.text
    return next(triple for triple in x.manage.prearchive.get() if triple[0] == project)


def test_users(x: Interface) -> None:
    assert sorted(x.manage.users()) == ["admin", "bob"]
    assert (x.manage.users.firstname("admin"), x.manage.users.lastname("admin")) == ("Admin", "Admin")
    assert x.manage.users.email("bob") == "" and x.manage.users.id("bob").isdigit()
    with pytest.raises(InterfaceError, match="there is no user 'carol' on the server"):
        x.manage.users.firstname("carol")


def test_prearchive_reads_a_staged_session(x: Interface, localizer_zip: bytes) -> None:
    triple = stage(x, "PRE1", localizer_zip)
    prearchive = x.manage.prearchive
    assert prearchive.status(triple) == "READY"
    assert prearchive.get_uri(triple) == "/prearchive/projects/" + "/".join(triple)
    assert prearchive.get_scans(triple) == "4"  # one scan: its ID alone, as pyxnat answers
    assert prearchive.get_resources(triple, "4") == "DICOM"
    assert len(prearchive.get_files(triple, "4", "DICOM")) == len(list(
        (Path(os.environ["XNAT_REFERENCE"]) / "dicom" / "Case001" / "4_SAG LOCALIZER").rglob("*.dcm")))
    prearchive.reset(triple)
    assert prearchive.status(triple) == "READY" and prearchive.get_scans(triple) == "4"


def test_prearchive_moves_and_deletes(x: Interface, localizer_zip: bytes) -> None:
    triple = stage(x, "PRE2", localizer_zip)
    x.select.project("PRE3").create()
    x.manage.prearchive.move([x.manage.prearchive.get_uri(triple)], "PRE3")
    moved = [t for t in x.manage.prearchive.get() if t[0] == "PRE3"]
    assert len(moved) == 1 and not [t for t in x.manage.prearchive.get() if t[0] == "PRE2"]
    x.manage.prearchive.delete(x.manage.prearchive.get_uri(moved[0]))
    assert not [t for t in x.manage.prearchive.get() if t[0] == "PRE3"]


def test_prearchive_mistakes_are_clear(x: Interface) -> None:
    with pytest.raises(InterfaceError, match="holds no session PRE9/1/2"):
        x.manage.prearchive.status(["PRE9", "1", "2"])
    with pytest.raises(InterfaceError, match=r"named by \(project, timestamp, folderName\)"):
        x.manage.prearchive.status("PRE9/1/2")  # type: ignore[arg-type]
    with pytest.raises(InterfaceError, match="a list of prearchive session URIs"):
        x.manage.prearchive.move("/prearchive/projects/PRE9/1/2", "PRE3")  # type: ignore[arg-type]
