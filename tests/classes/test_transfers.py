"""Object-level transfers: uploads and downloads through resources, scans, sessions, subjects,
projects and files, against the embedded server."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from xnat.exceptions import XNATChecksumError, XNATIOError, XNATUploadError, XNATValueError
from xnat.transfer import UPLOAD_METHODS


def make_tree(root: Path, count: int = 300) -> dict[str, bytes]:
    """``count`` files in nested folders, one of them empty; returns relpath -> bytes."""
    files: dict[str, bytes] = {"empty.dat": b""}
    for index in range(count - 1):
        folder = f"level{index % 4}/sub{index % 7}" if index % 3 else f"level{index % 4}"
        files[f"{folder}/file{index:03d}.bin"] = hashlib.sha256(str(index).encode()).digest() * (index % 5 + 1)
    for relpath, data in files.items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture()
def experiment(session):
    return session.projects["PROJ001"].experiments["PROJ001_S00001_MR001"]


@pytest.mark.parametrize("method", UPLOAD_METHODS)
def test_upload_dir_then_download_dir_round_trips_300_files(experiment, tmp_path, method) -> None:
    tree = make_tree(tmp_path / "tree")
    resource = experiment.create_resource(f"TREE_{method}")
    resource.upload_dir(tmp_path / "tree", method=method)
    assert len(resource.files) == 300
    assert resource.files["empty.dat"].size == 0
    out = resource.download_dir(tmp_path / "out")
    assert Path(out) == tmp_path / "out" / "PROJ001_S00001_MR001"
    assert read_tree(Path(out) / "resources" / f"TREE_{method}" / "files") == tree
    flat = resource.download_dir(tmp_path / "flat", flatten_dirs=True)
    assert read_tree(Path(flat)) == tree


def test_file_download_stream_and_ranged_open(experiment, tmp_path) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    resource = experiment.create_resource("BLOBS")
    resource.upload_data(data, "deep/dir/blob.bin", file_format="BIN", file_content="RAW", file_tags="a,b")
    blob = resource.files["deep/dir/blob.bin"]
    assert (blob.size, blob.name, blob.path) == (len(data), "blob.bin", "deep/dir/blob.bin")
    assert blob.digest == hashlib.md5(data).hexdigest() and blob.file_format == "BIN"
    assert blob.download(tmp_path / "blob.bin") == str(tmp_path / "blob.bin")
    assert (tmp_path / "blob.bin").read_bytes() == data
    stream = io.BytesIO()
    blob.download_stream(stream)
    assert stream.getvalue() == data
    with blob.open() as handle:
        handle.seek(700_000)
        assert handle.read(10) == data[700_000:700_010]
        handle.seek(-5, io.SEEK_END)
        assert handle.read() == data[-5:]
    with pytest.raises(XNATValueError, match="read-only"):
        blob.open("wb")
    blob.delete()
    assert "deep/dir/blob.bin" not in resource.files


def test_zips_and_scan_filter(session, experiment, tmp_path) -> None:
    for scan_id in ("1", "2"):
        resource = session.classes.ResourceCatalog(parent=experiment.scans[scan_id], label="DICOM")
        resource.upload_data(f"scan {scan_id}", f"image{scan_id}.dcm")
    zipped = experiment.download(tmp_path / "only1.zip", scan_filter="1")
    with zipfile.ZipFile(zipped) as archive:
        names = archive.namelist()
    assert len(names) == 1 and names[0].endswith("image1.dcm")
    out = experiment.download_dir(tmp_path / "filtered", scan_filter=["2"])
    assert read_tree(Path(out)) == {"scans/2/resources/DICOM/files/image2.dcm": b"scan 2"}
    everything = experiment.download_dir(tmp_path / "all")
    assert sorted(read_tree(Path(everything))) == ["scans/1/resources/DICOM/files/image1.dcm",
                                                   "scans/2/resources/DICOM/files/image2.dcm"]
    scan_dir = experiment.scans["1"].download_dir(tmp_path / "scan")
    assert read_tree(Path(scan_dir)) == {"scans/1/resources/DICOM/files/image1.dcm": b"scan 1"}
    experiment.scans["1"].resources["DICOM"].download(tmp_path / "res.zip")
    assert zipfile.ZipFile(tmp_path / "res.zip").namelist()[0].endswith("image1.dcm")
    with pytest.raises(XNATValueError, match="scan_filter"):
        experiment.download_dir(tmp_path / "bad", scan_filter=["../x"])


def test_subject_and_project_download_dir_layout(session, experiment, tmp_path) -> None:
    experiment.scans["1"].create_resource("NIFTI").upload_data(b"nifti", "t1.nii")
    subject = session.projects["PROJ001"].subjects["PROJ001_S00001"]
    subject.create_resource("NOTES").upload_data("hello", "notes.txt")
    session.projects["PROJ001"].create_resource("PROTOCOL").upload_data("p", "protocol.pdf")
    out = subject.download_dir(tmp_path / "subject")
    assert read_tree(Path(out)) == {
        "resources/NOTES/files/notes.txt": b"hello",
        "PROJ001_S00001_MR001/scans/1/resources/NIFTI/files/t1.nii": b"nifti",
    }
    whole = session.projects["PROJ001"].download_dir(tmp_path / "project")
    assert Path(whole).name == "PROJ001"
    assert read_tree(Path(whole)) == {
        "resources/PROTOCOL/files/protocol.pdf": b"p",
        "PROJ001_S00001/resources/NOTES/files/notes.txt": b"hello",
        "PROJ001_S00001/PROJ001_S00001_MR001/scans/1/resources/NIFTI/files/t1.nii": b"nifti",
    }


def test_session_level_transfers(session, experiment, tmp_path) -> None:
    session.transfer_backoff = 0.01  # the checksum failure below is retried: keep it quick
    base = f"{experiment.uri}/resources/RAW/files"
    source = tmp_path / "source.bin"
    source.write_bytes(b"x" * 10_000)
    session.upload_file(f"{base}/a.bin", source)
    session.upload_string(f"{base}/b.txt", "text é")
    session.upload_stream(f"{base}/c.bin", io.BytesIO(b"stream"))
    digest = hashlib.md5(b"x" * 10_000).hexdigest()
    assert session.download(f"{base}/a.bin", tmp_path / "a.bin", expected_md5_digest=digest) == str(tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == b"x" * 10_000
    sink = io.BytesIO()
    session.download_stream(f"{base}/b.txt", sink)
    assert sink.getvalue() == "text é".encode()
    session.download_zip(f"{experiment.uri}/resources/RAW/files", tmp_path / "raw.zip")
    assert sorted(n.rsplit("/", 1)[-1] for n in zipfile.ZipFile(tmp_path / "raw.zip").namelist()) == [
        "a.bin", "b.txt", "c.bin"]
    with pytest.raises(XNATChecksumError):
        session.download(f"{base}/a.bin", tmp_path / "wrong.bin", expected_md5_digest="0" * 32)
    assert not (tmp_path / "wrong.bin").exists()


def test_bad_uploads_are_refused_before_sending(session, experiment, counter, tmp_path) -> None:
    resource = experiment.create_resource("BAD")
    resource.upload_data("one", "one.txt")
    counter.reset()
    with pytest.raises(XNATIOError, match="does not exist"):
        resource.upload(tmp_path / "missing.bin", "missing.bin")
    with pytest.raises(XNATIOError, match="is a directory"):
        resource.upload(tmp_path, "dir")
    with pytest.raises(XNATValueError, match=r"may not contain empty, '\.' or '\.\.' parts"):
        resource.upload_data("x", "../escape.txt")
    with pytest.raises(XNATIOError, match="is not a directory"):
        resource.upload_dir(tmp_path / "nope")
    with pytest.raises(XNATIOError, match="does not exist"):
        session.upload_file(f"{resource.uri}/files/x", tmp_path / "missing.bin")
    assert counter.count == 0
    with pytest.raises(XNATUploadError):
        resource.upload_data("two", "one.txt")  # exists, no overwrite
    assert resource.files["one.txt"].size == 3
    resource.upload_data("three", "one.txt", overwrite=True)
    assert resource.files["one.txt"].size == 5


def test_upload_with_extract_and_file_attributes(experiment, tmp_path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("a/one.txt", "one")
        bundle.writestr("two.txt", "two")
    resource = experiment.create_resource("BUNDLE")
    resource.upload(archive, "bundle.zip", extract=True)
    assert sorted(resource.files.keys()) == ["a/one.txt", "two.txt"]
    with open(tmp_path / "one.txt", "wb") as handle:
        handle.write(b"tagged")
    with open(tmp_path / "one.txt", "rb") as handle:
        resource.upload(handle, "tagged.txt", file_format="TXT", file_content="NOTE", file_tags="x")
    tagged = resource.files["tagged.txt"]
    assert (tagged.file_format, tagged.file_content, tagged.collection) == ("TXT", "NOTE", "BUNDLE")
