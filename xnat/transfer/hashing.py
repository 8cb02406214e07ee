"""MD5 computed beside a transfer, on a helper thread, over buffers that are reused.

Hashing costs about as much CPU as receiving and writing the bytes together (about
1.3 s per GiB here). ``hashlib`` releases the GIL on large buffers, so handing chunks to
a helper thread lets the digest run on another core while the transfer thread keeps
reading the socket: a verified download then takes about as long as an unverified one.

Two ways to feed it:

* :meth:`BackgroundMD5.update` with a ``bytes`` chunk (at most ``depth`` wait in the queue);
* a pool of ``depth`` reusable buffers: :meth:`~BackgroundMD5.take` one, read into it
  (``readinto``), write it out, then :meth:`~BackgroundMD5.submit` it; the helper thread
  hashes it and puts it back in the pool. No chunk is allocated or copied on the way, and
  the pool bounds the memory (``depth`` x ``size``).
"""

from __future__ import annotations

import hashlib
import queue
import threading

__all__ = ["BUFFER_SIZE", "BackgroundMD5"]

#: Size of one reusable read buffer.
BUFFER_SIZE = 1 << 20


class BackgroundMD5:
    """An MD5 fed with :meth:`update` or pooled buffers; :meth:`hexdigest` waits for the queued chunks."""

    def __init__(self, depth: int = 3, size: int = BUFFER_SIZE) -> None:
        self._md5 = hashlib.md5()
        self._queue: queue.Queue[tuple[bytes | bytearray, int, bool] | None] = queue.Queue(maxsize=depth)
        self._thread: threading.Thread | None = None
        self._depth, self._size = depth, size
        self._pool: queue.Queue[bytearray] | None = None

    def update(self, data: bytes) -> None:
        self._start()
        self._queue.put((data, len(data), False))

    def take(self) -> bytearray:
        """A free buffer of the pool (waits while the helper thread still hashes all of them)."""
        if self._pool is None:
            self._pool = queue.Queue()
            for _ in range(self._depth):
                self._pool.put(bytearray(self._size))
        return self._pool.get()

    def submit(self, buffer: bytearray, length: int) -> None:
        """Hash the first ``length`` bytes of a buffer from :meth:`take`; it returns to the pool after."""
        self._start()
        self._queue.put((buffer, length, True))

    def give_back(self, buffer: bytearray) -> None:
        """Return a buffer from :meth:`take` unused."""
        if self._pool is not None:
            self._pool.put(buffer)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="xnat-md5", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            data, length, pooled = item
            if pooled:
                with memoryview(data) as view:
                    self._md5.update(view[:length])
                self.give_back(data)  # type: ignore[arg-type]  # pooled buffers are bytearrays
            else:
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
