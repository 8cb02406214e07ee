"""A loopback TCP proxy that delays every HTTP request: the "slow network" of the suite.

Each client connection gets its own upstream connection. The client-to-server direction
is parsed just enough to find request boundaries (head, then a Content-Length or chunked
body), and every request head is held for ``delay`` seconds before it is forwarded, so a
keep-alive connection pays the delay once per request, as a real round trip would.
Responses are copied back unchanged.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

logger = logging.getLogger(__name__)

_BUFFER = 256 * 1024
_MAX_HEAD = 256 * 1024


class DelayProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream``, adding ``delay`` seconds per request."""

    def __init__(self, upstream_host: str, upstream_port: int, delay: float) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay
        self.requests = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.5)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept_loop, name="bench-delay-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DelayProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connections ---------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=30)
            except OSError as error:
                logger.warning("proxy: upstream unreachable: %s", error)
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._copy, args=(upstream, client), daemon=True).start()

    def _copy(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy bytes until EOF (responses)."""
        try:
            while True:
                data = source.recv(_BUFFER)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _half_close(sink)

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        """Forward requests one by one, delaying each request head."""
        reader = _Reader(client)
        try:
            while True:
                head = reader.read_head()
                if head is None:
                    break
                with self._lock:
                    self.requests += 1
                time.sleep(self.delay)
                upstream.sendall(head)
                length, chunked = _body_framing(head)
                if chunked:
                    reader.forward_chunked(upstream)
                elif length:
                    reader.forward(upstream, length)
        except (OSError, ValueError) as error:
            logger.debug("proxy connection ended: %s", error)
        finally:
            _half_close(upstream)


class _Reader:
    """Buffered reads from a socket, by head / by length / by chunked framing."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(_BUFFER)
        if not data:
            return False
        self.buffer += data
        return True

    def read_head(self) -> bytes | None:
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > _MAX_HEAD:
                raise ValueError("request head too large")
            if not self._fill():
                return None
        end = self.buffer.index(b"\r\n\r\n") + 4
        head, self.buffer = self.buffer[:end], self.buffer[end:]
        return head

    def forward(self, sink: socket.socket, length: int) -> None:
        while length > 0:
            if not self.buffer and not self._fill():
                raise ValueError("body cut short")
            part, self.buffer = self.buffer[:length], self.buffer[length:]
            sink.sendall(part)
            length -= len(part)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ValueError("chunked body cut short")
        end = self.buffer.index(b"\r\n") + 2
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line

    def forward_chunked(self, sink: socket.socket) -> None:
        while True:
            line = self._line()
            sink.sendall(line)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers end with an empty line
                    trailer = self._line()
                    sink.sendall(trailer)
                    if trailer == b"\r\n":
                        return
            self.forward(sink, size + 2)  # data and its CRLF


def _body_framing(head: bytes) -> tuple[int, bool]:
    """(Content-Length, chunked?) of a request head."""
    length, chunked = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    return length, chunked


def _half_close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
