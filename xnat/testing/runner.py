"""``XNATServer``: the embedded XNAT served over real HTTP on this machine.

A threaded werkzeug server runs :class:`~xnat.testing.app.XNATApp` in a background
thread; connections are kept alive between requests, as a real XNAT (Tomcat) keeps them
(:mod:`xnat.testing.httpserve`). The data folder outlives :meth:`XNATServer.stop`, so a server can be stopped
and started again on the same port with the same archive (a "restart")::

    from xnat.testing.runner import XNATServer

    with XNATServer(users=["admin:admin:admin"], populate="projects=1,subjects=3") as server:
        print(server.url)          # http://127.0.0.1:<free port>
"""

from __future__ import annotations

import inspect
import logging
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer

from xnat.exceptions import redact
from xnat.testing.app import XNATApp
from xnat.testing.backend.populate import Populated
from xnat.testing.httpserve import CappedServer, KeepAliveHandler, OpenConnections

logger = logging.getLogger(__name__)

__all__ = ["XNATServer"]


class _QuietHandler(KeepAliveHandler):
    """Request handler that logs through ``logging`` instead of printing to stderr."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # getattr: a request line refused before parsing (414: over 64 KiB) has no path; an
        # AttributeError here would drop the connection instead of sending the answer
        # redact: a token's secret rides in the path (/data/services/tokens/validate/{alias}/{secret})
        logger.debug("%s %s -> %s", getattr(self, "command", "-"), redact(getattr(self, "path", "-")), code)

    def log_error(self, format: str, *args: Any) -> None:
        logger.debug("server error: " + format, *args)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)


def _handler(settings: Mapping[str, Any], connections: OpenConnections) -> type[_QuietHandler]:
    """The request handler class for one run of a server: its connection settings, its open connections."""
    return type("_QuietHandler", (_QuietHandler,), {**settings, "connections": connections})


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; raises OSError (e.g. address in use)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


def _populate_spec(spec: str | Mapping[str, int]) -> str | dict[str, int]:
    return dict(spec) if isinstance(spec, Mapping) else spec


def _check_app_options(options: Mapping[str, Any]) -> None:
    """Refuse an option XNATApp does not take now, rather than when the server starts."""
    parameters = inspect.signature(XNATApp).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return  # XNATApp checks its own options
    app_options = frozenset(parameters) - {"data_dir"}  # the server sets data_dir itself
    unknown = sorted(set(options) - app_options)
    if unknown:
        known = ", ".join(sorted(app_options | {"host", "port", "data_dir", "populate", "schemas",
                                                "keep_alive", "idle_timeout", "min_body_rate", "body_grace",
                                                "max_connections"}))
        raise TypeError(f"XNATServer() got unexpected option(s) {', '.join(map(repr, unknown))}; it takes: {known}")


class XNATServer:
    """The embedded XNAT server, serving HTTP on ``host:port`` from a background thread.

    :param host: interface to listen on (loopback by default)
    :param port: TCP port; 0 picks a free one (read it back from :attr:`url`)
    :param data_dir: where the archive and its database live; a temporary folder,
        removed by :meth:`close`, when not given
    :param populate: bulk data to create at start, e.g. ``"projects=1,subjects=200,experiments=100"``
    :param schemas: the schema folder to serve (laid out as ``<dir>/<name>.xsd``), as
        ``xnat serve --schemas`` names it; None serves the compact built-in set.
        ``schemas_dir=``, :class:`XNATApp`'s name for it, is accepted too (not both).
    :param keep_alive: serve many requests per connection (HTTP/1.1 persistent
        connections, as XNAT's Tomcat does); False closes each after one answer
    :param idle_timeout: seconds a kept-alive connection may wait for its next request
        (Tomcat's ``connectionTimeout``), and the most any single read or write waits
    :param min_body_rate: bytes per second a request body must arrive at on average, once
        ``body_grace`` seconds have passed; a slower one is answered 408 and its connection closed
    :param body_grace: seconds a request body may take before ``min_body_rate`` applies
    :param max_connections: connections served at once (one thread each, Tomcat's
        ``maxConnections``); one more is answered 503 with ``Retry-After`` and closed
    :param app_options: passed to :class:`XNATApp` (``users``, ``allow_anonymous``,
        ``site_id``, ``version``, ``session_timeout``, ``durable``, ``extract_max_bytes``,
        ``extract_max_ratio``, ``extract_max_files``, ``search_timeout``,
        ``max_sessions_per_user``); an unknown name is a
        :class:`TypeError` here, not at :meth:`start`
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | Path | None = None,
        populate: str | Mapping[str, int] | None = None,
        schemas: str | Path | None = None,
        keep_alive: bool = True,
        idle_timeout: float = 20.0,
        min_body_rate: float = KeepAliveHandler.min_body_rate,
        body_grace: float = KeepAliveHandler.body_grace,
        max_connections: int = CappedServer.max_connections,
        **app_options: Any,
    ) -> None:
        _check_app_options(app_options)
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError(f"max_connections must be a whole number of at least 1, not {max_connections!r}")
        self._max_connections = max_connections
        for name, value in (("idle_timeout", idle_timeout), ("min_body_rate", min_body_rate),
                            ("body_grace", body_grace)):
            if not (isinstance(value, (int, float)) and value > 0 and value != float("inf")):
                raise ValueError(f"{name} must be a positive number, not {value!r}")
        self._handler_settings = {"keep_alive": keep_alive, "idle_timeout": float(idle_timeout),
                                  "min_body_rate": float(min_body_rate), "body_grace": float(body_grace)}
        self._connections = OpenConnections()
        if schemas is not None:
            if app_options.get("schemas_dir") is not None:
                raise TypeError("XNATServer() takes schemas= or schemas_dir= (the same folder), not both")
            app_options["schemas_dir"] = schemas
        self.host = host
        self.port = port
        self._own_data_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="xnat-server-"))
        self._app_options = app_options
        self._populate = populate
        self.app: XNATApp | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> XNATServer:
        """Start serving (again). On a restart the same port and data are used."""
        if self._server is not None:
            return self
        # Bind first: the app needs the real URL (a picked port) for the links it writes.
        # We bind the socket ourselves because werkzeug prints and exits on a busy port;
        # here the caller gets an OSError it can handle.
        listener = _listen(self.host, self.port)
        self._connections = OpenConnections()
        handler = _handler(self._handler_settings, self._connections)
        try:
            server_class = type("_Server", (CappedServer,), {"max_connections": self._max_connections})
            self._server = server_class(self.host, self.port, self._dispatch, handler, fd=listener.fileno())
        finally:
            listener.close()  # werkzeug works on its own duplicate of the descriptor
        self.port = self._server.socket.getsockname()[1]  # keep a picked port for restarts
        try:
            if self.app is None:
                self.app = XNATApp(data_dir=self.data_dir, **self._site_options())
            if self._populate:
                self.app.populate(_populate_spec(self._populate))
                self._populate = None
        except BaseException:
            # Nothing serves yet: release the port (shutdown() would wait for a serve loop
            # that never started) so that close() after a failed start returns.
            server, self._server = self._server, None
            server.server_close()
            raise
        # A short poll interval makes stop() quick (werkzeug's default costs 0.5 s per stop).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"xnat-server-{self.port}", daemon=True)
        self._thread.start()
        logger.info("XNAT emulator listening on %s", self.url)
        return self

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        app = self.app
        if app is None:  # only between bind and app creation, or after close
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"The XNAT emulator is starting"]
        return app(environ, start_response)

    def stop(self) -> None:
        """Stop serving HTTP. The data is kept: :meth:`start` brings the same archive back."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
            self._connections.close()  # a stopped server answers on no kept-alive connection either
        if thread is not None:
            thread.join(timeout=10)

    def restart(self) -> None:
        """Stop, then start a new application on the same data, as a server restart does.

        Logged-in sessions do not survive unless the application persists them.
        """
        self.stop()
        if self.app is not None:
            self.app.close()
            self.app = None
        self.start()

    def close(self) -> None:
        """Stop serving and release everything; a temporary data folder is removed."""
        self.stop()
        if self.app is not None:
            self.app.close()
            self.app = None
        if self._own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> XNATServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- what tests and users need ------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:8080``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def add_user(self, login: str, password: str, admin: bool = False, **fields: Any) -> None:
        """Add a user who can log in with ``login``/``password``."""
        self._require_app().add_user(login, password, admin=admin, **fields)

    def populate(self, spec: str | Mapping[str, int]) -> Populated:
        """Bulk-create projects, subjects and MR sessions, e.g. ``"projects=1,subjects=10"``; ``files=N``
        gives the first N sessions scans with DICOM files. Returns where those files came from, and which
        sessions hold them."""
        return self._require_app().populate(_populate_spec(spec))

    def _require_app(self) -> XNATApp:
        if self.app is None:
            raise RuntimeError("the server is not started: call start() or use it as a context manager")
        return self.app

    def _site_options(self) -> dict[str, Any]:
        options = dict(self._app_options)
        users: Iterable[str] | None = options.pop("users", None)
        if users is not None:
            options["users"] = tuple(users)
        options.setdefault("site_url", self.url)
        return options

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<XNATServer {self.url} ({state}) data={self.data_dir}>"
