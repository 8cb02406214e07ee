"""download_dir of many small files: one streamed zip, every file still verified."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests

import xnat
from xnat.classes.behaviour import zipdir
from xnat.exceptions import XNATIOError


@pytest.fixture()
def resource(xnat_server, tmp_path):
    source = tmp_path / "source"
    for index in range(60):
        path = source / f"series{index % 3}" / f"image{index:03d}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(hashlib.sha256(str(index).encode()).digest() * (index + 1))
    (source / "empty.txt").write_bytes(b"")
    session = xnat.connect(xnat_server.url, user="admin", password="admin", keepalive=False)
    project = session.classes.ProjectData(parent=session, id="ZIPS", name="Zips")
    subject = session.classes.SubjectData(parent=project, label="S1")
    experiment = session.classes.MrSessionData(parent=subject, label="E1")
    scan = session.classes.MrScanData(parent=experiment, id="1", type="T1")
    resource = session.classes.ResourceCatalog(parent=scan, label="DICOM")
    resource.upload_dir(source, method="tgz_memory")
    yield session, resource, source
    session.disconnect()


def count_requests(monkeypatch):
    sent = []
    real_send = requests.Session.send

    def send(self, request, **kwargs):
        sent.append(f"{request.method} {request.path_url}")
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return sent


def same_tree(left: Path, right: Path) -> bool:
    files = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    other = sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file())
    return files == other and all((left / f).read_bytes() == (right / f).read_bytes() for f in files)


def test_many_small_files_come_as_one_zip(resource, tmp_path, monkeypatch):
    _session, resource, source = resource
    sent = count_requests(monkeypatch)
    resource.download_dir(tmp_path / "out", flatten_dirs=True)
    assert same_tree(source, tmp_path / "out")
    file_gets = [line for line in sent if "/files/" in line.split("?")[0]]
    assert file_gets == [], "no file was fetched on its own"
    assert sum("format=zip" in line for line in sent) == 1


def test_a_failed_zip_falls_back_to_files(resource, tmp_path, monkeypatch):
    session, resource, source = resource

    def broken(*args, **kwargs):
        raise XNATIOError("connection dropped")

    monkeypatch.setattr(type(session.transferer()), "extract_zip", broken)
    resource.download_dir(tmp_path / "out", flatten_dirs=True)
    assert same_tree(source, tmp_path / "out")


def test_a_wrong_file_in_the_zip_is_fetched_again(resource, tmp_path, monkeypatch):
    session, resource, source = resource
    real_extract = type(session.transferer()).extract_zip

    def corrupting(self, *args, **kwargs):
        result = real_extract(self, *args, **kwargs)
        victim = sorted(result.values())[5]
        victim.write_bytes(b"not what the server has")
        return result

    monkeypatch.setattr(type(session.transferer()), "extract_zip", corrupting)
    sent = count_requests(monkeypatch)
    resource.download_dir(tmp_path / "out", flatten_dirs=True)
    assert same_tree(source, tmp_path / "out")
    assert len([line for line in sent if "/files/" in line.split("?")[0]]) == 1


def test_the_layout_is_kept_when_not_flattened(resource, tmp_path):
    _session, resource, source = resource
    resource.download_dir(tmp_path / "out")
    assert same_tree(source, tmp_path / "out" / "E1" / "scans" / "1" / "resources" / "DICOM" / "files")


@pytest.mark.parametrize("entry, key", [
    ("E1/scans/1/resources/DICOM/files/a/b.dcm", ("1", "DICOM", "a/b.dcm")),
    ("E1/scans/1-T1/resources/DICOM/files/b.dcm", ("1-T1", "DICOM", "b.dcm")),
    ("E1/resources/NIFTI/files/x.nii", ("", "NIFTI", "x.nii")),
    ("E1/resources/NIFTI/x.nii", ("", "NIFTI", "x.nii")),
    ("E1/nothing/here.txt", None),
])
def test_zip_entry_names(entry, key):
    assert zipdir._entry_key(entry) == key


def test_small_jobs_or_unknown_sizes_are_not_zipped():
    class Job:
        def __init__(self, size):
            self.expected_size = size

    assert not zipdir.worth_zipping([Job(10)] * 10)
    assert zipdir.worth_zipping([Job(10)] * 60)
    assert not zipdir.worth_zipping([Job(10)] * 59 + [Job(None)])
    assert not zipdir.worth_zipping([Job(50 * 1024 * 1024)] * 60)
