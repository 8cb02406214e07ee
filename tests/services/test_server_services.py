"""DICOM dump, catalog refresh, scanners/scan types and plugins on the embedded server."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from tests.testing.conftest import Api
from xnat.testing.app import XNATApp

ZIP = {"Content-Type": "application/zip"}
SESSION = "/archive/projects/P1/subjects/Case001/experiments/Case001"


@pytest.fixture
def imported(alice: Api, case001_zip: bytes) -> str:
    r = alice.post("/data/services/import?project=P1", data=case001_zip, headers=ZIP)
    assert r.status_code == 200, r.text
    return r.text


def _dump(api: Api, query: str) -> list[dict[str, str]]:
    return api.rows(f"/data/services/dicomdump?{query}")


def test_dump_has_the_real_header_values(alice: Api, imported: str, case001: Path) -> None:
    rows = _dump(alice, f"src={SESSION}/scans/4")
    by_tag = {r["tag1"]: r for r in rows if not r["tag2"]}
    first = sorted((case001 / "4_SAG LOCALIZER").rglob("*"))
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in first if p.is_file()]
    dumped = next(h for h in headers if h.SOPInstanceUID == by_tag["(0008,0018)"]["value"])
    assert by_tag["(0008,0060)"] == {"tag1": "(0008,0060)", "tag2": "", "vr": "CS", "value": "MR", "desc": "Modality"}
    assert by_tag["(0008,103E)"]["value"] == "SAG LOCALIZER"
    assert by_tag["(0008,0070)"]["value"] == "GE MEDICAL SYSTEMS"
    assert by_tag["(0010,0010)"]["value"] == "Case001"
    assert by_tag["(0020,000D)"]["value"] == "1.2.840.113654.2.45.2.108105"
    assert by_tag["(0018,0080)"]["value"] == str(dumped.RepetitionTime)
    assert "(7FE0,0010)" not in by_tag  # no pixel data


def test_dump_fields_and_sources(alice: Api, imported: str) -> None:
    rows = _dump(alice, f"src={SESSION}&field=SeriesDescription&field=00080060")
    assert [(r["desc"], r["value"]) for r in rows] == [("Modality", "MR"), ("Series Description", "T1 SPIN ECHO")]
    experiment_id = imported.rsplit("/", 1)[1]
    by_id = _dump(alice, f"src=/archive/projects/P1/experiments/{experiment_id}/scans/9&field=(0008,103E)")
    assert [r["value"] for r in by_id] == ["HEME SUSEPTIBILITY"]


def test_dump_of_a_prearchive_session(alice: Api, case001_zip: bytes) -> None:
    staged = alice.post("/data/services/import?dest=/prearchive/projects/P1", data=case001_zip, headers=ZIP).text
    rows = _dump(alice, f"src={staged[5:]}/scans/9&field=SeriesDescription")
    assert [r["value"] for r in rows] == ["HEME SUSEPTIBILITY"]


@pytest.mark.parametrize("query, status", [
    ("", 400),
    ("src=/elsewhere", 400),
    (f"src={SESSION}&field=NoSuchKeyword", 400),
    ("src=/archive/projects/P1/subjects/Case001/experiments/Nope", 404),
    (f"src={SESSION}/scans/77", 404),
    ("src=/archive/projects/P1/subjects/Case001", 400),
])
def test_dump_errors(alice: Api, imported: str, query: str, status: int) -> None:
    assert alice.get(f"/data/services/dicomdump?{query}").status_code == status


def test_dump_respects_access(bob: Api, imported: str) -> None:
    assert bob.get(f"/data/services/dicomdump?src={SESSION}").status_code == 404


def _resource_folder(app: XNATApp, experiment_id: str, scan_pk: str) -> Path:
    row = app.store.one("SELECT folder FROM resources WHERE owner_kind='scan' AND owner_id=?", (scan_pk,))
    return app.files.root / row["folder"]


def test_refresh_catalog(app: XNATApp, alice: Api, imported: str) -> None:
    experiment_id = imported.rsplit("/", 1)[1]
    pk = app.store.one("SELECT pk FROM scans WHERE experiment_id=? AND id='4'", (experiment_id,))["pk"]
    folder = _resource_folder(app, experiment_id, str(pk))
    files_url = f"/data/experiments/{experiment_id}/scans/4/resources/DICOM/files"
    victim = sorted(folder.iterdir())[0]
    victim.unlink()
    (folder / "added.txt").write_bytes(b"new file")
    resource = "/archive/projects/P1/subjects/Case001/experiments/Case001/scans/4/resources/DICOM"
    assert alice.post(f"/data/services/refresh/catalog?resource={resource}&options=append").status_code == 200
    names = {r["Name"] for r in alice.rows(files_url)}
    assert "added.txt" in names and victim.name in names and len(names) == 4
    assert alice.post(f"/data/services/refresh/catalog?resource={resource}&delete=true").status_code == 200
    names = {r["Name"] for r in alice.rows(files_url)}
    assert victim.name not in names and len(names) == 3
    (folder / "added.txt").write_bytes(b"changed content")
    r = alice.post("/data/services/refresh/catalog?resource=/archive/projects/P1/subjects/Case001/experiments/"
                   "Case001&options=checksum,populateStats")
    assert r.status_code == 200
    row = next(r for r in alice.rows(files_url) if r["Name"] == "added.txt")
    assert row["Size"] == str(len(b"changed content"))


@pytest.mark.parametrize("query, status", [
    ("", 400),
    ("resource=/archive/projects/P1&options=shred", 400),
    ("resource=/archive/projects/NOPE", 404),
    ("resource=/archive/projects/P1/subjects/Case001/experiments/Nope", 404),
    ("resource=/archive/projects/P1/subjects/Case001/experiments/Case001/scans/4/resources/NIFTI", 404),
    ("resource=/somewhere", 400),
])
def test_refresh_errors(alice: Api, imported: str, query: str, status: int) -> None:
    assert alice.post(f"/data/services/refresh/catalog?{query}").status_code == status


def test_refresh_needs_write_access(app: XNATApp, bob: Api, imported: str) -> None:
    app.set_project_access("P1", "bob", "collaborator")
    assert bob.post(f"/data/services/refresh/catalog?resource={SESSION}&options=append").status_code == 403


def test_scanners_and_scan_types(admin: Api, alice: Api, bob: Api, imported: str) -> None:
    types = [r["type"] for r in alice.rows("/data/archive/scan_types")]
    assert types == ["HEME SUSEPTIBILITY", "SAG LOCALIZER", "T1 SPIN ECHO"]
    assert bob.rows("/data/archive/scan_types") == []
    experiment_id = imported.rsplit("/", 1)[1]
    assert admin.put(f"/data/experiments/{experiment_id}?scanner=MR-ROOM-1").status_code == 200
    assert [r["scanner"] for r in alice.rows("/data/archive/scanners")] == ["MR-ROOM-1"]
    assert bob.rows("/data/archive/scanners") == []


def test_plugins(admin: Api, app: XNATApp) -> None:
    r = admin.get("/xapi/plugins")
    assert r.status_code == 200 and r.json == {}
    assert admin.get("/xapi/plugins/batchLaunchPlugin").status_code == 404
    assert Api(app, None).get("/xapi/plugins").status_code == 401
