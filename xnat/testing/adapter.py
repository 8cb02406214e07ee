"""A requests transport adapter that runs a WSGI application in-process.

Mounted on a :class:`requests.Session`, every request to the mounted prefix is handed
to the application directly: no socket, no thread, yet the client's whole code path
(cookies, redirects, streaming, error handling) runs as it does over HTTP::

    import requests
    from xnat.testing.adapter import mount
    from xnat.testing.app import XNATApp

    app = XNATApp()  # user admin/admin
    session = requests.Session()
    mount(session, app, "http://xnat.test")
    session.get("http://xnat.test/data/projects", auth=("admin", "admin"))

Response bodies are streamed from the application's iterator, so a large download
does not sit in memory. The adapter is safe to use from several threads when the
application is.
"""

from __future__ import annotations

import http.client
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3 import HTTPResponse

__all__ = ["WSGIAdapter", "mount"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def mount(session: requests.Session, app: WSGIApp, base_url: str = "http://xnat.test") -> WSGIAdapter:
    """Route every request of ``session`` under ``base_url`` to ``app``; returns the adapter."""
    adapter = WSGIAdapter(app)
    session.mount(base_url.rstrip("/") + "/", adapter)
    return adapter


class _IteratorReader(io.RawIOBase):
    """A file-like view of a WSGI body iterator, read lazily."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._source = chunks
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        # PEP 3333: the server must call close() on the iterable when it has one.
        closer = getattr(self._source, "close", None)
        if closer is not None and not self.closed:
            closer()
        super().close()


class _OriginalResponse:
    """What requests' cookie handling reads from the http.client response."""

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.msg = http.client.HTTPMessage()
        for name, value in headers:
            self.msg[name] = value

    def isclosed(self) -> bool:
        return True


class WSGIAdapter(BaseAdapter):
    """Send requests to a WSGI application instead of the network."""

    def __init__(self, app: WSGIApp) -> None:
        super().__init__()
        self.app = app
        self._builder = HTTPAdapter()  # reuse requests' own Response construction

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        environ = self._environ(request)
        status_headers: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            if exc_info is not None and status_headers:
                raise exc_info[1].with_traceback(exc_info[2])
            status_headers["status"] = status
            status_headers["headers"] = headers
            return lambda data: None  # the legacy write() callable; our app never uses it

        body = self.app(environ, start_response)
        reader = io.BufferedReader(_IteratorReader(body), buffer_size=256 * 1024)
        code, _, reason = status_headers["status"].partition(" ")
        headers = status_headers["headers"]
        raw = HTTPResponse(
            body=reader,
            headers=headers,
            status=int(code),
            reason=reason,
            preload_content=False,
            decode_content=True,
            original_response=_OriginalResponse(headers),  # type: ignore[arg-type]
            request_method=request.method,
            request_url=request.url,
        )
        response = self._builder.build_response(request, raw)
        if not stream:
            _ = response.content  # read it all now, as requests does without stream=True
        return response

    def close(self) -> None:
        self._builder.close()

    @staticmethod
    def _environ(request: requests.PreparedRequest) -> dict[str, Any]:
        url = urlsplit(request.url or "")
        # Typed bytes | str | None, but a streamed upload's body is a file or an iterable of chunks.
        body: Any = request.body
        if body is None:
            data: Any = io.BytesIO(b"")
            length: int | None = 0
        elif isinstance(body, str):
            data = io.BytesIO(body.encode("utf-8"))
            length = len(data.getvalue())
        elif isinstance(body, (bytes, bytearray)):
            data, length = io.BytesIO(bytes(body)), len(body)
        elif hasattr(body, "read"):
            data = body
            header = request.headers.get("Content-Length")
            length = int(header) if header else None
        else:  # an iterable of chunks (chunked upload)
            data = io.BufferedReader(_IteratorReader(body))
            length = None
        port = url.port or (443 if url.scheme == "https" else 80)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method or "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(url.path, encoding="latin-1") or "/",
            "QUERY_STRING": url.query,
            "SERVER_NAME": url.hostname or "localhost",
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme or "http",
            "wsgi.input": data,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": length is None,
        }
        if length is not None:
            environ["CONTENT_LENGTH"] = str(length)
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                environ["HTTP_" + key] = value
        return environ
