"""Exceptions raised by the xnat client.

The names follow xnatpy 0.8 so that ``except xnat.exceptions.XNATResponseError`` in an
existing script keeps working. Every exception derives from :class:`XNATError`.

Messages name what was attempted (method, URL, status and the server's own reason) and
never contain a password, a token secret or a session id: build them with
:func:`describe_response` rather than by hand.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import requests

__all__ = [
    "XNATAuthError",
    "XNATChecksumError",
    "XNATConnectionError",
    "XNATError",
    "XNATExpiredCredentialsError",
    "XNATIOError",
    "XNATKeyError",
    "XNATLoginFailedError",
    "XNATMappingException",
    "XNATNotConnectedError",
    "XNATObjectAlreadyExistsError",
    "XNATObjectDestroyedError",
    "XNATResponseError",
    "XNATSSLError",
    "XNATSchemaError",
    "XNATTimeoutError",
    "XNATUploadError",
    "XNATValueError",
    "describe_response",
    "redact",
]


class XNATError(Exception):
    """Base class of every error raised by this library."""


class XNATValueError(XNATError, ValueError):
    """A value is not acceptable: a bad argument, or a value the schema forbids."""


class XNATResponseError(XNATValueError):
    """The server answered with a status the operation does not accept.

    ``status_code``, ``url``, ``method`` and ``reason`` (the server's own text, HTML
    stripped and trimmed) are kept as attributes; ``response`` is the raw response.
    """

    def __init__(self, message: str, response: requests.Response | None = None) -> None:
        super().__init__(message)
        self.response = response
        self.status_code: int | None = getattr(response, "status_code", None)
        self.url: str | None = redact(getattr(response, "url", "") or "") or None
        request = getattr(response, "request", None)
        self.method: str | None = getattr(request, "method", None)
        self.reason: str = server_reason(response) if response is not None else ""

    @property
    def text(self) -> str:
        """The body of the response (as xnatpy exposes it)."""
        return getattr(self.response, "text", "")


class XNATConnectionError(XNATValueError):
    """The server could not be reached (refused, unknown host, dropped connection)."""


class XNATTimeoutError(XNATConnectionError):
    """The server did not answer within the timeout."""


class XNATKeyError(XNATError, KeyError):
    """A key is missing from a listing, or is ambiguous (shared by several objects)."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


class XNATIOError(XNATError, IOError):
    """A local file operation or a transfer failed."""


class XNATUploadError(XNATIOError):
    """An upload failed."""


class XNATChecksumError(XNATIOError):
    """Downloaded data does not match the server's checksum or size."""


class XNATSSLError(XNATConnectionError):
    """The TLS connection failed (certificate not trusted, wrong host name, ...)."""


class XNATAuthError(XNATValueError):
    """Authentication or authorisation failed."""


class XNATLoginFailedError(XNATAuthError):
    """The server refused the credentials."""


class XNATExpiredCredentialsError(XNATAuthError):
    """The credentials (password or token) have expired."""


class XNATNotConnectedError(XNATError):
    """The session was disconnected and can no longer be used."""


class XNATObjectDestroyedError(XNATError):
    """The object was deleted and can no longer be used."""


class XNATObjectAlreadyExistsError(XNATError):
    """An object with this label or ID already exists."""


class XNATSchemaError(XNATError):
    """A data-type schema could not be read."""


class XNATMappingException(XNATError):
    """An error raised by a function run through ``session.map``."""


# Secrets must never reach a message, a log line or a repr. Query parameters and
# URL user-info are the places they sneak in.
_SECRET_QUERY = re.compile(r"(?i)((?:password|passwd|secret|token|jsessionid|alias)=)[^&;#\s]*")
_USERINFO = re.compile(r"(?i)(://)([^/@\s:]+):([^/@\s]*)@")
# XNAT puts an alias token's secret in the path: /data/services/tokens/validate/{alias}/{secret}.
_TOKEN_PATH = re.compile(r"(?i)(/services/tokens/(?:validate|invalidate)/[^/?#\s]+/)[^/?#\s]+")


def redact(text: str) -> str:
    """Remove passwords, token secrets and session ids from a URL or message."""
    text = _USERINFO.sub(r"\1\2:***@", text)
    text = _TOKEN_PATH.sub(r"\1***", text)
    return _SECRET_QUERY.sub(r"\1***", text)


_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)
_SPACE = re.compile(r"\s+")


def server_reason(response: Any, limit: int = 300) -> str:
    """The server's own explanation: the body as plain text, HTML stripped, trimmed."""
    try:
        text = response.text or ""
    except Exception:  # noqa: BLE001 -- a streamed or undecodable body has no reason to show
        return ""
    # A login page or error page: prefer its <h3>/<title> heading when there is one.
    if "<html" in text[:500].lower():
        # Tomcat puts the real message in <h3> and a generic one in <title>: prefer h3.
        for tag in ("h3", "h1", "title"):
            heading = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", text, re.S | re.I)
            if heading and heading.group(1).strip():
                text = heading.group(1)
                break
    text = _SPACE.sub(" ", _TAGS.sub(" ", text)).strip()
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_response(response: requests.Response, what: str = "") -> str:
    """A one-line message for a failed response: method, URL, status and reason."""
    request = getattr(response, "request", None)
    method = getattr(request, "method", None) or "?"
    url = redact(response.url or "")
    reason = server_reason(response)
    message = f"{method} {url} returned {response.status_code}"
    if reason:
        message += f": {reason}"
    if what:
        message = f"{what}: {message}"
    return message
