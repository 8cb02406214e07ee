"""Persistent HTTP/1.1 connections in the embedded server (xnat.testing.httpserve), as Tomcat keeps them.

Connections are counted on the server side (the handler's ``setup`` runs once per accepted
connection). Raw-socket tests read answers with a small parser, so that stray bytes left on
a connection show up as a wrong next answer.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from xnat.testing import XNATServer
from xnat.testing.httpserve import DRAIN_LIMIT, KeepAliveHandler, OpenConnections

ADMIN = "Authorization: Basic " + base64.b64encode(b"admin:admin").decode()
WAIT = 10  # seconds a socket read may block before a test fails (liveness only)


# -- helpers -----------------------------------------------------------------------------------
class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


class Wire:
    """One raw client connection: send bytes, read answers one at a time."""

    def __init__(self, server: Any) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=WAIT)
        self.rfile = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, path: str, *headers: str, body: bytes = b"", version: str = "HTTP/1.1") -> bytes:
        lines = [f"{method} {path} {version}", "Host: x", ADMIN, *headers]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def answer(self, head_only: bool = False) -> Answer:
        status_line = self.rfile.readline()
        assert status_line.startswith(b"HTTP/1."), status_line
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if head_only or status in (204, 304) or 100 <= status < 200:
            return Answer(status, headers, b"")
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)):
                body += self.rfile.read(size)
                assert self.rfile.readline() == b"\r\n"
            assert self.rfile.readline() == b"\r\n"
            return Answer(status, headers, body)
        if "content-length" in headers:
            return Answer(status, headers, self.rfile.read(int(headers["content-length"])))
        return Answer(status, headers, self.rfile.read())  # to the end of the connection

    def closed_by_server(self) -> bool:
        """True when the server closes the connection (within WAIT seconds) and sent nothing more."""
        try:
            return self.rfile.read(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per connection the server accepts."""
    accepted: list[int] = []
    setup = KeepAliveHandler.setup

    def counting_setup(handler: KeepAliveHandler) -> None:
        accepted.append(1)
        setup(handler)

    monkeypatch.setattr(KeepAliveHandler, "setup", counting_setup)
    return accepted


@pytest.fixture
def server(tmp_path: Path) -> Iterator[XNATServer]:
    with XNATServer(data_dir=tmp_path / "data", users=["admin:admin:admin"]) as running:
        yield running


@pytest.fixture
def wire(server: XNATServer) -> Iterator[Wire]:
    connection = Wire(server)
    yield connection
    connection.close()


def _session() -> requests.Session:
    http = requests.Session()
    http.auth = ("admin", "admin")
    return http


# -- through a real client -------------------------------------------------------------------
def test_a_session_of_50_requests_uses_one_connection(server: XNATServer, connections: list[int]) -> None:
    with _session() as http:
        for _ in range(50):
            assert http.get(f"{server.url}/data/projects", params={"format": "json"}).status_code == 200
    assert len(connections) == 1


def test_without_keep_alive_each_request_has_its_own_connection(tmp_path: Path, connections: list[int]) -> None:
    with XNATServer(data_dir=tmp_path / "data", users=["admin:admin:admin"], keep_alive=False) as server, \
            _session() as http:
        for _ in range(5):
            answer = http.get(f"{server.url}/data/projects", params={"format": "json"})
            assert answer.status_code == 200 and answer.headers["Connection"] == "close"
    assert len(connections) == 5


def test_a_connection_serves_at_most_max_requests(server: XNATServer, connections: list[int]) -> None:
    with _session() as http:
        for _ in range(KeepAliveHandler.max_requests + 1):
            assert http.get(f"{server.url}/data/projects", params={"format": "json"}).status_code == 200
    assert len(connections) == 2


def test_a_chunked_upload_then_a_get_on_the_same_connection(server: XNATServer, connections: list[int]) -> None:
    content = b"".join(b"line %d\n" % i for i in range(20_000))
    files = f"{server.url}/data/projects/P1/resources/R/files"
    with _session() as http:
        assert http.put(f"{server.url}/data/projects/P1").status_code in (200, 201)
        pieces = (content[i:i + 7000] for i in range(0, len(content), 7000))  # a generator: sent chunked
        assert http.put(f"{files}/a.txt", data=pieces).status_code in (200, 201)
        assert http.get(f"{files}/a.txt").content == content
    assert len(connections) == 1


def test_an_early_refusal_of_a_big_body_is_read_by_the_client(server: XNATServer) -> None:
    with requests.Session() as http:  # no credentials: refused before the body is read
        answer = http.put(f"{server.url}/data/projects/P1/resources/R/files/big.bin", data=b"x" * (3 << 20))
        assert answer.status_code == 401
        http.auth = ("admin", "admin")
        assert http.get(f"{server.url}/data/projects", params={"format": "json"}).status_code == 200


def test_a_refused_body_over_a_mebibyte_is_drained_and_the_connection_kept(server: XNATServer,
                                                                            connections: list[int]) -> None:
    with requests.Session() as http:
        for _ in range(2):  # no credentials: refused before the body is read
            answer = http.put(f"{server.url}/data/projects/P1/resources/R/files/big.bin", data=b"x" * (3 << 20))
            assert answer.status_code == 401 and answer.headers.get("Connection") != "close"
    assert len(connections) == 1


def test_a_refused_body_too_big_to_drain_is_answered_then_closed(wire: Wire) -> None:
    wire.send(b"PUT /data/projects/P1/resources/R/files/huge.bin HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: %d\r\n\r\n" % (DRAIN_LIMIT + 1) + b"x" * 1000)
    answer = wire.answer()
    assert answer.status == 401 and answer.headers["connection"] == "close"
    assert wire.closed_by_server()


# -- on the wire -----------------------------------------------------------------------------
def test_an_unread_body_does_not_leak_into_the_next_request(wire: Wire) -> None:
    refused = wire.request("PUT", "/data/nowhere", body=b"GET /data/projects HTTP/1.1\r\n\r\n" * 1000)
    wire.send(refused + wire.request("GET", "/data/projects?format=json"))
    assert wire.answer().status == 404
    second = wire.answer()
    assert second.status == 200 and b"ResultSet" in second.body


def test_pipelined_requests_are_answered_in_order(wire: Wire) -> None:
    wire.send(wire.request("GET", "/data/nowhere") + wire.request("GET", "/data/projects?format=json")
              + wire.request("GET", "/xapi/siteConfig/buildInfo"))
    assert wire.answer().status == 404
    assert b"ResultSet" in wire.answer().body
    assert b"buildNumber" in wire.answer().body


def test_head_has_no_body_and_the_next_request_works(wire: Wire) -> None:
    wire.send(wire.request("HEAD", "/data/projects?format=json") + wire.request("GET", "/data/projects?format=json"))
    head = wire.answer(head_only=True)
    assert head.status == 200
    assert b"ResultSet" in wire.answer().body  # no stray body bytes came in between


def test_204_has_no_body_and_the_next_request_works(wire: Wire) -> None:
    wire.send(wire.request("PUT", "/data/projects/P1") + wire.request("PUT", "/data/projects/P1/resources/R"))
    assert wire.answer().status in (200, 201)
    assert wire.answer().status in (200, 201)
    wire.send(wire.request("GET", "/data/projects/P1/resources/R/files/missing.txt?accept-not-found=true")
              + wire.request("GET", "/data/projects?format=json"))
    assert wire.answer().status == 204
    assert b"P1" in wire.answer().body


def test_304_has_no_body_and_the_next_request_works(wire: Wire) -> None:
    unchanged = b'{"email": "admin@example.org"}'
    wire.send(wire.request("PUT", "/xapi/users/admin", "Content-Type: application/json", body=unchanged))
    assert wire.answer().status == 200
    wire.send(wire.request("PUT", "/xapi/users/admin", "Content-Type: application/json", body=unchanged)
              + wire.request("GET", "/data/projects?format=json"))
    assert wire.answer().status == 304
    assert b"ResultSet" in wire.answer().body


def test_connection_close_from_the_client_closes(wire: Wire) -> None:
    wire.send(wire.request("GET", "/data/projects?format=json", "Connection: close"))
    answer = wire.answer()
    assert answer.status == 200 and answer.headers["connection"] == "close"
    assert wire.closed_by_server()


def test_http_1_0_closes_unless_it_asks_for_keep_alive(wire: Wire, server: XNATServer) -> None:
    wire.send(wire.request("GET", "/data/projects?format=json", "Connection: keep-alive", version="HTTP/1.0"))
    kept = wire.answer()
    assert kept.status == 200 and kept.headers["connection"] == "keep-alive"
    wire.send(wire.request("GET", "/data/projects?format=json", version="HTTP/1.0"))
    assert wire.answer().status == 200
    assert wire.closed_by_server()


@pytest.mark.parametrize("framing", [
    ("Transfer-Encoding: chunked", "Content-Length: 5"),
    ("Transfer-Encoding: gzip",),
    ("Content-Length: 5", "Content-Length: 6"),
    ("Content-Length: -5",),
    ("Content-Length: five",),
])
def test_an_ambiguous_body_is_400_and_closes(wire: Wire, framing: tuple[str, ...]) -> None:
    wire.send(wire.request("PUT", "/data/projects/P1", *framing) + b"hello")
    answer = wire.answer()
    assert answer.status == 400 and answer.headers["connection"] == "close"
    assert wire.closed_by_server()


def test_a_malformed_chunk_closes_the_connection(wire: Wire) -> None:
    wire.send(wire.request("PUT", "/data/projects/P1/resources/R/files/a.txt", "Transfer-Encoding: chunked")
              + b"zz\r\nhello\r\n0\r\n\r\n")
    assert wire.answer().status >= 400
    assert wire.closed_by_server()


def test_a_chunked_body_with_extensions_and_trailers_is_read_to_its_end(wire: Wire) -> None:
    wire.send(wire.request("PUT", "/data/projects/P1"))
    assert wire.answer().status in (200, 201)
    wire.send(wire.request("PUT", "/data/projects/P1/resources/R/files/a.txt", "Transfer-Encoding: chunked")
              + b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: 1\r\n\r\n"
              + wire.request("GET", "/data/projects/P1/resources/R/files/a.txt"))
    assert wire.answer().status in (200, 201)
    assert wire.answer().body == b"hello world"


# -- bounds ----------------------------------------------------------------------------------
@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[XNATServer]:
    with XNATServer(data_dir=tmp_path / "data", users=["admin:admin:admin"], idle_timeout=0.5) as running:
        yield running


def test_an_idle_connection_is_closed_after_the_timeout(impatient: XNATServer) -> None:
    wire = Wire(impatient)
    try:
        wire.send(wire.request("GET", "/data/projects?format=json"))
        assert wire.answer().status == 200
        assert wire.closed_by_server()  # within WAIT seconds, though the client said nothing
    finally:
        wire.close()


def test_a_head_trickled_byte_by_byte_is_cut_off(impatient: XNATServer) -> None:
    wire = Wire(impatient)
    try:
        wire.send(b"GET /data/projects HTTP/1.1\r\n")
        deadline = time.monotonic() + WAIT
        with pytest.raises(OSError):  # the server closes while the client still trickles
            while time.monotonic() < deadline:
                wire.send(b"X")  # each byte well within the idle timeout of the previous one
                time.sleep(0.1)
    finally:
        wire.close()


def test_a_stopped_server_answers_on_no_kept_alive_connection(server: XNATServer) -> None:
    with _session() as http:
        assert http.get(f"{server.url}/data/projects", params={"format": "json"}).status_code == 200
        server.stop()
        with pytest.raises(requests.ConnectionError):
            http.get(f"{server.url}/data/projects", params={"format": "json"}, timeout=WAIT)
        server.start()  # the same port again
        assert http.get(f"{server.url}/data/projects", params={"format": "json"}).status_code == 200


def test_a_bad_idle_timeout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="idle_timeout"):
        XNATServer(data_dir=tmp_path, idle_timeout=0)


# -- the handler with small applications: what XNATApp never does ---------------------------
App = Callable[[dict[str, Any], Any], Iterable[bytes]]


@pytest.fixture
def serve(connections: list[int]) -> Iterator[Callable[[App], Any]]:
    servers: list[Any] = []

    def start(app: App, handler: type[KeepAliveHandler] = KeepAliveHandler) -> Any:
        served = make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
        threading.Thread(target=served.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        served.host, served.port = served.server_address[:2]
        servers.append(served)
        return served

    yield start
    for served in servers:
        served.shutdown()
        served.server_close()


def _never_reads(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def test_the_handler_drains_a_body_the_application_never_reads(serve: Callable[[App], Any],
                                                               connections: list[int]) -> None:
    server = serve(_never_reads)
    with requests.Session() as http:
        for _ in range(3):
            assert http.put(f"http://127.0.0.1:{server.port}/", data=b"GET / HTTP/1.1\r\n\r\n" * 200_000).text == "ok"
        for _ in range(2):  # chunked
            assert http.put(f"http://127.0.0.1:{server.port}/", data=iter([b"GET / HTTP/1.1\r\n\r\n"] * 50)).text == "ok"
    assert len(connections) == 1


def test_a_failure_before_the_answer_is_500_and_keeps_the_connection(serve: Callable[[App], Any]) -> None:
    def fails(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/fail":
            raise RuntimeError("boom")
        return _never_reads(environ, start_response)

    wire = Wire(serve(fails))
    try:
        wire.send(wire.request("GET", "/fail") + wire.request("GET", "/"))
        assert wire.answer().status == 500
        assert wire.answer().body == b"ok"
    finally:
        wire.close()


def test_a_failure_mid_answer_closes_the_connection(serve: Callable[[App], Any]) -> None:
    def fails_midway(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise RuntimeError("boom")

    wire = Wire(serve(fails_midway))
    try:
        wire.send(wire.request("GET", "/"))
        status_line = wire.rfile.readline()
        assert status_line.startswith(b"HTTP/1.1 200")
        rest = wire.rfile.read()  # to the end: the server closed
        assert b"partial" in rest and not rest.endswith(b"0\r\n\r\n")  # no last chunk: the client sees it broke
    finally:
        wire.close()


@pytest.mark.parametrize("body", [b"short", b"far too long"])
def test_an_answer_that_breaks_its_content_length_closes(serve: Callable[[App], Any], body: bytes) -> None:
    def wrong_length(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "8")])
        return [body]

    wire = Wire(serve(wrong_length))
    try:
        wire.send(wire.request("GET", "/"))
        answer = wire.answer()
        assert answer.status == 200 and len(answer.body) <= 8
        assert body.startswith(answer.body)
        assert wire.closed_by_server()
    finally:
        wire.close()


def test_a_body_on_204_or_to_head_is_not_sent(serve: Callable[[App], Any]) -> None:
    def chatty(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/empty":
            start_response("204 No Content", [])
        else:
            start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"should not be sent"]

    wire = Wire(serve(chatty))
    try:
        wire.send(wire.request("GET", "/empty") + wire.request("HEAD", "/") + wire.request("GET", "/"))
        assert wire.answer().status == 204
        assert "transfer-encoding" not in wire.answer(head_only=True).headers
        assert wire.answer().body == b"should not be sent"
    finally:
        wire.close()


def test_stopping_lets_a_busy_connection_finish_its_answer_then_closes_it(serve: Callable[..., Any]) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        entered.set()
        release.wait(WAIT)
        return _never_reads(environ, start_response)

    connections = OpenConnections()
    wire = Wire(serve(slow, type("Tracked", (KeepAliveHandler,), {"connections": connections})))
    try:
        wire.send(wire.request("GET", "/"))
        assert entered.wait(WAIT)
        connections.close()  # what XNATServer.stop() does
        release.set()
        answer = wire.answer()
        assert answer.body == b"ok" and answer.headers["connection"] == "close"
        assert wire.closed_by_server()
    finally:
        wire.close()


def test_the_served_fixture_keeps_connections_alive(served: tuple[str, Any], connections: list[int]) -> None:
    url, _ = served
    with _session() as http:
        for _ in range(5):
            answer = http.get(f"{url}/data/projects", params={"format": "json"})
            assert answer.status_code == 200 and answer.headers.get("Connection") != "close"
    assert len(connections) == 1


# -- a body that trickles in ----------------------------------------------------------------
def _stores(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


_PACED = {"min_body_rate": 100.0, "body_grace": 0.3}


def _trickle(wire: Wire, pause: float) -> None:
    """Send body bytes, one each ``pause`` seconds, until the server gives up (or WAIT passes)."""
    deadline = time.monotonic() + WAIT
    with pytest.raises(OSError):
        while time.monotonic() < deadline:
            wire.send(b"x")
            time.sleep(pause)


def test_a_body_trickled_below_the_minimum_rate_is_408_and_closes(serve: Callable[..., Any]) -> None:
    wire = Wire(serve(_stores, type("Paced", (KeepAliveHandler,), _PACED)))
    try:
        wire.send(wire.request("PUT", "/", "Content-Length: 100000"))
        # each byte well within the idle timeout of the previous one, far below 100 bytes/s
        threading.Thread(target=_trickle, args=(wire, 0.05), daemon=True).start()
        answer = wire.answer()
        assert answer.status == 408 and answer.headers["connection"] == "close"
        assert wire.closed_by_server()
    finally:
        wire.close()


def test_a_chunked_body_trickled_below_the_minimum_rate_is_408(serve: Callable[..., Any]) -> None:
    wire = Wire(serve(_stores, type("Paced", (KeepAliveHandler,), _PACED)))
    try:
        wire.send(wire.request("PUT", "/", "Transfer-Encoding: chunked") + b"100000\r\n")
        threading.Thread(target=_trickle, args=(wire, 0.05), daemon=True).start()
        assert wire.answer().status == 408
    finally:
        wire.close()


def test_a_body_at_the_minimum_rate_is_read_whole(serve: Callable[..., Any]) -> None:
    wire = Wire(serve(_stores, type("Paced", (KeepAliveHandler,), _PACED)))
    try:
        body = b"y" * 600
        wire.send(wire.request("PUT", "/", f"Content-Length: {len(body)}"))
        for start in range(0, len(body), 100):  # 100 bytes at a time: 2000 bytes/s, above the minimum
            time.sleep(0.05)
            wire.send(body[start:start + 100])
        wire.send(wire.request("PUT", "/", body=b"next"))
        assert wire.answer().body == body
        assert wire.answer().body == b"next"  # the connection is kept
    finally:
        wire.close()


def test_a_trickled_upload_to_the_archive_is_408_and_stores_nothing(tmp_path: Path) -> None:
    with XNATServer(data_dir=tmp_path / "data", users=["admin:admin:admin"], **_PACED) as server:
        wire = Wire(server)
        try:
            wire.send(wire.request("PUT", "/data/projects/P1"))
            assert wire.answer().status in (200, 201)
            wire.send(wire.request("PUT", "/data/projects/P1/resources/R/files/slow.bin", "Content-Length: 100000"))
            threading.Thread(target=_trickle, args=(wire, 0.05), daemon=True).start()
            answer = wire.answer()
            assert answer.status == 408 and answer.headers["connection"] == "close"
        finally:
            wire.close()
        with _session() as http:
            listing = http.get(f"{server.url}/data/projects/P1/resources/R/files", params={"format": "json"})
            assert "slow.bin" not in listing.text


# -- a cap on connections ----------------------------------------------------------------------
def test_a_connection_beyond_the_cap_is_503_with_retry_after(tmp_path: Path) -> None:
    with XNATServer(data_dir=tmp_path / "data", users=["admin:admin:admin"], max_connections=2) as server:
        held = [Wire(server), Wire(server)]
        try:
            for wire in held:  # both connections are served, and kept open
                wire.send(wire.request("GET", "/data/projects?format=json"))
                assert wire.answer().status == 200
            extra = Wire(server)
            try:
                refused = extra.answer()
                assert refused.status == 503 and refused.headers["retry-after"].isdigit()
                assert refused.headers["connection"] == "close" and extra.closed_by_server()
            finally:
                extra.close()
            held.pop().close()  # a slot comes free once its connection ends
            deadline = time.monotonic() + WAIT
            while True:
                again = Wire(server)
                again.send(again.request("GET", "/data/projects?format=json"))
                status = again.answer().status
                again.close()
                if status == 200 or time.monotonic() > deadline:
                    break
            assert status == 200
        finally:
            for wire in held:
                wire.close()


@pytest.mark.parametrize("option", [{"max_connections": 0}, {"max_connections": 2.5}, {"min_body_rate": 0},
                                    {"body_grace": -1}, {"min_body_rate": "fast"}])
def test_bad_connection_bounds_are_refused(tmp_path: Path, option: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(option))):
        XNATServer(data_dir=tmp_path, **option)
