"""What every transfer runs on: a ``requests.Session``, a base URL, timeouts and retry policy.

The transfer engine does not depend on the session or object layers: anything holding
a ``requests.Session`` (with its authentication and TLS settings already applied) can
move data with it. This module also turns requests' exceptions into the library's own
and decides which failures are worth another attempt.

Every wait has a bound: ``timeout`` bounds each read, and :class:`RateGuard` bounds the
whole transfer. A body that keeps trickling in (a byte every few seconds, each read well
within the timeout) would otherwise hold a transfer for hours; a transfer whose throughput
over a window of ``rate_window`` seconds (default 60) stays below ``min_rate`` bytes per
second (default 1 KiB/s) stops with :class:`~xnat.exceptions.XNATTimeoutError`.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import urllib3

from ..exceptions import (
    XNATConnectionError,
    XNATError,
    XNATResponseError,
    XNATTimeoutError,
    XNATValueError,
    describe_response,
    redact,
)
from ..transport import DEFAULT_MIN_RATE, DEFAULT_RATE_WINDOW, DEFAULT_REQUEST_DEADLINE, read_body

__all__ = ["DEFAULT_CHUNK_SIZE", "DEFAULT_MIN_RATE", "DEFAULT_RATE_WINDOW", "RETRY_STATUSES", "STREAM_ERRORS",
           "Cancelled", "Connection", "RateGuard"]

logger = logging.getLogger(__name__)

#: Answers that mean "try again later": a proxy or an overloaded server.
RETRY_STATUSES = frozenset({502, 503, 504})
#: Failures while a body is on the wire: the connection dropped or stalled.
STREAM_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.Timeout,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
)
DEFAULT_CHUNK_SIZE = 1024 * 1024
MAX_BACKOFF = 10.0


class RateGuard:
    """Stops a transfer whose throughput over a whole window stays below ``min_rate`` bytes/s.

    Counted as the bytes arrive; silence is the read timeout's business.
    """

    def __init__(self, min_rate: float, window: float, what: str) -> None:
        self.min_rate, self.window, self.what = min_rate, window, what
        self._start = time.monotonic()
        self._count = 0

    def add(self, size: int) -> None:
        self._count += size
        now = time.monotonic()
        elapsed = now - self._start
        if elapsed < self.window:
            return
        if self._count < self.min_rate * elapsed:
            raise XNATTimeoutError(
                f"{self.what}: too slow, {self._count} bytes in {elapsed:.1f} s (the minimum is "
                f"{self.min_rate:g} bytes/s over {self.window:g} s); the server or the network is stalling. "
                "Raise the limit with min_transfer_rate= / transfer_rate_window= if this is expected"
            )
        self._start, self._count = now, 0


class Cancelled(XNATError):
    """A transfer stopped because another transfer of the same job failed."""


@dataclass
class Connection:
    """A ``requests.Session`` with the base URL and the limits transfers obey.

    ``timeout`` bounds every wait: a number is the read timeout (the connect timeout is
    the smaller of it and 30 s), a ``(connect, read)`` pair is used as given. ``retries``
    is how many more attempts a failed transfer gets, waiting ``backoff * 2**n`` seconds
    (at most 10) before attempt ``n + 1``. ``min_rate`` (bytes/s, ``None`` for no rule) and
    ``rate_window`` (seconds) are the throughput rule of :class:`RateGuard`; ``deadline``
    (seconds, ``None`` for none) bounds a request that is not streamed, body included.
    """

    http: requests.Session
    base_url: str
    timeout: float | tuple[float, float] = 300.0
    retries: int = 3
    backoff: float = 0.5
    chunk_size: int = DEFAULT_CHUNK_SIZE
    min_rate: float | None = DEFAULT_MIN_RATE
    rate_window: float = DEFAULT_RATE_WINDOW
    deadline: float | None = DEFAULT_REQUEST_DEADLINE

    def __post_init__(self) -> None:
        if self.min_rate is not None and self.min_rate < 0:
            raise XNATValueError(f"min_transfer_rate must be 0 or more bytes per second, not {self.min_rate}")
        if self.rate_window <= 0:
            raise XNATValueError(f"transfer_rate_window must be a positive number of seconds, not {self.rate_window}")
        if self.retries < 0:
            raise XNATValueError(f"retries must be 0 or more, not {self.retries}")
        if self.chunk_size < 1:
            raise XNATValueError(f"chunk_size must be positive, not {self.chunk_size}")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise XNATValueError(f"base_url must be a full http(s) URL, not {self.base_url!r}")
        self.base_url = self.base_url.rstrip("/")

    def url(self, path_or_url: str, query: Mapping[str, Any] | None = None) -> str:
        """A full URL from a server path (``/data/...``) or a full URL, with ``query`` added."""
        if path_or_url.startswith(("http://", "https://")):
            # The session's credentials go with every request: never to another host.
            if urlsplit(path_or_url).netloc.lower() != urlsplit(self.base_url).netloc.lower():
                raise XNATValueError(f"Refusing {redact(path_or_url)}: it is not on the server "
                                     f"{redact(self.base_url)}; give a path such as /data/...")
            url = path_or_url
        elif path_or_url.startswith("/"):
            url = self.base_url + path_or_url
        else:
            raise XNATValueError(f"Expected a server path starting with '/' or a full URL, not {path_or_url!r}")
        if query:
            items = {key: _query_value(value) for key, value in query.items() if value is not None}
            if items:
                url += ("&" if "?" in url else "?") + urlencode(items, safe="/,")
        return url

    @property
    def stream_timeout(self) -> tuple[float, float]:
        """The ``(connect, read)`` timeout for one request, streamed or not."""
        if isinstance(self.timeout, tuple):
            return self.timeout
        return (min(float(self.timeout), 30.0), float(self.timeout))

    def request(self, method: str, url: str, stream: bool = False, **kwargs: Any) -> requests.Response:
        """One request with the timeout applied; requests' errors become XNAT errors.

        A request that is not streamed (a listing) is read to its end within ``deadline``.
        """
        kwargs.setdefault("timeout", self.stream_timeout)
        started = time.monotonic()
        try:
            response = self.http.request(method, url, stream=True, **kwargs)
            if not stream:
                read_body(response, self.deadline, started)
            return response
        except requests.exceptions.RequestException as error:
            raise request_error(error, method, url) from error

    def rate_guard(self, what: str, url: str) -> RateGuard | None:
        """The throughput rule for one transfer of ``url`` (None when switched off)."""
        if not self.min_rate:
            return None
        return RateGuard(self.min_rate, self.rate_window, f"{what} {redact(url)}")

    def wait(self, attempt: int, cancel: threading.Event | None = None) -> None:
        """Sleep before retry number ``attempt`` (1-based); wakes early when cancelled."""
        delay = min(self.backoff * (2 ** (attempt - 1)), MAX_BACKOFF)
        if cancel is not None:
            if cancel.wait(delay):
                raise Cancelled("Cancelled")
        elif delay > 0:
            time.sleep(delay)

    def check(self, response: requests.Response, accepted: tuple[int, ...], what: str) -> None:
        """Raise :class:`XNATResponseError` when the status is not one of ``accepted``."""
        if response.status_code not in accepted:
            raise XNATResponseError(describe_response(response, what), response)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def request_error(error: BaseException, method: str, url: str) -> XNATConnectionError:
    """A clear library error for a failed request (URL redacted, cause kept as ``__cause__``)."""
    where = f"{method} {redact(url)}"
    if isinstance(error, requests.exceptions.Timeout):
        return XNATTimeoutError(f"{where}: the server did not answer in time ({_reason(error)})")
    return XNATConnectionError(f"{where}: the connection failed ({_reason(error)})")


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return redact(text)[:300]


def log_retry(what: str, url: str, attempt: int, retries: int, cause: object) -> None:
    logger.info("%s %s: attempt %d of %d failed (%s); retrying", what, redact(url), attempt,
                retries + 1, cause)
