"""The transport: timeouts, retries, TLS settings, User-Agent, error translation."""

from __future__ import annotations

import logging
import socket
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import xnat
from xnat import transport
from xnat.exceptions import XNATConnectionError, XNATSSLError, XNATTimeoutError, XNATValueError

CA_VARS = transport.CA_ENVIRONMENT_VARIABLES


@pytest.fixture()
def no_ca_env(monkeypatch):
    for name in CA_VARS:
        monkeypatch.delenv(name, raising=False)


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next status of ``server.script`` (then 200)."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        server = self.server
        with server.lock:
            server.seen.append((self.command, self.path, self.headers.get("User-Agent")))
            status = server.script.pop(0) if server.script else 200
        body = f"status {status}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture()
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.daemon_threads = True
    server.lock = threading.Lock()
    server.seen = []
    server.script = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url_of(server, path="/data/x"):
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_user_agent_names_library_python_and_requests():
    agent = transport.user_agent()
    assert agent.startswith(f"xnat/{xnat.__version__} (")
    assert "python/" in agent and f"requests/{requests.__version__}" in agent


def test_transport_sends_the_user_agent_and_no_basic_auth(scripted, no_ca_env, tmp_path, monkeypatch):
    # requests would read ~/.netrc by itself; the transport must not.
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login u password p\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    session = transport.build_transport(verify=True, backoff=0)
    response = session.get(url_of(scripted))
    assert response.status_code == 200
    assert "Authorization" not in response.request.headers
    assert scripted.seen[0][2] == transport.user_agent()


@pytest.mark.parametrize("status", [502, 503, 504])
def test_idempotent_requests_are_retried_on_gateway_errors_and_counted(scripted, status, caplog):
    scripted.script = [status, status]
    session = transport.build_transport(retries=3, backoff=0)
    with caplog.at_level(logging.DEBUG, logger="xnat.transport"):
        response = session.get(url_of(scripted, "/data/x?password=hunter2"))
    assert response.status_code == 200
    assert len(scripted.seen) == 3
    assert session.retry_counter.count == 2
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Retrying")]
    assert len(retries) == 2 and f"status {status}" in retries[0]
    assert "hunter2" not in caplog.text


def test_retries_are_bounded_and_the_last_answer_is_returned(scripted):
    scripted.script = [503] * 10
    session = transport.build_transport(retries=2, backoff=0)
    response = session.get(url_of(scripted))
    assert response.status_code == 503
    assert len(scripted.seen) == 3


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_non_idempotent_requests_are_not_retried_on_status(scripted, method):
    scripted.script = [503, 503]
    session = transport.build_transport(retries=3, backoff=0)
    response = session.request(method, url_of(scripted), data=b"payload")
    assert response.status_code == 503
    assert len(scripted.seen) == 1
    assert session.retry_counter.count == 0


def test_500_is_not_retried(scripted):
    scripted.script = [500]
    session = transport.build_transport(retries=3, backoff=0)
    assert session.get(url_of(scripted)).status_code == 500
    assert len(scripted.seen) == 1


def test_connection_refused_is_retried_once_then_fails(caplog):
    session = transport.build_transport(retries=3, backoff=5)  # the one retry has no backoff
    url = f"http://127.0.0.1:{dead_port()}/data/JSESSION"
    with caplog.at_level(logging.DEBUG, logger="xnat.transport"):
        with pytest.raises(requests.ConnectionError) as info:
            session.get(url, timeout=5)
    assert session.retry_counter.count == 1
    assert "after NewConnectionError" in caplog.text
    error = transport.translate_request_error(info.value, "GET", url)
    assert isinstance(error, XNATConnectionError)
    assert "Check the server URL" in str(error) and "refused" in str(error).lower()


def test_default_timeout_is_applied_to_every_request_including_streamed(monkeypatch):
    seen = []

    def fake_send(self, request, stream=False, timeout=None, *args, **kwargs):
        seen.append((stream, timeout))
        response = requests.Response()
        response.status_code = 200
        response.request = request
        response.url = request.url
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", fake_send)
    session = transport.build_transport(default_timeout=42)
    session.get("http://xnat.invalid/a")
    session.get("http://xnat.invalid/b", stream=True)
    session.get("http://xnat.invalid/c", timeout=7)
    assert seen == [(False, 42), (True, 42), (False, 7)]


def test_pool_is_sized_for_parallel_transfers():
    session = transport.build_transport(pool_size=24)
    adapter = session.get_adapter("https://xnat.example.org")
    assert isinstance(adapter, transport.TimeoutAdapter)
    assert adapter._pool_maxsize == 24
    with pytest.raises(XNATValueError):
        transport.build_transport(pool_size=0)


# -- TLS -------------------------------------------------------------------------------------

def test_verify_true_honours_the_ca_environment_in_order(no_ca_env, monkeypatch, tmp_path):
    first, second = tmp_path / "first.pem", tmp_path / "second.pem"
    first.write_text("x")
    second.write_text("x")
    assert transport.resolve_verify(True) is True
    assert transport.resolve_verify(None) is True
    monkeypatch.setenv("SSL_CERT_FILE", str(second))
    assert transport.resolve_verify(True) == str(second)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(first))
    assert transport.resolve_verify(True) == str(first)
    assert transport.resolve_verify(False) is False


def test_verify_path_is_applied_to_the_session(no_ca_env, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    assert transport.build_transport(verify=str(bundle)).verify == str(bundle)
    assert transport.build_transport(verify=bundle).verify == str(bundle)


@pytest.mark.parametrize("verify", ["/nonexistent/ca.pem", 3])
def test_bad_verify_values_are_refused(verify):
    with pytest.raises(XNATValueError):
        transport.resolve_verify(verify)


def test_missing_ca_bundle_from_environment_is_named(no_ca_env, monkeypatch):
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/bundle.pem")
    with pytest.raises(XNATValueError, match="CURL_CA_BUNDLE"):
        transport.resolve_verify(True)


def test_verify_false_changes_nothing_process_wide(caplog):
    filters = list(warnings.filters)
    root_handlers = list(logging.getLogger().handlers)
    levels = {name: logging.getLogger(name).level for name in ("xnat", "urllib3", "requests")}
    with caplog.at_level(logging.WARNING, logger="xnat.transport"):
        session = transport.build_transport(verify=False)
    assert session.verify is False
    assert warnings.filters == filters
    assert logging.getLogger().handlers == root_handlers
    assert {name: logging.getLogger(name).level for name in levels} == levels
    assert not hasattr(logging.Logger, "verbose")
    assert "verification is switched off" in caplog.text


# -- error translation -------------------------------------------------------------------------

@pytest.mark.parametrize("error, kind, words", [
    (requests.exceptions.SSLError("certificate verify failed"), XNATSSLError, "verify=<path of a CA bundle>"),
    (requests.exceptions.ConnectTimeout("timed out"), XNATTimeoutError, "raise the timeout"),
    (requests.exceptions.ReadTimeout("read timed out"), XNATTimeoutError, "did not answer in time"),
    (requests.exceptions.MissingSchema("no schema"), XNATValueError, "Give a full URL"),
    (requests.exceptions.InvalidURL("bad"), XNATValueError, "URL is not valid"),
    (requests.exceptions.ConnectionError("refused"), XNATConnectionError, "could not connect"),
    (requests.exceptions.ChunkedEncodingError("broken"), XNATConnectionError, "request failed"),
])
def test_request_errors_become_xnat_errors_with_a_hint(error, kind, words):
    result = transport.translate_request_error(error, "GET", "https://h/data/x?secret=abc")
    assert isinstance(result, kind)
    assert words in str(result)
    assert "GET https://h/data/x?secret=***" in str(result)
    assert "abc" not in str(result)
    assert result.original is error


@pytest.fixture()
def silent_server():
    """A port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_a_server_that_never_answers_fails_within_one_timeout(silent_server):
    session = transport.build_transport(default_timeout=0.3, retries=3, backoff=5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(silent_server + "/data/JSESSION")
    assert session.retry_counter.count == 0


def test_connect_to_a_server_that_never_answers_gives_a_timeout_error(silent_server):
    with pytest.raises(XNATTimeoutError, match="did not answer in time") as info:
        xnat.connect(silent_server, user="alice", password="alice-pw", no_parse_model=True, default_timeout=0.3)
    assert "alice-pw" not in str(info.value)


def test_pilot_timeout_bounds_the_login_on_a_silent_server(silent_server):
    with pytest.raises(XNATTimeoutError):
        xnat.connect(silent_server, user="alice", password="alice-pw", no_parse_model=True,
                     default_timeout=300, pilot_timeout=0.3)


@pytest.mark.parametrize("pilot, default, expected", [
    (12.0, 300, 12.0), (12.0, 0.5, 0.5), (None, 300, 300), (12.0, None, 12.0), ((1, 5), 300, (1, 5)),
])
def test_login_timeout_is_the_shorter_one(pilot, default, expected):
    assert xnat._shorter(pilot, default) == expected
