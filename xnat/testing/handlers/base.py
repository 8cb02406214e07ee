"""What every handler shares: the request context, HTTP errors and small response helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from ..auth import User

if TYPE_CHECKING:  # pragma: no cover
    from ..app import XNATApp
    from ..backend import Backend

TRUE_VALUES = ("true", "1", "yes", "on")


class HTTPError(Exception):
    """An error answer: status code and a short plain-text reason, as XNAT writes them."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def not_found(what: str = "") -> HTTPError:
    return HTTPError(404, f"Unable to find the specified {what}".strip() if what else "Not Found")


def forbidden(reason: str = "Specified user account has insufficient privileges for this operation") -> HTTPError:
    return HTTPError(403, reason)


@dataclass
class Ctx:
    """One request as the handlers see it."""

    app: XNATApp
    request: Request
    user: User
    path: str  # normalised path: /REST and /data/archive folded onto /data
    params: MultiDict[str, str] = field(default_factory=MultiDict)
    session_id: str | None = None  # the session this request rides on (or just opened)
    new_session: str | None = None  # set by a handler that opens a session itself
    ended_session: bool = False  # set by a handler that logs the session out

    @property
    def backend(self) -> Backend:
        """The app's backend: storage and access decisions."""
        return self.app.backend

    @property
    def method(self) -> str:
        """The request method; ``HEAD`` reads as ``GET`` everywhere: XNAT's frameworks answer a HEAD
        as the GET it stands for (Restlet's ``handleHead``, Spring's implicit HEAD on GET mappings),
        and werkzeug drops the body of the answer to a HEAD."""
        method: str = self.request.method
        return "GET" if method == "HEAD" else method

    def param(self, name: str, default: str | None = None) -> str | None:
        """A query parameter (form fields of urlencoded bodies count too, as in XNAT)."""
        value = self.params.get(name)
        return default if value is None else value

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter (``true``/``false``); 400 on anything else."""
        value = self.params.get(name)
        if value is None or value == "":
            return default
        low = value.lower()
        if low in TRUE_VALUES:
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise HTTPError(400, f"Invalid value for {name}: {value!r} (expected true or false)")

    def require_login(self) -> None:
        """403 for the anonymous guest: writes need a real account."""
        if not self.app.backend.access.signed_in(self.user):
            raise forbidden()


def text(body: str | bytes, status: int = 200, mimetype: str = "text/plain") -> Response:
    """A plain answer (XNAT writes IDs, URIs and reasons as ``text/plain``)."""
    return Response(body, status=status, mimetype=mimetype)


def json_response(data: Any, status: int = 200) -> Response:
    """A JSON answer (XAPI style)."""
    return Response(json.dumps(data), status=status, mimetype="application/json")
