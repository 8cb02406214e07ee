"""Logging a session in: one request that authenticates and opens a server session.

The flow, two requests in all:

1. ``GET /data/JSESSION`` with Basic auth (user and password, or alias token and secret),
   or without auth for anonymous access; with ``auth_provider`` (LDAP, ...) it is
   ``PUT /data/services/auth`` with the form fields xnatpy sends. The server answers with the
   session id and sets the ``JSESSIONID`` cookie, which every later request rides: no Basic
   auth goes out again. Redirects (http -> https, a moved host) are read off this same
   response; a 404 makes us look for a context path such as ``/xnat`` with one ``GET /``.
2. ``GET /data/auth`` confirms who the server thinks we are (``logged_in_user``).

``jsession=`` reuse skips step 1. Failures say which server and which user, never the
password, and are :class:`~xnat.exceptions.XNATLoginFailedError` (refused credentials),
:class:`~xnat.exceptions.XNATExpiredCredentialsError` or
:class:`~xnat.exceptions.XNATAuthError` (anonymous access not allowed).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from requests.cookies import create_cookie

from .auth import Credentials
from .exceptions import (
    XNATAuthError,
    XNATExpiredCredentialsError,
    XNATLoginFailedError,
    XNATResponseError,
    redact,
    server_reason,
)

if TYPE_CHECKING:  # pragma: no cover
    from .session import BaseXNATSession

__all__ = ["check_auth", "login", "reuse_jsession"]

logger = logging.getLogger(__name__)

_LOGGED_IN = re.compile(r"User '(?P<user>[^']*)' is logged in")
_LOGGED_IN_HTML = re.compile(r'<span id="user_info">Logged in as: *(?:&nbsp;)*<a[^>]*>(?P<user>[^<]+)</a>')
_SESSION_ID = re.compile(r"^[A-Za-z0-9._\-]{8,200}$")
_GUESTS = ("guest", "anonymous")


def _who(credentials: Credentials) -> str:
    if credentials.anonymous:
        return "anonymously"
    kind = "alias token" if credentials.is_token else "user"
    return f"as {kind} {credentials.user!r}"


def clear_jsession(interface: requests.Session) -> None:
    """Forget every ``JSESSIONID`` cookie (several would make ``cookies.get`` ambiguous)."""
    for cookie in list(interface.cookies):
        if cookie.name == "JSESSIONID":
            interface.cookies.clear(cookie.domain, cookie.path, cookie.name)


def set_jsession_cookie(interface: requests.Session, base: str, jsession: str) -> None:
    """Put ``JSESSIONID`` in the jar for ``base``'s host.

    ``http.cookiejar`` matches a dotless host such as ``localhost`` as ``localhost.local``.
    """
    host = urlsplit(base).hostname or ""
    domain = host if "." in host else f"{host}.local"
    clear_jsession(interface)
    interface.cookies.set_cookie(create_cookie("JSESSIONID", jsession, domain=domain, path="/"))


def login(session: BaseXNATSession, credentials: Credentials, auth_provider: str | None = None,
          detect_redirect: bool = True) -> None:
    """Open a server session for ``credentials`` and record it on ``session``."""
    interface = session._interface
    assert interface is not None
    clear_jsession(interface)
    response = _login_request(session, credentials, auth_provider)
    if detect_redirect:
        _follow_redirect(session, response)
        if response.status_code == 404 and _find_context_path(session):
            clear_jsession(interface)
            response = _login_request(session, credentials, auth_provider)
    jsession = _read_session_id(session, response, credentials)
    user = check_auth(session, credentials)
    session._set_login(jsession, user)
    logger.info("Logged in to %s %s", session.server, _who(credentials))


def _login_request(session: BaseXNATSession, credentials: Credentials,
                   auth_provider: str | None) -> requests.Response:
    timeout = session.login_timeout
    if credentials.anonymous:
        return session._send("GET", session._format_uri("/data/JSESSION"), timeout=timeout)
    if auth_provider:
        form = {"username": credentials.user, "password": credentials.password or "",
                "provider": auth_provider}
        return session._send("PUT", session._format_uri("/data/services/auth"), data=form, timeout=timeout)
    return session._send("GET", session._format_uri("/data/JSESSION"), timeout=timeout,
                         auth=(credentials.user or "", credentials.password or ""))


def _follow_redirect(session: BaseXNATSession, response: requests.Response) -> None:
    """Adopt the base URL the server redirected us to (http -> https, another host)."""
    if not response.history:
        return
    final = response.url.split("?", 1)[0]
    for suffix in ("/data/JSESSION", "/data/services/auth"):
        if final.endswith(suffix):
            new_base = final[: -len(suffix)]
            if new_base != session.server:
                logger.info("%s redirects to %s; using that", session.server, new_base)
                session._base = new_base
            return


def _find_context_path(session: BaseXNATSession) -> bool:
    """After a 404 on /data: look for XNAT under a context path (``/xnat``) via ``GET /``."""
    try:
        response = session._send("GET", session.server + "/", timeout=session.login_timeout)
    except Exception:  # noqa: BLE001 -- the 404 is the error to report, not this probe
        return False
    path = urlsplit(response.url).path
    for marker in ("/app/", "/data/", "/login", "/index.jsp"):
        if marker in path:
            path = path[: path.index(marker)]
            break
    else:
        return False
    parts = urlsplit(response.url)
    new_base = f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}"
    if new_base == session.server:
        return False
    logger.info("XNAT at %s lives under %s; using that", session.server, new_base)
    session._base = new_base
    return True


def _read_session_id(session: BaseXNATSession, response: requests.Response,
                     credentials: Credentials) -> str:
    _raise_for_login(session, response, credentials)
    interface = session._interface
    assert interface is not None
    cookie = response.cookies.get("JSESSIONID")
    body = response.text.strip().split(";", 1)[0]
    jsession = cookie or body
    if not jsession or not _SESSION_ID.match(jsession):
        raise XNATLoginFailedError(
            f"Login to {session.server} {_who(credentials)} failed: the server did not return a "
            "session id. Check that the URL points at an XNAT server"
        )
    if not cookie:
        set_jsession_cookie(interface, session.server, jsession)
    return jsession


def _raise_for_login(session: BaseXNATSession, response: requests.Response,
                     credentials: Credentials) -> None:
    where = f"Login to {session.server} {_who(credentials)} failed"
    status = response.status_code
    reason = server_reason(response)
    text = response.text if status != 200 or "html" in response.headers.get("Content-Type", "") else ""
    if "expired" in reason.lower() and "password" in reason.lower():
        raise XNATExpiredCredentialsError(f"{where}: the password has expired; set a new one in the web interface")
    if status in (401, 403):
        if credentials.anonymous:
            raise XNATAuthError(
                f"{session.server} does not allow anonymous access ({status}): pass user= and password= "
                "(or set XNAT_USER/XNAT_PASS, or use a netrc file)"
            )
        what = "alias token and secret (the token may have expired)" if credentials.is_token \
            else "user name and password"
        raise XNATLoginFailedError(f"{where}: the server answered {status}{': ' + reason.rstrip('.') if reason else ''}. "
                                   f"Check the {what}")
    if status == 404:
        raise XNATResponseError(
            f"{where}: {redact(response.url)} was not found (404). Check the server URL: is it the "
            "XNAT base URL (it may need a context path such as /xnat)?", response=response
        )
    if status != 200:
        raise XNATResponseError(f"{where}: {response.request.method} {redact(response.url)} returned "
                                f"{status}{': ' + reason if reason else ''}", response=response)
    if text.lstrip()[:200].lower().startswith(("<!doctype", "<html")):
        raise XNATLoginFailedError(f"{where}: the server answered with a web page ({reason or 'no title'}) "
                                   "instead of a session id. Check the server URL and the credentials")


def check_auth(session: BaseXNATSession, credentials: Credentials) -> str | None:
    """Ask the server who is logged in (``GET /data/auth``); ``None`` for a guest session."""
    response = session._send("GET", session._format_uri("/data/auth"), timeout=session.login_timeout)
    where = f"Login to {session.server} {_who(credentials)} failed"
    if response.status_code in (401, 403):
        raise XNATLoginFailedError(f"{where}: the server does not accept the session ({response.status_code})")
    if response.status_code != 200:
        raise XNATResponseError(f"{where}: GET {redact(response.url)} returned {response.status_code}",
                                response=response)
    text = response.text
    match = _LOGGED_IN.search(text) or _LOGGED_IN_HTML.search(text)
    if match is None:
        if "password has expired" in text.lower():
            raise XNATExpiredCredentialsError(f"{where}: the password has expired")
        if text.lstrip()[:200].lower().startswith(("<!doctype", "<html")):
            raise XNATLoginFailedError(f"{where}: the server answered /data/auth with a login page")
        logger.warning("Could not read the logged-in user from /data/auth on %s", session.server)
        return credentials.user
    user = match.group("user")
    if user.lower() in _GUESTS:
        if not credentials.anonymous:
            raise XNATLoginFailedError(f"{where}: the server treats the session as a guest")
        return None
    return user


def reuse_jsession(session: BaseXNATSession, jsession: str, credentials: Credentials) -> None:
    """Adopt an existing server session id instead of logging in."""
    interface = session._interface
    assert interface is not None
    if not _SESSION_ID.match(jsession.strip()):
        raise XNATLoginFailedError("The jsession= value is not a session id")
    jsession = jsession.strip()
    set_jsession_cookie(interface, session.server, jsession)
    try:
        user = check_auth(session, credentials)
    except XNATLoginFailedError:
        raise XNATLoginFailedError(
            f"The session id given with jsession= is not (or no longer) valid on {session.server}: "
            "connect with a user and password instead"
        ) from None
    if any(cookie.value != jsession for cookie in interface.cookies if cookie.name == "JSESSIONID"):
        raise XNATLoginFailedError(
            f"The session id given with jsession= is not (or no longer) valid on {session.server} "
            "(the server started a new session): connect with a user and password instead"
        )
    session._set_login(jsession, user)
    logger.info("Reusing an existing session on %s as %r", session.server, user)
