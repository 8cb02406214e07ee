"""An HTTP/1.1 request handler that keeps connections alive, as XNAT's Tomcat does.

werkzeug's development handler closes every connection after one answer: it cannot tell
where a request body ends, so it drains whatever the socket holds and would eat the next
request. This handler knows where each body ends (``Content-Length``, or the last chunk of
a chunked body), gives the application a stream that stops there, reads any unread rest of
the body after the answer, and then waits for the next request on the same connection.

Bounds, so that an idle or hostile client cannot hold a thread for ever (Tomcat's
``connectionTimeout`` and ``maxKeepAliveRequests``): the next request's line and headers
must arrive within :attr:`KeepAliveHandler.idle_timeout` of the previous answer; every
later read and write waits at most that long; a request's body must arrive at
:attr:`KeepAliveHandler.min_body_rate` bytes per second on average once
:attr:`KeepAliveHandler.body_grace` seconds have passed, else the answer is 408 and the
connection is closed (a client trickling a byte now and then holds no thread for ever); an unread body is drained up to
:data:`DRAIN_LIMIT` bytes in :data:`DRAIN_SECONDS`, else the connection is closed; a
connection serves at most :attr:`KeepAliveHandler.max_requests` requests.

A server holds at most :attr:`CappedServer.max_connections` connections at once (one
thread each, Tomcat's ``maxConnections``); a connection beyond them is answered 503 with
``Retry-After`` and closed, rather than given one more thread.

A stopped server must not go on answering on connections it kept open: a handler class
with an :class:`OpenConnections` (``connections``) lets the server end them, the idle ones
at once and the busy ones after their current answer.
"""

from __future__ import annotations

import io
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from email.message import Message
from typing import Any

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

logger = logging.getLogger(__name__)

__all__ = ["BodyError", "CappedServer", "ChunkedBody", "KeepAliveHandler", "LengthBody", "OpenConnections",
           "request_body"]

DRAIN_LIMIT = 1 << 30  # bytes of an unread body worth reading to keep the connection
DRAIN_SECONDS = 30.0  # time worth spending on it
_LINE_LIMIT = 4096  # a chunk-size or trailer line
_TRAILER_LIMIT = 100  # trailer lines after the last chunk
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")
_SMALL_WRITE = 1 << 16  # below this, a chunk goes out in one send (header, data, CRLF)
_DROPPED = (ConnectionError, TimeoutError, ssl.SSLEOFError)  # the client is gone
_LATE_BODY = b"The request body did not arrive in time"
_FULL = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 36\r\n"
         b"Retry-After: 1\r\nConnection: close\r\n\r\nThe server has too many connections\n")


class BodyError(OSError):
    """A request body that cannot be read to its end: malformed framing or a client gone."""


class LengthBody(io.RawIOBase):
    """The body of a request with a ``Content-Length``: reads stop at its last byte."""

    def __init__(self, source: io.BufferedReader[Any], length: int) -> None:
        super().__init__()
        self._source = source
        self.remaining = length

    def readable(self) -> bool:
        return True

    @property
    def complete(self) -> bool:
        return self.remaining == 0

    def readinto(self, buffer: Any) -> int:
        if self.remaining == 0:
            return 0
        with memoryview(buffer) as view:
            count = self._source.readinto1(view[: self.remaining])
        if not count:
            raise BodyError(f"the client closed the connection with {self.remaining} body bytes unsent")
        self.remaining -= count
        return count


class ChunkedBody(io.RawIOBase):
    """A ``Transfer-Encoding: chunked`` body, dechunked; reads stop after the last chunk and its trailers."""

    def __init__(self, source: io.BufferedReader[Any]) -> None:
        super().__init__()
        self._source = source
        self._left = 0  # bytes of the current chunk not read yet
        self.complete = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._left == 0:
            if self.complete:
                return 0
            self._next_chunk()
        with memoryview(buffer) as view:
            count = self._source.readinto1(view[: self._left])
        if not count:
            raise BodyError("the client closed the connection inside a chunk")
        self._left -= count
        if self._left == 0:
            self._end_of_line(self._line(), "chunk data")
        return count

    def _line(self) -> bytes:
        line = self._source.readline(_LINE_LIMIT)
        if not line.endswith(b"\n"):
            raise BodyError("chunked body: a line is too long or the client closed the connection")
        return line

    @staticmethod
    def _end_of_line(line: bytes, where: str) -> None:
        if line not in (b"\r\n", b"\n"):
            raise BodyError(f"chunked body: {where} is not followed by CRLF")

    def _next_chunk(self) -> None:
        size = self._line().split(b";", 1)[0].strip(b" \t\r\n")  # a chunk extension is ignored
        if not _CHUNK_SIZE.fullmatch(size):
            raise BodyError(f"chunked body: bad chunk size {size[:20]!r}")
        self._left = int(size, 16)
        if self._left == 0:
            self._skip_trailers()
            self.complete = True

    def _skip_trailers(self) -> None:
        for _ in range(_TRAILER_LIMIT):
            if self._line() in (b"\r\n", b"\n"):
                return
        raise BodyError(f"chunked body: more than {_TRAILER_LIMIT} trailer lines")


def request_body(headers: Message, source: io.BufferedReader[Any]) -> LengthBody | ChunkedBody:
    """The request's body as the headers frame it; :class:`BodyError` when they frame it ambiguously.

    Both ``Transfer-Encoding`` and ``Content-Length``, a coding other than ``chunked``, or two
    different lengths are refused: a proxy in front might read the body differently
    (request smuggling).
    """
    encodings = [c.strip().lower() for v in headers.get_all("Transfer-Encoding") or [] for c in v.split(",")]
    lengths = {v.strip() for v in headers.get_all("Content-Length") or []}
    if encodings:
        if encodings != ["chunked"] or lengths:
            raise BodyError("Transfer-Encoding must be 'chunked' alone, without a Content-Length")
        return ChunkedBody(source)
    if not lengths:
        return LengthBody(source, 0)
    length = lengths.pop()
    if lengths or not length.isdigit() or not length.isascii():
        raise BodyError("Content-Length must be one decimal number")
    return LengthBody(source, int(length))


class _DeadlineReader(io.RawIOBase):
    """The socket's bytes; a read waits at most ``timeout``, and never past ``deadline`` when one is set.

    The deadline bounds a whole request head, so a client that trickles a header byte now
    and then (slow loris) is cut off as surely as an idle one. While a body is read
    (:meth:`pace`), a second deadline grows with the bytes received: after ``grace``
    seconds the body must have come at ``min_rate`` bytes per second on average, so one
    byte every few seconds cannot hold a thread for ever either. A timeout then sets
    :attr:`late`.
    """

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        super().__init__()
        self._sock = sock
        self.timeout = timeout
        self.deadline: float | None = None
        self._pace: tuple[float, float] | None = None  # (start + grace, min_rate) while a body is read
        self._received = 0
        self.late = False  # a body read timed out

    def readable(self) -> bool:
        return True

    def pace(self, min_rate: float, grace: float) -> None:
        """Bound the reads from now on by a minimum average rate (see the class docstring)."""
        self._pace = (time.monotonic() + grace, min_rate)
        self._received = 0
        self.late = False

    def unpace(self) -> None:
        self._pace = None

    def _limit(self) -> float | None:
        if self._pace is None:
            return self.deadline
        start, rate = self._pace
        paced = start + self._received / rate
        return paced if self.deadline is None else min(paced, self.deadline)

    def readinto(self, buffer: Any) -> int:
        limit = self._limit()
        if limit is None:
            return self._sock.recv_into(buffer)
        wait = min(self.timeout, limit - time.monotonic())
        try:
            if wait <= 0:
                raise TimeoutError("the client took too long")
            self._sock.settimeout(wait)
            count = self._sock.recv_into(buffer)
        except TimeoutError:
            self.late = self._pace is not None
            raise
        finally:  # writes, and reads without a deadline, wait the full timeout
            self._sock.settimeout(self.timeout)
        self._received += count
        return count


class _Response:
    """One answer being written: WSGI's ``start_response``/``write``, and whether it ended cleanly."""

    def __init__(self, handler: KeepAliveHandler) -> None:
        self._handler = handler
        self._status: str | None = None
        self._headers: list[tuple[str, str]] = []
        self.head_sent = False
        self._chunked = False
        self._no_body = handler.command == "HEAD"
        self._length: int | None = None  # the Content-Length sent, if any
        self._written = 0
        self.broken = False  # the bytes sent do not frame the body the headers promised
        self._late = False  # the answer is a 408 in place of the application's

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info and self.head_sent:
            raise exc_info[1].with_traceback(exc_info[2])
        self._status, self._headers = status, list(headers)
        return self.write

    def write(self, data: bytes) -> None:
        if not self.head_sent:
            self._send_head()
        if not data or self._no_body or self._late:
            return
        if self._length is not None and self._written + len(data) > self._length:
            data = data[: self._length - self._written]  # never past the promised length
            self.broken = True
        self._written += len(data)
        wfile = self._handler.wfile
        if not self._chunked:
            wfile.write(data)
        elif len(data) < _SMALL_WRITE:
            wfile.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            wfile.write(b"%x\r\n" % len(data))
            wfile.write(data)
            wfile.write(b"\r\n")

    def finish(self) -> None:
        """End the answer: its head if nothing was written, the last chunk, the length check."""
        if not self.head_sent:
            self._send_head()
        if self._late and not self._no_body:
            self._handler.wfile.write(_LATE_BODY)
        elif self._chunked:
            self._handler.wfile.write(b"0\r\n\r\n")
        elif self._length is not None and not self._no_body and self._written != self._length:
            self.broken = True

    def _send_head(self) -> None:
        if self._status is None:
            raise AssertionError("the application wrote before start_response")
        code_text, _, reason = self._status.partition(" ")
        code = int(code_text)
        handler = self._handler
        if handler.body_late:  # what the application made of a body cut short is moot
            code, reason, self._late = 408, "Request Timeout", True
            self._headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(_LATE_BODY))),
                             ("Connection", "close")]
        self._no_body = self._no_body or 100 <= code < 200 or code in (204, 304)
        close = (handler.close_connection or handler.body_undrainable
                 or (handler.connections is not None and handler.connections.stopping))
        headers = []
        for name, value in self._headers:  # all checked before the first byte goes out
            lower = name.lower()
            if lower == "connection":  # ours to send; the application may only ask to close
                close = close or "close" in value.lower()
            elif lower != "transfer-encoding":
                headers.append((name, value))
                if lower == "content-length":
                    self._length = int(value)
        if self._length is None and not self._no_body:
            if handler.request_version == "HTTP/1.1":
                self._chunked = True
                headers.append(("Transfer-Encoding", "chunked"))
            else:
                close = True  # an HTTP/1.0 client reads such a body to the end of the connection
        if close:
            headers.append(("Connection", "close"))
        elif handler.request_version != "HTTP/1.1":
            headers.append(("Connection", "keep-alive"))
        handler.send_response(code, reason)
        for name, value in headers:
            handler.send_header(name, value)
        handler.close_connection = close
        handler.end_headers()
        self.head_sent = True


def _timed_out(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """An answer for a request whose body stopped arriving; :class:`_Response` makes it the 408."""
    start_response("408 Request Timeout", [])
    return []


class OpenConnections:
    """The connections one server holds open, so that stopping the server ends them too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[socket.socket, bool] = {}  # connection -> waiting for its next request
        self._closed = False

    def idle(self, connection: socket.socket) -> bool:
        """The connection waits for its next request; False when the server is stopping (close it)."""
        with self._lock:
            if self._closed:
                return False
            self._idle[connection] = True
            return True

    def busy(self, connection: socket.socket) -> None:
        """The connection is answering a request."""
        with self._lock:
            self._idle[connection] = False

    @property
    def stopping(self) -> bool:
        """The server is stopping: an answer now tells its client the connection ends."""
        return self._closed

    def forget(self, connection: socket.socket) -> None:
        with self._lock:
            self._idle.pop(connection, None)

    def close(self) -> None:
        """End every idle connection now; busy ones end after their current answer."""
        with self._lock:
            self._closed = True
            idle = [connection for connection, waiting in self._idle.items() if waiting]
        for connection in idle:
            try:  # the handler's blocked read returns at once, and it closes the socket itself
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone


class KeepAliveHandler(WSGIRequestHandler):
    """werkzeug's request handler, with persistent HTTP/1.1 connections (see the module's docstring)."""

    protocol_version = "HTTP/1.1"
    keep_alive = True  # False: one request per connection, as werkzeug serves them
    idle_timeout = 20.0  # seconds, for the next request's head and for any single read or write
    max_requests = 100  # per connection
    min_body_rate = 1024.0  # bytes per second a request body must average, after body_grace seconds
    body_grace = 20.0
    connections: OpenConnections | None = None  # set one per server, to end its connections on stop

    def setup(self) -> None:
        super().setup()
        self._served = 0
        self._body: LengthBody | ChunkedBody | None = None  # the current request's
        self.connection.settimeout(self.idle_timeout)
        self._reader = _DeadlineReader(self.connection, self.idle_timeout)
        self._input = io.BufferedReader(self._reader, 1 << 16)
        self.rfile = self._input
        try:  # small answers go out at once, not after the client's delayed ACK of the previous one
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not TCP

    def finish(self) -> None:
        if self.connections is not None:
            self.connections.forget(self.connection)
        super().finish()

    def handle_one_request(self) -> None:
        if self.connections is not None and not self.connections.idle(self.connection):
            self.close_connection = True
            return
        self._reader.deadline = time.monotonic() + self.idle_timeout
        super().handle_one_request()

    def run_wsgi(self) -> None:
        """Answer the request parsed so far, then leave the connection at the next request's first byte."""
        self._reader.deadline = None
        self._served += 1
        if self.connections is not None:
            self.connections.busy(self.connection)
        if not self.keep_alive or self._served >= self.max_requests:
            self.close_connection = True
        self._body = None
        try:
            self._body = body = request_body(self.headers, self._input)
        except BodyError as error:
            self.send_error(400, str(error))  # sends Connection: close
            return
        if self.headers.get("Expect", "").strip().lower() == "100-continue" and self.request_version == "HTTP/1.1":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._reader.pace(self.min_body_rate, self.body_grace)
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = body
        environ["wsgi.input_terminated"] = isinstance(body, ChunkedBody)
        try:
            if not self._answer(environ) or not self._drain(body):
                self.close_connection = True
        finally:
            self._reader.unpace()

    @property
    def body_undrainable(self) -> bool:
        """Too much of the request's body is unread to drain it after the answer: the connection will close."""
        body = self._body
        return isinstance(body, LengthBody) and body.remaining > DRAIN_LIMIT

    @property
    def body_late(self) -> bool:
        """The request's body stopped arriving (too slowly on average, or not at all): answer 408 and close."""
        return self._reader.late

    def _answer(self, environ: dict[str, Any]) -> bool:
        """Run the application and write its answer; False when the connection cannot carry another."""
        response = _Response(self)
        try:
            self._run(self.server.app, environ, response)
        except _DROPPED as error:
            if self.body_late and not response.head_sent:  # the client is slow, not gone: tell it
                try:
                    self._run(_timed_out, environ, _Response(self))
                except OSError:
                    pass
                return False
            self.connection_dropped(error, environ)
            return False
        except Exception:
            # no path in the log: a token's secret may ride in it
            logger.debug("the application failed on a %s request", self.command, exc_info=True)
            if response.head_sent:
                return False  # the client has part of an answer: only a closed connection tells it so
            try:
                self._run(InternalServerError(), environ, _Response(self))
            except OSError:
                return False
        return not response.broken

    @staticmethod
    def _run(app: Callable[..., Iterable[bytes]], environ: dict[str, Any], response: _Response) -> None:
        chunks = app(environ, response.start_response)
        try:
            for chunk in chunks:
                response.write(chunk)
            response.finish()
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _drain(self, body: LengthBody | ChunkedBody) -> bool:
        """Read what the application left of this request's body; False when it could not, in bounds."""
        if body.complete:
            return True
        if isinstance(body, LengthBody) and body.remaining > DRAIN_LIMIT:
            return False
        self._reader.deadline = time.monotonic() + DRAIN_SECONDS
        self._reader.pace(self.min_body_rate, self.body_grace)  # the application's time is not the client's
        buffer = bytearray(1 << 16)
        drained = 0
        try:
            while drained <= DRAIN_LIMIT:
                count = body.readinto(buffer)
                if not count:
                    return True
                drained += count
        except OSError:  # BodyError, a timeout, a reset
            return False
        finally:
            self._reader.deadline = None
        return False


class CappedServer(ThreadedWSGIServer):
    """werkzeug's threaded server, with one thread per connection up to :attr:`max_connections`."""

    max_connections = 256

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(self.max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: nothing else gives the slot back
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request: socket.socket) -> None:
        """Answer 503 on the accepting thread: a few bytes into an empty send buffer, never a long wait."""
        try:
            request.settimeout(1.0)
            request.sendall(_FULL)
            request.shutdown(socket.SHUT_WR)
            request.setblocking(False)
            while request.recv(1 << 16):  # what the client sent already: closing on unread bytes
                pass  # resets the connection, and the client might lose the answer
        except OSError:
            pass  # gone, or nothing more to read now
        finally:
            self.shutdown_request(request)
