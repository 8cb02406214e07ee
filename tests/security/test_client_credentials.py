"""Attacks on the client's credentials: redirects to another server, token secrets, netrc injection.

* A login redirect (or a discovered context path) that leads to another host or port never
  receives the password: the client refuses and names both URLs, unless the caller opted in
  with ``trust_redirect=True``. A loopback server on another port records every
  ``Authorization`` header it gets.
* A token's secret never prints: not in its repr, not in an error message, not in the
  library's DEBUG log lines, also when it sits in a URL path
  (``/data/services/tokens/validate/{alias}/{secret}``).
* ``xnat login --save-token`` refuses a secret that would change the netrc file's meaning.
"""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Request, Response

import xnat
from xnat.auth import Credentials, read_config, resolve_credentials, write_config
from xnat.cli import main
from xnat.exceptions import (
    XNATAuthError,
    XNATExpiredCredentialsError,
    XNATLoginFailedError,
    XNATResponseError,
    XNATValueError,
    redact,
)
from xnat.login import check_auth, may_receive_credentials, set_jsession_cookie
from xnat.services.services import Services, TokenResult
from xnat.testing.runner import XNATServer
from xnat.transport import URLLIB3_LOGGERS, RedactingFilter, build_transport

from .loopback import Loopback

ENV_NAMES = ("XNATPY_HOST", "XNAT_HOST", "XNATPY_USER", "XNAT_USER", "XNATPY_PASS", "XNAT_PASS",
             "XNATPY_JSESSION", "XNAT_JSESSION", "NETRC")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return monkeypatch


class Recorder:
    """WSGI middleware that keeps every Authorization header it sees (None when absent)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.authorizations: list[str | None] = []
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.authorizations.append(environ.get("HTTP_AUTHORIZATION"))
        self.paths.append(environ.get("PATH_INFO", ""))
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[XNATServer, Recorder]]:
    """The server a redirect leads to: a real embedded XNAT on its own port, recording Authorization."""
    server = XNATServer(data_dir=tmp_path_factory.mktemp("other"), users=["admin:admin:admin"]).start()
    app = server.app
    recorder = Recorder(app)
    server.app = recorder  # type: ignore[assignment]  # the runner dispatches to whatever app it holds
    try:
        yield server, recorder
    finally:
        server.app = app
        server.close()


def redirector(target: str, only_root: bool = False, status: int = 302) -> Recorder:
    """An app that sends every request (or only ``GET /``, answering 404 elsewhere) to ``target``."""

    @Request.application  # type: ignore[misc]
    def app(request: Request) -> Response:
        if only_root and request.path != "/":
            return Response("Not Found", status=404)
        destination = target + ("/app/template/Login.vm" if only_root else request.full_path.rstrip("?"))
        return Response("", status=status, headers={"Location": destination})

    return Recorder(app)


@pytest.fixture()
def named(other: tuple[XNATServer, Recorder]) -> Iterator[tuple[Loopback, Recorder]]:
    """The server the user names: it redirects everything to ``other``."""
    recorder = redirector(other[0].url)
    front = Loopback(recorder)
    other[1].authorizations.clear()
    try:
        yield front, recorder
    finally:
        front.close()


def test_a_login_redirect_to_another_port_is_refused_and_the_other_server_gets_no_credentials(named, other):
    front, front_log = named
    with pytest.raises(XNATLoginFailedError) as info:
        xnat.connect(front.url, user="admin", password="admin", no_parse_model=True, keepalive=False)
    message = str(info.value)
    assert front.url in message and other[0].url in message and "trust_redirect" in message
    assert "admin:admin" not in message
    assert any(front_log.authorizations)  # the named server was asked, with the credentials
    assert not any(other[1].authorizations), other[1].authorizations


def test_a_login_form_redirected_with_307_never_reaches_the_other_server(other):
    """With an auth provider the password travels in a PUT body, which a 307 would replay elsewhere."""
    front = Loopback(redirector(other[0].url, status=307))
    other[1].paths.clear()
    try:
        with pytest.raises(XNATLoginFailedError) as info:
            xnat.connect(front.url, user="admin", password="admin", auth_provider="localdb", no_parse_model=True,
                         keepalive=False)
    finally:
        front.close()
    assert other[0].url in str(info.value)
    assert other[1].paths == [], other[1].paths


def test_a_context_path_on_another_port_is_refused_too(other):
    recorder = redirector(other[0].url, only_root=True)
    front = Loopback(recorder)
    other[1].authorizations.clear()
    try:
        with pytest.raises(XNATLoginFailedError) as info:
            xnat.connect(front.url, user="admin", password="admin", no_parse_model=True, keepalive=False)
    finally:
        front.close()
    assert other[0].url in str(info.value)
    assert not any(other[1].authorizations), other[1].authorizations


def test_the_user_can_opt_in_to_follow_a_redirect_to_another_server(named, other):
    front, _ = named
    with xnat.connect(front.url, user="admin", password="admin", no_parse_model=True, keepalive=False,
                      trust_redirect=True) as session:
        assert session.server == other[0].url and session.original_uri == front.url
        assert session.logged_in_user == "admin"
        session.get("/data/projects")


def test_connecting_to_the_final_url_works(other):
    with xnat.connect(other[0].url, user="admin", password="admin", no_parse_model=True,
                      keepalive=False) as session:
        assert session.logged_in_user == "admin"


def test_an_anonymous_login_follows_a_redirect_since_it_carries_no_credentials(other):
    front = Loopback(redirector(other[0].url))
    try:
        with pytest.raises(xnat.XNATError) as info:  # the other server has no guest access
            xnat.connect(front.url, no_parse_model=True, keepalive=False)
    finally:
        front.close()
    assert "anonymous" in str(info.value)


@pytest.mark.parametrize(("named_url", "other_url", "allowed"), [
    ("http://xnat.example.org", "http://xnat.example.org/xnat", True),
    ("http://xnat.example.org", "http://xnat.example.org:80/xnat", True),  # the default port, spelt out
    ("https://xnat.example.org:443", "https://xnat.example.org", True),
    ("http://xnat.example.org", "https://xnat.example.org", True),
    ("http://xnat.example.org:8080", "https://xnat.example.org:8080", True),
    ("http://xnat.example.org:8080", "https://xnat.example.org", True),
    ("https://XNAT.example.org", "https://xnat.example.org:443/xnat", True),
    ("https://xnat.example.org", "http://xnat.example.org", False),      # a downgrade to clear text
    ("http://xnat.example.org", "http://xnat.example.org:8080", False),  # another port
    ("http://xnat.example.org:8080", "https://xnat.example.org:8443", False),
    ("https://xnat.example.org", "https://evil.example.org", False),
    ("https://xnat.example.org", "https://xnat.example.org.evil.com", False),
])
def test_which_servers_may_receive_the_credentials(named_url, other_url, allowed):
    assert may_receive_credentials(named_url, other_url) is allowed


# -- token secrets ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XNATServer]:
    with XNATServer(data_dir=tmp_path_factory.mktemp("tokens"), users=["admin:admin:admin"]) as server:
        yield server


def test_a_token_repr_never_shows_its_secret(served):
    with xnat.connect(served.url, user="admin", password="admin", no_parse_model=True, keepalive=False) as session:
        token = Services(session).issue_token()
    assert len(token.secret) >= 8
    for text in (repr(token), str(token), f"{token}", repr([token]), repr({"t": token})):
        assert token.secret not in text and token.alias in text
    _alias, secret = token  # still the (alias, secret) pair xnatpy returns
    assert secret == token.secret


@pytest.mark.parametrize("verb", ["validate", "invalidate"])
def test_a_secret_in_a_url_path_is_redacted_in_errors_and_debug_logs(served, caplog, verb):
    caplog.set_level(logging.DEBUG)
    with xnat.connect(served.url, user="admin", password="admin", no_parse_model=True, keepalive=False,
                      debug=True) as session:
        token = Services(session).issue_token()
        with pytest.raises(XNATResponseError) as info:
            session.get(f"/data/services/tokens/{verb}/{token.alias}/{token.secret}", accepted_status=[599])
    error = info.value
    assert token.secret not in str(error) and token.secret not in (error.url or "")
    assert f"/tokens/{verb}/{token.alias}/***" in str(error)
    ours = [record.getMessage() for record in caplog.records if record.name.startswith("xnat")
            and not record.name.startswith("xnat.testing")]
    assert any(f"/tokens/{verb}/" in line for line in ours)
    assert not [line for line in ours if token.secret in line]


@pytest.mark.parametrize("verb", ["validate", "invalidate"])
def test_urllib3_debug_logs_never_show_a_token_secret(served, caplog, verb):
    """urllib3 logs every request path at DEBUG (``urllib3.connectionpool``): the secret in it is redacted."""
    caplog.set_level(logging.DEBUG)
    with xnat.connect(served.url, user="admin", password="admin", no_parse_model=True, keepalive=False) as session:
        token = Services(session).issue_token()
        session.get(f"/data/services/tokens/{verb}/{token.alias}/{token.secret}", accepted_status=[200, 403])
    theirs = [record.getMessage() for record in caplog.records if record.name.startswith("urllib3")]
    assert any(f"/tokens/{verb}/{token.alias}/***" in line for line in theirs), theirs
    assert not [line for line in theirs + [caplog.text] if token.secret in line]


def test_the_redacting_filter_redacts_urllib3_retry_warnings_and_is_put_on_once(caplog):
    build_transport()
    build_transport()
    for name in URLLIB3_LOGGERS:
        assert sum(isinstance(item, RedactingFilter) for item in logging.getLogger(name).filters) == 1
    with caplog.at_level(logging.DEBUG, logger="urllib3"):
        logging.getLogger("urllib3.connectionpool").warning(
            "Retrying (%r) after connection broken by '%r': %s", "Retry(total=2)", "reset",
            "/data/services/tokens/validate/a1/s3cr3t?password=pw")
        logging.getLogger("urllib3.util.retry").debug("Incremented Retry for (url='%s'): %r",
                                                      "https://u:pw@x/data/JSESSION?alias=a&secret=s3", "r")
    for secret in ("s3cr3t", "password=pw", "u:pw@", "secret=s3"):
        assert secret not in caplog.text
    assert "/tokens/validate/a1/***" in caplog.text


def test_redact_covers_both_token_paths_and_leaves_other_paths_alone():
    assert redact("GET https://x/data/services/tokens/validate/a1/s3cr3t?format=json") == \
        "GET https://x/data/services/tokens/validate/a1/***?format=json"
    assert redact("/data/services/tokens/invalidate/a1/s3cr3t") == "/data/services/tokens/invalidate/a1/***"
    assert redact("/data/projects/validate/a1/b2") == "/data/projects/validate/a1/b2"


# -- netrc injection ------------------------------------------------------------------------------

@pytest.mark.parametrize("secret", [
    "abc\ndefault login evil password stolen",
    "abc def",
    "abc\tdef",
    'abc"def',
    "abc'def",
    "",
])
def test_save_token_refuses_a_secret_that_is_not_a_plain_token(served, clean_env, tmp_path, capsys, secret):
    clean_env.setattr(Services, "issue_token", lambda self, user=None: TokenResult("alias-1", secret))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine other.example.org login x password y\n")
    netrc.chmod(0o600)
    code = _run_save_token(clean_env, served, netrc)
    err = capsys.readouterr().err
    assert code == 1 and "not a plain token" in err and "nothing was saved" in err
    assert netrc.read_text() == "machine other.example.org login x password y\n"


def _run_save_token(env: pytest.MonkeyPatch, served: XNATServer, netrc: Any) -> int:
    env.setenv("XNATPY_HOST", served.url)
    env.setenv("XNATPY_USER", "admin")
    env.setenv("XNATPY_PASS", "admin")
    try:
        return main(["login", "--save-token", "--netrc", str(netrc)])
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1


def test_save_token_still_saves_a_plain_token(served, clean_env, tmp_path, capsys):
    netrc = tmp_path / "netrc"
    assert _run_save_token(clean_env, served, netrc) == 0
    assert len(netrc.read_text().split()) == 6


# -- netrc lookup edges (mutants of xnat/auth.py that survived) -----------------------------------

def test_a_netrc_named_by_the_environment_must_exist(clean_env, tmp_path):
    from xnat.auth import netrc_lookup

    clean_env.setenv("NETRC", str(tmp_path / "missing"))
    with pytest.raises(xnat.XNATError, match="does not exist"):
        netrc_lookup("https://xnat.example.org")


def test_a_netrc_entry_without_a_login_gives_no_credentials(clean_env, tmp_path):
    from xnat.auth import netrc_lookup

    path = tmp_path / "netrc"
    path.write_text("machine xnat.example.org password only-a-password\n")
    path.chmod(0o600)
    assert netrc_lookup("https://xnat.example.org", path) is None
    path.write_text("machine xnat.example.org login alice\n")
    assert netrc_lookup("https://xnat.example.org", path) == ("alice", "")


def test_an_unreadable_netrc_names_the_line_but_not_its_contents(clean_env, tmp_path):
    from xnat.auth import netrc_lookup

    path = tmp_path / "netrc"
    path.write_text("machine xnat.example.org login alice password s3cret\nmacdef\n")
    path.chmod(0o600)
    with pytest.raises(xnat.XNATError) as info:
        netrc_lookup("https://xnat.example.org", path)
    assert "s3cret" not in str(info.value)


def test_login_refuses_another_server_unless_told_otherwise(named, other):
    """xnat.login.login itself defaults to refusing (not only connect)."""
    import requests

    from xnat import login
    from xnat.auth import Credentials

    front, _ = named
    http = requests.Session()

    def send(method: str, url: str, timeout: Any = None, **kwargs: Any) -> requests.Response:
        return http.request(method, url, timeout=timeout or 10, **kwargs)

    with pytest.raises(XNATLoginFailedError):
        login.login(send, http.cookies, front.url, Credentials("admin", "admin", "argument"))
    assert not any(other[1].authorizations)
    result = login.login(send, http.cookies, front.url, Credentials("admin", "admin", "argument"), trust_redirect=True)
    assert result.base == other[0].url and result.user == "admin"
    http.close()


def test_a_user_name_in_the_server_url_is_refused_even_without_a_password():
    from xnat.auth import normalise_server

    for url in ("https://alice@xnat.example.org", "https://alice:pw@xnat.example.org", "https://:pw@xnat.example.org"):
        with pytest.raises(xnat.XNATError, match="contains credentials"):
            normalise_server(url)


def test_a_password_given_as_an_argument_wins_over_the_environment(clean_env):
    from xnat.auth import resolve_credentials

    clean_env.setenv("XNATPY_PASS", "from-the-environment")
    credentials = resolve_credentials("https://xnat.example.org", "alice", "from-the-argument")
    assert credentials.password == "from-the-argument" and credentials.source == "argument"
    clean_env.setenv("XNATPY_USER", "bob")  # the environment's password is bob's, not alice's
    assert resolve_credentials("https://xnat.example.org", "alice", "pw").password == "pw"


# -- where a missing password may come from -------------------------------------------------------

class _Stdin:
    def __init__(self, tty: bool | None) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        if self.tty is None:
            raise ValueError("I/O operation on closed file")
        return self.tty


@pytest.mark.parametrize("stdin", [_Stdin(False), _Stdin(None), None])
def test_without_a_terminal_a_missing_password_is_never_asked_for(clean_env, stdin):
    clean_env.setattr("sys.stdin", stdin)
    clean_env.setattr("getpass.getpass", lambda prompt="": pytest.fail("asked for a password without a terminal"))
    with pytest.raises(XNATAuthError, match="No password for user 'ann'"):
        resolve_credentials("https://xnat.example.org", user="ann")


def test_at_a_terminal_a_missing_password_is_asked_for(clean_env):
    clean_env.setattr("sys.stdin", _Stdin(True))
    clean_env.setattr("getpass.getpass", lambda prompt="": "typed")
    credentials = resolve_credentials("https://xnat.example.org", user="ann")
    assert (credentials.user, credentials.password, credentials.source) == ("ann", "typed", "prompt")


# -- the pyxnat config file -----------------------------------------------------------------------

@pytest.mark.parametrize(("stored", "verify"), [({}, True), ({"verify": None}, True), ({"verify": False}, False),
                                                ({"verify": "/etc/ca.pem"}, "/etc/ca.pem")])
def test_a_config_file_verifies_tls_unless_it_says_otherwise(tmp_path, stored, verify):
    path = tmp_path / "xnat.cfg"
    path.write_text(json.dumps({"server": "https://xnat.example.org", "user": "ann", **stored}))
    assert read_config(path)["verify"] == verify


@pytest.mark.parametrize("key", ["server", "user", "password"])
def test_a_config_value_that_is_not_text_is_refused(tmp_path, key):
    path = tmp_path / "xnat.cfg"
    path.write_text(json.dumps({"server": "https://xnat.example.org", key: ["not", "text"]}))
    with pytest.raises(XNATValueError, match=f"{key} must be a string"):
        read_config(path)


def test_a_written_config_file_is_its_owners_alone(tmp_path):
    path = tmp_path / "xnat.cfg"
    path.write_text("{}")
    path.chmod(0o644)  # an existing file is tightened before the password goes in
    write_config(path, "https://xnat.example.org", "ann", "secret-password")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_config(path)["password"] == "secret-password"


# -- what /data/auth must say for a login to count --------------------------------------------------

def _auth_answer(status: int, text: str) -> Any:
    def send(method: str, url: str, **kwargs: Any) -> Any:
        return SimpleNamespace(status_code=status, text=text, url=url)
    return send


ANN = Credentials("ann", "pw", "argument")
GUEST = Credentials(None, None, "anonymous")


@pytest.mark.parametrize(("status", "text", "error"), [
    (401, "", XNATLoginFailedError),
    (403, "", XNATLoginFailedError),
    (500, "oops", XNATResponseError),
    (200, "Your password has expired; change it to continue", XNATExpiredCredentialsError),
    (200, "<!DOCTYPE html><html><body>Login</body></html>", XNATLoginFailedError),
    (200, "\n  <html><form action='/login'></form></html>", XNATLoginFailedError),
    (200, "User 'guest' is logged in", XNATLoginFailedError),  # the credentials were not taken
    (200, "User 'anonymous' is logged in", XNATLoginFailedError),
])
def test_a_login_counts_only_when_the_server_names_the_user(status, text, error):
    with pytest.raises(error):
        check_auth(_auth_answer(status, text), "https://xnat.example.org", ANN)


@pytest.mark.parametrize(("text", "user"), [
    ("User 'ann' is logged in", "ann"),
    ('<span id="user_info">Logged in as: &nbsp;<a href="/u">ann</a></span>', "ann"),
])
def test_the_logged_in_user_is_read_from_either_answer(text, user):
    assert check_auth(_auth_answer(200, text), "https://xnat.example.org", ANN) == user


def test_a_guest_session_is_fine_for_an_anonymous_login():
    assert check_auth(_auth_answer(200, "User 'guest' is logged in"), "https://xnat.example.org", GUEST) is None


@pytest.mark.parametrize(("server", "same_host", "other_host"), [
    ("https://xnat.example.org", "https://xnat.example.org/data/projects", "https://other.example.org/data"),
    ("http://localhost:8080", "http://localhost:8080/data/projects", "http://127.0.0.1:8080/data"),
])
def test_the_session_cookie_goes_to_the_servers_host_only(server, same_host, other_host):
    jar = requests.cookies.RequestsCookieJar()
    set_jsession_cookie(jar, server, "0123456789ABCDEF0123456789ABCDEF")

    def cookie_for(url: str) -> str:
        return requests.cookies.get_cookie_header(jar, requests.Request("GET", url).prepare()) or ""

    assert "JSESSIONID=0123456789ABCDEF0123456789ABCDEF" in cookie_for(same_host)
    assert "JSESSIONID" not in cookie_for(other_host)


# -- the session id the login answer gives --------------------------------------------------------

SID = "0123456789ABCDEF0123456789ABCDEF"


def _body_only_login(body: str) -> Any:
    """A server that gives the session id in the body of /data/JSESSION only (no Set-Cookie), and
    answers /data/auth only to a request carrying that id as its cookie."""
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/data/JSESSION":
            response = Response(body)
        elif request.path == "/data/auth":
            carried = request.cookies.get("JSESSIONID") == SID
            response = Response("User 'ann' is logged in" if carried else "no session", status=200 if carried else 401)
        else:
            response = Response("ok" if request.cookies.get("JSESSIONID") == SID else "no session")
        return response(environ, start_response)
    return app


def test_a_session_id_given_in_the_body_only_is_carried_as_the_cookie(clean_env):
    with Loopback(_body_only_login(SID + "; Path=/")) as server:
        with xnat.connect(server.url, user="ann", password="pw", no_parse_model=True, keepalive=False) as session:
            assert session.get("/data/anything").text == "ok"


@pytest.mark.parametrize("body", ["", "not a session id", "<html>Login</html>", SID[:-1] + "!"])
def test_a_login_answer_without_a_session_id_fails(clean_env, body):
    with Loopback(_body_only_login(body)) as server:
        with pytest.raises(XNATLoginFailedError, match="did not return a session id"):
            xnat.connect(server.url, user="ann", password="pw", no_parse_model=True, keepalive=False)


def _refusing_login(status: int, reason: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return Response(reason, status=status)(environ, start_response)
    return app


@pytest.mark.parametrize(("status", "reason", "error"), [
    (401, "Bad password for this user", XNATLoginFailedError),
    (403, "Forbidden", XNATLoginFailedError),
    (401, "Your password has expired", XNATExpiredCredentialsError),
])
def test_a_refused_login_says_why(clean_env, status, reason, error):
    with Loopback(_refusing_login(status, reason)) as server:
        with pytest.raises(error) as info:
            xnat.connect(server.url, user="ann", password="pw", no_parse_model=True, keepalive=False)
    assert type(info.value) is error  # a wrong password is not reported as an expired one
