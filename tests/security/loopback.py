"""Small servers for the client's attack tests: any WSGI app on a free loopback port, and a
fake XNAT that logs in and then serves whatever hostile answer a test needs."""

from __future__ import annotations

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
