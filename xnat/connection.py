"""The REST core of a session: verbs, sending, answer checks, login state, keep-alive, server info.

:class:`Connection` holds one logged-in connection to an XNAT server. It logs in once
(the flow is in :mod:`xnat.login`, which returns what it established and leaves applying it
to the connection) and then rides the ``JSESSIONID`` cookie: no Basic auth goes out with
ordinary requests. When the server's session expires and the password (or token secret) is
known, it logs in again by itself, from the keep-alive thread or from the first request that
meets the expiry.

The verbs (:meth:`~Connection.get`, ``head``, ``put``, ``post``, ``delete``, ``get_json``)
take xnatpy's parameters and raise :class:`~xnat.exceptions.XNATResponseError` for a status
the call does not accept, naming method, URL, status and the server's reason.

A connection is safe to share between threads: requests' connection pool and cookie jar are
thread-safe, and the login state is guarded by a lock.

This module imports only the layers below it (transport, login, auth, keep-alive,
exceptions); :mod:`xnat.session` assembles the session classes from :class:`Connection` and
the mixins of the object and services layers.
"""

from __future__ import annotations

import collections
import datetime
import logging
import re
import threading
import time
import weakref
from collections.abc import Container, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

import requests

from . import login
from .auth import Credentials, write_config
from .exceptions import (
    XNATAuthError,
    XNATExpiredCredentialsError,
    XNATNotConnectedError,
    XNATResponseError,
    XNATValueError,
    describe_response,
    redact,
)
from .keepalive import KeepAlive, interval_for_timeout
from .transport import (
    DEFAULT_MIN_RATE,
    DEFAULT_RATE_WINDOW,
    DEFAULT_REQUEST_DEADLINE,
    Timeout,
    read_body,
    response_json,
    set_answer_deadline,
    translate_request_error,
)

__all__ = ["HEARTBEAT_TIMEOUT", "Connection"]

#: The default logger is the one xnatpy users configure: ``xnat.session``.
_default_logger = logging.getLogger("xnat.session")
_C = TypeVar("_C", bound="Connection")

#: How many of the latest requests the round-trip estimate looks at.
_ROUND_TRIP_WINDOW = 16
#: Heartbeats get a short timeout of their own: a hung heartbeat must not hold the thread.
HEARTBEAT_TIMEOUT = 10.0

_HINTS = {
    400: "the server did not accept the request: check the parameters",
    401: "not logged in: check the user name and password, or log in again",
    403: "the user has no permission for this: check the project's access settings",
    404: "not found: check the path, the ID or label, and that the object exists",
    409: "the request conflicts with the object's current state",
    422: "the server could not resolve the IDs or labels given",
}


def _hint(status: int) -> str:
    if status in _HINTS:
        return _HINTS[status]
    if status >= 500:
        return "the server failed while handling the request: see the XNAT server log"
    return ""


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html"))


def _is_login_page(text: str) -> bool:
    lowered = text.lower()
    return any(mark in lowered for mark in ("login.vm", "j_username", 'name="username"', "id=\"login_form\"",
                                            "/app/template/login", "login_box"))


class Connection:
    """The REST core of a session to one XNAT server (see the module docstring).

    :meth:`disconnect` stops the keep-alive and closes the connections; it logs out on the
    server (``DELETE /data/JSESSION``) only when ``_logout_on_disconnect`` is true, as in
    :class:`xnat.session.XNATSession`.
    """

    #: Whether disconnect() logs out on the server (DELETE /data/JSESSION).
    _logout_on_disconnect = False

    def __init__(
        self,
        server: str,
        interface: requests.Session,
        credentials: Credentials | None = None,
        logger: logging.Logger | None = None,
        debug: bool = False,
        default_timeout: Timeout | None = 300.0,
        auth_provider: str | None = None,
        original_uri: str | None = None,
    ) -> None:
        self._base = server.rstrip("/")
        self._original_uri = (original_uri or server).rstrip("/")
        self._interface: requests.Session | None = interface
        self._verify = interface.verify
        self._credentials = credentials or Credentials(None, None, "anonymous")
        self._auth_provider = auth_provider
        self._logger = logger or _default_logger
        self._debug = debug
        self.request_timeout = default_timeout
        #: Timeout of the login requests (``pilot_timeout``); ``None`` means request_timeout.
        self.login_timeout: Timeout | None = None
        #: Log in where a redirect leads even on another host or port (``connect(trust_redirect=)``).
        self.trust_redirect = False
        self.request_deadline = DEFAULT_REQUEST_DEADLINE
        #: The slowest a transfer may be (bytes/s over ``transfer_rate_window`` seconds); None: no rule.
        self.min_transfer_rate: float | None = DEFAULT_MIN_RATE
        self.transfer_rate_window: float = DEFAULT_RATE_WINDOW
        self._lock = threading.RLock()
        self._connected = True
        self._jsession: str | None = None
        self._logged_in_user: str | None = None
        self._info_cache: dict[str, Any] = {}
        # Seconds to the answer's headers of the latest requests (the round-trip estimate).
        self._round_trips: collections.deque[float] = collections.deque(maxlen=_ROUND_TRIP_WINDOW)
        self._keepalive: KeepAlive | None = None
        self.logins = 0  # how many times this session logged in (1 + re-logins)
        self.accepted_status_get: list[int] = [200]
        self.accepted_status_head: list[int] = [200]
        self.accepted_status_post: list[int] = [200, 201]
        self.accepted_status_put: list[int] = [200, 201]
        self.accepted_status_delete: list[int] = [200]
        self.skip_response_check = False
        self.skip_response_content_check = False
        self.caching = True
        # On garbage collection: stop the thread, close sockets. No network I/O, not at exit.
        self._finalizer = weakref.finalize(self, _release, None, interface)
        self._finalizer.atexit = False

    # ----------------------------------------------------------------- properties
    @property
    def interface(self) -> requests.Session:
        """The underlying ``requests.Session``."""
        self._check_connection()
        return self._interface  # type: ignore[return-value]

    @property
    def server(self) -> str:
        """The base URL of the server in use (after redirects), without trailing slash."""
        return self._base

    @property
    def original_uri(self) -> str:
        """The server URL as given to :func:`xnat.connect`."""
        return self._original_uri

    @property
    def uri(self) -> str:
        return "/data/archive"

    @property
    def fulluri(self) -> str:
        return self.uri

    @property
    def xnat_session(self: _C) -> _C:
        return self

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    @property
    def debug(self) -> bool:
        return self._debug

    @property
    def connected(self) -> bool:
        """False once :meth:`disconnect` has run."""
        return self._connected

    @property
    def logged_in_user(self) -> str | None:
        """The user name the server reports for this session (``None`` when anonymous)."""
        return self._logged_in_user

    @property
    def jsession(self) -> str | None:
        """The server-side session id (``JSESSIONID``). Never logged; keep it private."""
        return self._jsession

    @property
    def credentials_source(self) -> str:
        """Where the credentials came from: argument, environment, netrc, prompt, ..."""
        return self._credentials.source

    @property
    def round_trip(self) -> float | None:
        """Seconds to the server and back, estimated: the quickest answer (time to its headers)
        among the latest requests, so a slow request does not count; ``None`` before any request.

        It is what :mod:`xnat.transfer.plan` weighs when choosing how to move many files.
        """
        trips = list(self._round_trips)
        return min(trips) if trips else None

    @property
    def session_expiration_time(self) -> tuple[datetime.datetime, float] | None:
        """``(last refresh, timeout in seconds)`` from the ``SESSION_EXPIRATION_TIME`` cookie."""
        if self._interface is None:
            return None
        value = self._interface.cookies.get("SESSION_EXPIRATION_TIME")
        if value is None:
            return None
        match = re.match(r'^"?(\d+),(\d+)"?$', value.strip())
        if match is None:
            self._logger.warning("Could not parse the SESSION_EXPIRATION_TIME cookie %r", value)
            return None
        stamp = datetime.datetime.fromtimestamp(int(match.group(1)) / 1000)
        return stamp, int(match.group(2)) / 1000

    def __repr__(self) -> str:
        state = "" if self._connected else " (disconnected)"
        user = self._logged_in_user or "anonymous"
        return f"<{type(self).__name__} {self._base} user={user!r}{state}>"

    # ----------------------------------------------------------------- URLs
    def _strip_uri(self, uri: str) -> str:
        for base in (self._base, self._original_uri):
            if base and (uri == base or uri.startswith((base + "/", base + "?"))):
                return uri[len(base):] or "/"
        return uri

    def _format_uri(self, path: str, format: str | None = None,
                    query: Mapping[str, Any] | None = None, scheme: str | None = None) -> str:
        if not isinstance(path, str) or not path:
            raise XNATValueError(f"A request path must be a non-empty string such as /data/projects, not {path!r}")
        path = self._strip_uri(path)
        if "://" in path.split("?", 1)[0]:
            raise XNATValueError(
                f"The URL {redact(path)} is not on this session's server {self._base}: "
                "give a path such as /data/projects"
            )
        if not path.startswith("/"):
            raise XNATValueError(f"The request path should start with a / (e.g. /data/projects), found {path!r}")
        query = dict(query or {})
        if format is not None:
            query["format"] = format
        path, _, existing = path.partition("?")
        parts = [existing] if existing else []
        if query:
            parts.append(urlencode(query, safe="/", doseq=True))
        base = self._base
        if scheme is not None:
            base = f"{scheme}://{base.split('://', 1)[1]}"
        url = base + path
        return f"{url}?{'&'.join(parts)}" if parts else url

    def url_for(self, obj: Any, query: Mapping[str, Any] | None = None, scheme: str | None = None) -> str:
        """The full URL of an XNAT object (anything with ``fulluri``/``uri``) or of a path."""
        path = obj if isinstance(obj, str) else getattr(obj, "fulluri", None) or getattr(obj, "uri", None)
        if not isinstance(path, str):
            raise XNATValueError(f"Cannot make a URL for {type(obj).__name__}: it has no uri")
        return self._format_uri(path, query=query, scheme=scheme)

    # ----------------------------------------------------------------- requests
    def _check_connection(self) -> None:
        if not self._connected or self._interface is None:
            raise XNATNotConnectedError(
                f"The session to {self._base} was disconnected: call xnat.connect() again"
            )

    def request(
        self,
        method: str,
        path: str,
        *,
        format: str | None = None,
        query: Mapping[str, Any] | None = None,
        accepted_status: Container[int] | None = None,
        timeout: Timeout | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        relogin: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request and check its answer; the verbs below all come here.

        ``kwargs`` go to requests (``data``, ``json``, ``files``, ``allow_redirects``).
        With ``accepted_status=None`` the verb's ``accepted_status_<verb>`` applies.
        """
        self._check_connection()
        method = method.upper()
        url = self._format_uri(path, format=format, query=query)
        jsession = self._jsession
        response = self._send(method, url, timeout=timeout, headers=headers, stream=stream, **kwargs)
        if relogin and self._session_lost(response, jsession) and _replayable(kwargs):
            response.close()
            self.relogin(stale_jsession=jsession)
            response = self._send(method, url, timeout=timeout, headers=headers, stream=stream, **kwargs)
        if accepted_status is None:
            accepted_status = getattr(self, f"accepted_status_{method.lower()}", [200])
        self._check_response(response, accepted_status, format=format, stream=stream)
        return response

    def _send(self, method: str, url: str, timeout: Timeout | None = None, stream: bool = False,
              **kwargs: Any) -> requests.Response:
        """The raw request: default timeout, the session's TLS setting, errors translated.

        A request that is not streamed is read to its end within :attr:`request_deadline`.
        """
        interface = self._interface
        if interface is None:
            self._check_connection()
        if self._debug:
            self._logger.debug("%s %s", method, redact(url))
        started = time.monotonic()
        try:
            response = interface.request(  # type: ignore[union-attr]
                method, url,
                timeout=timeout if timeout is not None else self.request_timeout,
                verify=self._verify, stream=True, **kwargs,
            )
            if not stream:
                read_body(response, self.request_deadline, started)
        except requests.RequestException as error:
            raise translate_request_error(error, method, url) from None
        self._round_trips.append(response.elapsed.total_seconds())
        if self._debug:
            self._logger.debug("%s %s -> %s", method, redact(url), response.status_code)
        return response

    @property
    def request_deadline(self) -> float | None:
        """Seconds an ordinary (not streamed) request may take in all, body included; None: no bound.

        Every request's answer, streamed ones included, must also begin (status line and
        headers) within it of being sent: the transport holds it to that.
        """
        return self._request_deadline

    @request_deadline.setter
    def request_deadline(self, seconds: float | None) -> None:
        self._request_deadline = seconds
        if self._interface is not None:
            set_answer_deadline(self._interface, seconds)

    def _session_lost(self, response: requests.Response, jsession: str | None) -> bool:
        """Whether the server no longer knows our session (it expired, or the server restarted)."""
        if self._credentials.anonymous or jsession is None:
            return False
        if response.status_code == 401:
            return True
        # A server that allows guests answers an expired session as a new guest session.
        new = response.cookies.get("JSESSIONID")
        return bool(new) and new != jsession

    def _check_response(self, response: requests.Response, accepted_status: Container[int],
                        format: str | None = None, stream: bool = False) -> None:
        if self.skip_response_check:
            return
        if response.status_code not in accepted_status:
            message = describe_response(response)
            hint = _hint(response.status_code)
            raise XNATResponseError(f"{message} ({hint})" if hint else message, response=response)
        if stream or self.skip_response_content_check or format == "html" or response.status_code == 204:
            return
        if "/files/" in response.url or response.request.method == "HEAD":
            return  # file contents are whatever the user stored, HTML included
        text = response.text
        if not _looks_like_html(text):
            return
        if _is_login_page(text):
            raise XNATAuthError(
                f"{response.request.method} {redact(response.url)} returned a login page instead of "
                "data: the session is not logged in (it may have expired); connect again"
            )
        raise XNATResponseError(
            describe_response(response, "the server returned an HTML page instead of data"), response=response
        )

    def get(self, path: str, format: str | None = None, query: Mapping[str, Any] | None = None,
            accepted_status: Container[int] | None = None, timeout: Timeout | None = None,
            headers: Mapping[str, str] | None = None, *, stream: bool = False) -> requests.Response:
        """GET ``path`` (or a full URL on this server); accepted status default ``[200]``."""
        return self.request("GET", path, format=format, query=query, accepted_status=accepted_status,
                            timeout=timeout, headers=headers, stream=stream)

    def head(self, path: str, accepted_status: Container[int] | None = None, allow_redirects: bool = False,
             timeout: Timeout | None = None, headers: Mapping[str, str] | None = None) -> requests.Response:
        """HEAD ``path``; accepted status default ``[200]``."""
        return self.request("HEAD", path, accepted_status=accepted_status, timeout=timeout,
                            headers=headers, allow_redirects=allow_redirects)

    def post(self, path: str, data: Any = None, json: Any = None, format: str | None = None,
             query: Mapping[str, Any] | None = None, accepted_status: Container[int] | None = None,
             timeout: Timeout | None = None, headers: Mapping[str, str] | None = None) -> requests.Response:
        """POST to ``path``; accepted status default ``[200, 201]``."""
        return self.request("POST", path, format=format, query=query, accepted_status=accepted_status,
                            timeout=timeout, headers=headers, data=data, json=json)

    def put(self, path: str, data: Any = None, files: Any = None, json: Any = None, format: str | None = None,
            query: Mapping[str, Any] | None = None, accepted_status: Container[int] | None = None,
            timeout: Timeout | None = None, headers: Mapping[str, str] | None = None) -> requests.Response:
        """PUT to ``path``; accepted status default ``[200, 201]``."""
        return self.request("PUT", path, format=format, query=query, accepted_status=accepted_status,
                            timeout=timeout, headers=headers, data=data, files=files, json=json)

    def delete(self, path: str, headers: Mapping[str, str] | None = None,
               accepted_status: Container[int] | None = None, query: Mapping[str, Any] | None = None,
               timeout: Timeout | None = None) -> requests.Response:
        """DELETE ``path``; accepted status default ``[200]``."""
        return self.request("DELETE", path, query=query, accepted_status=accepted_status,
                            timeout=timeout, headers=headers)

    def get_json(self, uri: str, query: Mapping[str, Any] | None = None,
                 accepted_status: Container[int] | None = None) -> Any:
        """GET ``uri`` with ``format=json`` and return the parsed JSON."""
        response = self.get(uri, format="json", query=query, accepted_status=accepted_status)
        return response_json(response)

    # ----------------------------------------------------------------- login state
    def _cookie_jar(self) -> requests.cookies.RequestsCookieJar:
        self._check_connection()
        return self._interface.cookies  # type: ignore[union-attr]  # checked just above

    def _apply_login(self, result: login.LoginResult) -> None:
        """Take on what a login established: the base URL, session id and user."""
        with self._lock:
            self._base = result.base
            self._jsession = result.jsession
            self._logged_in_user = result.user
            self.logins += 1

    def authenticate(self, detect_redirect: bool = True, known_user: str | None = None) -> None:
        """Log in with the session's credentials (:func:`xnat.login.login`) and apply the result.

        With ``detect_redirect`` a redirect (http -> https) or a context path (``/xnat``) found
        on the way becomes the session's server URL. One that leads to another host or port is
        refused unless :attr:`trust_redirect` is set: credentials go only to the server named.
        ``known_user``: whose an alias token is, when known (the login then does not ask).
        """
        with self._lock:
            result = login.login(self._send, self._cookie_jar(), self._base, self._credentials, self._auth_provider,
                                 detect_redirect=detect_redirect, timeout=self.login_timeout,
                                 trust_redirect=self.trust_redirect, known_user=known_user)
            self._apply_login(result)

    def adopt_jsession(self, jsession: str) -> None:
        """Ride an existing server session id instead of logging in (``connect(jsession=...)``)."""
        with self._lock:
            result = login.reuse_jsession(self._send, self._cookie_jar(), self._base, jsession, self._credentials,
                                          timeout=self.login_timeout)
            self._apply_login(result)

    def relogin(self, stale_jsession: str | None = None) -> None:
        """Log in again with the known credentials (after the server's session expired).

        With ``stale_jsession``, nothing happens if another thread already replaced it.
        Raises :class:`~xnat.exceptions.XNATExpiredCredentialsError` when no password is known.
        """
        self._check_connection()
        with self._lock:
            if stale_jsession is not None and self._jsession != stale_jsession:
                return
            if self._credentials.anonymous or self._credentials.password is None:
                raise XNATExpiredCredentialsError(
                    f"The session on {self._base} expired and no password is known to log in again: "
                    "call xnat.connect() again"
                )
            self._logger.info("The session on %s expired; logging in again as %r", self._base,
                              self._credentials.user)
            self.authenticate(detect_redirect=False)

    def heartbeat(self) -> None:
        """Keep the server-side session alive (``GET /data/JSESSION``), logging in again if it expired."""
        jsession = self._jsession
        response = self.request("GET", "/data/JSESSION", timeout=HEARTBEAT_TIMEOUT)
        current = response.text.strip().split(";", 1)[0]
        if jsession and current and current != self._jsession and not self._credentials.anonymous:
            self.relogin(stale_jsession=jsession)

    @property
    def keepalive(self) -> bool:
        """Whether the heartbeat runs. Set True/False, or a number of seconds to set the interval."""
        return self._keepalive is not None and self._keepalive.enabled and self._keepalive.running

    @keepalive.setter
    def keepalive(self, value: bool | int | float) -> None:
        if isinstance(value, bool):
            enabled, interval = value, None
        elif isinstance(value, (int, float)):
            enabled, interval = value > 0, (float(value) if value > 0 else None)
        else:
            raise TypeError(f"keepalive must be a bool or a number of seconds, not {type(value).__name__}")
        self._check_connection()
        with self._lock:
            if self._keepalive is None:
                self._keepalive = KeepAlive(self, interval or self._default_keepalive_interval())
                self._finalizer.detach()
                self._finalizer = weakref.finalize(self, _release, self._keepalive, self._interface)
                self._finalizer.atexit = False
            keepalive = self._keepalive
            keepalive.enabled = enabled
            if interval is not None:
                keepalive.interval = interval
            if enabled:
                keepalive.start()

    @property
    def keepalive_thread(self) -> KeepAlive | None:
        """The :class:`~xnat.keepalive.KeepAlive` of this session (counters, interval)."""
        return self._keepalive

    def _default_keepalive_interval(self) -> float:
        expiration = self.session_expiration_time
        return interval_for_timeout(expiration[1] if expiration else None)

    # ----------------------------------------------------------------- server info
    def _cached(self, key: str, fetch: Any) -> Any:
        with self._lock:
            if key in self._info_cache:
                return self._info_cache[key]
        value = fetch()
        with self._lock:
            self._info_cache.setdefault(key, value)
        return value

    @property
    def xnat_build_info(self) -> dict[str, Any]:
        """``/xapi/siteConfig/buildInfo`` (cached)."""
        info: dict[str, Any] = self._cached("build_info", lambda: self.get_json("/xapi/siteConfig/buildInfo"))
        return info

    @property
    def xnat_version(self) -> str:
        """The server's XNAT version: buildInfo, else ``/data/version`` (XNAT 1.6). Cached."""
        def fetch() -> str:
            try:
                version = self.xnat_build_info.get("version")
            except XNATResponseError:
                version = None
            if not version:
                version = self.get("/data/version").text.strip()
            return str(version)
        return str(self._cached("version", fetch))

    @property
    def xnat_version_tuple(self) -> tuple[int, ...]:
        """The version as numbers: ``"1.8.10"`` -> ``(1, 8, 10)``; suffixes are dropped."""
        match = re.match(r"\d+(?:\.\d+)*", self.xnat_version)
        return tuple(int(part) for part in match.group(0).split(".")) if match else ()

    @property
    def xnat_uptime(self) -> Any:
        """``/xapi/siteConfig/uptime`` as the server returns it."""
        return self.get_json("/xapi/siteConfig/uptime")

    def check_version(self, version: str | tuple[int, ...], message: str | None = None) -> bool:
        """Whether the server is at least ``version``; logs ``message`` when it is not."""
        if isinstance(version, str):
            version = tuple(int(x) for x in version.split(".") if x.isdigit())
        if self.xnat_version_tuple < tuple(version):
            if message:
                self._logger.warning("%s requires XNAT %s", message, ".".join(map(str, version)))
            return False
        return True

    # ----------------------------------------------------------------- lifecycle
    def save_config(self, path: str, include_password: bool = False) -> str:
        """Write a pyxnat JSON config file (mode 0600) for this server and user.

        The password (or token secret) is written only with ``include_password=True``.
        """
        password = None
        if include_password:
            password = self._credentials.password
            if password is None:
                raise XNATValueError("This session has no password to save (anonymous or jsession login)")
        return str(write_config(path, self._original_uri, self._credentials.user, password,
                                verify=self._verify if self._verify is not None else True))

    def _logout(self) -> None:
        """End the server-side session (``DELETE /data/JSESSION``); a failure is logged, not raised."""
        if self._jsession is None or self._interface is None:
            return
        try:
            self._send("DELETE", self._format_uri("/data/JSESSION"), timeout=HEARTBEAT_TIMEOUT,
                       headers={"Connection": "close"})
        except Exception as error:  # noqa: BLE001 -- a failed logout must not stop the disconnect
            self._logger.warning("Logging out of %s failed: %s", self._base, error)

    def disconnect(self) -> None:
        """Stop the keep-alive, log out (XNATSession only) and close the connections. Idempotent."""
        # Stop the heartbeat before taking the lock: a beat may be waiting for the lock
        # to log in again, and joining it while holding the lock would stall the join.
        if self._keepalive is not None:
            self._keepalive.stop()
        with self._lock:
            if not self._connected:
                return
            try:
                if self._logout_on_disconnect:
                    self._logout()
            finally:
                self._connected = False
                interface, self._interface = self._interface, None
                if interface is not None:
                    interface.close()
                self._finalizer.detach()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.disconnect()


def _replayable(kwargs: Mapping[str, Any]) -> bool:
    """Whether a request body can be sent a second time (not a stream or generator)."""
    for key in ("data", "files"):
        value = kwargs.get(key)
        if value is not None and not isinstance(value, (str, bytes, dict, list, tuple)):
            return False
    return True


def _release(keepalive: KeepAlive | None, interface: requests.Session | None) -> None:
    """Finalizer of a session that was never disconnected: no network I/O, just clean up."""
    if keepalive is not None:
        keepalive.stop(timeout=0)
    if interface is not None:
        interface.close()
