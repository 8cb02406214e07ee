"""RemoteFile: seekable reads by byte range, never the rest of the file."""

from __future__ import annotations

import io
import os

import pytest

from xnat.exceptions import XNATResponseError

from .conftest import RES

DATA = os.urandom(4 * 1024 * 1024)
FILE = f"{RES}/files/big.dcm"


@pytest.fixture
def stored(server):
    server.app.files[RES] = {"big.dcm": DATA}
    return server


def test_read_far_into_file_fetches_a_small_range(transferer, stored):
    with transferer.open(FILE) as remote:
        assert remote.size == len(DATA)
        remote.seek(3_000_000)
        assert remote.read(10) == DATA[3_000_000:3_000_010]
        assert remote.tell() == 3_000_010
    ranges = [r for r in stored.faults.ranges("big.dcm") if r]
    assert len(ranges) == 1
    start, stop = map(int, ranges[0][6:].split("-"))
    assert start == 3_000_000 and stop - start < 300_000  # a read-ahead block, not the rest


def test_reads_within_readahead_reuse_the_block(transferer, stored):
    with transferer.open(FILE, size=len(DATA), readahead=64 * 1024) as remote:
        pieces = [remote.read(1000) for _ in range(60)]
        assert b"".join(pieces) == DATA[:60_000]
        assert remote.requests == 1


def test_seek_whence_and_read_all(transferer, stored):
    with transferer.open(FILE) as remote:
        assert remote.seek(-100, io.SEEK_END) == len(DATA) - 100
        assert remote.read() == DATA[-100:]
        assert remote.read(5) == b""
        remote.seek(10)
        remote.seek(5, io.SEEK_CUR)
        assert remote.read(3) == DATA[15:18]
        with pytest.raises(ValueError):
            remote.seek(-1)
        with pytest.raises(ValueError):
            remote.seek(0, 7)
    with pytest.raises(ValueError):
        remote.read(1)


def test_buffered_reader_and_readinto(transferer, stored):
    with io.BufferedReader(transferer.open(FILE)) as reader:
        reader.seek(1_000_000)
        assert reader.read(100) == DATA[1_000_000:1_000_100]


def test_cut_connection_during_range_is_retried(transferer, stored):
    stored.faults.add("cut", "big.dcm", at=1000)
    with transferer.open(FILE, size=len(DATA)) as remote:
        remote.seek(500_000)
        assert remote.read(50_000) == DATA[500_000:550_000]


def test_503_during_range_is_retried(transferer, stored):
    stored.faults.add("503", "big.dcm")
    with transferer.open(FILE, size=len(DATA)) as remote:
        assert remote.read(10) == DATA[:10]


def test_server_ignoring_range_still_reads_correctly(transferer, stored, monkeypatch):
    original = stored.app.serve_bytes

    def no_ranges(request, data, size):
        from werkzeug.wrappers import Request

        environ = {key: value for key, value in request.environ.items() if key != "HTTP_RANGE"}
        return original(Request(environ), data, size)

    monkeypatch.setattr(stored.app, "serve_bytes", no_ranges)
    with transferer.open(FILE) as remote:
        remote.seek(2_000_000)
        assert remote.read(1000) == DATA[2_000_000:2_001_000]


def test_missing_remote_file(transferer, stored):
    with pytest.raises(XNATResponseError) as caught:
        transferer.open(f"{RES}/files/none.dcm")
    assert caught.value.status_code == 404


def test_pydicom_reads_header_only(transferer, server, reference):
    pydicom = pytest.importorskip("pydicom")
    dicoms = sorted(reference.rglob("*.dcm"))
    if not dicoms:
        pytest.skip("no DICOM in the reference data")
    data = dicoms[0].read_bytes() + b"\0" * (2 * 1024 * 1024)  # padding, pretend pixel data
    server.app.files[RES] = {"x.dcm": data}
    with transferer.open(f"{RES}/files/x.dcm") as remote:
        dataset = pydicom.dcmread(remote, stop_before_pixels=True, force=True)
        fetched = remote.requests
    assert dataset is not None
    assert fetched <= 4
