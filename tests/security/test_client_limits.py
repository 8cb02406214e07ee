"""Attacks on the client by a hostile or broken server: slow trickles, zip bombs, deep nesting, bad bodies.

* A server that trickles a byte every half second: an ordinary request gives up at its
  deadline (``request_deadline``), a download when its throughput stays below
  ``min_transfer_rate`` over ``transfer_rate_window``; both with ``XNATTimeoutError``.
* A server that trickles its status line and headers a byte a second: every request, a
  download included, gives up at ``request_deadline``; one that reads an upload's body a byte
  at a time stops the upload below ``min_transfer_rate``.
* A zip that expands past what the listing says its files hold is refused (``max_bytes``, which
  ``download_dir`` sets to the listing's total), as is an entry that expands past its header.
* JSON nested 100,000 deep (any answer: ``get_json``, file listings, ``/xapi/schemas``,
  ``/data/users``) and a zip entry 2,000 folders deep give ``XNATError`` subclasses.
* ``session.download`` of a catalogued file whose body arrives corrupted fails and leaves no file.
"""

from __future__ import annotations

import gc
import io
import json
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Response

import xnat
from xnat.classes.behaviour.zipdir import download_zipped
from xnat.compat.projects import ProjectAdmin
from xnat.compat.provenance import Provenance
from xnat.compat.search import query_of
from xnat.exceptions import (
    XNATChecksumError,
    XNATError,
    XNATIOError,
    XNATResponseError,
    XNATSchemaError,
    XNATTimeoutError,
    XNATValueError,
)
from xnat.schema.loader import fetch_schemas, load_model
from xnat.testing.runner import XNATServer
from xnat.transfer import DownloadJob, Transferer, extract_zip_stream, safe_relpath
from xnat.xmlsafe import parse_xml

from ..schema.conftest import FakeSession, collect_sources
from .loopback import FakeXNAT, Loopback, RawXNAT, read_byte_by_byte, run_bounded, trickle, trickle_head

FILE = "/data/projects/P/resources/R/files/f.bin"
LIMIT = 30.0  # liveness bound for the bounded waits: far above every configured limit, far below a trickle


@pytest.fixture()
def fake() -> Iterator[tuple[FakeXNAT, Loopback]]:
    app = FakeXNAT({})
    with Loopback(app) as server:
        try:
            yield app, server
        finally:
            app.stop.set()


@pytest.fixture()
def no_garbage() -> None:
    """Collect first: a deep parse ends in RecursionError near the stack's limit, and a finalizer
    of an earlier test's garbage that the collector happens to run right then would fail too
    (pytest reports it as an unraisable exception in this test)."""
    gc.collect()


def connect(url: str, **options: Any) -> Any:
    return xnat.connect(url, user="admin", password="admin", no_parse_model=True, keepalive=False, **options)


def leftovers(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


# -- item: no overall deadline --------------------------------------------------------------------------

def test_a_trickling_answer_stops_at_the_request_deadline(fake):
    app, server = fake
    app.routes["/data/slow"] = lambda request: Response(trickle(b"x" * 200, 0.5, app.stop))  # 100 s in all
    session = connect(server.url, request_deadline=1.5, default_timeout=20)
    finished, error = run_bounded(lambda: session.get("/data/slow"), LIMIT)
    assert finished, "the request outlived its deadline"
    assert isinstance(error, XNATTimeoutError), error
    assert "deadline of 1.5 s" in str(error) and "/data/slow" in str(error)
    session.disconnect()


def test_a_trickling_download_stops_below_the_minimum_throughput(fake, tmp_path):
    app, server = fake
    app.routes[FILE] = lambda request: Response(trickle(b"y" * 200, 0.5, app.stop),
                                                headers={"Content-Length": "200"})
    session = connect(server.url, min_transfer_rate=1000, transfer_rate_window=1.0, default_timeout=20)
    target = tmp_path / "out" / "f.bin"
    finished, error = run_bounded(lambda: session.download(FILE, target), LIMIT)
    assert finished, "the download outlived the throughput rule"
    assert isinstance(error, XNATTimeoutError), error
    assert "too slow" in str(error) and "min_transfer_rate" in str(error)
    assert leftovers(tmp_path) == []  # no partial file, under its name or a temporary one
    session.disconnect()


def test_a_trickling_file_listing_stops_at_the_request_deadline(fake, tmp_path):
    """The catalog lookup of session.download (a listing, not a transfer) has the deadline too."""
    app, server = fake
    app.routes[FILE] = lambda request: Response(b"data")
    app.routes["/data/projects/P/resources/R/files"] = lambda request: Response(trickle(b"{" * 200, 0.5, app.stop))
    session = connect(server.url, request_deadline=1.5, default_timeout=20)
    finished, error = run_bounded(lambda: session.transferer().list_files("/data/projects/P/resources/R/files"),
                                  LIMIT)
    assert finished and isinstance(error, XNATTimeoutError), error
    session.disconnect()


@pytest.mark.parametrize("call", ["get", "listing", "download"])
def test_headers_trickling_a_byte_a_second_stop_at_the_request_deadline(call, tmp_path):
    """Each header byte comes well within the read timeout (20 s): only the deadline ends it."""
    with RawXNAT(trickle_head) as server:
        session = connect(server.url, request_deadline=2, default_timeout=20)
        calls = {"get": lambda: session.get("/data/slow"),
                 "listing": lambda: session.transferer().list_files("/data/projects/P/resources/R/files"),
                 "download": lambda: session.download(FILE, tmp_path / "f.bin")}
        finished, error = run_bounded(calls[call], LIMIT)
        assert finished, "the answer's headers outlived the request deadline"
        assert isinstance(error, XNATError), error
        assert "deadline of 2 s" in str(error) or "deadline of 2 s" in str(error.__cause__), error
        session.disconnect()


def test_an_upload_the_server_reads_a_byte_at_a_time_stops_below_the_minimum_throughput():
    # A tiny receive buffer, so the sender feels the slow reader after a few hundred KiB.
    with RawXNAT(read_byte_by_byte, receive_buffer=4096) as server:
        session = connect(server.url, min_transfer_rate=20_000_000, transfer_rate_window=0.5, default_timeout=20)
        body = b"z" * (64 * 1024 * 1024)  # 64 MiB: minutes at the pace of one byte per read
        finished, error = run_bounded(lambda: session.upload_string(FILE, body), LIMIT)
        assert finished, "the upload outlived the throughput rule"
        assert isinstance(error, XNATTimeoutError), error
        assert "too slow" in str(error) and "Upload of" in str(error) and "min_transfer_rate" in str(error)
        session.disconnect()


def test_the_limits_are_checked_at_connect(fake):
    _, server = fake
    for options in ({"request_deadline": 0}, {"request_deadline": "10"}, {"min_transfer_rate": -1},
                    {"transfer_rate_window": 0}):
        with pytest.raises(xnat.XNATError):
            connect(server.url, **options)


def test_fast_answers_are_untouched_by_the_limits(fake, tmp_path):
    app, server = fake
    body = bytes(range(256)) * 4096
    app.routes["/data/big"] = lambda request: Response(body)
    app.routes[FILE] = lambda request: Response(body)
    with connect(server.url, request_deadline=30, min_transfer_rate=1000, transfer_rate_window=1.0) as session:
        assert session.get("/data/big").content == body
        session.download(FILE, tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == body


# -- item: deep nesting -----------------------------------------------------------------------------------

@pytest.mark.usefixtures("no_garbage")
def test_json_nested_too_deeply_is_an_xnat_error(fake):
    app, server = fake
    deep = "[" * 100_000 + "]" * 100_000
    app.routes["/data/deep"] = lambda request: Response(deep, content_type="application/json")
    app.routes["/data/projects/P/resources/R/files"] = lambda request: Response(deep, content_type="application/json")
    with connect(server.url) as session:
        with pytest.raises(XNATResponseError) as info:
            session.get_json("/data/deep")
        assert "nested too deeply" in str(info.value)
        with pytest.raises(XNATResponseError):
            session.transferer().list_files("/data/projects/P/resources/R/files")


class _SchemaSession:
    """What the schema loader needs of a session: ``get`` and a version (XNAT 1.7 lists schemas)."""

    xnat_version = "1.8.0"

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, accepted_status: Any = None) -> requests.Response:
        return requests.get(self.url + path, timeout=30)


@pytest.mark.usefixtures("no_garbage")
@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, "<html>not JSON</html>"])
def test_a_schema_listing_nested_too_deeply_or_not_json_is_a_schema_error(fake, body):
    app, server = fake
    app.routes["/xapi/schemas"] = lambda request: Response(body, content_type="application/json")
    with pytest.raises(XNATSchemaError) as info:
        fetch_schemas(_SchemaSession(server.url))
    assert "cannot discover the schemas" in str(info.value) and "/xapi/schemas" in str(info.value)
    assert len(str(info.value)) < 600


@pytest.mark.usefixtures("no_garbage")
@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, "not JSON", "[]", '{"ResultSet": []}',
                                  '{"ResultSet": {"Result": [{"name": "no login"}]}}'])
def test_a_user_listing_nested_too_deeply_or_malformed_is_a_response_error(fake, body):
    app, server = fake
    app.routes["/data/users"] = lambda request: Response(body, content_type="application/json")
    with connect(server.url) as session:
        with pytest.raises(XNATResponseError) as info:
            list(session.users)
    assert "/data/users" in str(info.value)


def test_a_well_formed_user_listing_still_reads(fake):
    app, server = fake
    rows = {"ResultSet": {"Result": [{"login": "ann", "email": "a@x"}, {"login": "bob"}]}}
    app.routes["/data/users"] = lambda request: Response(json.dumps(rows), content_type="application/json")
    with connect(server.url) as session:
        assert sorted(session.users) == ["ann", "bob"] and session.users["ann"].email == "a@x"


def test_a_zip_entry_2000_folders_deep_is_an_xnat_error(tmp_path):
    name = "a/" * 2000 + "f.txt"
    with pytest.raises(XNATIOError) as info:
        safe_relpath(name)
    assert "2001 folders deep" in str(info.value) and len(str(info.value)) < 400
    with pytest.raises(XNATIOError):
        extract_zip_stream([zip_of({name: b"x"})], tmp_path / "out")
    assert leftovers(tmp_path) == []


# -- item: zip bombs on download ---------------------------------------------------------------------------

def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_extraction_stops_at_the_cap(tmp_path):
    bomb = zip_of({"small.txt": b"fine", "bomb.bin": bytes(50 * 1024 * 1024)})
    assert len(bomb) < 100 * 1024
    with pytest.raises(XNATIOError) as info:
        extract_zip_stream([bomb], tmp_path / "out", max_bytes=1024 * 1024)
    assert "expands past 1048576 bytes" in str(info.value)
    assert sorted(p.name for p in leftovers(tmp_path)) == ["small.txt"]  # the bomb's partial file is gone


def test_an_entry_that_expands_past_its_header_is_refused(tmp_path):
    data = bytearray(zip_of({"liar.bin": bytes(10 * 1024 * 1024)}))
    assert data[:4] == b"PK\x03\x04"
    struct.pack_into("<I", data, 22, 1000)  # the local header's uncompressed size: 1,000 bytes
    with pytest.raises(XNATChecksumError) as info:
        extract_zip_stream([bytes(data)], tmp_path / "out")
    assert "past the 1000 bytes its header announces" in str(info.value)
    assert leftovers(tmp_path) == []


def test_download_dir_refuses_a_server_zip_larger_than_its_listing(fake, tmp_path):
    """The zip path of download_dir is held to the listing's total; refused, it falls back to per file."""
    app, server = fake
    files = "/data/experiments/E1/scans/ALL/files"
    bomb = zip_of({"E1/scans/1/resources/DICOM/files/1.dcm": bytes(20 * 1024 * 1024)})
    app.routes[files] = lambda request: Response(bomb, content_type="application/zip")
    with connect(server.url) as session:
        transferer: Transferer = session.transferer()
        target = tmp_path / "E1" / "scans" / "1" / "resources" / "DICOM" / "files" / "1.dcm"
        job = DownloadJob("/data/experiments/E1/scans/1/resources/DICOM/files/1.dcm", target, None, 100)
        remaining = download_zipped(transferer, files, [job], {}, verbose=False)
    assert remaining == [job]  # to be fetched one by one, each verified
    assert leftovers(tmp_path) == []


# -- item: a corrupted body under the target name ------------------------------------------------------------

class Corrupting:
    """WSGI middleware flipping one byte of every body served for ``path`` (the listing stays true)."""

    def __init__(self, app: Any, path: str) -> None:
        self.app, self.path = app, path

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = b"".join(self.app(environ, start_response))
        if environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"] == self.path and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        return [body]


def test_session_download_of_a_corrupted_catalogued_file_fails_and_leaves_nothing(tmp_path):
    with XNATServer(data_dir=tmp_path / "server", users=["admin:admin:admin"]) as server:
        with connect(server.url) as session:
            session.put("/data/projects/P")
            session.put("/data/projects/P/resources/R")
            uri = "/data/projects/P/resources/R/files/f.bin"
            session.upload_string(uri, b"the true contents " * 100)
            listing = session.get_json("/data/projects/P/resources/R/files")["ResultSet"]["Result"]
            assert listing[0]["digest"]  # the catalog has the digest
            good = tmp_path / "good.bin"
            session.download(uri, good)
            assert good.read_bytes() == b"the true contents " * 100
            app = server.app
            server.app = Corrupting(app, uri)  # type: ignore[assignment]
            try:
                session.transfer_retries, session.transfer_backoff = 1, 0.0
                target = tmp_path / "out" / "f.bin"
                with pytest.raises(XNATChecksumError) as info:
                    session.download(uri, target)
            finally:
                server.app = app
    assert "MD5" in str(info.value) and "corrupt" in str(info.value)
    assert not (tmp_path / "out").exists() or leftovers(tmp_path / "out") == []


def test_the_catalog_lookup_is_skipped_when_the_caller_knows_the_digest_or_asks_a_format(fake, tmp_path):
    app, server = fake
    asked: list[str] = []
    app.routes[FILE] = lambda request: Response(b"data")
    app.routes["/data/projects/P/resources/R/files"] = lambda request: (asked.append(request.path),
                                                                        Response(json.dumps({}), status=500))[1]
    with connect(server.url) as session:
        session.download(FILE, tmp_path / "a", expected_md5_digest="8d777f385d3dfec8815d20f7496026dc")
        session.download(FILE, tmp_path / "b", format="zip")
        assert asked == []
        session.download(FILE, tmp_path / "c")  # the listing fails: the length is the check
        assert asked == ["/data/projects/P/resources/R/files"]
    assert (tmp_path / "c").read_bytes() == b"data"


def test_every_failure_here_is_an_xnat_error():
    for kind in (XNATTimeoutError, XNATChecksumError, XNATIOError, XNATResponseError):
        assert issubclass(kind, XNATError)


@pytest.mark.reference
@pytest.mark.usefixtures("no_garbage")
def test_a_cached_schema_model_or_index_nested_too_deeply_is_ignored(reference_schemas, tmp_path, monkeypatch):
    """The schema cache is a local file, but a planted or damaged one must not crash a connect."""
    monkeypatch.setenv("XNAT_CACHE_DIR", str(tmp_path / "cache"))
    sources = collect_sources(reference_schemas)
    good = load_model(FakeSession(sources, server="https://xnat.test"))
    deep = "[" * 100_000 + "]" * 100_000
    for path in (tmp_path / "cache").rglob("*.json"):  # the model and the server's index entry
        path.write_text(deep)
    session = FakeSession(sources, server="https://xnat.test")
    assert load_model(session) == good
    assert session.requests  # the planted index was not trusted: the schemas were read again


# -- XML from the server: one guarded parse too ---------------------------------------------------------

DEEP_XML = b"<a>" * 300 + b"</a>" * 300  # past lxml's depth limit of 256 (huge_tree off)
BAD_XML = [DEEP_XML, b"<html>not closed", b""]


class _XMLSession:
    """What the pyxnat layer's XML readers need of a session: ``get(uri, format=)`` with a ``.content``."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def get(self, uri: str, format: str | None = None) -> Any:
        return SimpleNamespace(content=self.content, text=self.content.decode("utf-8", "replace"))


@pytest.mark.parametrize("content", BAD_XML)
def test_a_server_document_that_is_not_readable_xml_is_an_xnat_error(content):
    with pytest.raises(XNATValueError, match="the document of /data/experiments/E"):
        Provenance(_XMLSession(content), "/data/experiments/E").get()

    class Project(ProjectAdmin):
        _session, _uri = _XMLSession(content), "/data/projects/P"

    with pytest.raises(XNATValueError, match="the document of /data/projects/P"):
        Project().aliases()
    with pytest.raises(XNATValueError, match="the search bundle"):
        query_of(content)


def test_an_entity_is_never_expanded():
    root = parse_xml(b'<!DOCTYPE a [<!ENTITY e "expanded">]><a>&e;</a>', "a document")
    assert "expanded" not in (root.text or "")
    root = parse_xml(b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/hostname">]><a>&e;</a>', "a document")
    assert not (root.text or "").strip()
