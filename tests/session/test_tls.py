"""TLS settings are applied for real: a self-signed HTTPS server and a CA path."""

from __future__ import annotations

import shutil
import subprocess
import threading

import pytest

import xnat
from xnat.exceptions import XNATSSLError


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@pytest.fixture(scope="module")
def https_url(certificate, tmp_path_factory):
    from werkzeug.serving import make_server

    from xnat.testing.app import XNATApp

    app = XNATApp(data_dir=tmp_path_factory.mktemp("tls-data"), users=("alice:alice-pw",))
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=tuple(map(str, certificate)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    app.close()


def test_untrusted_certificate_is_an_ssl_error_with_a_hint(https_url, monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(XNATSSLError, match="verify=<path of a CA bundle>") as info:
        xnat.connect(https_url, user="alice", password="alice-pw", no_parse_model=True)
    assert "alice-pw" not in str(info.value)


def test_ca_path_argument_is_applied_even_when_requests_ca_bundle_is_set(https_url, certificate, monkeypatch,
                                                                         tmp_path):
    # requests lets REQUESTS_CA_BUNDLE override a session-level CA path; ours must win.
    other = tmp_path / "other.pem"
    other.write_text("not a certificate\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    with xnat.connect(https_url, user="alice", password="alice-pw", verify=str(certificate[0]),
                      no_parse_model=True) as session:
        assert session.logged_in_user == "alice"
        assert session.interface.verify == str(certificate[0])


def test_ca_bundle_from_the_environment(https_url, certificate, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    with xnat.connect(https_url, user="alice", password="alice-pw", no_parse_model=True) as session:
        assert session.get_json("/data/projects")["ResultSet"]["totalRecords"] == "0"


def test_verify_false_connects_without_global_warning_changes(https_url):
    import warnings

    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with xnat.connect(https_url, user="alice", password="alice-pw", verify=False,
                          no_parse_model=True) as session:
            assert session.logged_in_user == "alice"
    assert warnings.filters == filters
