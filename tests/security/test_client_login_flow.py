"""The login flow's trust decisions, driven through :func:`xnat.login.login` with a scripted server.

Where a password may go after a context path was found (judged against the URL the user
named, trusted only when the caller says so), that a stale session id never stays in the jar
next to a new one, that a reused session id the server replaced is refused, and that a guest
login is never taken for a named user's. Each case kills mutants of ``xnat/login.py`` that
the suites through a real server did not (the mutation run of issue 13).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict

from xnat.auth import Credentials
from xnat.exceptions import XNATLoginFailedError
from xnat.login import login, reuse_jsession, set_jsession_cookie

SID = "0123456789ABCDEF0123456789ABCDEF"
OLD = "FEDCBA9876543210FEDCBA9876543210"
ALICE = Credentials("alice", "secret", "test")
GUEST = Credentials(None)

#: (method, url) -> (status, Location or None, body); the URL a GET / ends on is its own entry
Script = dict[tuple[str, str], tuple[int, str | None, str]]


def answer(method: str, url: str, status: int, location: str | None = None, body: str = "",
           final_url: str | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.url = final_url or url
    response.headers = CaseInsensitiveDict({"Location": location} if location else {})
    response._content = body.encode()
    response._content_consumed = True
    response.encoding = "utf-8"
    response.request = requests.Request(method, url).prepare()
    return response


class Server:
    """A scripted server: each (method, url) has one answer; every request is kept."""

    def __init__(self, script: Script, root_ends_at: str | None = None,
                 on_request: Callable[[str, str], None] | None = None) -> None:
        self.script, self.root_ends_at, self.on_request = script, root_ends_at, on_request
        self.sent: list[tuple[str, str, Any]] = []  # (method, url, Basic auth or form)

    def __call__(self, method: str, url: str, timeout: Any = None, **kwargs: Any) -> requests.Response:
        self.sent.append((method, url, kwargs.get("auth") or kwargs.get("data")))
        if self.on_request is not None:
            self.on_request(method, url)
        if method == "GET" and url.endswith("/") and self.root_ends_at is not None:
            return answer(method, url, 200, body="<html>Login</html>", final_url=self.root_ends_at)
        status, location, body = self.script.get((method, url), (404, None, "Not Found"))
        return answer(method, url, status, location, body)

    def hosts_given_credentials(self) -> set[str]:
        return {url.split("/")[2] for _, url, secret in self.sent if secret}


def _login(server: Server, base: str, credentials: Credentials = ALICE, **options: Any) -> Any:
    return login(server, RequestsCookieJar(), base, credentials, **options)


def test_after_a_context_path_a_login_redirect_to_another_port_is_refused() -> None:
    server = Server({("GET", "http://h:8000/xnat/data/JSESSION"): (302, "http://h:9000/xnat/data/JSESSION", "")},
                    root_ends_at="http://h:8000/xnat/app/template/Login.vm")
    with pytest.raises(XNATLoginFailedError, match="another host or port"):
        _login(server, "http://h:8000")
    assert server.hosts_given_credentials() == {"h:8000"}


def test_after_a_context_path_redirects_are_judged_against_the_url_the_user_named() -> None:
    # named http://h:8080, XNAT found under https://h/xnat (an https upgrade: allowed), whose login
    # then moves to https://h:8080 (an https upgrade of the named URL: allowed, though not of https://h)
    server = Server({
        ("GET", "https://h/xnat/data/JSESSION"): (302, "https://h:8080/xnat/data/JSESSION", ""),
        ("GET", "https://h:8080/xnat/data/JSESSION"): (200, None, SID),
    }, root_ends_at="https://h/xnat/app/template/Login.vm")
    result = _login(server, "http://h:8080")
    assert (result.base, result.jsession, result.user) == ("https://h:8080/xnat", SID, "alice")


def test_trusting_redirects_covers_the_context_path_and_the_login_after_it() -> None:
    server = Server({
        ("GET", "http://h:9000/xnat/data/JSESSION"): (302, "http://h:9100/xnat/data/JSESSION", ""),
        ("GET", "http://h:9100/xnat/data/JSESSION"): (200, None, SID),
    }, root_ends_at="http://h:9000/xnat/app/template/Login.vm")
    with pytest.raises(XNATLoginFailedError, match="another host or port"):
        _login(server, "http://h:8000")
    result = _login(server, "http://h:8000", trust_redirect=True)
    assert (result.base, result.jsession) == ("http://h:9100/xnat", SID)


def test_a_stale_session_id_never_stays_next_to_a_new_one() -> None:
    cookies = RequestsCookieJar()
    cookies.set("JSESSIONID", OLD, domain="h.local", path="/xnat")
    server = Server({("GET", "http://h/data/JSESSION"): (200, None, SID)})
    result = login(server, cookies, "http://h", ALICE)
    assert result.jsession == SID
    assert [c.value for c in cookies if c.name == "JSESSIONID"] == [SID]
    set_jsession_cookie(cookies, "http://h", OLD)
    assert [c.value for c in cookies if c.name == "JSESSIONID"] == [OLD]


def test_a_reused_session_id_the_server_replaced_is_refused() -> None:
    cookies = RequestsCookieJar()

    def new_session(method: str, url: str) -> None:  # the server started a session of its own
        cookies.set("JSESSIONID", SID, domain="h.local", path="/xnat")

    server = Server({("GET", "http://h/data/auth"): (200, None, "User 'guest' is logged in")},
                    on_request=new_session)
    with pytest.raises(XNATLoginFailedError, match="started a new session"):
        reuse_jsession(server, cookies, "http://h", OLD, GUEST)


def test_a_guest_login_is_never_taken_for_a_named_users() -> None:
    server = Server({("GET", "http://h/data/JSESSION"): (200, None, SID)})
    assert _login(server, "http://h", GUEST, known_user="alice").user is None
    assert _login(server, "http://h", ALICE, known_user="bob").user == "alice"
