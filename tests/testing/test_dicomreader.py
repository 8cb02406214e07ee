"""Tests of xnat.testing.dicomreader on the real Case001 DICOM (3 series, 55 files)."""

from __future__ import annotations

import datetime
import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

pydicom = pytest.importorskip("pydicom")

from xnat.testing import dicomreader  # noqa: E402
from xnat.testing.dicomdump import dicom_dump  # noqa: E402
from xnat.testing.dicomreader import read_dicom_archive, scan_xsi_type, session_xsi_type  # noqa: E402

EXPECTED_SERIES = [("2", "T1 SPIN ECHO", 20), ("4", "SAG LOCALIZER", 3), ("9", "HEME SUSEPTIBILITY", 32)]
STUDY_UID = "1.2.840.113654.2.45.2.108105"


@pytest.fixture(scope="module")
def case001(reference: Path) -> Path:
    return reference / "dicom" / "Case001"


@pytest.fixture(scope="module")
def case_files(case001: Path) -> list[Path]:
    files = sorted(p for p in case001.rglob("*") if p.is_file())
    assert len(files) == 55
    return files


@pytest.fixture(scope="module")
def case_zip(case001: Path, case_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("zip") / "Case001.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in case_files:
            archive.write(file, file.relative_to(case001.parent).as_posix())
    return path


@pytest.fixture(scope="module")
def case_targz(case001: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tgz") / "Case001.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(case001, arcname="Case001")
    return path


def one_file(case_files: list[Path], **changes: Any) -> bytes:
    """A Case001 file with some header values changed."""
    ds = pydicom.dcmread(case_files[0])
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def make_tar(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def check_case001(studies: dicomreader.DicomArchive) -> None:
    assert studies.unparsable == []
    assert len(studies) == 1 and studies.file_count == 55
    (study,) = studies
    assert study.study_instance_uid == STUDY_UID
    assert (study.patient_name, study.patient_id) == ("Case001", "Case001")
    assert (study.study_id, study.study_description) == ("MR1", "sandboxadriaan")
    assert (study.manufacturer, study.model, study.field_strength) == ("GE MEDICAL SYSTEMS", "GENESIS_SIGNA", "5000")
    assert study.modality == "MR" and study.modalities == ["MR"]
    assert study.xsi_type == "xnat:mrSessionData"
    assert study.study_date is None and study.study_time is None  # Case001 carries no dates
    assert (study.default_subject_label, study.default_session_label) == ("Case001", "Case001")
    assert [(s.scan_id, s.series_description, s.file_count) for s in study.series] == EXPECTED_SERIES
    assert [s.series_instance_uid for s in study.series] == [
        "1.2.840.113654.2.45.2.109935", "1.2.840.113654.2.45.2.115982", "1.2.840.113654.2.45.2.109108",
    ]
    for series in study.series:
        assert series.modality == "MR" and series.xsi_type == "xnat:mrScanData"
        assert series.scan_type == series.series_description
        assert series.frames == series.file_count
        assert series.sop_class_uid == "1.2.840.10008.5.1.4.1.1.4"
        assert series.image_type == "ORIGINAL\\PRIMARY"
        assert [f.instance_number for f in series.files] == list(range(1, series.file_count + 1))
        assert len({f.sop_instance_uid for f in series.files}) == series.file_count
    t1 = study.series[0]
    assert t1.parameters["tr"] == "600.000000" and t1.parameters["te"] == "29.000000"
    assert t1.parameters["scanSequence"] == "SE" and t1.parameters["coil"] == "FLEX3"


# --- Case001 from a folder, a zip and a tar.gz ---------------------------------------------------

def test_folder(case001: Path, case_files: list[Path]) -> None:
    studies = read_dicom_archive(case001)
    check_case001(studies)
    first = studies[0].series[0].files[0]
    assert isinstance(first.source, Path) and first.name.startswith("2_T1 SPIN ECHO/DICOM/")
    assert first.read_bytes() == (case001 / first.name).read_bytes()
    assert first.size == (case001 / first.name).stat().st_size
    with first.open() as stream:
        assert stream.read(132)[128:] == b"DICM"


def test_zip_from_path_bytes_and_stream(case_zip: Path, case001: Path) -> None:
    for source in (case_zip, str(case_zip), case_zip.read_bytes(), io.BytesIO(case_zip.read_bytes())):
        studies = read_dicom_archive(source, "Case001.zip")
        check_case001(studies)
    file = studies[0].series[2].files[-1]
    assert file.name.startswith("Case001/9_HEME SUSEPTIBILITY/DICOM/")
    assert isinstance(file.source, bytes)
    assert file.read_bytes() == (case001.parent / file.name).read_bytes()
    assert file.basename == Path(file.name).name


class OneWayStream(io.RawIOBase):
    """A request body: readable once, not seekable."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_zip_from_unseekable_stream(case_zip: Path) -> None:
    check_case001(read_dicom_archive(io.BufferedReader(OneWayStream(case_zip.read_bytes()))))


def test_targz_and_plain_tar(case_targz: Path, case_files: list[Path]) -> None:
    check_case001(read_dicom_archive(case_targz))
    check_case001(read_dicom_archive(io.BytesIO(case_targz.read_bytes())))
    plain = make_tar({f"x/{i}.dcm": p.read_bytes() for i, p in enumerate(case_files)}, mode="w")
    studies = read_dicom_archive(plain, "case.tar")
    assert [(s.scan_id, s.file_count) for s in studies[0].series] == [(n, c) for n, _, c in EXPECTED_SERIES]


# --- half-DICOM and non-DICOM uploads ------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:End of file reached:UserWarning")  # pydicom on the fake file
def test_half_dicom_archive_reports_the_rest(case_files: list[Path]) -> None:
    members = {f"dicom/{p.name}": p.read_bytes() for p in case_files[:5]}
    members.update({
        "README.txt": b"these are scans",
        "__MACOSX/dicom/._a.dcm": b"\x00\x05\x16\x07" + b"\x00" * 60,
        "noise.bin": bytes(range(256)) * 4,
        "no-series.dcm": one_file(case_files, SeriesInstanceUID=None),
        "fake.dcm": b"\x00" * 128 + b"DICM" + b"\xff" * 20,
    })
    studies = read_dicom_archive(make_zip(members), "half.zip")
    assert studies.file_count == 5
    assert sorted(studies.unparsable) == sorted(["README.txt", "__MACOSX/dicom/._a.dcm", "noise.bin", "no-series.dcm", "fake.dcm"])
    assert studies.reasons["no-series.dcm"] == "DICOM without a Study or Series Instance UID"
    assert studies.reasons["README.txt"].startswith("not a DICOM file")
    names = {f.name for s in studies for series in s.series for f in series.files}
    assert names == {f"dicom/{p.name}" for p in case_files[:5]}


@pytest.mark.parametrize("builder", [make_zip, make_tar])
def test_non_dicom_archive_is_refused(builder: Any) -> None:
    data = builder({"a.txt": b"hello", "b/c.csv": b"1,2,3\n", "d.dcm": b"not really"})
    with pytest.raises(ValueError, match="holds no DICOM: none of its 3 file"):
        read_dicom_archive(data, "upload.zip")


def test_empty_archive_is_refused() -> None:
    with pytest.raises(ValueError, match="holds no files"):
        read_dicom_archive(make_zip({}), "empty.zip")


def test_plain_non_dicom_file_is_refused() -> None:
    with pytest.raises(ValueError, match="holds no DICOM"):
        read_dicom_archive(b"%PDF-1.4 a report", "report.pdf")


def test_single_dicom_file(case_files: list[Path]) -> None:
    studies = read_dicom_archive(case_files[0].read_bytes(), "../../one.dcm")
    assert studies.file_count == 1
    assert studies[0].series[0].files[0].name == "one.dcm"  # only the base name of an upload


def test_damaged_zip_is_refused(case_zip: Path) -> None:
    data = case_zip.read_bytes()
    with pytest.raises(ValueError, match="not a readable zip"):
        read_dicom_archive(data[: len(data) // 2], "cut.zip")


def test_damaged_targz_is_refused(case_targz: Path) -> None:
    data = case_targz.read_bytes()
    with pytest.raises(ValueError):
        read_dicom_archive(data[: len(data) // 2], "cut.tar.gz")


def test_file_without_preamble(case_files: list[Path]) -> None:
    raw = case_files[0].read_bytes()[132:]  # what some old scanners and tools write
    assert raw[:2] == b"\x02\x00"
    studies = read_dicom_archive(make_zip({"raw.dcm": raw}))
    assert studies[0].series[0].series_description == "T1 SPIN ECHO"


# --- unsafe archives ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../evil.dcm", "a/../../evil.dcm", "/etc/evil.dcm", "C:/evil.dcm", "..\\evil.dcm"])
@pytest.mark.parametrize("builder", [make_zip, make_tar])
def test_escaping_member_names_are_refused(name: str, builder: Any, case_files: list[Path]) -> None:
    data = builder({"ok.dcm": case_files[0].read_bytes(), name: case_files[1].read_bytes()})
    with pytest.raises(ValueError, match="refused"):
        read_dicom_archive(data, "evil")


def test_tar_links_are_refused() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        link = tarfile.TarInfo("link.dcm")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    with pytest.raises(ValueError, match="link or special file"):
        read_dicom_archive(out.getvalue(), "links.tar")


def test_zip_symlinks_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("link.dcm")
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(ValueError, match="symbolic link"):
        read_dicom_archive(out.getvalue(), "links.zip")


def test_folder_symlinks_are_not_followed(tmp_path: Path, case_files: list[Path]) -> None:
    (tmp_path / "a.dcm").write_bytes(case_files[0].read_bytes())
    (tmp_path / "outside.dcm").symlink_to(case_files[1])
    studies = read_dicom_archive(tmp_path)
    assert studies.file_count == 1
    assert studies.unparsable == ["outside.dcm"]


def test_limits(case_zip: Path) -> None:
    with pytest.raises(ValueError, match="more than 10 files"):
        read_dicom_archive(case_zip, max_members=10)
    with pytest.raises(ValueError, match="larger than 1000 bytes"):
        read_dicom_archive(case_zip, max_bytes=1000)


def test_wrong_source_type() -> None:
    with pytest.raises(ValueError, match="cannot read DICOM from a int"):
        read_dicom_archive(42)  # type: ignore[arg-type]


# --- grouping ------------------------------------------------------------------------------------------

def test_studies_series_and_repeated_series_numbers(case_files: list[Path]) -> None:
    members = {
        "a.dcm": case_files[0].read_bytes(),
        "other-study.dcm": one_file(case_files, StudyInstanceUID="1.2.3.4", PatientID="P 2/x", StudyDate="20240229", StudyTime="134501.5"),
        "same-number.dcm": one_file(case_files, SeriesInstanceUID="1.2.3.99", SeriesDescription="REPEAT", SOPInstanceUID="1.2.3.100"),
        "no-number.dcm": one_file(case_files, SeriesInstanceUID="1.2.3.98", SeriesNumber=None, SOPInstanceUID="1.2.3.101"),
    }
    studies = read_dicom_archive(make_zip(members))
    assert [s.study_instance_uid for s in studies] == [STUDY_UID, "1.2.3.4"]
    first, second = studies
    assert [(s.scan_id, s.series_description) for s in first.series] == [
        ("2", "T1 SPIN ECHO"), ("2-1", "REPEAT"), ("0", "T1 SPIN ECHO"),
    ]
    assert second.study_date == datetime.date(2024, 2, 29)
    assert second.study_time == datetime.time(13, 45, 1, 500000)
    assert second.default_session_label == "P_2_x"


@pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")
def test_bad_dates_are_left_empty(case_files: list[Path]) -> None:
    data = one_file(case_files, StudyDate="20241345", StudyTime="99")
    (study,) = read_dicom_archive(make_zip({"a.dcm": data}))
    assert study.study_date is None and study.study_time is None


def test_session_and_scan_types(reference_schemas: Path) -> None:
    assert session_xsi_type(["MR", "MR", "SR"]) == "xnat:mrSessionData"
    assert session_xsi_type(["CT", "PT", "CT"]) == "xnat:petSessionData"
    assert session_xsi_type(["MR", "PT"]) == "xnat:petmrSessionData"
    assert session_xsi_type(["CT", "CT", "MR"]) == "xnat:ctSessionData"
    assert session_xsi_type(["SR"]) == "xnat:otherDicomSessionData"
    assert session_xsi_type(["ZZ"]) == "xnat:otherDicomSessionData"
    assert scan_xsi_type("OT") == "xnat:otherDicomScanData"
    # every type we name exists in the real XNAT schema
    schema = (reference_schemas / "xnat" / "xnat.xsd").read_text()
    names = set(dicomreader._SESSION_TYPES.values()) | set(dicomreader._SCAN_TYPES.values())
    names |= {"xnat:petmrSessionData", "xnat:otherDicomSessionData", "xnat:otherDicomScanData"}
    for name in names:
        assert f'name="{name.split(":")[1]}"' in schema, name


# --- DICOM dump -----------------------------------------------------------------------------------------

def row(rows: list[dict[str, str]], tag: str) -> dict[str, str]:
    (found,) = [r for r in rows if r["tag1"] == tag and r["tag2"] == ""]
    return found


def test_dump_real_header_values(case001: Path) -> None:
    path = next((case001 / "4_SAG LOCALIZER" / "DICOM").iterdir())
    rows = dicom_dump(path)
    assert row(rows, "(0008,0060)") == {"tag1": "(0008,0060)", "tag2": "", "vr": "CS", "value": "MR", "desc": "Modality"}
    assert row(rows, "(0008,103E)")["value"] == "SAG LOCALIZER"
    assert row(rows, "(0008,0070)")["value"] == "GE MEDICAL SYSTEMS"
    assert row(rows, "(0010,0010)") == {"tag1": "(0010,0010)", "tag2": "", "vr": "PN", "value": "Case001", "desc": "Patient's Name"}
    assert row(rows, "(0020,000D)")["value"] == STUDY_UID
    assert row(rows, "(0008,0008)")["value"] == "ORIGINAL\\PRIMARY"
    assert row(rows, "(0002,0001)")["value"] == "00\\01"  # binary as hex bytes
    assert row(rows, "(0002,0010)")["value"] == "1.2.840.10008.1.2.1"
    assert not [r for r in rows if r["tag1"] == "(7FE0,0010)"]  # pixel data is never dumped
    tags = [r["tag1"] for r in rows if not r["tag2"]]
    assert tags == sorted(tags)
    # elements inside the Referenced Study Sequence name the sequence in tag2
    assert row(rows, "(0008,1110)")["vr"] == "SQ" and row(rows, "(0008,1110)")["value"] == ""
    assert next(r for r in rows if r["tag2"]) == {
        "tag1": "(0008,1150)", "tag2": "(0008,1110)", "vr": "UI",
        "value": "1.2.840.10008.3.1.2.3.1", "desc": "Referenced SOP Class UID",
    }
    assert set(rows[0]) == {"tag1", "tag2", "vr", "value", "desc"}


def test_dump_selected_fields(case_files: list[Path]) -> None:
    rows = dicom_dump(case_files[0], ["Modality", "00080070", "(0010,0010)", "0020,0011"])
    assert [(r["tag1"], r["value"]) for r in rows] == [
        ("(0008,0060)", "MR"), ("(0008,0070)", "GE MEDICAL SYSTEMS"), ("(0010,0010)", "Case001"), ("(0020,0011)", "2"),
    ]
    assert dicom_dump(case_files[0].read_bytes(), "SeriesDescription") == [
        {"tag1": "(0008,103E)", "tag2": "", "vr": "LO", "value": "T1 SPIN ECHO", "desc": "Series Description"}
    ]


def test_dump_sequences(case_files: list[Path]) -> None:
    ds = pydicom.dcmread(case_files[0])
    item = pydicom.Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    item.ReferencedSOPInstanceUID = "1.2.3.4.5"
    ds.ReferencedImageSequence = pydicom.Sequence([item])
    out = io.BytesIO()
    ds.save_as(out)
    rows = dicom_dump(out.getvalue(), ["ReferencedImageSequence"])
    assert rows == [
        {"tag1": "(0008,1140)", "tag2": "", "vr": "SQ", "value": "", "desc": "Referenced Image Sequence"},
        {"tag1": "(0008,1150)", "tag2": "(0008,1140)", "vr": "UI", "value": "1.2.840.10008.5.1.4.1.1.4", "desc": "Referenced SOP Class UID"},
        {"tag1": "(0008,1155)", "tag2": "(0008,1140)", "vr": "UI", "value": "1.2.3.4.5", "desc": "Referenced SOP Instance UID"},
    ]


def test_dump_bad_input(tmp_path: Path, case_files: list[Path]) -> None:
    with pytest.raises(ValueError, match="unknown DICOM field 'NoSuchField'"):
        dicom_dump(case_files[0], ["NoSuchField"])
    text = tmp_path / "a.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a DICOM file"):
        dicom_dump(text)
    with pytest.raises(ValueError, match="no header elements"):
        dicom_dump(b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04")
    with pytest.raises(FileNotFoundError):
        dicom_dump(tmp_path / "missing.dcm")


def test_import_does_not_load_pydicom() -> None:
    import subprocess
    import sys

    code = "import sys, xnat.testing.dicomreader, xnat.testing.bundles; assert 'pydicom' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
