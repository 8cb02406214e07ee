"""What every transfer runs on: a ``requests.Session``, a base URL, timeouts and retry policy.

The transfer engine does not depend on the session or object layers: anything holding
a ``requests.Session`` (with its authentication and TLS settings already applied) can
move data with it. This module also turns requests' exceptions into the library's own
and decides which failures are worth another attempt.
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

__all__ = ["DEFAULT_CHUNK_SIZE", "RETRY_STATUSES", "STREAM_ERRORS", "Cancelled", "Connection"]

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


class Cancelled(XNATError):
    """A transfer stopped because another transfer of the same job failed."""


@dataclass
class Connection:
    """A ``requests.Session`` with the base URL and the limits transfers obey.

    ``timeout`` bounds every wait: a number is the read timeout (the connect timeout is
    the smaller of it and 30 s), a ``(connect, read)`` pair is used as given. ``retries``
    is how many more attempts a failed transfer gets, waiting ``backoff * 2**n`` seconds
    (at most 10) before attempt ``n + 1``.
    """

    http: requests.Session
    base_url: str
    timeout: float | tuple[float, float] = 300.0
    retries: int = 3
    backoff: float = 0.5
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
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

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One request with the timeout applied; requests' errors become XNAT errors."""
        kwargs.setdefault("timeout", self.stream_timeout)
        try:
            return self.http.request(method, url, **kwargs)
        except requests.exceptions.RequestException as error:
            raise request_error(error, method, url) from error

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
