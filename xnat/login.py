"""Logging a session in: one request that authenticates and opens a server session.

The flow:

1. ``GET /data/JSESSION`` with Basic auth (user and password, or alias token and secret),
   or without auth for anonymous access; with ``auth_provider`` (LDAP, ...) it is
   ``PUT /data/services/auth`` with the form fields xnatpy sends. The server answers with the
   session id and sets the ``JSESSIONID`` cookie, which every later request rides: no Basic
   auth goes out again. A 404 makes us look for a context path such as ``/xnat`` with one
   ``GET /``.
2. Only when the answer does not already say who we are: ``GET /data/auth`` (who the server
   thinks we are, ``logged_in_user``). A server answers Basic auth (or the provider's form)
   with wrong credentials by 401, so a session id for a user name and password is that
   user's, and an anonymous one is a guest's; an alias token names no user, so a token
   login asks. A login is thus one request, or two with a token.

Redirects of the login request are followed here, by hand, because the request carries the
password: **credentials go only to the server the user named**, or to an https upgrade of
it (same host; the same port or 443). A redirect or a discovered context path that leads to
another host or port is refused with :class:`~xnat.exceptions.XNATLoginFailedError` naming
both URLs (connect to the final URL directly), unless the caller trusts redirects
(``connect(..., trust_redirect=True)``). With ``detect_redirect`` the server URL found on
the way becomes the session's base URL.
``jsession=`` reuse skips step 1.

The functions here know nothing of the session (the way httpx's auth flows yield requests
instead of reaching into the client): they are given a way to send a request (``send``,
the session's raw sender), the cookie jar the session rides and the base URL, and return
a :class:`LoginResult` saying what they established (the session id, the user, the base
URL after redirects), which the session then applies.

Failures say which server and which user, never the password, and are
:class:`~xnat.exceptions.XNATLoginFailedError` (refused credentials),
:class:`~xnat.exceptions.XNATExpiredCredentialsError` or
:class:`~xnat.exceptions.XNATAuthError` (anonymous access not allowed).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from http.cookiejar import Cookie, CookieJar
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from requests.cookies import RequestsCookieJar

from .auth import Credentials
from .exceptions import (
    XNATAuthError,
    XNATExpiredCredentialsError,
    XNATLoginFailedError,
    XNATResponseError,
    redact,
    server_reason,
)
from .transport import Timeout

__all__ = ["LoginResult", "Send", "check_auth", "clear_jsession", "login", "may_receive_credentials",
           "reuse_jsession", "set_jsession_cookie"]

logger = logging.getLogger(__name__)

_LOGGED_IN = re.compile(r"User '(?P<user>[^']*)' is logged in")
_LOGGED_IN_HTML = re.compile(r'<span id="user_info">Logged in as: *(?:&nbsp;)*<a[^>]*>(?P<user>[^<]+)</a>')
_SESSION_ID = re.compile(r"^[A-Za-z0-9._\-]{8,200}$")
_GUESTS = ("guest", "anonymous")
_LOGIN_PATHS = ("/data/JSESSION", "/data/services/auth")
_MAX_REDIRECTS = 5


class Send(Protocol):
    """How the login flow sends a request: a full URL, requests' keyword arguments, errors translated."""

    def __call__(self, method: str, url: str, timeout: Timeout | None = None, **kwargs: Any) -> requests.Response:
        ...


@dataclass(frozen=True)
class LoginResult:
    """What a login established, for the session to apply."""

    #: The server-side session id (``JSESSIONID``), already in the cookie jar.
    jsession: str
    #: The user the server reports, ``None`` for a guest session.
    user: str | None
    #: The base URL to use from now on (after a redirect or a discovered context path).
    base: str


def _who(credentials: Credentials) -> str:
    if credentials.anonymous:
        return "anonymously"
    kind = "alias token" if credentials.is_token else "user"
    return f"as {kind} {credentials.user!r}"


def _jsession_cookies(cookies: CookieJar) -> list[Cookie]:
    return [cookie for cookie in list(cookies) if cookie.name == "JSESSIONID"]


def clear_jsession(cookies: CookieJar) -> None:
    """Forget every ``JSESSIONID`` cookie (several would make ``cookies.get`` ambiguous)."""
    for cookie in _jsession_cookies(cookies):
        cookies.clear(cookie.domain, cookie.path, cookie.name)


def set_jsession_cookie(cookies: RequestsCookieJar, base: str, jsession: str) -> None:
    """Put ``JSESSIONID`` in the jar for ``base``'s host.

    ``http.cookiejar`` matches a dotless host such as ``localhost`` as ``localhost.local``.
    """
    host = urlsplit(base).hostname or ""
    domain = host if "." in host else f"{host}.local"
    clear_jsession(cookies)
    cookies.set("JSESSIONID", jsession, domain=domain, path="/")


def login(send: Send, cookies: RequestsCookieJar, base: str, credentials: Credentials,
          auth_provider: str | None = None, detect_redirect: bool = True,
          timeout: Timeout | None = None, trust_redirect: bool = False,
          known_user: str | None = None) -> LoginResult:
    """Open a server session for ``credentials``; what it established, to be applied by the caller.

    ``trust_redirect``: log in where a redirect or context path leads even when it is another
    host or port (by default that is refused, so that the password stays with ``base``).
    ``known_user``: whose the credentials are when they do not say (an alias token issued for
    that user, as a pickled session's recipe carries it), so that the login need not ask.
    """
    clear_jsession(cookies)
    named = base
    response, found = _login_following(send, base, credentials, auth_provider, timeout, trust_redirect)
    if detect_redirect:
        base = found
        if response.status_code == 404:
            context = _find_context_path(send, base, timeout)
            if context is not None:
                _check_destination(named, context, credentials, trust_redirect)
                base = context
                clear_jsession(cookies)
                response, base = _login_following(send, base, credentials, auth_provider, timeout, trust_redirect,
                                                   named)
    jsession = _read_session_id(cookies, base, response, credentials)
    user = _known_user(credentials) or (known_user if not credentials.anonymous else None)
    if user is None and not credentials.anonymous:
        user = check_auth(send, base, credentials, timeout)
    logger.info("Logged in to %s %s", base, _who(credentials))
    return LoginResult(jsession, user, base)


def _known_user(credentials: Credentials) -> str | None:
    """The user a successful login is for, when the credentials say it (a name, not a token)."""
    if credentials.anonymous or credentials.is_token:
        return None
    return credentials.user


def _login_request(send: Send, base: str, credentials: Credentials, auth_provider: str | None,
                   timeout: Timeout | None) -> requests.Response:
    # Never let requests follow a redirect with the password: _login_following decides where it may go.
    if credentials.anonymous:
        return send("GET", base + "/data/JSESSION", timeout=timeout, allow_redirects=False)
    if auth_provider:
        form = {"username": credentials.user, "password": credentials.password or "",
                "provider": auth_provider}
        return send("PUT", base + "/data/services/auth", data=form, timeout=timeout, allow_redirects=False)
    return send("GET", base + "/data/JSESSION", timeout=timeout, allow_redirects=False,
                auth=(credentials.user or "", credentials.password or ""))


def _login_following(send: Send, base: str, credentials: Credentials, auth_provider: str | None,
                     timeout: Timeout | None, trust_redirect: bool,
                     named: str | None = None) -> tuple[requests.Response, str]:
    """The login request, its redirects followed by hand; the last answer and the base it came from."""
    named = named or base
    for _ in range(_MAX_REDIRECTS + 1):
        response = _login_request(send, base, credentials, auth_provider, timeout)
        location = response.headers.get("Location") if response.is_redirect else None
        new_base = _login_base(urljoin(response.url, location)) if location else None
        if new_base is None:
            return response, base  # an answer, or a redirect elsewhere (a login page): judged by the caller
        response.close()
        _check_destination(named, new_base, credentials, trust_redirect)
        logger.info("%s redirects to %s; using that", base, new_base)
        base = new_base
    raise XNATLoginFailedError(f"Login to {named} {_who(credentials)} failed: more than {_MAX_REDIRECTS} redirects")


def _login_base(url: str) -> str | None:
    """The base URL of a login endpoint URL (``.../data/JSESSION``), else None."""
    path_url = url.split("?", 1)[0]
    for suffix in _LOGIN_PATHS:
        if path_url.endswith(suffix):
            return path_url[: -len(suffix)]
    return None


def may_receive_credentials(named: str, other: str) -> bool:
    """Whether credentials meant for ``named`` may go to ``other``: the same server, or its https upgrade.

    The same host is required; the port must stay the same, except that ``http`` may become
    ``https`` on the default port 443. Going from https back to http never qualifies.
    """
    old, new = urlsplit(named), urlsplit(other)
    if (old.hostname or "").lower() != (new.hostname or "").lower() or not old.hostname:
        return False
    defaults = {"http": 80, "https": 443}
    old_port = old.port or defaults.get(old.scheme)
    new_port = new.port or defaults.get(new.scheme)
    if old.scheme == new.scheme:
        return old_port == new_port
    return old.scheme == "http" and new.scheme == "https" and new_port in (old_port, 443)


def _check_destination(named: str, destination: str, credentials: Credentials, trust_redirect: bool) -> None:
    """Refuse to log in at ``destination`` when it is another server than the one named."""
    if trust_redirect or credentials.anonymous or may_receive_credentials(named, destination):
        return
    raise XNATLoginFailedError(
        f"Login to {named} {_who(credentials)} refused: the server redirects to {destination}, which is another "
        "host or port, and credentials go only to the server you named. If you trust it, connect to "
        f"{destination} directly (or pass trust_redirect=True)"
    )


def _find_context_path(send: Send, base: str, timeout: Timeout | None) -> str | None:
    """After a 404 on /data: look for XNAT under a context path (``/xnat``) via ``GET /``."""
    try:
        response = send("GET", base + "/", timeout=timeout)
    except Exception:  # noqa: BLE001 -- the 404 is the error to report, not this probe
        return None
    path = urlsplit(response.url).path
    for marker in ("/app/", "/data/", "/login", "/index.jsp"):
        if marker in path:
            path = path[: path.index(marker)]
            break
    else:
        return None
    parts = urlsplit(response.url)
    new_base = f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}"
    if new_base == base:
        return None
    logger.info("XNAT at %s lives under %s; using that", base, new_base)
    return new_base


def _read_session_id(cookies: RequestsCookieJar, base: str, response: requests.Response,
                     credentials: Credentials) -> str:
    _raise_for_login(base, response, credentials)
    cookie = response.cookies.get("JSESSIONID")
    body = response.text.strip().split(";", 1)[0]
    jsession = cookie or body
    if not jsession or not _SESSION_ID.match(jsession):
        raise XNATLoginFailedError(
            f"Login to {base} {_who(credentials)} failed: the server did not return a "
            "session id. Check that the URL points at an XNAT server"
        )
    if not cookie:
        set_jsession_cookie(cookies, base, jsession)
    return jsession


def _raise_for_login(base: str, response: requests.Response, credentials: Credentials) -> None:
    where = f"Login to {base} {_who(credentials)} failed"
    status = response.status_code
    reason = server_reason(response)
    text = response.text if status != 200 or "html" in response.headers.get("Content-Type", "") else ""
    if "expired" in reason.lower() and "password" in reason.lower():
        raise XNATExpiredCredentialsError(f"{where}: the password has expired; set a new one in the web interface")
    if status in (401, 403):
        if credentials.anonymous:
            raise XNATAuthError(
                f"{base} does not allow anonymous access ({status}): pass user= and password= "
                "(or set XNAT_USER/XNAT_PASS, or use a netrc file)"
            )
        what = "alias token and secret (the token may have expired)" if credentials.is_token \
            else "user name and password"
        because = f": {reason.rstrip('.')}" if reason else ""
        raise XNATLoginFailedError(f"{where}: the server answered {status}{because}. Check the {what}")
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


def check_auth(send: Send, base: str, credentials: Credentials, timeout: Timeout | None = None) -> str | None:
    """Ask the server who is logged in (``GET /data/auth``); ``None`` for a guest session."""
    response = send("GET", base + "/data/auth", timeout=timeout)
    where = f"Login to {base} {_who(credentials)} failed"
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
        logger.warning("Could not read the logged-in user from /data/auth on %s", base)
        return credentials.user
    user = match.group("user")
    if user.lower() in _GUESTS:
        if not credentials.anonymous:
            raise XNATLoginFailedError(f"{where}: the server treats the session as a guest")
        return None
    return user


def reuse_jsession(send: Send, cookies: RequestsCookieJar, base: str, jsession: str, credentials: Credentials,
                   timeout: Timeout | None = None) -> LoginResult:
    """Adopt an existing server session id instead of logging in; what it established."""
    if not _SESSION_ID.match(jsession.strip()):
        raise XNATLoginFailedError("The jsession= value is not a session id")
    jsession = jsession.strip()
    set_jsession_cookie(cookies, base, jsession)
    try:
        user = check_auth(send, base, credentials, timeout)
    except XNATLoginFailedError:
        raise XNATLoginFailedError(
            f"The session id given with jsession= is not (or no longer) valid on {base}: "
            "connect with a user and password instead"
        ) from None
    if any(cookie.value != jsession for cookie in _jsession_cookies(cookies)):
        raise XNATLoginFailedError(
            f"The session id given with jsession= is not (or no longer) valid on {base} "
            "(the server started a new session): connect with a user and password instead"
        )
    logger.info("Reusing an existing session on %s as %r", base, user)
    return LoginResult(jsession, user, base)
