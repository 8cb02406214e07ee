"""pyxnat 1.6.4, a real client no one here wrote, runs unmodified against the server over HTTP."""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path

import pytest

from xnat.testing.app import XNATApp


@pytest.fixture
def pyxnat_module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """pyxnat, importable even where its undeclared plug-in imports are missing.

    ``pyxnat.Interface()`` imports every module of ``pyxnat.core.derivatives``, which
    import nibabel, numpy and pandas although pyxnat does not declare them. The
    derivative plug-ins are never used here, so empty placeholder modules stand in for
    whichever of those is not installed. pyxnat itself is not touched.
    """
    for name in ("nibabel", "numpy", "pandas"):
        try:
            importlib.import_module(name)
        except ImportError:
            monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    return importlib.import_module("pyxnat")


@pytest.fixture
def interface(served: tuple[str, XNATApp], pyxnat_module: types.ModuleType):
    url, app = served
    app.populate("projects=1,subjects=2,experiments=1")
    intf = pyxnat_module.Interface(server=url, user="admin", password="admin")
    yield intf
    intf.disconnect()


def test_list_projects_and_subjects(interface) -> None:
    assert interface.select.projects().get() == ["PROJ001"]
    subjects = interface.select.project("PROJ001").subjects()
    assert sorted(subjects.get()) == ["XNAT_S00001", "XNAT_S00002"]
    assert sorted(s.label() for s in subjects) == ["PROJ001_S00001", "PROJ001_S00002"]


def test_create_subject_session_scan_resource_and_files(interface, tmp_path: Path) -> None:
    project = interface.select.project("PROJ001")
    subject = project.subject("SUBJ1")
    assert not subject.exists()
    subject.create()
    assert subject.exists()
    assert subject.id().startswith("XNAT_S")

    session = subject.experiment("MR1")
    session.create(experiments="xnat:mrSessionData")
    assert session.exists()
    assert session.datatype() == "xnat:mrSessionData"

    scan = session.scan("1")
    scan.create(scans="xnat:mrScanData")
    assert scan.exists()
    resource = scan.resource("NIFTI")
    resource.create()
    assert resource.exists()

    payload = os.urandom(200_000) + b"\x00\xff end"
    src = tmp_path / "brain.nii"
    src.write_bytes(payload)
    resource.file("brain.nii").put(str(src))
    assert resource.files().get() == ["brain.nii"]
    dest = tmp_path / "copy.nii"
    resource.file("brain.nii").get(str(dest))
    assert dest.read_bytes() == payload


def test_attrs_set_and_get(interface) -> None:
    subject = interface.select.project("PROJ001").subject("SUBJ2")
    subject.create()
    session = subject.experiment("MR2")
    session.create(experiments="xnat:mrSessionData")
    session.attrs.set("xnat:mrSessionData/fieldStrength", "3.0")
    assert session.attrs.get("xnat:mrSessionData/fieldStrength") == "3.0"
    scan = session.scan("7")
    scan.create(scans="xnat:mrScanData")
    scan.attrs.mset({"xnat:mrScanData/type": "T1w", "xnat:mrScanData/quality": "usable"})
    assert scan.attrs.get("type") == "T1w"
    assert scan.attrs.get("quality") == "usable"


def test_delete_and_version(interface) -> None:
    subject = interface.select.project("PROJ001").subject("GONE")
    subject.create()
    session = subject.experiment("GONE_MR")
    session.create(experiments="xnat:mrSessionData")
    session.delete()
    assert not session.exists()
    subject.delete()
    assert not subject.exists()
    assert interface.version()["version"] == "1.8.10"


def test_project_admin_share_zip_and_arrays(interface, tmp_path: Path) -> None:
    project = interface.select.project("NEWP")
    project.create()
    assert project.exists()
    project.set_accessibility("protected")
    assert project.accessibility() == b"protected"
    interface.manage.users()  # /data/users as a table
    subject = project.subject("S1")
    subject.create(**{"xnat:subjectData/group": "control"})
    assert subject.attrs.get("xnat:subjectData/group") == "control"
    session = subject.experiment("E1")
    session.create(experiments="xnat:mrSessionData", **{"xnat:mrSessionData/date": "2020-01-01"})
    for scan_id in ("1", "2"):
        session.scan(scan_id).create(scans="xnat:mrScanData")
    assert len(interface.array.mrscans(project_id="NEWP")) == 2

    sources = []
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(name * 3)
        sources.append(str(tmp_path / name))
    resource = session.resource("ZIPPED")
    resource.put(sources)  # zipped locally, uploaded with extract=true
    assert sorted(resource.files().get()) == ["a.txt", "b.txt"]
    out = tmp_path / "out"
    out.mkdir()
    members = resource.get(str(out), extract=True)  # downloads files?format=zip
    assert sorted(Path(m).read_text() for m in members) == ["a.txta.txta.txt", "b.txtb.txtb.txt"]

    interface.select.project("P2").create()
    session.share("P2")
    assert sorted(session.shares().get()) == ["NEWP", "P2"]
    project.delete()
    assert not project.exists()
