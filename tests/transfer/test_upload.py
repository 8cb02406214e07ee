"""Uploads: sources, retries, duplicates, verification, bad input."""

from __future__ import annotations

import io
import os

import pytest

from xnat.exceptions import XNATChecksumError, XNATResponseError, XNATUploadError
from xnat.transfer import UploadJob

from .conftest import RES

URL = f"{RES}/files/dir/up.bin"
DATA = os.urandom(2 * 1024 * 1024 + 3)


def stored(server, name="dir/up.bin"):
    return server.app.files.get(RES, {}).get(name)


def test_upload_path_streamed_and_verified(transferer, server, tmp_path):
    source = tmp_path / "up.bin"
    source.write_bytes(DATA)
    calls = []
    result = transferer.upload(URL, source, verify=True, update_func=lambda *a: calls.append(a))
    assert stored(server) == DATA
    assert result.size == len(DATA)
    assert calls[-1] == (len(DATA), len(DATA), True)
    method, path, _ = server.faults.log[0]
    assert method == "PUT" and "inbody=true" in path


@pytest.mark.parametrize("source", [DATA, bytearray(DATA), memoryview(DATA), io.BytesIO(DATA)])
def test_upload_in_memory_sources(transferer, server, source):
    transferer.upload(URL, source)
    assert stored(server) == DATA


def test_upload_data_str_is_utf8(transferer, server):
    transferer.upload_data(URL, "héllo")
    assert stored(server) == "héllo".encode()


def test_upload_data_refuses_other_types(transferer, server):
    with pytest.raises(Exception, match="upload_data takes"):
        transferer.upload_data(URL, 12)
    assert server.faults.log == []


def test_upload_stream_from_current_position(transferer, server):
    stream = io.BytesIO(b"skip" + DATA)
    stream.seek(4)
    transferer.upload(URL, stream)
    assert stored(server) == DATA


def test_empty_upload_goes_multipart(transferer, server, tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    transferer.upload(f"{RES}/files/empty.txt", tmp_path / "empty", verify=True)
    assert stored(server, "empty.txt") == b""


def test_503_then_success_rewinds(transferer, server, tmp_path):
    (tmp_path / "up.bin").write_bytes(DATA)
    server.faults.add("503", "up.bin")
    result = transferer.upload(URL, tmp_path / "up.bin")
    assert stored(server) == DATA and result.attempts == 2


def test_503_on_one_way_stream_is_final(transferer, server):
    class OneWay(io.RawIOBase):
        def __init__(self):
            self.inner = io.BytesIO(DATA)

        def readable(self):
            return True

        def readinto(self, buffer):
            data = self.inner.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)

    server.faults.add("503", "up.bin")
    with pytest.raises(XNATUploadError, match="cannot be rewound"):
        transferer.upload(URL, OneWay())


def test_one_way_stream_uploads_chunked(transferer, server):
    class OneWay(io.RawIOBase):
        def __init__(self):
            self.inner = io.BytesIO(DATA)

        def readable(self):
            return True

        def readinto(self, buffer):
            data = self.inner.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)

    transferer.upload(URL, OneWay())
    assert stored(server) == DATA


def test_persistent_503_fails_after_retries(transferer, server):
    server.faults.add("503", "up.bin", times=10)
    with pytest.raises(XNATUploadError, match="503"):
        transferer.upload(URL, b"abc")
    assert len(server.faults.log) == 4


def test_duplicate_without_overwrite_is_an_error(transferer, server):
    transferer.upload(URL, b"first")
    with pytest.raises(XNATUploadError, match="overwrite=True"):
        transferer.upload(URL, b"second")
    assert stored(server) == b"first"
    transferer.upload(URL, b"second", overwrite=True)
    assert stored(server) == b"second"
    assert "overwrite=true" in server.faults.log[-1][1]


def test_missing_file_sends_nothing(transferer, server, tmp_path):
    with pytest.raises(XNATUploadError, match="no such file"):
        transferer.upload(URL, tmp_path / "nope")
    with pytest.raises(XNATUploadError, match="is a directory"):
        transferer.upload(URL, tmp_path)
    with pytest.raises(XNATUploadError, match="Cannot upload a int"):
        transferer.upload(URL, 5)
    with pytest.raises(XNATUploadError, match="PUT or POST"):
        transferer.upload(URL, b"x", method="patch")
    with pytest.raises(XNATUploadError, match="upload_data"):
        transferer.upload(URL, "some text meant as data")
    (tmp_path / "t.txt").write_text("text")
    with open(tmp_path / "t.txt") as text, pytest.raises(XNATUploadError, match="binary mode"):
        transferer.upload(URL, text)
    assert server.faults.log == []


def test_post_and_query(transferer, server):
    transferer.upload(URL, b"abc", method="post", query={"content": "RAW", "format": "DICOM", "tags": ["a", "b"]})
    method, path, _ = server.faults.log[0]
    assert method == "POST" and "content=RAW" in path and "format=DICOM" in path and "tags=a,b" in path


def test_server_error_is_reported(transferer, server):
    with pytest.raises(XNATResponseError, match="404"):
        transferer.upload("/data/elsewhere/x", b"abc")


def test_verify_detects_a_bad_server_copy(transferer, server, monkeypatch):
    original = server.app.upload

    def corrupting(request, resource, relpath):
        response = original(request, resource, relpath)
        server.app.files[resource][relpath] = b"corrupted"
        return response

    monkeypatch.setattr(server.app, "upload", corrupting)
    with pytest.raises(XNATChecksumError, match="differs"):
        transferer.upload(URL, b"abc", verify=True)
    server.app.digests = False  # no digest column: sizes are compared
    with pytest.raises(XNATChecksumError, match="bytes"):
        transferer.upload(URL, b"abc", verify=True, overwrite=True)


def test_verify_needs_a_file_url(transferer, server):
    with pytest.raises(XNATUploadError, match="Cannot verify"):
        transferer.upload("/data/projects/P/files", b"abc", verify=True)
    assert server.faults.log == []


def test_upload_many_parallel(transferer, server):
    jobs = [UploadJob(f"{RES}/files/m/{i}.txt", str(i).encode() * i) for i in range(20)]
    results = transferer.upload_many(jobs, workers=4)
    assert [r.size for r in results] == [i * len(str(i)) for i in range(20)]
    assert server.app.files[RES] == {f"m/{i}.txt": str(i).encode() * i for i in range(20)}


class DropOnce:
    """Wraps a requests.Session: the first upload reads part of its body, then the connection 'drops'."""

    def __init__(self, http):
        self.http = http
        self.dropped = False

    def __getattr__(self, name):
        return getattr(self.http, name)

    def request(self, method, url, **kwargs):
        import requests

        body = kwargs.get("data")
        if method in ("PUT", "POST") and not self.dropped and body is not None:
            self.dropped = True
            body.read(1000)
            raise requests.exceptions.ConnectionError("connection reset by peer")
        return self.http.request(method, url, **kwargs)


def test_dropped_upload_is_retried_from_the_start(transferer, server, tmp_path):
    (tmp_path / "up.bin").write_bytes(DATA)
    transferer.conn.http = DropOnce(transferer.conn.http)
    calls = []
    result = transferer.upload(URL, tmp_path / "up.bin", verify=True, update_func=lambda *a: calls.append(a))
    assert stored(server) == DATA and result.attempts == 2
    assert calls[-1] == (len(DATA), len(DATA), True)  # the lost bytes were taken back


def test_dropped_one_way_upload_fails_clearly(transferer, server):
    class OneWay(io.RawIOBase):
        def __init__(self):
            self.inner = io.BytesIO(DATA)

        def readable(self):
            return True

        def readinto(self, buffer):
            data = self.inner.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)

    transferer.conn.http = DropOnce(transferer.conn.http)
    with pytest.raises(XNATUploadError, match="cannot be rewound"):
        transferer.upload(URL, OneWay())
    assert stored(server) is None


def test_per_file_uploads_ride_a_few_kept_alive_connections(transferer, server, tmp_path, caplog):
    import logging

    root = tmp_path / "many"
    root.mkdir()
    for index in range(60):
        (root / f"f{index:02d}.dat").write_bytes(bytes([index]) * 100)
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        results = transferer.upload_tree(f"{RES}/files", root, method="per_file", workers=4)
    opened = [r for r in caplog.records if r.getMessage().startswith("Starting new HTTP connection")]
    assert len(results) == 60
    assert 1 <= len(opened) <= 4  # one connection per worker at most, each reused for many files
