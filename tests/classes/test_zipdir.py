"""download_dir of many small files: one streamed zip, every file still verified."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
import requests

import xnat
from xnat.classes.behaviour import zipdir
from xnat.exceptions import XNATChecksumError, XNATIOError


@pytest.fixture()
def resource(xnat_server, tmp_path):
    source = tmp_path / "source"
    # 200 files: one archive is the planner's choice at any round trip (plan.choose_method), so
    # these tests of the zip path do not hang on how fast this machine answers today
    for index in range(200):
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


@pytest.fixture()
def slow_link(monkeypatch):
    """Any measured round trip counts as slow: the zip is asked for while the listing is read."""
    from xnat.transfer import plan

    monkeypatch.setattr(plan, "EARLY_ARCHIVE_MIN_ROUND_TRIP", 0.0)


def test_over_a_slow_link_the_zip_is_asked_while_the_listing_is_read(resource, tmp_path, monkeypatch, slow_link):
    _session, resource, source = resource
    zip_sent = threading.Event()
    overlapped = []
    real_send = requests.Session.send

    def send(self, request, **kwargs):
        if "format=zip" in request.path_url:
            zip_sent.set()
        elif request.path_url.split("?")[0].endswith("/files"):
            # The listing's answer waits for the zip request: it comes only if both are under way.
            overlapped.append(zip_sent.wait(timeout=30))
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    sent = count_requests(monkeypatch)
    resource.download_dir(tmp_path / "out", flatten_dirs=True)
    assert overlapped == [True]
    assert same_tree(source, tmp_path / "out")
    assert sum("format=zip" in line for line in sent) == 1
    assert [line for line in sent if "/files/" in line.split("?")[0]] == []


def test_an_early_zip_is_still_checked_file_by_file(resource, tmp_path, monkeypatch, slow_link):
    test_a_wrong_file_in_the_zip_is_fetched_again(resource, tmp_path, monkeypatch)


def test_an_early_zip_is_still_bounded_by_the_listed_sizes(resource, tmp_path, monkeypatch, slow_link):
    session, resource, _source = resource
    real_list = session.get_json

    def shrunk(url, *args, **kwargs):
        answer = real_list(url, *args, **kwargs)
        for row in answer["ResultSet"]["Result"]:
            row["Size"] = "1"  # the listing says 1 byte a file: the zip expands past that
        return answer

    monkeypatch.setattr(session, "get_json", shrunk)
    bounds = []
    real_extract = type(session.transferer()).extract_zip

    def extract(self, *args, **kwargs):
        bounds.append(kwargs["max_bytes"])
        return real_extract(self, *args, **kwargs)

    monkeypatch.setattr(type(session.transferer()), "extract_zip", extract)
    with pytest.raises(XNATChecksumError):  # the per-file fallback then finds the sizes wrong as well
        resource.download_dir(tmp_path / "out", flatten_dirs=True)
    assert bounds == [201]  # 1 byte for each of the 201 listed files


def test_an_early_zip_the_listing_does_not_want_is_closed_unread(xnat_server, tmp_path, monkeypatch, slow_link):
    session = xnat.connect(xnat_server.url, user="admin", password="admin", keepalive=False)
    try:
        project = session.classes.ProjectData(parent=session, id="ZIPONE", name="One")
        subject = session.classes.SubjectData(parent=project, label="S1")
        experiment = session.classes.MrSessionData(parent=subject, label="E1")
        resource = session.classes.ResourceCatalog(parent=experiment, label="ONE")
        source = tmp_path / "one"
        source.mkdir()
        (source / "only.bin").write_bytes(b"x" * 5000)
        resource.upload_dir(source, method="tgz_memory")
        closed = []
        real_close = requests.Response.close

        def close(self):
            if "format=zip" in (self.url or ""):
                closed.append(self._content_consumed)
            real_close(self)

        monkeypatch.setattr(requests.Response, "close", close)
        sent = count_requests(monkeypatch)
        resource.download_dir(tmp_path / "out", flatten_dirs=True)
        assert (tmp_path / "out" / "only.bin").read_bytes() == b"x" * 5000
        assert sum("format=zip" in line for line in sent) == 1
        assert closed and not any(closed)  # one file goes on its own: the zip was closed, never read
    finally:
        session.disconnect()


def test_a_failed_early_zip_is_asked_again(resource, tmp_path, monkeypatch, slow_link):
    session, resource, source = resource
    real_start = type(session.transferer()).start_zip
    calls = []

    def failing(self, *args, **kwargs):
        calls.append(args)
        raise XNATIOError("connection refused")

    monkeypatch.setattr(type(session.transferer()), "start_zip", failing)
    sent = count_requests(monkeypatch)
    resource.download_dir(tmp_path / "out", flatten_dirs=True)
    assert same_tree(source, tmp_path / "out")
    assert len(calls) == 1 and real_start is not None
    assert sum("format=zip" in line for line in sent) == 1  # the extraction's own request
