"""``populate(files=N)``: the first N sessions get example scans with DICOM files, the rest stay bare."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.testing.conftest import Api
from xnat.testing.app import XNATApp
from xnat.testing.backend import populate as populating

SESSION = "/data/projects/PROJ001/subjects/PROJ001_S00001/experiments/PROJ001_S00001_MR001"


@pytest.fixture
def app(tmp_path: Path):
    application = XNATApp(data_dir=tmp_path / "data")
    application.files.durable = False
    yield application
    application.close()


def scans_of(admin: Api, session: str) -> list[tuple[str, str]]:
    return [(row["ID"], row["type"]) for row in admin.rows(f"{session}/scans")]


def test_without_the_reference_the_examples_are_synthetic(app, monkeypatch):
    monkeypatch.setattr(populating, "reference_folder", lambda: None)
    made = app.populate("projects=1,subjects=2,experiments=2,scans=1,files=3")
    assert made.source == "synthetic DICOM"
    assert made.sessions == ("PROJ001/PROJ001_S00001/PROJ001_S00001_MR001",
                             "PROJ001/PROJ001_S00001/PROJ001_S00001_MR002",
                             "PROJ001/PROJ001_S00002/PROJ001_S00002_MR001")
    admin = Api(app, ("admin", "admin"))
    assert scans_of(admin, SESSION) == [("1", "localizer"), ("2", "T1w")]
    files = admin.rows(f"{SESSION}/scans/1/resources/DICOM/files")
    assert [row["Name"] for row in files] == ["localizer.1.dcm", "localizer.2.dcm", "localizer.3.dcm"]
    body = admin.get(files[1]["URI"]).data
    assert body[128:132] == b"DICM" and hashlib.md5(body).hexdigest() == files[1]["digest"]
    # The fourth session has the plain scans=1 rows, and no files.
    fourth = "/data/projects/PROJ001/subjects/PROJ001_S00002/experiments/PROJ001_S00002_MR002"
    assert scans_of(admin, fourth) == [("1", "T1w")]
    assert admin.rows(f"{fourth}/scans/1/resources") == []


@pytest.mark.reference
def test_with_the_reference_the_examples_are_slices_of_case001(app, reference, monkeypatch):
    monkeypatch.setenv("XNAT_REFERENCE", str(reference))
    made = app.populate("projects=1,subjects=1,experiments=1,files=1")
    assert made.source == f"DICOM of Case001 from {reference}"
    admin = Api(app, ("admin", "admin"))
    assert scans_of(admin, SESSION) == [("2", "T1 SPIN ECHO"), ("4", "SAG LOCALIZER"), ("9", "HEME SUSEPTIBILITY")]
    names = [row["Name"] for row in admin.rows(f"{SESSION}/scans/2/resources/DICOM/files")]
    assert sorted(name.split("-")[2] for name in names) == ["10", "11", "9"]  # the middle three of 20 slices
    local = reference / "dicom" / "Case001" / "2_T1 SPIN ECHO" / "DICOM" / names[0]
    assert admin.get(f"{SESSION}/scans/2/resources/DICOM/files/{names[0]}").data == local.read_bytes()


def test_files_zero_and_the_default_make_no_files(app):
    assert app.populate("projects=1,subjects=1,experiments=2,scans=2") == populating.Populated()
    admin = Api(app, ("admin", "admin"))
    assert scans_of(admin, SESSION) == [("1", "T1w"), ("2", "T1w")]
    assert admin.rows(f"{SESSION}/scans/1/resources") == []
    assert app.populate("projects=1,subjects=1,experiments=1,files=0").sessions == ()


def test_more_files_than_sessions_gives_every_session_examples(app, monkeypatch):
    monkeypatch.setattr(populating, "reference_folder", lambda: None)
    assert len(app.populate("projects=1,subjects=1,experiments=2,files=50").sessions) == 2


def test_a_failed_populate_leaves_no_files_behind(app, monkeypatch):
    monkeypatch.setattr(populating, "reference_folder", lambda: None)
    real = populating.Resources.catalogue_in
    calls = []

    def fail_late(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("disk trouble")
        return real(*args, **kwargs)

    monkeypatch.setattr(populating.Resources, "catalogue_in", staticmethod(fail_late))
    with pytest.raises(RuntimeError, match="disk trouble"):
        app.populate("projects=1,subjects=1,experiments=1,files=1")
    assert [p for p in (app.data_dir / "archive").rglob("*") if p.is_file()] == []
    assert app.store.one("SELECT COUNT(*) FROM experiments")[0] == 0
