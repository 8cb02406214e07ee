"""The HTTP transport under a session: one ``requests.Session``, configured once.

What it guarantees, and why:

* **Every wait has a bound.** :class:`TimeoutAdapter` applies ``default_timeout`` to every
  request that does not bring its own, streamed ones included (xnatpy left streamed
  transfers without any timeout). That bounds each read only: a server trickling one byte
  per read would hold a request for ever. So the answer's status line and headers must
  arrive within ``answer_deadline`` seconds of the request being sent (the session's
  ``request_deadline``, 600 s by default; :func:`set_answer_deadline`), every request and
  transfer alike; :func:`read_body` reads the body of an ordinary (not streamed) request
  within the same deadline counted from the start; and the transfer engine holds streams
  to a minimum throughput, uploads through :func:`counting_sent`, which reports the bytes
  as the socket takes them.
* **Retries only where they are safe.** A refused connection (the request never reached the
  server) gets one immediate retry for every method; dropped connections and 502/503/504
  answers are retried with backoff for idempotent methods (GET, HEAD, OPTIONS, DELETE) only.
  A read timeout is never retried: that would multiply the wait the caller chose. PUT is
  left out on purpose: XNAT uploads stream their body, which cannot be replayed. Each
  retry is counted and logged at DEBUG.
* **TLS settings are applied.** ``verify`` may be a bool or a CA bundle path; with ``True``
  the usual environment variables (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``,
  ``SSL_CERT_FILE``, ``SSL_CERT_DIR``) are honoured. The resolved value is set on the
  session *and* passed with each request by :mod:`xnat.session`, because requests lets
  ``REQUESTS_CA_BUNDLE`` silently override a session-level CA path.
* **No process-wide side effects**, bar one that only removes secrets: no
  ``urllib3.disable_warnings()``, no levels or handlers changed. urllib3 logs each request's
  path (DEBUG) and the URL of each retry; XNAT puts an alias token's secret in a path
  (``/data/services/tokens/validate/{alias}/{secret}``, the only form its token service
  takes: REST-NOTES §3), so :class:`RedactingFilter` is put on those urllib3 loggers when a transport is
  built, and redacts what they log as :func:`~xnat.exceptions.redact` does our messages.
* **No hidden Basic auth.** requests reads ``~/.netrc`` on its own when a session has no
  auth; :class:`NoAuth` stops that, so credentials only come from :mod:`xnat.auth`.
"""

from __future__ import annotations

import functools
import http.client
import io
import logging
import os
import platform
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as URLLib3Error
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from .exceptions import (
    XNATConnectionError,
    XNATResponseError,
    XNATSSLError,
    XNATTimeoutError,
    XNATValueError,
    describe_response,
    redact,
)
from .version import __version__

__all__ = [
    "CA_ENVIRONMENT_VARIABLES",
    "DEFAULT_MIN_RATE",
    "DEFAULT_RATE_WINDOW",
    "DEFAULT_REQUEST_DEADLINE",
    "IDEMPOTENT_METHODS",
    "RETRY_STATUSES",
    "CountingRetry",
    "NoAuth",
    "RedactingFilter",
    "Timeout",
    "TimeoutAdapter",
    "build_transport",
    "counting_sent",
    "read_body",
    "redact_urllib3_logs",
    "resolve_verify",
    "response_json",
    "set_answer_deadline",
    "translate_request_error",
    "user_agent",
]

logger = logging.getLogger(__name__)

#: A timeout in seconds, or a ``(connect, read)`` pair, as requests takes it.
Timeout = float | tuple[float, float]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})
# In order of precedence, the variables requests, curl and OpenSSL users already set.
CA_ENVIRONMENT_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")

DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5
DEFAULT_POOL_SIZE = 16
#: The longest an ordinary (not streamed) request may take, body included, in seconds.
DEFAULT_REQUEST_DEADLINE = 600.0
#: The slowest a transfer may be, in bytes per second, measured over DEFAULT_RATE_WINDOW seconds
#: (applied by :mod:`xnat.transfer`).
DEFAULT_MIN_RATE = 1024.0
DEFAULT_RATE_WINDOW = 60.0
_BODY_CHUNK = 256 * 1024


def user_agent() -> str:
    """``xnat/<version> (<os>/<release>; python/<version>; requests/<version>)``."""
    system = f"{platform.system() or 'unknown'}/{platform.release() or '?'}"
    return (
        f"xnat/{__version__} ({system}; python/{platform.python_version()}; "
        f"requests/{requests.__version__})"
    )


class NoAuth(requests.auth.AuthBase):
    """Send no credentials at all, and keep requests from reading ``~/.netrc`` by itself."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request

    def __repr__(self) -> str:
        return "NoAuth()"


class OriginBoundSession(requests.Session):
    """A requests session whose credentials stay on their origin across redirects.

    requests drops ``Authorization`` on a redirect that leaves the origin (another host, port
    or scheme; an http to https upgrade of the same host on the default ports stays), but it
    sends the cookie jar's cookies again, and cookies match hosts, not ports (RFC 6265): the
    session cookie (JSESSIONID) would reach another port of the same host. It is dropped
    wherever ``Authorization`` is.
    """

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]  # untyped in the stubs
        old_url, new_url = response.request.url, prepared_request.url
        if old_url and new_url and self.should_strip_auth(old_url, new_url):  # type: ignore[no-untyped-call]
            prepared_request.headers.pop("Cookie", None)


class RedactingFilter(logging.Filter):
    """Redacts passwords and token secrets in every record of the logger it is put on."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


#: The urllib3 loggers that log request paths and URLs.
URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


def redact_urllib3_logs() -> None:
    """Put :class:`RedactingFilter` on urllib3's loggers, once per process."""
    for name in URLLIB3_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(existing, RedactingFilter) for existing in target.filters):
            target.addFilter(RedactingFilter())


class RetryCounter:
    """A thread-safe count of the retries made through one transport."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> int:
        with self._lock:
            self.count += 1
            return self.count


class CountingRetry(Retry):
    """urllib3's retry policy, counting and logging each retry (URL redacted)."""

    counter: RetryCounter | None = None

    def new(self, **kwargs: Any) -> CountingRetry:
        retry = super().new(**kwargs)
        retry.counter = self.counter
        return retry

    def increment(self, method: str | None = None, url: str | None = None,
                  response: Any = None, error: Exception | None = None,
                  _pool: Any = None, _stacktrace: Any = None) -> CountingRetry:
        if isinstance(error, ReadTimeoutError):
            # The server took the request and did not answer within the timeout: asking
            # again would multiply the wait the caller chose, so fail now.
            raise error.with_traceback(_stacktrace)
        retry = super().increment(method, url, response, error, _pool, _stacktrace)  # raises when exhausted
        total = self.counter.add() if self.counter is not None else 0
        cause = type(error).__name__ if error is not None else f"status {getattr(response, 'status', '?')}"
        logger.debug(
            "Retrying %s %s after %s (retry %d of this request; %d retries on this session)",
            method, redact(url or ""), cause, len(retry.history), total,
        )
        return retry


def make_retry(retries: int = DEFAULT_RETRIES, backoff: float = DEFAULT_BACKOFF,
               counter: RetryCounter | None = None) -> CountingRetry:
    """The retry policy: bounded, with exponential backoff, idempotent methods only."""
    retry = CountingRetry(
        total=retries,
        # A refused or unresolvable connection gets one immediate retry only: a server that
        # is down should fail the call at once, not after seconds of backoff.
        connect=min(retries, 1),
        read=retries,
        status=retries,
        other=0,
        redirect=None,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_max=10.0,
        raise_on_status=False,  # hand the last 503 back, so the caller can describe it
        respect_retry_after_header=False,  # a server's Retry-After could exceed any bound
    )
    retry.counter = counter
    return retry


class _Watch(threading.local):
    """What the request being sent on this thread is held to, between the adapter and its socket.

    ``answer_deadline`` (seconds) is set by :meth:`TimeoutAdapter.send`, ``on_sent`` by
    :func:`counting_sent`; ``late`` records that the answer missed its deadline.
    """

    answer_deadline: float | None = None
    late = False
    on_sent: Callable[[int], None] | None = None


_watch = _Watch()
#: The largest piece of a body handed to the socket at once while its bytes are counted.
_SEND_PIECE = 64 * 1024


@contextmanager
def counting_sent(on_sent: Callable[[int], None] | None) -> Iterator[None]:
    """Requests sent on this thread within: ``on_sent(n)`` after each ``n`` bytes the socket took.

    The throughput rule of uploads (:class:`~xnat.transfer.connection.RateGuard`): a body
    is handed to the socket in pieces of at most 64 KiB, so a server that reads slowly is
    noticed while one block of the body is still being sent. ``on_sent`` may raise to stop.
    """
    previous = _watch.on_sent
    _watch.on_sent = on_sent
    try:
        yield
    finally:
        _watch.on_sent = previous


class _DeadlineReader(io.RawIOBase):
    """A response's socket stream that must deliver by ``deadline`` (``time.monotonic()``) until lifted."""

    def __init__(self, raw: Any, sock: Any, deadline: float) -> None:
        super().__init__()
        self._raw, self._sock = raw, sock
        self.deadline: float | None = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is None:
            return int(self._raw.readinto(buffer))
        left = self.deadline - time.monotonic()
        if left <= 0:
            _watch.late = True
            raise TimeoutError("the answer did not arrive within the request deadline")
        timeout = self._sock.gettimeout()
        # Each read waits at most until the deadline: a trickle of one byte per read ends there.
        self._sock.settimeout(left if timeout is None else min(timeout, left))
        try:
            return int(self._raw.readinto(buffer))
        except TimeoutError:
            _watch.late = time.monotonic() >= self.deadline
            raise
        finally:
            self._sock.settimeout(timeout)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()  # the socket's own stream: hands back its reference to the socket
        super().close()


class _WatchedResponse(http.client.HTTPResponse):
    """``http.client``'s response, reading its status line and headers within the answer deadline."""

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self._deadline_reader: _DeadlineReader | None = None
        seconds = _watch.answer_deadline
        if seconds is not None and hasattr(sock, "settimeout"):
            # The request is sent when the response is made: the deadline counts from here.
            self._deadline_reader = _DeadlineReader(self.fp.detach(), sock, time.monotonic() + seconds)
            self.fp = io.BufferedReader(self._deadline_reader)

    def begin(self) -> None:
        try:
            super().begin()
        finally:
            if self._deadline_reader is not None:
                self._deadline_reader.deadline = None  # the headers are in: the body has its own rules


class _WatchedConnection(http.client.HTTPConnection):
    """Put before a pool's connection class: the answer deadline on responses, sent bytes counted."""

    response_class = _WatchedResponse

    def send(self, data: Any) -> None:
        on_sent = _watch.on_sent
        if on_sent is None or not isinstance(data, (bytes, bytearray, memoryview)):
            super().send(data)
            return
        # In pieces, reporting each (see counting_sent): a slow reader is noticed within a block.
        view = memoryview(data)
        for start in range(0, len(view), _SEND_PIECE):
            piece = view[start:start + _SEND_PIECE]
            super().send(piece)
            on_sent(len(piece))


@functools.cache
def _watched(connection_class: type[Any]) -> type[Any]:
    """``connection_class`` (urllib3's HTTP or HTTPS connection) with :class:`_WatchedConnection` first."""
    if issubclass(connection_class, _WatchedConnection):
        return connection_class
    return type(f"Watched{connection_class.__name__}", (_WatchedConnection, connection_class), {})


class TimeoutAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that bounds every wait: ``default_timeout`` per read, ``answer_deadline`` in all.

    ``default_timeout`` goes on every request lacking a timeout. The answer's status line
    and headers must arrive within ``answer_deadline`` seconds (None: no bound) of the
    request being sent, however slowly they trickle: past it the request fails with
    ``requests.exceptions.Timeout``. The pools' connections are made by :func:`_watched`.
    """

    def __init__(self, default_timeout: Timeout | None, *args: Any,
                 answer_deadline: float | None = DEFAULT_REQUEST_DEADLINE, **kwargs: Any) -> None:
        self.default_timeout = default_timeout
        self.answer_deadline = answer_deadline
        super().__init__(*args, **kwargs)

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> Any:
        return _watch_pool(super().get_connection_with_tls_context(*args, **kwargs))

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:  # requests before 2.32.2 calls this one
        return _watch_pool(super().get_connection(*args, **kwargs))

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, *args: Any, **kwargs: Any) -> requests.Response:
        if timeout is None:
            timeout = self.default_timeout
        previous = _watch.answer_deadline
        _watch.answer_deadline, _watch.late = self.answer_deadline, False
        try:
            return super().send(request, stream, timeout, *args, **kwargs)
        except requests.exceptions.ReadTimeout:
            if not _watch.late:
                raise
            raise requests.exceptions.Timeout(
                f"the answer did not arrive within its deadline of {self.answer_deadline:g} s "
                "(request_deadline=)", request=request) from None
        finally:
            _watch.answer_deadline = previous


def _watch_pool(pool: Any) -> Any:
    pool.ConnectionCls = _watched(pool.ConnectionCls)
    return pool


def set_answer_deadline(http: requests.Session, seconds: float | None) -> None:
    """Give every :class:`TimeoutAdapter` of ``http`` this answer deadline (seconds; None: none)."""
    for adapter in http.adapters.values():
        if isinstance(adapter, TimeoutAdapter):
            adapter.answer_deadline = seconds


def read_body(response: requests.Response, deadline: float | None, started: float) -> None:
    """Read the body of a response sent with ``stream=True``, as a non-streamed request would have.

    The request may take ``deadline`` seconds in all from ``started`` (``time.monotonic()``),
    headers included: past it, :class:`~xnat.exceptions.XNATTimeoutError` (from
    :func:`translate_request_error`). Reads take whatever has arrived (``read1``), so a
    trickling body meets the deadline as it trickles.
    """
    raw = response.raw
    if deadline is None or not hasattr(raw, "read1"):
        response.content  # noqa: B018 -- reads and keeps the body, as requests does
        return
    chunks = []
    try:
        while True:
            if time.monotonic() - started > deadline:
                raise requests.exceptions.Timeout(
                    f"the request took longer than its deadline of {deadline:g} s (request_deadline=)",
                    request=response.request)
            chunk = raw.read1(_BODY_CHUNK, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
    except requests.RequestException:  # the deadline (requests' errors are OSErrors too)
        response.close()
        raise
    except ReadTimeoutError as error:
        response.close()
        raise requests.exceptions.ReadTimeout(error, request=response.request) from error
    except (URLLib3Error, OSError) as error:
        response.close()
        raise requests.exceptions.ConnectionError(error, request=response.request) from error
    except BaseException:
        response.close()
        raise
    # What requests itself does when it reads a body that was not streamed.
    response._content = b"".join(chunks)
    response._content_consumed = True  # type: ignore[attr-defined]  # requests' own flag, set as it sets it
    response.close()  # the body is consumed: this hands the connection back to the pool


def response_json(response: requests.Response) -> Any:
    """The parsed JSON body of a server's answer: the one parse every such answer goes through.

    A body that is not JSON, or JSON nested deeper than the parser's stack (a hostile or
    broken server: ``[[[[...]]]]`` raises ``RecursionError``), is an
    :class:`~xnat.exceptions.XNATResponseError` naming the request, never a bare
    ``ValueError`` or ``RecursionError``.
    """
    try:
        return response.json()
    except ValueError:
        problem = f"expected JSON but got {response.headers.get('Content-Type', 'unknown')}"
    except RecursionError:
        problem = "the JSON answer is nested too deeply to read"
    raise XNATResponseError(describe_response(response, problem), response=response)


def resolve_verify(verify: bool | str | os.PathLike[str] | None) -> bool | str:
    """The TLS verification setting to apply: ``False``, ``True`` or a CA path.

    ``None`` counts as ``True``. With ``True``, the first set variable of
    :data:`CA_ENVIRONMENT_VARIABLES` gives the CA bundle (or directory). A CA path that
    does not exist is an error now rather than an obscure TLS failure later.
    """
    if verify is False:
        return False
    if verify is None or verify is True:
        for name in CA_ENVIRONMENT_VARIABLES:
            value = os.environ.get(name)
            if value:
                _check_ca_path(value, f"the {name} environment variable")
                return value
        return True
    if isinstance(verify, (str, os.PathLike)):
        path = os.fspath(verify)
        _check_ca_path(path, "verify=")
        return path
    raise XNATValueError(f"verify must be True, False or the path of a CA bundle, not {type(verify).__name__}")


def _check_ca_path(path: str, origin: str) -> None:
    if not Path(path).exists():
        raise XNATValueError(
            f"The CA bundle {path!r} given by {origin} does not exist: "
            "give the path of a PEM file (or directory) of trusted certificates"
        )


def build_transport(
    verify: bool | str | os.PathLike[str] | None = True,
    default_timeout: Timeout | None = 300.0,
    pool_size: int = DEFAULT_POOL_SIZE,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    answer_deadline: float | None = DEFAULT_REQUEST_DEADLINE,
) -> requests.Session:
    """A new ``requests.Session`` with timeouts, retries, TLS, pool and User-Agent set.

    ``pool_size`` is the number of connections kept per host: enough for parallel
    transfers from a thread pool. The retry count so far is ``session.retry_counter.count``.
    ``answer_deadline`` bounds the wait for each answer's headers (:class:`TimeoutAdapter`).
    """
    if pool_size < 1:
        raise XNATValueError(f"pool_size must be at least 1, not {pool_size}")
    redact_urllib3_logs()
    counter = RetryCounter()
    session = OriginBoundSession()
    adapter = TimeoutAdapter(
        default_timeout,
        pool_connections=4,
        pool_maxsize=pool_size,
        max_retries=make_retry(retries, backoff, counter),
        answer_deadline=answer_deadline,
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.verify = resolve_verify(verify)
    session.auth = NoAuth()
    session.headers["User-Agent"] = user_agent()
    session.retry_counter = counter  # type: ignore[attr-defined]
    if session.verify is False:
        logger.warning(
            "TLS certificate verification is switched off (verify=False): the connection "
            "can be intercepted. Pass verify=<path of a CA bundle> to trust a private CA instead."
        )
    return session


def translate_request_error(error: requests.RequestException, method: str, url: str) -> Exception:
    """Turn a requests exception into the matching :class:`~xnat.exceptions.XNATError`.

    The message names the method and the (redacted) URL and says what to check. The
    original exception is kept as ``.original`` rather than chained, so a user sees one
    clear message instead of a traceback from deep inside urllib3.
    """
    where = f"{method} {redact(url)}"
    detail = _innermost_reason(error)
    result: Exception
    if isinstance(error, requests.exceptions.SSLError) and _plain_http_answer(detail):
        result = XNATSSLError(
            f"{where}: the TLS connection failed ({detail}): the server speaks plain HTTP? "
            "Try its http:// address instead of https://."
        )
    elif isinstance(error, requests.exceptions.SSLError):
        result = XNATSSLError(
            f"{where}: the TLS connection failed ({detail}). Check that the server's certificate "
            "is valid for this host name, or pass verify=<path of a CA bundle> for a private CA."
        )
    elif isinstance(error, (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout,
                            requests.exceptions.Timeout)):
        result = XNATTimeoutError(
            f"{where}: the server did not answer in time ({detail}). Check that the server is "
            "up, or raise the timeout (default_timeout= or timeout=)."
        )
    elif isinstance(error, (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                            requests.exceptions.InvalidURL, requests.exceptions.URLRequired)):
        result = XNATValueError(
            f"{where}: the URL is not valid ({detail}). Give a full URL such as https://xnat.example.org"
        )
    elif isinstance(error, requests.exceptions.ConnectionError):
        result = XNATConnectionError(
            f"{where}: could not connect to the server ({detail}). Check the server URL and "
            "that the server is running and reachable from this machine."
        )
    else:
        result = XNATConnectionError(f"{where}: the request failed ({detail}).")
    result.original = error  # type: ignore[attr-defined]
    return result


def _innermost_reason(error: BaseException) -> str:
    """The most specific reason in an exception chain (e.g. 'Connection refused')."""
    reason: BaseException = error
    seen = set()
    while id(reason) not in seen:
        seen.add(id(reason))
        inner = getattr(reason, "reason", None)
        if isinstance(inner, BaseException):
            reason = inner
            continue
        if reason.args and isinstance(reason.args[0], BaseException):
            reason = reason.args[0]
            continue
        break
    text = str(reason) or type(reason).__name__
    # urllib3 wraps the OS reason as "<Connection object>: Failed to establish ...: [Errno 111] ..."
    if "Errno" in text:
        text = text[text.index("[Errno"):] if "[Errno" in text else text
    # ... and cutting its front off leaves the wrapper's closing parenthesis behind
    while text.endswith(")") and text.count(")") > text.count("("):
        text = text[:-1]
    return redact(text)[:300]


def _plain_http_answer(detail: str) -> bool:
    """Whether a TLS failure is an HTTP answer read as a TLS record (https:// to an http:// server)."""
    return "WRONG_VERSION_NUMBER" in detail or "record layer failure" in detail
