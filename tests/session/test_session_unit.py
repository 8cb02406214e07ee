"""Session behaviour on answers the emulator does not give on purpose.

A small scripted WSGI double, mounted in-process through ``xnat.connect(transport=...)``
with ``xnat.testing.adapter``, plays the odd servers users meet: a login page with status 200, a Tomcat HTML 500 page, a context
path, a non-JSON body. Everything else is tested over HTTP against the emulator.
"""

from __future__ import annotations

import base64
import uuid

import pytest

import xnat
from xnat.auth import Credentials
from xnat.exceptions import (
    XNATAuthError,
    XNATExpiredCredentialsError,
    XNATLoginFailedError,
    XNATNotConnectedError,
    XNATResponseError,
    XNATValueError,
)
from xnat.session import BaseXNATSession, XNATSession
from xnat.testing.adapter import WSGIAdapter

BASE = "http://xnat.test"
LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>XNAT -- Login</title></head><body>"
    '<form id="login_form" action="/login"><input name="username"></form></body></html>'
)
TOMCAT_500 = (
    "<html><head><title>Apache Tomcat - Error report</title></head><body>"
    "<h3>HTTP Status 500 - java.lang.NullPointerException at org.nrg.Foo</h3><p>stack...</p></body></html>"
)


class Double:
    """A scripted XNAT: real enough for the login flow, with overridable answers."""

    def __init__(self, context: str = "") -> None:
        self.context = context
        self.sessions: set[str] = set()
        self.routes: dict[tuple[str, str], tuple[int, str, str]] = {}
        self.log: list[tuple[str, str, str | None]] = []

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        auth = environ.get("HTTP_AUTHORIZATION")
        self.log.append((method, path, auth))
        status, body, ctype, headers = self.answer(method, path, auth, environ.get("HTTP_COOKIE", ""))
        start_response(f"{status} X", [("Content-Type", ctype)] + headers)
        return [body.encode()]

    def answer(self, method, path, auth, cookie):
        if (method, path) in self.routes:
            status, body, ctype = self.routes[(method, path)]
            return status, body, ctype, []
        if self.context and not path.startswith(self.context):
            if path == "/":
                return 302, "", "text/plain", [("Location", f"{BASE}{self.context}/app/template/Login.vm")]
            return 404, "Not Found", "text/plain", []
        path = path[len(self.context):]
        sid = next((c.split("=", 1)[1] for c in cookie.split("; ") if c.startswith("JSESSIONID=")), None)
        user = "admin" if sid in self.sessions else None
        headers = []
        if user is None and auth:
            name, _, password = base64.b64decode(auth.split()[1]).decode().partition(":")
            if (name, password) != ("admin", "admin"):
                return 401, "Login attempt failed. Please try again.", "text/plain", []
            sid = uuid.uuid4().hex.upper()
            self.sessions.add(sid)
            user = "admin"
            headers.append(("Set-Cookie", f"JSESSIONID={sid}; Path=/"))
        if user is None:
            return 401, "Authentication required", "text/plain", []
        headers.append(("Set-Cookie", 'SESSION_EXPIRATION_TIME="1700000000000,900000"; Path=/'))
        if path == "/data/JSESSION":
            if method == "DELETE":
                self.sessions.discard(sid)
                return 200, "", "text/plain", headers
            return 200, sid, "text/plain", headers
        if path == "/data/auth":
            return 200, f"User '{user}' is logged in", "text/plain", headers
        if path == "/data/projects":
            return 200, '{"ResultSet": {"Result": [], "totalRecords": "0"}}', "application/json", headers
        return 404, f"No resource at {path}", "text/plain", headers


def make_session(double: Double, cls=XNATSession, password="admin"):
    """Connect to the double in-process: the real connect path, no schemas, no heartbeat."""
    session = xnat.connect(BASE, user="admin", password=password, verify=False, no_parse_model=True,
                           keepalive=False, cli=cls is BaseXNATSession, transport=WSGIAdapter(double))
    assert type(session) is cls
    return session


@pytest.fixture()
def double():
    return Double()


def test_login_takes_one_request_then_rides_the_cookie(double):
    session = make_session(double)
    assert [(m, p) for m, p, _ in double.log] == [("GET", "/data/JSESSION")]
    assert double.log[0][2] is not None
    assert session.logged_in_user == "admin"  # the server refuses wrong credentials with 401
    assert session.jsession in double.sessions
    session.get("/data/projects")
    assert double.log[-1][2] is None  # no Basic auth after login


def test_session_expiration_time_is_parsed(double):
    session = make_session(double)
    stamp, timeout = session.session_expiration_time
    assert timeout == 900 and stamp.year == 2023
    assert session._default_keepalive_interval() == 450


def test_wrong_password_names_server_and_user_but_not_the_password(double):
    with pytest.raises(XNATLoginFailedError) as info:
        make_session(double, password="s3cret-pw")
    message = str(info.value)
    assert BASE in message and "'admin'" in message and "401" in message
    assert "s3cret-pw" not in message and "user name and password" in message


def test_login_page_with_status_200_is_an_auth_error(double):
    session = make_session(double)
    double.routes[("GET", "/data/projects")] = (200, LOGIN_PAGE, "text/html")
    with pytest.raises(XNATAuthError, match="returned a login page"):
        session.get("/data/projects")


def test_html_error_page_with_200_is_a_response_error_with_its_title(double):
    session = make_session(double)
    double.routes[("GET", "/data/projects")] = (200, TOMCAT_500, "text/html")
    with pytest.raises(XNATResponseError, match="HTML page instead of data"):
        session.get("/data/projects")
    # format=html is asked for on purpose: no error
    assert session.get("/data/projects", format="html").status_code == 200


def test_500_message_has_method_url_status_and_stripped_reason(double):
    session = make_session(double)
    double.routes[("GET", "/data/projects")] = (500, TOMCAT_500, "text/html")
    with pytest.raises(XNATResponseError) as info:
        session.get("/data/projects", query={"secret": "abc"})
    error = info.value
    assert error.status_code == 500 and error.method == "GET"
    message = str(error)
    assert message.startswith(f"GET {BASE}/data/projects?secret=*** returned 500: HTTP Status 500")
    assert "<h3>" not in message and "abc" not in message and "XNAT server log" in message


def test_missing_object_says_what_to_check(double):
    session = make_session(double)
    with pytest.raises(XNATResponseError, match=r"returned 404: No resource at /data/nothing \(not found: check"):
        session.get("/data/nothing")


def test_get_json_on_a_non_json_body(double):
    session = make_session(double)
    double.routes[("GET", "/data/projects")] = (200, "plain words", "text/plain")
    with pytest.raises(XNATResponseError, match="expected JSON but got text/plain"):
        session.get_json("/data/projects")


def test_accepted_status_and_skip_response_check(double):
    session = make_session(double)
    assert session.get("/data/nothing", accepted_status=[404]).status_code == 404
    session.skip_response_check = True
    assert session.get("/data/nothing").status_code == 404


def test_context_path_is_found_after_a_404(double):
    double.context = "/xnat"
    session = make_session(double)
    assert session.server == f"{BASE}/xnat"
    assert session.original_uri == BASE
    assert session.get_json("/data/projects")["ResultSet"]["totalRecords"] == "0"
    assert session.url_for("/data/projects") == f"{BASE}/xnat/data/projects"


def test_paths_and_urls(double):
    session = make_session(double)
    assert session._format_uri("/data/projects", format="json", query={"columns": "ID,label"}) == \
        f"{BASE}/data/projects?columns=ID%2Clabel&format=json"
    assert session._format_uri(f"{BASE}/data/projects?x=1", query={"y": [1, 2]}) == \
        f"{BASE}/data/projects?x=1&y=1&y=2"
    assert session._format_uri("/data/a b/c") == f"{BASE}/data/a b/c"
    query = {"a": "1"}
    session._format_uri("/data/x", format="json", query=query)
    assert query == {"a": "1"}  # the caller's dict is not changed
    assert session.url_for("/data/projects", scheme="https") == "https://xnat.test/data/projects"

    class Obj:
        fulluri = "/data/projects/P"

    assert session.url_for(Obj(), query={"format": "xml"}) == f"{BASE}/data/projects/P?format=xml"


@pytest.mark.parametrize("path, words", [
    ("data/projects", "should start with a /"),
    ("https://elsewhere.example.org/data/projects", "not on this session's server"),
    ("", "non-empty string"),
    (None, "non-empty string"),
])
def test_bad_paths_are_refused_before_any_request(double, path, words):
    session = make_session(double)
    before = len(double.log)
    with pytest.raises(XNATValueError, match=words):
        session.get(path)
    assert len(double.log) == before
    with pytest.raises(XNATValueError):
        session.url_for(object())


def test_disconnect_logs_out_and_then_everything_raises_not_connected(double):
    session = make_session(double)
    jsession = session.jsession
    session.disconnect()
    assert jsession not in double.sessions
    assert double.log[-1][:2] == ("DELETE", "/data/JSESSION")
    for call in (lambda: session.get("/data/projects"), lambda: session.interface,
                 lambda: session.put("/data/x")):
        with pytest.raises(XNATNotConnectedError):
            call()
    with pytest.raises(XNATNotConnectedError, match="disconnected: call xnat.connect"):
        session.delete("/data/x")
    with pytest.raises(XNATNotConnectedError):
        session.keepalive = True
    session.disconnect()  # idempotent
    assert "disconnected" in repr(session)


def test_cli_session_keeps_the_server_session_on_disconnect(double):
    session = make_session(double, cls=BaseXNATSession)
    jsession = session.jsession
    with session:
        pass
    assert jsession in double.sessions
    assert ("DELETE", "/data/JSESSION") not in [(m, p) for m, p, _ in double.log]


def test_expired_session_logs_in_again_and_replays_the_request(double):
    session = make_session(double)
    first = session.jsession
    double.sessions.clear()  # the server forgot us (timeout or restart)
    assert session.get_json("/data/projects")["ResultSet"]["totalRecords"] == "0"
    assert session.jsession != first and session.logins == 2


def test_expired_session_without_password_says_to_connect_again(double):
    session = make_session(double)
    session._credentials = Credentials("admin", None, "jsession")
    double.sessions.clear()
    with pytest.raises(XNATExpiredCredentialsError, match="connect"):
        session.get("/data/projects")


def test_repr_has_server_and_user_and_no_secrets(double):
    session = make_session(double)
    text = repr(session)
    assert BASE in text and "admin" in text and session.jsession not in text


def test_save_config_leaves_password_out_unless_asked(double, tmp_path):
    import json
    session = make_session(double)
    plain = json.loads(open(session.save_config(tmp_path / "a.cfg")).read())
    assert "password" not in plain and plain["user"] == "admin" and plain["server"] == BASE
    full = json.loads(open(session.save_config(tmp_path / "b.cfg", include_password=True)).read())
    assert full["password"] == "admin"
    session._credentials = Credentials(None, None, "anonymous")
    with pytest.raises(XNATValueError, match="no password to save"):
        session.save_config(tmp_path / "c.cfg", include_password=True)


def test_password_expired_message_from_server(double):
    double.routes[("GET", "/data/JSESSION")] = (403, "Your password has expired", "text/plain")
    with pytest.raises(XNATExpiredCredentialsError, match="password has expired"):
        make_session(double)


def test_login_answered_by_a_web_page(double):
    double.routes[("GET", "/data/JSESSION")] = (200, LOGIN_PAGE, "text/html")
    with pytest.raises(XNATLoginFailedError, match="web page"):
        make_session(double)


def test_keepalive_switch_and_interval(double):
    session = make_session(double)
    try:
        with pytest.raises(TypeError):
            session.keepalive = "yes"
        session.keepalive = 30
        assert session.keepalive and session.keepalive_thread.interval == 30
        session.keepalive = False
        assert not session.keepalive
        session.keepalive = True
        assert session.keepalive and session.keepalive_thread.interval == 30
    finally:
        session.disconnect()
    assert not session.keepalive_thread.running


def test_http_to_https_redirect_is_followed_and_adopted():
    """A server that sends http:// to https:// is used over https from then on."""

    class Redirecting(Double):
        def __call__(self, environ, start_response):
            if environ["wsgi.url_scheme"] == "http":
                self.log.append((environ["REQUEST_METHOD"], "http:" + environ["PATH_INFO"], None))
                start_response("301 Moved", [("Location", "https://xnat.test" + environ["PATH_INFO"])])
                return [b""]
            return super().__call__(environ, start_response)

    double = Redirecting()
    session = make_session(double)  # the transport serves the host over http and https
    assert session.server == "https://xnat.test" and session.original_uri == BASE
    assert session.logged_in_user == "admin"
    before = len(double.log)
    session.get("/data/projects")
    assert [p for _, p, _ in double.log[before:]] == ["/data/projects"]  # straight to https
    assert session.url_for("http://xnat.test/data/projects") == "https://xnat.test/data/projects"
