"""The mounted archive: files read from disk instead of downloaded, never written.

The mount is a tree laid out as XNAT lays out its archive (``P/arc001/<session label>/SCANS/
<scan ID>/<resource>/<file>``) holding the files the embedded server serves; the objects
come from the server as usual.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

import xnat
from xnat.core import DataDirType
from xnat.exceptions import XNATIOError, XNATValueError

DICOM = b"DICM" + bytes(range(200))
NOTES = b"project notes\n"


@pytest.fixture
def archive(xnat_server: Any) -> Any:
    """Project MNT: subject S1, MR session E1, scan 3 with a DICOM resource; project resource NOTES."""
    with xnat.connect(xnat_server.url, user="admin", password="admin") as admin:
        admin.put("/data/projects/MNT")
        admin.put("/data/projects/MNT/subjects/S1")
        admin.put("/data/projects/MNT/subjects/S1/experiments/E1", query={"xsiType": "xnat:mrSessionData"})
        scan = "/data/projects/MNT/subjects/S1/experiments/E1/scans/3"
        admin.put(scan, query={"xsiType": "xnat:mrScanData", "type": "T1"})
        admin.put(f"{scan}/resources/DICOM", query={"format": "DICOM"})
        admin.upload_string(f"{scan}/resources/DICOM/files/a.dcm", DICOM)
        admin.upload_string("/data/projects/MNT/resources/NOTES/files/notes.txt", NOTES)
    return xnat_server


def _tree(root: Path, hub: bool = False) -> Path:
    project = root / "projects" / "MNT" if hub else root / "MNT"
    session = project / ("experiments" if hub else "arc001") / "E1"
    (session / "SCANS" / "3" / "DICOM").mkdir(parents=True)
    (session / "SCANS" / "3" / "DICOM" / "a.dcm").write_bytes(DICOM)
    (project / "resources" / "NOTES").mkdir(parents=True)
    (project / "resources" / "NOTES" / "notes.txt").write_bytes(NOTES)
    return root


def _read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(stat.S_IRUSR | stat.S_IXUSR if path.is_dir() else stat.S_IRUSR)


def _writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


class Requests:
    def __init__(self, session: Any) -> None:
        self.urls: list[str] = []
        session.interface.hooks["response"].append(lambda r, *a, **k: self.urls.append(r.request.path_url))

    def files(self) -> list[str]:
        return [url for url in self.urls if "/files/" in url]


def _objects(session: Any) -> tuple[Any, Any, Any, Any]:
    project = session.projects["MNT"]
    experiment = project.subjects["S1"].experiments["E1"]
    scan = experiment.scans["3"]
    return project, experiment, scan, scan.resources["DICOM"]


def test_files_are_read_from_the_mount(archive: Any, tmp_path: Path) -> None:
    root = _tree(tmp_path / "archive")
    _read_only(root)
    try:
        with xnat.connect(archive.url, user="admin", password="admin") as session:
            assert session.mount_data_dir is None and session.mount_data_dir_type is DataDirType.NONE
            session.mount_archive(root)
            assert session.mount_data_dir == root and session.mount_data_dir_type is DataDirType.ARCHIVE_DIR
            project, experiment, scan, resource = _objects(session)
            assert project.data_dir == root / "MNT"
            assert experiment.data_dir == root / "MNT" / "arc001" / "E1"
            assert scan.data_dir == root / "MNT" / "arc001" / "E1" / "SCANS" / "3"
            assert resource.data_dir == scan.data_dir / "DICOM"
            assert project.resources["NOTES"].data_dir == root / "MNT" / "resources" / "NOTES"
            dicom = resource.files["a.dcm"]
            assert dicom.data_path == resource.data_dir / "a.dcm"
            seen = Requests(session)
            assert dicom.verify_digest()
            with dicom.open() as handle:
                assert handle.read() == DICOM
            dicom.download(tmp_path / "out" / "a.dcm")
            assert (tmp_path / "out" / "a.dcm").read_bytes() == DICOM
            assert seen.files() == []  # nothing was downloaded
        assert sorted(p.name for p in root.rglob("*")) == ["3", "DICOM", "E1", "MNT", "NOTES", "SCANS", "a.dcm",
                                                            "arc001", "notes.txt", "resources"]  # nothing written
    finally:
        _writable(root)


@pytest.mark.parametrize("change", ["size", "content"])
def test_a_mounted_file_that_differs_is_read_over_the_network(archive: Any, tmp_path: Path, change: str,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    root = _tree(tmp_path / "archive")
    bad = root / "MNT" / "arc001" / "E1" / "SCANS" / "3" / "DICOM" / "a.dcm"
    bad.write_bytes(DICOM + b"!" if change == "size" else b"X" * len(DICOM))
    with xnat.connect(archive.url, user="admin", password="admin") as session:
        session.mount_archive(root)
        dicom = _objects(session)[3].files["a.dcm"]
        seen = Requests(session)
        with caplog.at_level(logging.INFO, logger="xnat"):
            dicom.download(tmp_path / "a.dcm")
        assert (tmp_path / "a.dcm").read_bytes() == DICOM
        assert len(seen.files()) == 1  # the network copy
        assert "reading over the network" in caplog.text
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".download-")] == []
        assert dicom.verify_digest() is (change == "size")  # a same-size mounted copy is read, and fails


def test_a_jupyterhub_mount_is_recognised(archive: Any, tmp_path: Path) -> None:
    root = _tree(tmp_path / "hub", hub=True)
    with xnat.connect(archive.url, user="admin", password="admin") as session:
        session.mount_data_dir = root
        assert session.mount_data_dir_type is DataDirType.JUPYTER_HUB
        _, experiment, _, resource = _objects(session)
        assert experiment.data_dir == root / "projects" / "MNT" / "experiments" / "E1"
        assert resource.files["a.dcm"].data_path == experiment.data_dir / "SCANS" / "3" / "DICOM" / "a.dcm"


def test_xnat_data_is_honoured_and_a_missing_one_ignored(archive: Any, tmp_path: Path, monkeypatch: Any,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    root = _tree(tmp_path / "archive")
    monkeypatch.setenv("XNAT_DATA", str(root))
    with xnat.connect(archive.url, user="admin", password="admin") as session:
        assert session.mount_data_dir == root
        assert _objects(session)[3].files["a.dcm"].data_path is not None
    monkeypatch.setenv("XNAT_DATA", str(tmp_path / "nowhere"))
    with caplog.at_level(logging.INFO, logger="xnat"), \
            xnat.connect(archive.url, user="admin", password="admin") as session:
        assert session.mount_data_dir is None
        assert _objects(session)[3].files["a.dcm"].data_path is None
    assert "XNAT_DATA ignored" in caplog.text


def test_bad_mounts_are_refused_and_keep_the_mount(archive: Any, tmp_path: Path) -> None:
    root = _tree(tmp_path / "archive")
    (tmp_path / "plain.txt").write_text("x")
    with xnat.connect(archive.url, user="admin", password="admin") as session:
        session.mount_archive(root)
        for where in (tmp_path / "nowhere", tmp_path / "plain.txt"):
            with pytest.raises(XNATIOError, match="is not a folder"):
                session.mount_archive(where)
        with pytest.raises(XNATValueError, match="mount type should be one of"):
            session.mount_archive(root, "tape")
        assert session.mount_data_dir == root  # unchanged
        if os.geteuid() != 0:  # root reads everything
            locked = tmp_path / "locked"
            shutil.copytree(root, locked)
            locked.chmod(0)
            try:
                with pytest.raises(XNATIOError, match="cannot be read"):
                    session.mount_archive(locked)
            finally:
                locked.chmod(0o755)
        session.mount_data_dir = None
        assert session.mount_data_dir_type is DataDirType.NONE and _objects(session)[0].data_dir is None
