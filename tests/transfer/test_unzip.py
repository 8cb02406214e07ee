"""Streaming zip extraction: formats, safety, corruption, and extract_zip over HTTP."""

from __future__ import annotations

import io
import os
import stat
import zipfile

import pytest

from xnat.exceptions import XNATChecksumError, XNATIOError
from xnat.transfer import extract_zip_stream
from xnat.transfer.unzip import _read_descriptor, _Reader

from .conftest import RES

FILES = {
    "a.txt": b"hello " * 1000,
    "sub/dir/b.bin": os.urandom(300_000),
    "empty.txt": b"",
    "sub/c.txt": b"x",
}


class Unseekable(io.RawIOBase):
    """A write-only stream: makes zipfile write data descriptors, as a streaming server does."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        return self.buffer.write(data)


def make_zip(files=FILES, method=zipfile.ZIP_DEFLATED, streamed=False, force_zip64=False) -> bytes:
    out = Unseekable() if streamed else io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            with archive.open(info, "w", force_zip64=force_zip64) as entry:
                entry.write(data)
    return (out.buffer if streamed else out).getvalue()


def chunked(data: bytes, size: int = 7777):
    return (data[i: i + size] for i in range(0, len(data), size))


def read_tree(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("force_zip64", [False, True])
def test_formats_round_trip(tmp_path, method, streamed, force_zip64):
    data = make_zip(method=method, streamed=streamed, force_zip64=force_zip64)
    extracted = extract_zip_stream(chunked(data), tmp_path)
    assert read_tree(tmp_path) == FILES
    assert sorted(extracted) == sorted(FILES)


def test_stored_descriptor_with_fake_signature_inside(tmp_path):
    # Data containing the descriptor signature must not end the entry early.
    files = {"tricky.bin": b"abc" + b"PK\x07\x08" + b"\0" * 40 + b"PK\x07\x08xyz", "next.txt": b"n"}
    extract_zip_stream(chunked(make_zip(files, zipfile.ZIP_STORED, streamed=True), 5), tmp_path)
    assert read_tree(tmp_path) == files


def test_directory_entries_and_rename(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("E1/scans/1/", b"")
        archive.writestr("E1/scans/1/resources/DICOM/files/x.dcm", b"dicom")
        archive.writestr("E1/skip.me", b"no")
    extracted = extract_zip_stream(
        [buffer.getvalue()], tmp_path,
        rename=lambda name: None if name.endswith(".me") else name.rsplit("/", 1)[-1])
    assert read_tree(tmp_path) == {"x.dcm": b"dicom"}
    assert list(extracted) == ["E1/scans/1/resources/DICOM/files/x.dcm"]


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/evil", "C:/evil", "..\\evil"])
def test_escaping_names_refused(tmp_path, name):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ok.txt", b"fine")
        archive.writestr(zipfile.ZipInfo(name), b"evil")
    target = tmp_path / "out"
    with pytest.raises(XNATIOError, match="Refused"):
        extract_zip_stream([buffer.getvalue()], target)
    assert read_tree(tmp_path) == {"out/ok.txt": b"fine"}  # nothing outside, no temp files


def test_symlink_entries_refused_and_removed(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ok.txt", b"fine")
        link = zipfile.ZipInfo("link")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(XNATIOError, match="symbolic link"):
        extract_zip_stream([buffer.getvalue()], tmp_path)
    assert read_tree(tmp_path) == {"ok.txt": b"fine"}
    assert not any(p.is_symlink() for p in tmp_path.rglob("*"))


def test_unsafe_characters_cleaned(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr('a:b*c?.txt', b"1")
        archive.writestr("x" * 300 + ".dcm", b"2")
    extract_zip_stream([buffer.getvalue()], tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "a_b_c_.txt" in names
    long = next(n for n in names if n.endswith(".dcm"))
    assert len(long.encode()) <= 255


def test_corrupt_entry_raises_and_leaves_no_file(tmp_path):
    data = bytearray(make_zip({"a.bin": os.urandom(5000), "b.bin": b"b" * 100}, zipfile.ZIP_STORED))
    data[100] ^= 0xFF  # inside a.bin's data
    with pytest.raises(XNATChecksumError, match="a.bin"):
        extract_zip_stream([bytes(data)], tmp_path)
    assert read_tree(tmp_path) == {}


def test_corrupt_deflate_stream(tmp_path):
    data = bytearray(make_zip({"a.txt": os.urandom(1000) * 20}))
    for i in range(60, 200):
        data[i] ^= 0x5A
    with pytest.raises((XNATChecksumError, XNATIOError)):
        extract_zip_stream([bytes(data)], tmp_path)
    assert read_tree(tmp_path) == {}


def test_truncated_stream(tmp_path):
    data = make_zip()
    with pytest.raises(XNATIOError, match="ended"):
        extract_zip_stream([data[: len(data) // 2]], tmp_path)
    assert all(not p.name.endswith(".part") for p in tmp_path.rglob("*"))


def test_not_a_zip(tmp_path):
    with pytest.raises(XNATIOError, match="damaged"):
        extract_zip_stream([b"<html>login</html>"], tmp_path)
    with pytest.raises(XNATIOError, match="empty"):
        extract_zip_stream([b""], tmp_path)


def test_encrypted_and_unsupported_methods_refused(tmp_path):
    data = bytearray(make_zip({"a.txt": b"abc"}, zipfile.ZIP_STORED))
    data[8] = 12  # compression method 12 (bzip2) in the local header
    with pytest.raises(XNATIOError, match="method 12"):
        extract_zip_stream([bytes(data)], tmp_path)
    data = bytearray(make_zip({"a.txt": b"abc"}, zipfile.ZIP_STORED))
    data[6] |= 1  # encrypted flag
    with pytest.raises(XNATIOError, match="encrypted"):
        extract_zip_stream([bytes(data)], tmp_path)


def test_existing_file_needs_overwrite(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"old")
    with pytest.raises(XNATIOError, match="already exists"):
        extract_zip_stream([make_zip({"a.txt": b"new"})], tmp_path)
    assert (tmp_path / "a.txt").read_bytes() == b"old"
    extract_zip_stream([make_zip({"a.txt": b"new"})], tmp_path, overwrite=True)
    assert (tmp_path / "a.txt").read_bytes() == b"new"


def test_zip64_descriptor_read():
    import struct

    reader = _Reader([b"PK\x07\x08" + struct.pack("<IQQ", 7, 5, 2**33) + b"PK\x03\x04"])
    assert _read_descriptor(reader) == (7, 2**33)


def test_extract_zip_over_http(transferer, server, tmp_path):
    server.app.files[RES] = {"a.txt": b"A", "d/b.bin": os.urandom(100_000)}
    extracted = transferer.extract_zip(f"{RES}/files", tmp_path, rename=lambda n: n.split("/files/", 1)[1])
    assert read_tree(tmp_path) == server.app.files[RES]
    assert set(extracted) == {"R/files/a.txt", "R/files/d/b.bin"}
    assert "format=zip" in server.faults.log[0][1]


def test_extract_zip_restarts_after_cut(transferer, server, tmp_path):
    server.app.files[RES] = {f"f{i}.bin": os.urandom(50_000) for i in range(10)}
    server.faults.add("cut", "/files", at=300_000)
    transferer.extract_zip(f"{RES}/files", tmp_path, rename=lambda n: n.split("/files/", 1)[1])
    assert read_tree(tmp_path) == server.app.files[RES]
    assert len(server.faults.log) == 2


def test_download_zip_to_file(transferer, server, tmp_path):
    server.app.files[RES] = {"a.txt": b"A"}
    transferer.download_zip(f"{RES}/files", tmp_path / "r.zip")
    with zipfile.ZipFile(tmp_path / "r.zip") as archive:
        assert archive.read("R/files/a.txt") == b"A"


def test_digests_of_the_extracted_entries_are_computed_as_they_are_written(tmp_path):
    import hashlib
    import io
    import zipfile

    from xnat.transfer.unzip import extract_zip_stream

    contents = {"a/one.bin": b"1" * 70_000, "b/two.txt": b"two", "skipped.txt": b"not extracted"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    digests: dict[str, str] = {}
    body = buffer.getvalue()
    extracted = extract_zip_stream((body[i:i + 1000] for i in range(0, len(body), 1000)), tmp_path,
                                   rename=lambda name: None if name.startswith("skipped") else name, digests=digests)
    assert set(extracted) == set(digests) == {"a/one.bin", "b/two.txt"}
    for name, digest in digests.items():
        assert digest == hashlib.md5(contents[name]).hexdigest() == hashlib.md5(extracted[name].read_bytes()).hexdigest()
