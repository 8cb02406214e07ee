"""Single-file downloads: verification, resume, fault injection, bad targets."""

from __future__ import annotations

import errno
import hashlib
import io
import os

import pytest

from xnat.exceptions import (
    XNATChecksumError,
    XNATIOError,
    XNATResponseError,
    XNATValueError,
)
from xnat.transfer import Transferer
from xnat.transfer import download as download_module

from .conftest import RES

DATA = os.urandom(3 * 1024 * 1024 + 17)
MD5 = hashlib.md5(DATA).hexdigest()
FILE = f"{RES}/files/scan/a.bin"


@pytest.fixture
def stored(server):
    server.app.files[RES] = {"scan/a.bin": DATA}
    return server


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_download_verified(transferer, stored, tmp_path):
    calls = []
    result = transferer.download(FILE, tmp_path / "a.bin", expected_md5=MD5, expected_size=len(DATA),
                                 update_func=lambda done, total, finished: calls.append((done, total, finished)))
    assert (tmp_path / "a.bin").read_bytes() == DATA
    assert result.md5 == MD5 and result.size == len(DATA) and result.attempts == 1
    assert leftovers(tmp_path) == ["a.bin"]
    assert calls[0] == (0, len(DATA), False) and calls[-1] == (len(DATA), len(DATA), True)


def test_cut_connection_resumes_with_range(transferer, stored, tmp_path):
    stored.faults.add("cut", "a.bin", at=1_000_000)
    result = transferer.download(FILE, tmp_path / "a.bin", expected_md5=MD5)
    assert (tmp_path / "a.bin").read_bytes() == DATA
    assert result.attempts == 2
    ranges = stored.faults.ranges("a.bin")
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")
    assert int(ranges[1][6:-1]) > 0  # resumed from where it stopped, not from zero


def test_cut_every_time_fails_cleanly(transferer, stored, tmp_path):
    stored.faults.add("cut", "a.bin", at=10, times=10)
    with pytest.raises(XNATIOError, match="connection dropped"):
        transferer.download(FILE, tmp_path / "a.bin", expected_md5=MD5)
    assert leftovers(tmp_path) == []  # no target, no temp file
    assert len(stored.faults.ranges("a.bin")) == 4  # 1 + 3 retries, bounded


def test_flipped_byte_is_retried_and_repaired(transferer, stored, tmp_path):
    stored.faults.add("flip", "a.bin", at=123_456)
    result = transferer.download(FILE, tmp_path / "a.bin", expected_md5=MD5)
    assert (tmp_path / "a.bin").read_bytes() == DATA
    assert result.attempts == 2


def test_always_corrupt_raises_checksum_error_and_leaves_nothing(transferer, stored, tmp_path):
    stored.faults.add("flip", "a.bin", at=5, times=10)
    with pytest.raises(XNATChecksumError, match="MD5"):
        transferer.download(FILE, tmp_path / "a.bin", expected_md5=MD5)
    assert leftovers(tmp_path) == []


def test_existing_target_kept_when_download_fails(transferer, stored, tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"precious")
    stored.faults.add("flip", "a.bin", at=5, times=10)
    with pytest.raises(XNATChecksumError):
        transferer.download(FILE, target, expected_md5=MD5, overwrite=True)
    assert target.read_bytes() == b"precious"
    assert leftovers(tmp_path) == ["a.bin"]


def test_wrong_size_is_checksum_error(transferer, stored, tmp_path):
    with pytest.raises(XNATChecksumError, match="expected"):
        transferer.download(FILE, tmp_path / "a.bin", expected_size=len(DATA) + 1)
    assert leftovers(tmp_path) == []


def test_503_then_success(transferer, stored, tmp_path):
    stored.faults.add("503", "a.bin")
    transferer.download(FILE, tmp_path / "a.bin", expected_md5=MD5)
    assert (tmp_path / "a.bin").read_bytes() == DATA
    assert len(stored.faults.ranges("a.bin")) == 2


def test_503_forever_is_response_error(transferer, stored, tmp_path):
    stored.faults.add("503", "a.bin", times=10)
    with pytest.raises(XNATResponseError, match="503"):
        transferer.download(FILE, tmp_path / "a.bin")
    assert leftovers(tmp_path) == []


def test_missing_file_is_404_error(transferer, stored, tmp_path):
    with pytest.raises(XNATResponseError) as caught:
        transferer.download(f"{RES}/files/nope.bin", tmp_path / "x")
    assert caught.value.status_code == 404 and "File not found" in str(caught.value)
    assert leftovers(tmp_path) == []


def test_existing_target_without_overwrite_sends_nothing(transferer, stored, tmp_path):
    (tmp_path / "a.bin").write_bytes(b"old")
    with pytest.raises(XNATIOError, match="already exists"):
        transferer.download(FILE, tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == b"old"
    assert stored.faults.log == []


def test_overwrite_replaces(transferer, stored, tmp_path):
    (tmp_path / "a.bin").write_bytes(b"old")
    transferer.download(FILE, tmp_path / "a.bin", overwrite=True, expected_md5=MD5)
    assert (tmp_path / "a.bin").read_bytes() == DATA


def test_directory_target_refused(transferer, stored, tmp_path):
    with pytest.raises(XNATIOError, match="is a directory"):
        transferer.download(FILE, tmp_path, overwrite=True)
    assert stored.faults.log == []


def test_unwritable_target_refused_before_request(transferer, stored, tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(XNATIOError, match="Could not create the folder"):
        transferer.download(FILE, tmp_path / "file" / "sub" / "a.bin")
    assert stored.faults.log == []


def test_full_disk_fails_clearly_and_cleans_up(transferer, stored, tmp_path, monkeypatch):
    original = download_module.TempFileSink.write
    calls = {"n": 0}

    def write(self, data):
        calls["n"] += 1
        if calls["n"] == 2:
            raise download_module.os_error(OSError(errno.ENOSPC, "No space left on device"), "write", self.target)
        original(self, data)

    monkeypatch.setattr(download_module.TempFileSink, "write", write)
    with pytest.raises(XNATIOError, match="disk is full"):
        transferer.download(FILE, tmp_path / "a.bin")
    assert leftovers(tmp_path) == []


def test_full_disk_on_stream(transferer, stored):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "wb", buffering=0) as full, pytest.raises(XNATIOError, match="disk is full"):
        transferer.download_stream(FILE, full)


def test_download_stream_with_retry_after_flip(transferer, stored):
    stored.faults.add("flip", "a.bin", at=10)
    buffer = io.BytesIO(b"prefix")
    buffer.seek(6)
    transferer.download_stream(FILE, buffer, expected_md5=MD5)
    assert buffer.getvalue() == b"prefix" + DATA


def test_download_stream_unseekable_cannot_repair(transferer, stored):
    stored.faults.add("flip", "a.bin", at=10)

    class OneWay(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            return len(data)

    with pytest.raises(XNATChecksumError):
        transferer.download_stream(FILE, OneWay(), expected_md5=MD5)


def test_download_stream_refuses_non_stream(transferer, stored):
    with pytest.raises(XNATIOError, match="writable binary file"):
        transferer.download_stream(FILE, "not a stream")


def test_html_login_page_refused(transferer, server, tmp_path, monkeypatch):
    from werkzeug.wrappers import Response

    monkeypatch.setattr(server.app, "dispatch",
                        lambda request: Response("<!DOCTYPE html><html><title>Login</title></html>", 200,
                                                 content_type="text/html"))
    with pytest.raises(XNATResponseError, match="HTML page"):
        transferer.download(FILE, tmp_path / "a.bin")
    assert leftovers(tmp_path) == []


def test_server_ignoring_range_restarts_from_zero(transferer, stored, tmp_path, monkeypatch):
    original = stored.app.serve_bytes

    def no_ranges(request, data, size):
        from werkzeug.wrappers import Request

        environ = {key: value for key, value in request.environ.items() if key != "HTTP_RANGE"}
        return original(Request(environ), data, size)

    monkeypatch.setattr(stored.app, "serve_bytes", no_ranges)
    stored.faults.add("cut", "a.bin", at=2_000_000)
    transferer.download(FILE, tmp_path / "a.bin", expected_md5=MD5)
    assert (tmp_path / "a.bin").read_bytes() == DATA


def test_connection_refused_is_connection_error(tmp_path):
    import socket

    import requests

    from xnat.exceptions import XNATConnectionError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with requests.Session() as http:
        transferer = Transferer(http, f"http://127.0.0.1:{port}", timeout=5, retries=1, backoff=0)
        with pytest.raises(XNATConnectionError, match="GET http://127.0.0.1"):
            transferer.download("/data/x", tmp_path / "x")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("bad", ["data/no-leading-slash", "ftp://host/x"])
def test_bad_paths_refused(transferer, bad, tmp_path):
    with pytest.raises(XNATValueError):
        transferer.download(bad, tmp_path / "x")


def test_full_url_on_another_host_refused(transferer, stored, tmp_path):
    with pytest.raises(XNATValueError, match="not on the server"):
        transferer.download("http://evil.example.org/data/x", tmp_path / "x")
    result = transferer.download(stored.url + FILE, tmp_path / "a.bin")  # a full URL on the server is fine
    assert result.size == len(DATA)


def test_bad_base_url_refused():
    import requests

    with pytest.raises(XNATValueError, match="base_url"):
        Transferer(requests.Session(), "xnat.example.org")


def test_timeout_is_passed_to_every_request(stored, tmp_path):
    import requests

    seen = []

    class Recording(requests.Session):
        def request(self, *args, **kwargs):
            seen.append(kwargs.get("timeout"))
            return super().request(*args, **kwargs)

        def get(self, *args, **kwargs):
            seen.append(kwargs.get("timeout"))
            return super().get(*args, **kwargs)

    with Recording() as http:
        transferer = Transferer(http, stored.url, timeout=42)
        transferer.download(FILE, tmp_path / "a.bin")
        with transferer.open(FILE) as remote:
            remote.read(10)
        transferer.upload(f"{RES}/files/u.bin", b"abc")
    assert seen and all(t == (30.0, 42.0) for t in seen)
