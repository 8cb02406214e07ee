"""Small servers for the client's attack tests: any WSGI app on a free loopback port, a fake
XNAT that logs in and then serves whatever hostile answer a test needs, and one on raw sockets
for what WSGI cannot do (trickled headers, a body read byte by byte)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SESSION_ID = "0123456789ABCDEF0123456789ABCDEF"


class Loopback:
    """A WSGI app served on a free loopback port from a thread; ``close()`` stops it."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.socket.getsockname()[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Loopback:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def trickle(data: bytes, pause: float, stop: threading.Event) -> Iterator[bytes]:
    """``data`` one byte at a time, ``pause`` seconds apart (ends early once ``stop`` is set)."""
    for index in range(len(data)):
        if stop.wait(pause if index else 0):
            return
        yield data[index:index + 1]


class FakeXNAT:
    """Logs anyone in (``/data/JSESSION``, ``/data/auth``); other paths answer from ``routes``.

    ``routes`` maps a path to a function of the request returning a werkzeug ``Response``;
    unknown paths answer 404. ``stop`` ends every trickle when the test is over.
    """

    def __init__(self, routes: dict[str, Callable[[Request], Response]]) -> None:
        self.routes = routes
        self.stop = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/data/JSESSION":
            response = Response(SESSION_ID, headers={"Set-Cookie": f"JSESSIONID={SESSION_ID}; Path=/"})
        elif request.path == "/data/auth":
            response = Response("User 'admin' is logged in")
        elif request.path in self.routes:
            response = self.routes[request.path](request)
        else:
            response = Response("Not Found", status=404)
        return response(environ, start_response)


def run_bounded(call: Callable[[], Any], limit: float) -> tuple[bool, BaseException | None]:
    """Run ``call`` on a thread; (finished within ``limit`` seconds, what it raised).

    The limit is a liveness bound that keeps a broken client from hanging the suite, not a
    measurement.
    """
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as error:  # handed to the test to judge
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(limit)
    finished = not thread.is_alive() and time.monotonic() - started <= limit
    return finished, (outcome[0] if outcome else None)


#: What a :class:`RawXNAT` handler gets: the connection, the request's head (request line and
#: header lines, undecoded) and the event that ends the test.
RawHandler = Callable[[socket.socket, bytes, threading.Event], None]


class RawXNAT:
    """A fake XNAT on raw sockets, for what WSGI cannot do: trickle the status line and headers,
    or read a request body one byte at a time.

    Logins (``/data/JSESSION``, ``/data/auth``) are answered at once, on a kept-alive
    connection; any other request is handed to ``handler`` after its head was read, and its
    connection is closed afterwards. ``receive_buffer`` shrinks the kernel's receive buffer of
    every connection (set on the listening socket, which they inherit), so that a slow reader
    is felt by the sender soon.
    """

    def __init__(self, handler: RawHandler, receive_buffer: int | None = None) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.listener = socket.socket()
        if receive_buffer is not None:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        connection.settimeout(None)
        with connection:
            try:
                while not self.stop.is_set():
                    head = _read_head(connection)
                    if not head:
                        return
                    path = head.split(b" ", 2)[1].split(b"?")[0] if head.count(b" ") >= 2 else b""
                    if path not in (b"/data/JSESSION", b"/data/auth"):
                        self.handler(connection, head, self.stop)
                        return
                    _skip_body(connection, head)
                    body = SESSION_ID.encode() if path == b"/data/JSESSION" else b"User 'admin' is logged in"
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                       b"Set-Cookie: JSESSIONID=" + SESSION_ID.encode() + b"; Path=/\r\n"
                                       b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            except OSError:  # the client gave up: that is what the tests provoke
                return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()

    def __enter__(self) -> RawXNAT:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_head(connection: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        byte = connection.recv(1)  # one at a time: the body that follows stays in the socket
        if not byte:
            return b""
        head += byte
    return head


def _skip_body(connection: socket.socket, head: bytes) -> None:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and int(value) > 0:
            remaining = int(value)
            while remaining > 0:
                chunk = connection.recv(min(remaining, 65536))
                if not chunk:
                    return
                remaining -= len(chunk)


def trickle_head(connection: socket.socket, head: bytes, stop: threading.Event) -> None:
    """Answer with the status line and headers one byte a second (then a two-byte body)."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
    for index in range(len(answer)):
        if stop.wait(1.0 if index else 0):
            return
        connection.sendall(answer[index:index + 1])


def read_byte_by_byte(connection: socket.socket, head: bytes, stop: threading.Event) -> None:
    """Read the request body one byte per ``recv``, never answering, until the client leaves."""
    while not stop.is_set() and connection.recv(1):
        pass
