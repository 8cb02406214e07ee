"""xnat.connect() over real HTTP against the embedded server: every way to log in, and failing ones."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest

import xnat
from xnat.auth import write_config
from xnat.exceptions import (
    XNATAuthError,
    XNATConnectionError,
    XNATLoginFailedError,
    XNATNotConnectedError,
    XNATResponseError,
    XNATValueError,
)
from xnat.session import BaseXNATSession, XNATSession

from .conftest import dead_port


def connect(server, **kwargs):
    kwargs.setdefault("no_parse_model", True)
    return xnat.connect(server.url, **kwargs)


def test_password_login_is_one_request(server, request_log):
    with connect(server, user="admin", password="admin") as session:
        made = request_log.requests
        assert [(m, p) for m, p, _ in made] == [("GET", "/data/JSESSION")]
        assert isinstance(session, XNATSession)
        assert session.logged_in_user == "admin"
        assert session.credentials_source == "argument"
        assert len(session.jsession) >= 16
        assert session.keepalive
        assert session.session_expiration_time[1] == 900
        assert session.keepalive_thread.interval == 450
        assert isinstance(session.interface, __import__("requests").Session)
        assert session.interface.auth is not None and not isinstance(session.interface.auth, tuple)
        assert session.xnat_version == "1.8.10" and session.xnat_version_tuple == (1, 8, 10)
        assert session.check_version("1.8") and not session.check_version((1, 9))


def test_requests_after_login_ride_the_cookie(server):
    with connect(server, user="alice", password="alice-pw") as session:
        response = session.get("/data/projects", format="json")
        assert "Authorization" not in response.request.headers
        assert "JSESSIONID=" in response.request.headers["Cookie"]
        assert session.get("/data/auth").text == "User 'alice' is logged in"


def test_environment_credentials(server, monkeypatch):
    monkeypatch.setenv("XNAT_HOST", server.url)
    monkeypatch.setenv("XNATPY_USER", "alice")
    monkeypatch.setenv("XNATPY_PASS", "alice-pw")
    with xnat.connect(no_parse_model=True) as session:
        assert session.logged_in_user == "alice"
        assert session.credentials_source == "environment (XNATPY_USER)"


def test_alias_token_login(server):
    with connect(server, user="alice", password="alice-pw") as session:
        token = session.get_json("/data/services/tokens/issue")
    with connect(server, user=token["alias"], password=token["secret"]) as session:
        assert session.logged_in_user == "alice"
    with pytest.raises(XNATLoginFailedError, match="alias token and secret") as info:
        connect(server, user=token["alias"], password="0" * len(token["secret"]))
    assert token["secret"] not in str(info.value)


def test_jsession_reuse_and_cli_sessions(server):
    cli = connect(server, user="alice", password="alice-pw", cli=True)
    assert type(cli) is BaseXNATSession
    jsession = cli.jsession
    cli.disconnect()  # a cli session leaves the server session alive
    with connect(server, jsession=jsession) as reused:
        assert reused.logged_in_user == "alice"
        assert reused.jsession == jsession
        assert reused.get_json("/data/projects")["ResultSet"]["totalRecords"] == "0"
    # that one was an XNATSession: its disconnect logged the server session out
    with pytest.raises(XNATLoginFailedError, match="jsession= is not"):
        connect(server, jsession=jsession)


@pytest.mark.parametrize("bad", ["not a session id!", "0123456789ABCDEF0123456789ABCDEF"])
def test_bad_jsession_is_refused(server, bad):
    with pytest.raises(XNATLoginFailedError, match="jsession="):
        connect(server, jsession=bad)


def _netrc(tmp_path, server, mode):
    host = server.url.split("://", 1)[1]
    path = tmp_path / "netrc"
    path.write_text(f"machine {host} login alice password alice-pw\n")
    os.chmod(path, mode)
    return path


def test_netrc_login(server, tmp_path):
    with connect(server, netrc_file=_netrc(tmp_path, server, 0o600)) as session:
        assert session.logged_in_user == "alice"
        assert session.credentials_source == "netrc"


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_netrc_readable_by_others_is_refused(server, tmp_path, request_log):
    path = _netrc(tmp_path, server, 0o644)
    with pytest.raises(XNATAuthError, match=f"chmod 600 {path}") as info:
        connect(server, netrc_file=path)
    assert "alice-pw" not in str(info.value)
    assert request_log.requests == []  # refused before anything was sent


def test_config_file_login_and_save_config(server, tmp_path):
    path = write_config(tmp_path / "xnat.cfg", server.url, "alice", "alice-pw", verify=True)
    with xnat.connect(config=path, no_parse_model=True) as session:
        assert session.logged_in_user == "alice"
        saved = session.save_config(tmp_path / "saved.cfg", include_password=True)
    with xnat.connect(config=saved, no_parse_model=True) as again:
        assert again.logged_in_user == "alice"


def test_anonymous_login(xnat_server_factory):
    open_server = xnat_server_factory(users=["admin:admin:admin"], allow_anonymous=True)
    with connect(open_server) as session:
        assert session.logged_in_user is None
        assert session.credentials_source == "anonymous"
        assert session.get_json("/data/projects")["ResultSet"]["totalRecords"] == "0"


def test_anonymous_login_refused_by_a_closed_server(server):
    with pytest.raises(XNATAuthError, match="does not allow anonymous access"):
        connect(server)


def test_wrong_password_leaves_no_secret_in_any_log_line(server, caplog):
    caplog.set_level(logging.DEBUG)  # everything: ours, requests, urllib3, the server
    secret = "Wr0ng-S3cret-Pa55"
    with pytest.raises(XNATLoginFailedError) as info:
        connect(server, user="alice", password=secret, debug=True)
    message = str(info.value)
    assert server.url in message and "'alice'" in message and "401" in message
    assert secret not in message and secret not in repr(info.value)
    assert caplog.records, "DEBUG logging captured nothing"
    assert secret not in caplog.text
    # a good login at DEBUG: neither the password nor the session id is logged
    with connect(server, user="alice", password="alice-pw", debug=True) as session:
        session.get("/data/projects", query={"x": "1"})
        jsession = session.jsession
    assert "alice-pw" not in caplog.text and jsession not in caplog.text


def test_dead_port_fails_fast_with_a_clear_error():
    url = f"http://127.0.0.1:{dead_port()}"
    with pytest.raises(XNATConnectionError) as info:
        xnat.connect(url, user="alice", password="alice-pw", no_parse_model=True, default_timeout=5)
    message = str(info.value)
    assert "could not connect" in message and url in message and "alice-pw" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("url, error, words", [
    ("127.0.0.1:8080", XNATValueError, "did you mean https://127.0.0.1:8080"),
    ("https://", XNATValueError, "no host name"),
])
def test_bad_server_urls(url, error, words):
    with pytest.raises(error, match=words):
        xnat.connect(url, user="alice", password="alice-pw", no_parse_model=True)


@pytest.mark.parametrize("kwargs, words", [
    ({"verify": "/nonexistent/ca.pem"}, "does not exist"),
    ({"default_timeout": 0}, "default_timeout"),
    ({"default_timeout": "300"}, "default_timeout"),
])
def test_bad_connect_arguments_fail_before_any_request(server, request_log, kwargs, words):
    with pytest.raises(XNATValueError, match=words):
        connect(server, user="alice", password="alice-pw", **kwargs)
    assert request_log.requests == []


def test_missing_object_and_not_connected(server):
    session = connect(server, user="alice", password="alice-pw")
    with pytest.raises(XNATResponseError) as info:
        session.get("/data/projects/NOPE")
    assert info.value.status_code == 404 and "not found: check" in str(info.value)
    session.disconnect()
    with pytest.raises(XNATNotConnectedError):
        session.get_json("/data/projects")
    assert not session.keepalive


def test_logout_on_disconnect(server, request_log):
    session = connect(server, user="alice", password="alice-pw")
    jsession = session.jsession
    request_log.reset()
    session.disconnect()
    assert request_log.requests == [("DELETE", "/data/JSESSION", 200)]
    with pytest.raises(XNATLoginFailedError):
        connect(server, jsession=jsession)


def test_connect_builds_the_model(server):
    with xnat.connect(server.url, user="alice", password="alice-pw") as session:
        assert session.classes is not None
        assert session.XNAT_CLASS_LOOKUP
        assert any(key.startswith("xnat:") for key in session.XNAT_CLASS_LOOKUP)


def test_interpreter_exit_with_a_live_session_is_quiet_and_prompt(server):
    script = textwrap.dedent(f"""
        import xnat
        session = xnat.connect({server.url!r}, user="alice", password="alice-pw", no_parse_model=True)
        session.keepalive = 0.05
        session.get("/data/projects")
        # no disconnect: the interpreter must still exit at once and print nothing
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


def test_loglevel_sets_only_the_named_logger_and_debug_changes_no_level(server):
    mine = logging.getLogger("test-session-mine")
    package_level = logging.getLogger("xnat").level
    root = logging.getLogger()
    root_state = (root.level, list(root.handlers))
    with connect(server, user="alice", password="alice-pw", logger=mine, loglevel="INFO", debug=True) as session:
        assert session.logger is mine and session.debug
    assert mine.level == logging.INFO
    assert logging.getLogger("xnat").level == package_level
    assert (root.level, list(root.handlers)) == root_state
    with pytest.raises(XNATValueError, match="loglevel"):
        connect(server, user="alice", password="alice-pw", loglevel="LOUD")


def test_auth_provider_logs_in_through_services_auth(server, request_log):
    with connect(server, user="alice", password="alice-pw", auth_provider="localdb", keepalive=False) as session:
        assert session.logged_in_user == "alice"
        assert request_log.requests[0][:2] == ("PUT", "/data/services/auth")
        assert session.keepalive_thread is None and not session.keepalive
    with pytest.raises(XNATLoginFailedError, match="'alice'") as info:
        connect(server, user="alice", password="not-it", auth_provider="localdb")
    assert "not-it" not in str(info.value)
