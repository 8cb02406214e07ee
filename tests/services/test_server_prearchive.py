"""The prearchive routes and the archive/move/delete/rebuild services of the embedded server."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.testing.conftest import Api
from xnat.testing.app import XNATApp

ZIP = {"Content-Type": "application/zip"}


@pytest.fixture
def staged(alice: Api, case001_zip: bytes) -> str:
    """Case001 imported into P1's prearchive; its ``/data/prearchive/...`` URI."""
    r = alice.post("/data/services/import?dest=/prearchive/projects/P1", data=case001_zip, headers=ZIP)
    assert r.status_code == 200, r.text
    assert r.text.startswith("/data/prearchive/projects/P1/")
    return r.text


def test_listing_has_the_real_columns(alice: Api, staged: str, reference: Path) -> None:
    fixture = json.loads((reference / "responses/fixtures/xnatpy-0.8.1-tests/GET_data_prearchive_projects"
                                       ".fixture.json").read_text())
    expected_keys = set(fixture["ResultSet"]["Result"][0])
    rows = alice.rows("/data/prearchive/projects")
    assert len(rows) == 1
    assert set(rows[0]) == expected_keys
    row = rows[0]
    assert row["status"] == "READY" and row["name"] == row["folderName"] == "Case001"
    assert row["subject"] == "Case001" and row["project"] == "P1" and row["autoarchive"] == "Manual"
    assert "/data" + row["url"] == staged
    assert alice.rows("/data/prearchive/projects/P1") == rows
    assert alice.rows(staged) == rows  # one session: a one-row table


def test_scans_resources_files(alice: Api, staged: str, case001: Path) -> None:
    scans = alice.rows(f"{staged}/scans")
    assert {s["ID"]: s["series_description"] for s in scans} == {
        "2": "T1 SPIN ECHO", "4": "SAG LOCALIZER", "9": "HEME SUSEPTIBILITY"}
    resources = alice.rows(f"{staged}/scans/9/resources")
    assert [(r["label"], r["file_count"]) for r in resources] == [("DICOM", "32")]
    files = alice.rows(f"{staged}/scans/4/resources/DICOM/files")
    assert len(files) == 3
    original = next((case001 / "4_SAG LOCALIZER").rglob(files[0]["Name"]))
    assert alice.get(files[0]["URI"]).data == original.read_bytes()
    assert alice.get(f"{staged}/scans/5/resources").status_code == 404
    assert alice.get(f"{staged}/scans/4/resources/DICOM/files/nope.dcm").status_code == 404


def test_zip_download(alice: Api, staged: str) -> None:
    r = alice.get(f"{staged}?format=zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.data)).namelist()
    assert len(names) == 55 and all(n.startswith("Case001/SCANS/") for n in names)


def test_archive_from_the_prearchive(alice: Api, staged: str) -> None:
    r = alice.post(f"/data/services/archive?src={staged[5:]}")
    assert r.status_code == 200, r.text
    assert r.mimetype == "text/uri-list" and r.text.endswith("\r\n")
    uri = r.text.strip()
    assert uri.startswith("/data/archive/projects/P1/subjects/")
    assert alice.rows("/data/prearchive/projects") == []
    files = alice.rows(f"{uri}/scans/ALL/files")
    assert len(files) == 55
    scans = alice.rows(f"{uri}/scans")
    assert sorted(s["series_description"] for s in scans) == ["HEME SUSEPTIBILITY", "SAG LOCALIZER", "T1 SPIN ECHO"]


def test_archive_with_new_labels_and_redirect(alice: Api, staged: str) -> None:
    r = alice.post(f"/data/services/archive?src={staged}&subject=SX&session=EX&redirect=true")
    assert r.status_code == 303 and r.headers["Location"].startswith("/data/archive/projects/P1/subjects/")
    assert [e["label"] for e in alice.rows("/data/projects/P1/subjects/SX/experiments")] == ["EX"]


def test_commit_action_answers_301(alice: Api, staged: str) -> None:
    r = alice.post(f"{staged}?action=commit&AA=true")
    assert r.status_code == 301
    assert r.text.startswith("/data/archive/projects/P1/")


@pytest.mark.parametrize("status, words", [("RECEIVING", "already in progress"), ("ERROR", "not READY")])
def test_archiving_a_session_that_is_not_ready(alice: Api, admin: Api, staged: str, status: str,
                                              words: str) -> None:
    assert alice.post(f"{staged}?action=set-status&status={status}").status_code == 200
    r = alice.post(f"/data/services/archive?src={staged}")
    assert r.status_code == 403
    assert words in r.text and status in r.text
    assert admin.rows("/data/experiments") == []
    assert alice.rows("/data/prearchive/projects")[0]["status"] == status
    assert alice.post(f"{staged}?action=reset-status").status_code == 200
    assert alice.post(f"/data/services/archive?src={staged}").status_code == 200


def test_rebuild_makes_it_ready_again(alice: Api, staged: str) -> None:
    assert alice.post(f"{staged}?action=set-status&status=ERROR").status_code == 200
    assert alice.post(f"/data/services/prearchive/rebuild?src={staged}").status_code == 200
    row = alice.rows(staged)[0]
    assert row["status"] == "READY"
    assert len(alice.rows(f"{staged}/scans/2/resources/DICOM/files")) == 20


def test_rebuild_of_damaged_files_ends_in_error(app: XNATApp, alice: Api, staged: str) -> None:
    folder = next((app.data_dir / "prearchive").rglob("SCANS/4/DICOM"))
    for path in folder.iterdir():
        path.write_bytes(b"garbage")
    assert alice.post(f"{staged}?action=build").status_code == 200
    assert alice.rows(staged)[0]["status"] == "ERROR"
    assert alice.post(f"/data/services/archive?src={staged}").status_code == 403


def test_move_to_another_project(app: XNATApp, alice: Api, admin: Api, staged: str) -> None:
    assert admin.put("/data/projects/P2").status_code == 201
    app.set_project_access("P2", "alice", "member")
    r = alice.post(f"/data/services/prearchive/move?src={staged}&newProject=P2")
    assert r.status_code == 200, r.text
    assert alice.rows("/data/prearchive/projects/P1") == []
    moved = alice.rows("/data/prearchive/projects/P2")
    assert len(moved) == 1 and moved[0]["project"] == "P2"
    assert len(alice.rows(f"/data{moved[0]['url']}/scans/9/resources/DICOM/files")) == 32


def test_move_errors(app: XNATApp, alice: Api, admin: Api, staged: str) -> None:
    assert alice.post(f"/data/services/prearchive/move?src={staged}").status_code == 400
    assert admin.put("/data/projects/P3").status_code == 201
    assert alice.post(f"/data/services/prearchive/move?src={staged}&newProject=P3").status_code == 404
    app.set_project_access("P3", "alice", "collaborator")
    assert alice.post(f"/data/services/prearchive/move?src={staged}&newProject=P3").status_code == 403
    r = alice.post(f"{staged}?action=move&newProject=P1")
    assert r.status_code == 301  # to its own project: nothing to do
    missing = staged.rsplit("/", 1)[0] + "/Other"
    assert alice.post(f"/data/services/prearchive/move?src={missing}&newProject=P1").status_code == 404


def test_delete(app: XNATApp, alice: Api, staged: str) -> None:
    assert alice.post(f"/data/services/prearchive/delete?src={staged}").status_code == 200
    assert alice.rows("/data/prearchive/projects") == []
    assert not any(p.is_file() for p in (app.data_dir / "prearchive").rglob("*"))
    assert alice.get(staged).status_code == 404


def test_delete_by_http_delete_and_busy_refusal(alice: Api, staged: str) -> None:
    assert alice.post(f"{staged}?action=set-status&status=ARCHIVING").status_code == 200
    assert alice.delete(staged).status_code == 403
    assert alice.post(f"{staged}?action=reset-status").status_code == 200
    assert alice.delete(staged).status_code == 200


def test_others_see_nothing(app: XNATApp, bob: Api, staged: str) -> None:
    assert bob.rows("/data/prearchive/projects") == []
    assert bob.get(staged).status_code == 404
    assert bob.post(f"/data/services/archive?src={staged}").status_code == 404
    app.set_project_access("P1", "bob", "collaborator")
    assert bob.get(staged).status_code == 403


@pytest.mark.parametrize("url, status", [
    ("/data/services/archive", 400),
    ("/data/services/archive?src=/prearchive/projects/P1/x", 400),
    ("/data/services/prearchive/delete", 400),
    ("/data/services/prearchive/rebuild?src=/archive/projects/P1", 400),
])
def test_bad_sources(alice: Api, url: str, status: int) -> None:
    assert alice.post(url).status_code == status


def test_unknown_action_and_status(alice: Api, staged: str) -> None:
    assert alice.post(f"{staged}?action=explode").status_code == 400
    assert alice.post(f"{staged}?action=set-status&status=HAPPY").status_code == 400
