"""MD5 computed beside a transfer, on a helper thread.

Hashing costs about as much CPU as receiving and writing the bytes together (about
1.3 s per GiB here). ``hashlib`` releases the GIL on large buffers, so feeding chunks to
a helper thread lets the digest run on another core while the transfer thread keeps
reading the socket: a verified download then takes about as long as an unverified one.
At most ``depth`` chunks wait in the queue, so memory stays bounded.
"""

from __future__ import annotations

import hashlib
import queue
import threading

__all__ = ["BackgroundMD5"]


class BackgroundMD5:
    """An MD5 fed with :meth:`update`; :meth:`hexdigest` waits for the queued chunks."""

    def __init__(self, depth: int = 3) -> None:
        self._md5 = hashlib.md5()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._thread: threading.Thread | None = None

    def update(self, data: bytes) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="xnat-md5", daemon=True)
            self._thread.start()
        self._queue.put(data)

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            self._md5.update(data)

    def _drain(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def hexdigest(self) -> str:
        """The digest of everything given so far."""
        self._drain()
        return self._md5.hexdigest()

    def reset(self) -> None:
        """Start again from no data (a download that starts over)."""
        self._drain()
        self._md5 = hashlib.md5()

    def close(self) -> None:
        """Stop the helper thread (safe to call more than once)."""
        self._drain()
