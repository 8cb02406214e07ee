"""``POST /data/services/import`` on the embedded server, with the real Case001 DICOM."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from tests.services.conftest import zip_folder
from tests.testing.conftest import Api
from xnat.testing.app import XNATApp

ZIP = {"Content-Type": "application/zip"}
SERIES = {"2": ("T1 SPIN ECHO", 20), "4": ("SAG LOCALIZER", 3), "9": ("HEME SUSEPTIBILITY", 32)}
STUDY_UID = "1.2.840.113654.2.45.2.108105"


def _import(api: Api, body: bytes, query: str = "project=P1", headers: dict | None = None):
    return api.post(f"/data/services/import?{query}", data=body, headers=headers or ZIP)


def _archive_counts(api: Api) -> tuple[int, int]:
    """(experiments, catalogued files) in the whole archive, as the admin sees it."""
    experiments = api.rows("/data/experiments")
    files = sum(len(api.rows(f"/data/experiments/{e['ID']}/scans/ALL/files")) for e in experiments
                if api.rows(f"/data/experiments/{e['ID']}/scans"))
    return len(experiments), files


def test_case001_straight_into_the_archive(alice: Api, admin: Api, case001_zip: bytes, case001: Path) -> None:
    r = _import(alice, case001_zip)
    assert r.status_code == 200, r.text
    assert r.text.startswith("/data/archive/projects/P1/subjects/XNAT_S")
    experiment_id = r.text.rsplit("/", 1)[1]
    session = alice.get("/data/projects/P1/subjects/Case001/experiments/Case001?format=json").json
    fields = session["items"][0]["data_fields"]
    assert session["items"][0]["meta"]["xsi:type"] == "xnat:mrSessionData"
    assert fields["ID"] == experiment_id and fields["label"] == "Case001"
    assert fields["UID"] == STUDY_UID and fields["modality"] == "MR"
    assert fields["scanner/manufacturer"] == "GE MEDICAL SYSTEMS" and fields["scanner/model"] == "GENESIS_SIGNA"
    scans = alice.rows(f"/data/experiments/{experiment_id}/scans")
    assert {s["ID"]: s["series_description"] for s in scans} == {k: v[0] for k, v in SERIES.items()}
    assert all(s["xsiType"] == "xnat:mrScanData" and s["type"] == s["series_description"] for s in scans)
    total = 0
    for scan_id, (_, count) in SERIES.items():
        files = alice.rows(f"/data/experiments/{experiment_id}/scans/{scan_id}/resources/DICOM/files")
        assert len(files) == count
        total += count
    assert total == 55
    scan = alice.get(f"/data/experiments/{experiment_id}/scans/4?format=json").json["items"][0]["data_fields"]
    assert scan["frames"] == 3 and scan["UID"] == "1.2.840.113654.2.45.2.115982"
    assert scan["parameters/tr"] == pytest.approx(51.0)
    # the stored bytes are the uploaded ones
    first = alice.rows(f"/data/experiments/{experiment_id}/scans/4/resources/DICOM/files")[0]
    original = next(p for p in (case001 / "4_SAG LOCALIZER").rglob(first["Name"]))
    assert alice.get(first["URI"]).data == original.read_bytes()
    assert alice.rows("/data/prearchive/projects") == []  # staged, archived, gone from the prearchive


def test_tar_gz_and_labels_from_dest(alice: Api, case001: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(case001 / "4_SAG LOCALIZER", arcname="series4")
    r = _import(alice, buffer.getvalue(), "dest=/archive/projects/P1/subjects/SUBJ/experiments/MR1",
                {"Content-Type": "application/x-gzip"})
    assert r.status_code == 200, r.text
    rows = alice.rows("/data/projects/P1/subjects/SUBJ/experiments")
    assert [e["label"] for e in rows] == ["MR1"]
    assert [s["ID"] for s in alice.rows(f"/data/experiments/{rows[0]['ID']}/scans")] == ["4"]


def test_multipart_upload_with_overrides(alice: Api, case001_zip: bytes) -> None:
    r = alice.post("/data/services/import?project=P1&subject=S9&session=E9",
                   data={"file": (io.BytesIO(case001_zip), "case.zip")})
    assert r.status_code == 200, r.text
    assert [e["label"] for e in alice.rows("/data/projects/P1/subjects/S9/experiments")] == ["E9"]


def test_second_import_conflicts_and_leaves_an_error_entry(alice: Api, admin: Api, case001_zip: bytes) -> None:
    assert _import(alice, case001_zip).status_code == 200
    before = _archive_counts(admin)
    r = _import(alice, case001_zip)
    assert r.status_code == 409
    assert "already exists" in r.text and "overwrite" in r.text
    assert _archive_counts(admin) == before == (1, 55)
    entries = alice.rows("/data/prearchive/projects/P1")
    assert [(e["name"], e["status"]) for e in entries] == [("Case001", "ERROR")]


@pytest.mark.parametrize("mode", ["append", "delete"])
def test_overwrite_keeps_one_session(alice: Api, admin: Api, case001_zip: bytes, mode: str) -> None:
    first = _import(alice, case001_zip).text
    r = _import(alice, case001_zip, f"project=P1&overwrite={mode}")
    assert r.status_code == 200, r.text
    assert r.text == first
    assert _archive_counts(admin) == (1, 55)
    assert alice.rows("/data/prearchive/projects") == []


def test_non_dicom_archive_is_refused_and_nothing_is_kept(alice: Api, admin: Api, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    r = _import(alice, zip_folder(tmp_path))
    assert r.status_code == 400
    assert "holds no DICOM" in r.text
    assert _archive_counts(admin) == (0, 0)
    assert admin.rows("/data/prearchive/projects") == []


def test_half_dicom_archive_is_refused_unless_told_to_skip(alice: Api, admin: Api, case001: Path) -> None:
    body = zip_folder(case001, extra={"readme.txt": b"hello", "broken.dcm": b"DICM" * 10})
    r = _import(alice, body)
    assert r.status_code == 400
    assert "not DICOM" in r.text and "readme.txt" in r.text and "Ignore-Unparsable" in r.text
    assert _archive_counts(admin) == (0, 0)
    assert admin.rows("/data/prearchive/projects") == []
    r = _import(alice, body, "project=P1&Ignore-Unparsable=true")
    assert r.status_code == 200, r.text
    assert _archive_counts(admin) == (1, 55)


def test_damaged_archive(alice: Api, admin: Api, case001_zip: bytes) -> None:
    r = _import(alice, case001_zip[: len(case001_zip) // 2])
    assert r.status_code == 400
    assert _archive_counts(admin) == (0, 0)


def test_project_that_does_not_exist(alice: Api, case001_zip: bytes) -> None:
    r = _import(alice, case001_zip, "project=NOPE")
    assert r.status_code == 404
    assert "project" in r.text


def test_project_that_is_not_yours(app: XNATApp, alice: Api, bob: Api, admin: Api, case001_zip: bytes) -> None:
    assert _import(bob, case001_zip).status_code == 404  # private: bob cannot even see P1
    app.set_project_access("P1", "bob", "collaborator")  # may read, not write
    r = _import(bob, case001_zip)
    assert r.status_code == 403
    assert _archive_counts(admin) == (0, 0)
    assert admin.rows("/data/prearchive/projects") == []


@pytest.mark.parametrize("query, status, words", [
    ("project=P1&overwrite=sometimes", 400, "overwrite"),
    ("project=P1&import-handler=NOPE", 400, "import handler"),
    ("dest=/elsewhere/P1", 400, "destination"),
    ("dest=/prearchive/projects/P1/subjects/S", 400, "only the project"),
])
def test_bad_parameters(alice: Api, case001_zip: bytes, query: str, status: int, words: str) -> None:
    r = _import(alice, case001_zip, query)
    assert r.status_code == status
    assert words in r.text


def test_empty_body_and_wrong_method(alice: Api) -> None:
    r = alice.post("/data/services/import?project=P1")
    assert r.status_code == 400 and "didn't provide any data" in r.text
    assert alice.get("/data/services/import").status_code == 405


def test_anonymous_import_needs_login(app: XNATApp, case001_zip: bytes) -> None:
    assert Api(app, None).post("/data/services/import?project=P1", data=case001_zip).status_code == 401


def test_failure_half_way_through_archiving_leaves_nothing(app: XNATApp, alice: Api, admin: Api,
                                                          case001_zip: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write, calls = app.files.write, []

    def failing_write(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 30:  # scan 2 is in, scan 4 is in, scan 9 is half copied
            raise OSError(28, "No space left on device")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(app.files, "write", failing_write)
    r = _import(alice, case001_zip)
    assert r.status_code == 507  # a full disk: Insufficient Storage, with the reason
    assert len(calls) == 30
    assert _archive_counts(admin) == (0, 0)
    assert admin.rows("/data/subjects") == []
    assert not [p for p in app.files.root.rglob("*") if p.is_file()]
    entries = alice.rows("/data/prearchive/projects/P1")
    assert [e["status"] for e in entries] == ["ERROR"]
    monkeypatch.undo()
    assert alice.post(f"/data/services/archive?src={entries[0]['url']}").status_code == 403  # ERROR: not READY
    assert alice.post(f"/data/services/prearchive/rebuild?src={entries[0]['url']}").status_code == 200
    r = alice.post(f"/data/services/archive?src={entries[0]['url']}")
    assert r.status_code == 200, r.text
    assert _archive_counts(admin) == (1, 55)


def test_concurrent_imports_of_one_session(app: XNATApp, alice: Api, admin: Api, case001_zip: bytes) -> None:
    import threading

    statuses: list[int] = []

    def run() -> None:
        statuses.append(Api(app, ("alice", "alice")).post("/data/services/import?project=P1", data=case001_zip,
                                                          headers=ZIP).status_code)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 409, 409]
    assert _archive_counts(admin) == (1, 55)
    assert [e["status"] for e in alice.rows("/data/prearchive/projects/P1")] == ["ERROR", "ERROR"]


def test_gradual_dicom_gathers_files_of_a_study(alice: Api, admin: Api, case001: Path) -> None:
    files = sorted(p for p in (case001 / "4_SAG LOCALIZER").rglob("*") if p.is_file())
    files += sorted(p for p in (case001 / "2_T1 SPIN ECHO").rglob("*") if p.is_file())[:2]
    uris = set()
    for path in files:
        r = alice.post("/data/services/import?project=P1&import-handler=gradual-DICOM", data=path.read_bytes(),
                       headers={"Content-Type": "application/dicom"})
        assert r.status_code == 200, r.text
        uris.add(r.text)
    assert len(uris) == 1 and next(iter(uris)).startswith("/data/prearchive/projects/P1/")
    staged = next(iter(uris))
    scans = {s["ID"]: s for s in alice.rows(f"{staged}/scans")}
    assert set(scans) == {"2", "4"}
    assert len(alice.rows(f"{staged}/scans/4/resources/DICOM/files")) == 3
    assert len(alice.rows(f"{staged}/scans/2/resources/DICOM/files")) == 2
    assert alice.post(f"/data/services/archive?src={staged}").status_code == 200
    assert _archive_counts(admin) == (1, 5)


def test_gradual_dicom_direct_archive_appends(alice: Api, admin: Api, case001: Path) -> None:
    files = sorted(p for p in (case001 / "4_SAG LOCALIZER").rglob("*") if p.is_file())
    for path in files:
        r = alice.post("/data/services/import?project=P1&import-handler=gradual-DICOM&Direct-Archive=true",
                       data=path.read_bytes(), headers={"Content-Type": "application/dicom"})
        assert r.status_code == 200, r.text
        assert r.text.startswith("/data/archive/projects/P1/")
    assert _archive_counts(admin) == (1, 3)
    assert alice.rows("/data/prearchive/projects/P1") == []
    r = alice.post("/data/services/import?project=P1&import-handler=gradual-DICOM", data=b"not dicom at all",
                   headers={"Content-Type": "application/dicom"})
    assert r.status_code == 400


def test_same_file_name_twice_in_a_series_keeps_both(alice: Api, case001: Path) -> None:
    import zipfile

    first, second = sorted(p for p in (case001 / "4_SAG LOCALIZER").rglob("*") if p.is_file())[:2]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/1.dcm", first.read_bytes())
        archive.writestr("b/1.dcm", second.read_bytes())
    uri = _import(alice, buffer.getvalue()).text
    names = sorted(f["Name"] for f in alice.rows(f"{uri}/scans/4/resources/DICOM/files"))
    # XNAT's GradualDicomImporter.getSafeFile: a name another object holds gets the namer's
    assert names == sorted(["1.dcm", f"{_sop_uid(second.read_bytes())}.dcm"])


def test_the_same_object_twice_under_one_name_is_stored_once(alice: Api, case001: Path) -> None:
    import zipfile

    first = sorted(p for p in (case001 / "4_SAG LOCALIZER").rglob("*") if p.is_file())[0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/1.dcm", first.read_bytes())
        archive.writestr("b/1.dcm", first.read_bytes())
    uri = _import(alice, buffer.getvalue()).text
    files = alice.rows(f"{uri}/scans/4/resources/DICOM/files")
    assert [f["Name"] for f in files] == ["1.dcm"]


def _sop_uid(data: bytes) -> str:
    from xnat.testing.dicomreader import read_dicom_archive

    (study,) = read_dicom_archive(data, "one.dcm")
    return study.series[0].files[0].sop_instance_uid


def _import_named(alice: Api, case001: Path, query: str) -> tuple[list[Path], list[str]]:
    """The localizer's files zipped as x/0.dcm, x/1.dcm...; the names the archive stored."""
    import zipfile

    files = sorted(p for p in (case001 / "4_SAG LOCALIZER").rglob("*") if p.is_file())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for k, path in enumerate(files):
            archive.writestr(f"x/{k}.dcm", path.read_bytes())
    uri = _import(alice, buffer.getvalue(), f"project=P1{query}").text
    return files, sorted(f["Name"] for f in alice.rows(f"{uri}/scans/4/resources/DICOM/files"))


@pytest.mark.parametrize("rename", ["true", "TRUE"])
def test_rename_names_files_by_the_file_namer(alice: Api, case001: Path, rename: str) -> None:
    # XNAT's GradualDicomImporter.getSafeFile (called per entry by DicomZipImporter): with
    # rename=true the stored name is the namer's, never the upload's
    files, names = _import_named(alice, case001, f"&rename={rename}")
    assert names == sorted(f"{_sop_uid(p.read_bytes())}.dcm" for p in files)


@pytest.mark.parametrize("rename", ["", "&rename=false"])
def test_without_rename_the_upload_names_stay(alice: Api, case001: Path, rename: str) -> None:
    files, names = _import_named(alice, case001, rename)
    assert names == [f"{k}.dcm" for k in range(len(files))]


def test_rename_with_a_bad_value_is_refused_and_nothing_is_kept(alice: Api, admin: Api, case001_zip: bytes) -> None:
    before = _archive_counts(admin)
    r = _import(alice, case001_zip, "project=P1&rename=maybe")
    assert r.status_code == 400 and "rename" in r.text
    assert _archive_counts(admin) == before


# -- into a session that exists: XNAT's PrearcSessionArchiver.checkForConflicts, in its order ---
def _scans(api: Api, uri: str) -> list[str]:
    return sorted(r["ID"] for r in api.rows(f"{uri}/scans"))


def test_existing_session_without_overwrite_is_xnats_conflict(alice: Api, case001: Path) -> None:
    assert _import(alice, zip_folder(case001 / "4_SAG LOCALIZER")).status_code == 200
    r = _import(alice, zip_folder(case001 / "2_T1 SPIN ECHO"), "project=P1&overwrite=none")
    assert r.status_code == 409
    assert r.text.startswith("Session already exists, retry with overwrite enabled")


@pytest.mark.parametrize("mode, kept", [("append", ["2", "4"]), ("delete", ["2"])])
def test_append_merges_and_delete_replaces(alice: Api, admin: Api, case001: Path, mode: str,
                                           kept: list[str]) -> None:
    uri = _import(alice, zip_folder(case001 / "4_SAG LOCALIZER")).text
    r = _import(alice, zip_folder(case001 / "2_T1 SPIN ECHO"), f"project=P1&overwrite={mode}")
    assert r.status_code == 200, r.text
    assert r.text == uri
    assert _scans(admin, uri) == kept
    files = admin.rows(f"{uri}/scans/ALL/files")
    assert len(files) == sum(SERIES[s][1] for s in kept)


def test_existing_session_of_another_subject(alice: Api, case001_zip: bytes) -> None:
    assert _import(alice, case001_zip, "project=P1&subject=A&session=S1").status_code == 200
    r = _import(alice, case001_zip, "project=P1&subject=B&session=S1&overwrite=append")
    assert r.status_code == 409
    assert r.text.startswith("Invalid modification of session subject via archive process.: S1 Already Exists"
                             " for another Subject")


def test_existing_session_of_another_modality(alice: Api, case001_zip: bytes) -> None:
    assert alice.put("/data/projects/P1/subjects/A").status_code in (200, 201)
    r = alice.put("/data/projects/P1/subjects/A/experiments/S1?xsiType=xnat:ctSessionData")
    assert r.status_code in (200, 201), r.text
    r = _import(alice, case001_zip, "project=P1&subject=A&session=S1&overwrite=append")
    assert r.status_code == 409
    assert r.text.startswith("Invalid modification of session modality via archive process.")
