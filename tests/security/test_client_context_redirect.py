"""Credentials after a context-path redirect: once the client found XNAT under ``/xnat`` on the
server the user named, it talks to that discovered address. A later request (here: moving an
experiment's primary project) that the server redirects to another port must not take the
password or the session cookie along: the discovered address is on the named origin, and
nothing else is.

The front server: ``GET /`` sends the client to ``/xnat/app/template/Login.vm`` (the context
path), ``/xnat/...`` is a real embedded XNAT, and the move (``PUT .../projects/P?primary=true``)
is answered with a redirect to another port, where a recorder keeps what it receives.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Request, Response

import xnat
from xnat.exceptions import XNATResponseError
from xnat.testing.runner import XNATServer

from .loopback import SESSION_ID, Loopback

MR = "xnat:mrSessionData"


class Catcher:
    """The other port's server: answers 200 to anything and keeps each request's credentials."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None, str | None]] = []  # (method path, Authorization, Cookie)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.seen.append((f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}",
                          environ.get("HTTP_AUTHORIZATION"), environ.get("HTTP_COOKIE")))
        return Response("moved")(environ, start_response)


def front(xnat_app: Any, elsewhere: str, status: int) -> Any:
    """XNAT under /xnat, found by GET /; a primary-project move is redirected to ``elsewhere``."""
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        path = request.path
        if path == "/":
            return Response("", 302, {"Location": "/xnat/app/template/Login.vm"})(environ, start_response)
        if not path.startswith("/xnat/"):
            return Response("Not Found", 404)(environ, start_response)
        if request.method == "PUT" and request.args.get("primary") == "true":
            target = elsewhere + request.full_path.rstrip("?")
            return Response("", status, {"Location": target})(environ, start_response)
        environ["SCRIPT_NAME"] = "/xnat"
        environ["PATH_INFO"] = path[len("/xnat"):]
        return xnat_app(environ, start_response)
    return app


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XNATServer]:
    server = XNATServer(data_dir=tmp_path_factory.mktemp("ctx"), users=["admin:admin:admin"]).start()
    auth = ("admin", "admin")
    for project in ("SRC", "DEST"):
        requests.put(f"{server.url}/data/projects/{project}", auth=auth, timeout=30).raise_for_status()
    requests.put(f"{server.url}/data/projects/SRC/subjects/S1", auth=auth, timeout=30).raise_for_status()
    requests.put(f"{server.url}/data/projects/SRC/subjects/S1/experiments/E1?xsiType={MR}", auth=auth,
                 timeout=30).raise_for_status()
    try:
        yield server
    finally:
        server.close()


# The cookie jar matches hosts, not ports (RFC 6265), and requests re-sends the jar's cookies
# on a redirect: the transport (OriginBoundSession) drops them wherever it drops Authorization.
SAME_HOST_OTHER_PORT = "127.0.0.1"


@pytest.mark.parametrize("host", [SAME_HOST_OTHER_PORT, "localhost"])
@pytest.mark.parametrize("status", [302, 307])
def test_a_move_redirected_to_another_port_after_a_context_path_carries_no_credentials(
        backend: XNATServer, status: int, host: str) -> None:
    catcher = Catcher()
    with Loopback(catcher) as other:
        elsewhere = other.url.replace("127.0.0.1", host)
        with Loopback(front(backend.app, elsewhere, status)) as named:
            with xnat.connect(named.url, user="admin", password="admin", no_parse_model=True,
                              keepalive=False) as session:
                assert session.server == named.url + "/xnat"  # the context path was found ...
                jsession = session._jsession  # the id the client would carry
                assert jsession and jsession != SESSION_ID
                experiment = session.get_json("/data/projects/SRC/experiments/E1?format=json")
                eid = experiment["items"][0]["data_fields"]["ID"]
                try:
                    session.put(f"/data/projects/SRC/experiments/{eid}/projects/DEST", query={"primary": "true"})
                except XNATResponseError:
                    pass  # refusing the redirected answer is fine too: what matters is what went out
    assert catcher.seen, "the redirect was followed: the other server was asked"
    # ... without anything that lets it in
    for request, authorization, cookie in catcher.seen:
        assert authorization is None, (request, authorization)
        assert jsession not in (cookie or ""), (request, cookie)


def _moved_login(environ: dict[str, Any], start_response: Any) -> Any:
    """A server whose login endpoint moved to /xnat, the redirect carrying a query string."""
    request = Request(environ)
    if request.path == "/data/JSESSION":
        response = Response("", 302, {"Location": "/xnat/data/JSESSION?from=%2Fdata%2FJSESSION"})
    elif request.path == "/xnat/data/JSESSION" and request.authorization:
        response = Response(SESSION_ID, headers={"Set-Cookie": f"JSESSIONID={SESSION_ID}; Path=/"})
    elif request.path == "/xnat/data/auth":
        response = Response("User 'admin' is logged in")
    else:
        response = Response("Not Found", 404)
    return response(environ, start_response)


def test_a_login_redirect_with_a_query_string_is_followed_to_the_login_endpoint() -> None:
    """The query is not part of the endpoint's path: ``/xnat/data/JSESSION?from=...`` is the
    login endpoint under ``/xnat``, so the login goes there (same origin) and the base is /xnat."""
    from xnat import login
    from xnat.auth import Credentials

    http = requests.Session()

    def send(method: str, url: str, timeout: Any = None, **kwargs: Any) -> requests.Response:
        return http.request(method, url, timeout=timeout or 10, **kwargs)

    with Loopback(_moved_login) as server, http:
        result = login.login(send, http.cookies, server.url, Credentials("admin", "admin", "argument"))
    assert (result.base, result.jsession, result.user) == (server.url + "/xnat", SESSION_ID, "admin")


def _under_xnat(root_target: str) -> Any:
    """A server with XNAT under /xnat only; ``GET /`` redirects to ``root_target``."""
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/":
            response = Response("", 302, {"Location": root_target})
        elif request.path == "/xnat/data/JSESSION" and request.authorization:
            response = Response(SESSION_ID, headers={"Set-Cookie": f"JSESSIONID={SESSION_ID}; Path=/"})
        elif request.path == "/xnat/data/auth":
            response = Response("User 'admin' is logged in")
        elif request.path.startswith("/xnat/"):
            response = Response("<html>XNAT page</html>", content_type="text/html")
        else:
            response = Response("Not Found", 404)
        return response(environ, start_response)
    return app


@pytest.mark.parametrize("root_target", ["/xnat/app/template/Login.vm", "/xnat/login", "/xnat/index.jsp",
                                         "/xnat/data/projects"])
def test_the_context_path_is_read_from_any_xnat_page_and_every_request_keeps_the_timeout(root_target: str) -> None:
    """XNAT's root redirects to its login page, ``login``, ``index.jsp`` or a /data URL: each names
    the context path. Every request of the login is sent with the caller's timeout (none may hang)."""
    from xnat import login
    from xnat.auth import Credentials

    http = requests.Session()
    timeouts: list[Any] = []

    def send(method: str, url: str, timeout: Any = None, **kwargs: Any) -> requests.Response:
        timeouts.append(timeout)
        return http.request(method, url, timeout=timeout or 10, **kwargs)

    with Loopback(_under_xnat(root_target)) as server, http:
        credentials = Credentials("admin", "admin", "argument")
        result = login.login(send, http.cookies, server.url, credentials, timeout=7.5)
        asked = login.check_auth(send, result.base, credentials, timeout=7.5)  # as a session check does
    assert (result.base, result.user, asked) == (server.url + "/xnat", "admin", "admin")
    assert timeouts and set(timeouts) == {7.5}, timeouts


def _hops(count: int) -> Any:
    """A server whose login endpoint is ``count`` redirects away: /h0 -> /h1 -> ... -> /h{count}."""
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        hop = request.path.split("/")[1] if request.path.count("/") > 2 else ""
        depth = int(hop[1:]) if hop.startswith("h") else -1
        if request.path == "/data/JSESSION":
            response = Response("", 302, {"Location": "/h1/data/JSESSION"} if count else {})
        elif request.path.endswith("/data/JSESSION") and 0 < depth < count:
            response = Response("", 302, {"Location": f"/h{depth + 1}/data/JSESSION"})
        elif request.path == f"/h{count}/data/JSESSION":
            response = Response(SESSION_ID, headers={"Set-Cookie": f"JSESSIONID={SESSION_ID}; Path=/"})
        else:
            response = Response("Not Found", 404)
        return response(environ, start_response)
    return app


@pytest.mark.parametrize(("count", "followed"), [(5, True), (6, False)])
def test_a_login_follows_five_redirects_and_no_more(count: int, followed: bool) -> None:
    """Five redirects on the same server are followed (XNAT behind proxies); a sixth is a loop."""
    from xnat import login
    from xnat.auth import Credentials
    from xnat.exceptions import XNATLoginFailedError

    http = requests.Session()

    def send(method: str, url: str, timeout: Any = None, **kwargs: Any) -> requests.Response:
        return http.request(method, url, timeout=timeout or 10, **kwargs)

    with Loopback(_hops(count)) as server, http:
        credentials = Credentials("admin", "admin", "argument")
        if followed:
            assert login.login(send, http.cookies, server.url, credentials).base == f"{server.url}/h{count}"
        else:
            with pytest.raises(XNATLoginFailedError, match="more than 5 redirects"):
                login.login(send, http.cookies, server.url, credentials)
