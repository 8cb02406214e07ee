"""The client's import, prearchive and DICOM services end to end against the embedded server."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.services.conftest import zip_folder
from xnat.exceptions import XNATResponseError, XNATUploadError, XNATValueError
from xnat.prearchive import Prearchive, PrearchiveSession
from xnat.services import Services, guess_content_type
from xnat.services.dicom import scan_dicom_dump, scan_read_dicom

SERIES = {"2": "T1 SPIN ECHO", "4": "SAG LOCALIZER", "9": "HEME SUSEPTIBILITY"}


def _file_count(connection: Any, experiment: Any) -> int:
    return len(connection.get_json(f"/data/experiments/{experiment.id}/scans/ALL/files")["ResultSet"]["Result"])


def _experiments(connection: Any, project: str) -> list[dict[str, str]]:
    return connection.get_json(f"/data/projects/{project}/experiments")["ResultSet"]["Result"]


def test_import_case001_straight_into_the_archive(connection: Any, project: str, case001_file: Path) -> None:
    experiment = Services(connection).import_(case001_file, project=project)
    assert experiment.__xsi_type__ == "xnat:mrSessionData"
    assert experiment.label == "Case001" and experiment.project == project
    scans = experiment.scans
    assert {scan.id: scan.series_description for scan in scans.values()} == SERIES
    assert _file_count(connection, experiment) == 55
    assert Prearchive(connection).sessions(project) == []


def test_import_through_the_prearchive_then_archive(connection: Any, project: str, case001_file: Path) -> None:
    staged = Services(connection).import_(case001_file, destination=f"/prearchive/projects/{project}")
    assert isinstance(staged, PrearchiveSession)
    assert staged.status == "READY" and staged.project == project and staged.subject == "Case001"
    assert staged.uploaded is not None and staged.timestamp is not None
    assert {scan.id: scan.series_description for scan in staged.scans} == SERIES
    scan = next(s for s in staged.scans if s.id == "9")
    assert scan.resources["DICOM"].file_count == 32 and len(scan.files) == 32
    header = scan.read_dicom()
    assert header.SeriesDescription == "HEME SUSEPTIBILITY" and header.Modality == "MR"
    assert "PixelData" not in header
    assert [r["value"] for r in scan.dicom_dump(["SeriesDescription"])] == ["HEME SUSEPTIBILITY"]
    assert Prearchive(connection).find(project=project, status="READY") == [staged]
    experiment = staged.archive(subject="SUBJ", experiment="SESSION1")
    assert experiment.label == "SESSION1"
    assert {s.id: s.series_description for s in experiment.scans.values()} == SERIES
    assert _file_count(connection, experiment) == 55
    assert Prearchive(connection).sessions(project) == []


def test_import_dir_and_bytes(connection: Any, project: str, case001: Path, case001_zip: bytes) -> None:
    services = Services(connection)
    first = services.import_dir(case001 / "4_SAG LOCALIZER", project=project, subject="S1", experiment="E1")
    assert first.label == "E1" and [s.id for s in first.scans.values()] == ["4"]
    second = services.import_(data=case001_zip, project=project, subject="S2", experiment="E2",
                              content_type="application/zip")
    assert _file_count(connection, second) == 55


def test_overwrite(connection: Any, project: str, case001_file: Path) -> None:
    services = Services(connection)
    first = services.import_(case001_file, project=project)
    with pytest.raises(XNATUploadError, match="409.*already exists"):
        services.import_(case001_file, project=project)
    again = services.import_(case001_file, project=project, overwrite="append")
    assert again.id == first.id and _file_count(connection, again) == 55
    assert len(_experiments(connection, project)) == 1
    errors = Prearchive(connection).find(project=project, status="ERROR")
    assert len(errors) == 1 and errors[0].name == "Case001"
    with pytest.raises(XNATResponseError, match="403.*not READY"):
        errors[0].archive()
    errors[0].delete()
    assert Prearchive(connection).sessions(project) == []


def test_non_dicom_and_half_dicom_uploads(connection: Any, project: str, case001: Path, tmp_path: Path) -> None:
    services = Services(connection)
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(XNATUploadError, match="400.*holds no DICOM"):
        services.import_(data=zip_folder(tmp_path), project=project, content_type="application/zip")
    half = zip_folder(case001 / "4_SAG LOCALIZER", extra={"readme.txt": b"hello"})
    with pytest.raises(XNATUploadError, match="400.*readme.txt"):
        services.import_(data=half, project=project, content_type="application/zip")
    assert _experiments(connection, project) == []
    assert Prearchive(connection).sessions(project, allow_receiving=True) == []
    kept = services.import_(data=half, project=project, content_type="application/zip", ignore_unparsable=True)
    assert [s.id for s in kept.scans.values()] == ["4"]


def test_project_that_does_not_exist_or_is_not_yours(server: Any, connection: Any, case001_file: Path) -> None:
    with pytest.raises(XNATUploadError, match="404"):
        Services(connection).import_(case001_file, project="NO_SUCH_PROJECT")
    import xnat

    with xnat.connect(server.url, user="alice", password="alice") as alice:
        with pytest.raises(XNATUploadError, match="404"):  # private and not hers: invisible
            Services(alice).import_(case001_file, project="PRJ001")


@pytest.mark.parametrize("kwargs, words", [
    ({"overwrite": "always"}, "overwrite"),
    ({"destination": "/elsewhere/P"}, "destination"),
    ({"data": b"x"}, "exactly one"),
])
def test_bad_arguments_are_refused_before_sending(connection: Any, case001_file: Path, kwargs: dict,
                                                  words: str) -> None:
    with pytest.raises(XNATValueError, match=words):
        Services(connection).import_(case001_file, project="P", **kwargs)


def test_missing_file_and_folder(connection: Any, tmp_path: Path) -> None:
    with pytest.raises(XNATValueError, match="not a file"):
        Services(connection).import_(tmp_path / "nope.zip", project="P")
    with pytest.raises(XNATValueError, match="not a folder"):
        Services(connection).import_dir(tmp_path / "nope", project="P")


def test_prearchive_move_rebuild_download(connection: Any, project: str, case001_file: Path, tmp_path: Path) -> None:
    other = project + "B"
    connection.put(f"/data/projects/{other}")
    staged = Services(connection).import_(case001_file, destination=f"/prearchive/projects/{project}")
    staged.rebuild()
    assert staged.status == "READY"
    target = staged.download(tmp_path / "staged.zip")
    assert len(zipfile.ZipFile(target).namelist()) == 55
    staged.move(other)
    assert Prearchive(connection).sessions(project) == []
    assert staged.project == other and staged.status == "READY"
    assert [s.id for s in Prearchive(connection).sessions(other)] == [staged.id]
    with pytest.raises(XNATResponseError, match="404"):
        staged.move("NO_SUCH_PROJECT")


def test_scan_dicom_dump_and_read_dicom(connection: Any, project: str, case001_file: Path) -> None:
    experiment = Services(connection).import_(case001_file, project=project)
    scan = experiment.scans["4"]
    rows = scan_dicom_dump(scan, ["SeriesDescription", "Manufacturer", "PatientName"])
    assert {r["desc"]: r["value"] for r in rows} == {"Series Description": "SAG LOCALIZER",
                                                     "Manufacturer": "GE MEDICAL SYSTEMS", "Patient's Name": "Case001"}
    dataset = scan_read_dicom(scan)
    assert dataset.SeriesInstanceUID == "1.2.840.113654.2.45.2.115982" and "PixelData" not in dataset
    assert scan_read_dicom(scan, read_pixel_data=True).pixel_array.shape == (256, 256)
    services = Services(connection)
    assert services.dicom_dump(f"/archive/projects/{project}/subjects/Case001/experiments/Case001",
                               fields="Modality")[0]["value"] == "MR"
    with pytest.raises(XNATValueError, match="src"):
        services.dicom_dump("")
    with pytest.raises(XNATResponseError, match="404"):
        services.dicom_dump(f"/archive/projects/{project}/subjects/Case001/experiments/Nope")


def test_refresh_catalog(connection: Any, project: str, case001_file: Path) -> None:
    experiment = Services(connection).import_(case001_file, project=project)
    services = Services(connection)
    services.refresh_catalog(experiment, checksum=True, append=True, delete=True, populate_stats=True)
    services.refresh_catalog(f"/archive/projects/{project}/subjects/Case001/experiments/Case001/scans/2")
    assert _file_count(connection, experiment) == 55
    with pytest.raises(XNATResponseError, match="404"):
        services.refresh_catalog(f"/archive/projects/{project}/subjects/Case001/experiments/Nope", append=True)


def test_guess_content_type() -> None:
    assert guess_content_type("a.ZIP") == "application/zip"
    assert guess_content_type("a.tar.gz") == guess_content_type("b.tgz") == "application/x-gzip"
    assert guess_content_type("a.tar") == "application/x-tar"
    assert guess_content_type("a.unknownext") == "application/octet-stream"


def test_read_dicom_fetches_only_the_header_of_a_big_file(connection: Any, project: str, case001: Path,
                                                          tmp_path: Path) -> None:
    import pydicom

    source = sorted((case001 / "4_SAG LOCALIZER").rglob("*"))
    dataset = pydicom.dcmread(next(p for p in source if p.is_file()))
    dataset.Rows = dataset.Columns = 2048
    dataset.PixelData = bytes(2048 * 2048 * 2)  # 8 MiB of pixels after the header
    big = tmp_path / "big.dcm"
    dataset.save_as(big)
    connection.put(f"/data/projects/{project}/subjects/S")
    connection.put(f"/data/projects/{project}/subjects/S/experiments/E?xsiType=xnat:mrSessionData")
    experiment = connection.create_object(f"/data/projects/{project}/subjects/S/experiments/E")
    connection.put(f"{experiment.uri}/scans/1?xsiType=xnat:mrScanData")
    connection.put(f"{experiment.uri}/scans/1/resources/DICOM/files/big.dcm?inbody=true", data=big.read_bytes())
    received: list[int] = []

    def count(response: Any, *args: Any, **kwargs: Any) -> Any:
        if response.request.method == "GET" and response.request.path_url.split("?")[0].endswith("big.dcm"):
            received.append(int(response.headers.get("Content-Length", 0)))
        return response

    connection.interface.hooks["response"].append(count)
    try:
        header = scan_read_dicom(experiment.scans["1"])
    finally:
        connection.interface.hooks["response"].remove(count)
    assert header.Rows == 2048 and header.SeriesDescription == "SAG LOCALIZER" and "PixelData" not in header
    assert received and sum(received) < 1024 * 1024 < big.stat().st_size


def test_gradual_upload_of_single_files(connection: Any, project: str, case001: Path) -> None:
    services = Services(connection)
    files = sorted(p for p in (case001 / "9_HEME SUSEPTIBILITY").rglob("*") if p.is_file())[:4]
    staged = {services.import_(path, project=project, import_handler="gradual-DICOM") for path in files}
    assert len(staged) == 1
    session = staged.pop()
    assert [(s.id, len(s.files)) for s in session.scans] == [("9", 4)]
    assert guess_content_type(files[0]) == "application/dicom"


# -- import_dicom_inbox: XNAT answers the request it queued (/xapi/dicom/{id}) ------------------------
def _inbox_source(connection: Any, project: str, case001: Path, name: str) -> Path:
    import shutil
    inbox = Path(connection.get("/xapi/siteConfig/inboxPath").text.strip())
    source = inbox / project / name
    shutil.copytree(case001, source)
    return source


def test_import_dicom_inbox_answers_the_import_request(connection: Any, project: str, case001: Path) -> None:
    import xnat.services
    from xnat.services import DicomBoxImportRequest

    assert xnat.services.DicomBoxImportRequest is DicomBoxImportRequest  # where xnatpy has it
    source = _inbox_source(connection, project, case001, "case1")
    request = connection.services.import_dicom_inbox(source, project=project, subject="SUBJ", experiment="MR1")
    assert isinstance(request, DicomBoxImportRequest) and request.uri.startswith("/xapi/dicom/")
    assert request.status == "Completed" and request.id == int(request.uri.rsplit("/", 1)[1])
    assert (request.username, request.project_id, request.subject_id) == ("admin", project, "SUBJ")
    assert request.session_path == str(source) and request.cleanup_after_import is False and request.enabled
    assert request.created <= request.timestamp and request.resolution
    assert source.is_dir()  # cleanup=False (the default, as xnatpy) keeps the folder
    assert [e["label"] for e in _experiments(connection, project)] == ["MR1"]
    again = connection.services.import_dicom_inbox(source, project=project, experiment="MR2", cleanup=True)
    assert again.status == "Completed" and again.cleanup_after_import is True and not source.exists()


def test_import_dicom_inbox_refused_names_the_reason(connection: Any, project: str, case001: Path) -> None:
    source = _inbox_source(connection, project, case001, "case2")
    with pytest.raises(XNATUploadError, match="400"):
        connection.services.import_dicom_inbox(source, project=project + "NOPE")
    assert source.is_dir() and _experiments(connection, project) == []


class _Answers:
    """Stands in for a session: the import answers ``answer``; ``get_json`` answers ``request``."""

    def __init__(self, answer: str, request: Any = None) -> None:
        self.answer, self.request, self.reads = answer, request, 0

    def post(self, path: str, query: dict[str, str], **kwargs: Any) -> Any:
        return type("Answer", (), {"text": self.answer + "\r\n"})()

    def get_json(self, uri: str) -> Any:
        self.reads += 1
        return self.request

    def create_object(self, uri: str) -> str:
        return f"object {uri}"


def test_import_dicom_inbox_other_answers() -> None:
    from xnat.services import DicomBoxImportRequest

    archive = "/data/archive/projects/P/subjects/S/experiments/E1"
    assert Services(_Answers(archive)).import_dicom_inbox("/inbox/P/c") == f"object {archive}"
    staged = Services(_Answers("/data/prearchive/projects/P/20260101_120000/S")).import_dicom_inbox("/inbox/P/c")
    assert isinstance(staged, PrearchiveSession)
    # the misspelt key xnatpy reads is the fallback; the request is read when first asked, not when made
    session = _Answers("/xapi/dicom/7", {"id": 7, "clenaupAfterImport": True, "status": "Queued"})
    request = Services(session).import_dicom_inbox("/inbox/P/c")
    assert isinstance(request, DicomBoxImportRequest) and session.reads == 0 and "7" in repr(request)
    assert request.cleanup_after_import is True and request.resolution is None and session.reads == 1
    with pytest.raises(XNATValueError, match="sessionPath"):
        request.session_path
    assert request.status == "Queued" and session.reads == 2  # status reads it again
    session.request = ["not", "an", "object"]
    with pytest.raises(XNATValueError, match="not an import request"):
        request.status
