"""A seekable, read-only file object over a remote file, fetched by byte ranges.

``RemoteFile`` reads what is asked for and a little more (``readahead``, 256 KiB by
default) with one ``Range`` request, and keeps only that block. Seeking is free; a read
far into a large file costs one small request, never the rest of the file (xnatpy's
``RequestsFileLike`` pulled everything up to the position into memory). This is what
``pydicom.dcmread(f, stop_before_pixels=True)`` on a big file wants.

A server that ignores ``Range`` (answers 200) still works: the body is skipped up to the
position and the connection closed after the block, so memory stays bounded.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from ..exceptions import XNATIOError, XNATResponseError, describe_response, redact
from .connection import (
    RETRY_STATUSES,
    STREAM_ERRORS,
    Connection,
    log_retry,
    request_error,
)

__all__ = ["DEFAULT_READAHEAD", "RemoteFile"]

logger = logging.getLogger(__name__)

DEFAULT_READAHEAD = 256 * 1024


class RemoteFile(io.RawIOBase):
    """A read-only binary file over ``url``; ``size`` is asked with HEAD when not given.

    ``requests`` counts the HTTP requests made, for the curious (and the tests).
    """

    def __init__(self, conn: Connection, url: str, size: int | None = None,
                 readahead: int = DEFAULT_READAHEAD) -> None:
        super().__init__()
        if readahead < 0:
            raise XNATIOError(f"readahead must be 0 or more, not {readahead}")
        self._conn = conn
        self.url = url
        self.name = url
        self.readahead = readahead
        self._pos = 0
        self._block_start = 0
        self._block = b""
        self.requests = 0
        self._size = size if size is not None else self._head_size()

    @property
    def size(self) -> int:
        """The size of the remote file in bytes."""
        return self._size

    def _head_size(self) -> int:
        response = self._conn.request("HEAD", self.url, allow_redirects=True,
                                      headers={"Accept-Encoding": "identity"})
        self.requests += 1
        self._conn.check(response, (200,), "Opening the remote file failed")
        length = response.headers.get("Content-Length", "")
        if not length.isdigit():
            raise XNATIOError(f"{redact(self.url)}: the server did not give the file size; pass size=")
        return int(length)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._pos + offset
        elif whence == io.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._pos = position
        return position

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            size = self._size - self._pos
        size = min(size, max(0, self._size - self._pos))
        if size == 0:
            return b""
        end = self._pos + size
        if not (self._block_start <= self._pos and end <= self._block_start + len(self._block)):
            # Fetch the request plus read-ahead; a whole-rest read gets no extra.
            self._fetch(self._pos, min(self._size, end + self.readahead))
        offset = self._pos - self._block_start
        data = self._block[offset: offset + size]
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def _fetch(self, start: int, stop: int) -> None:
        """Load bytes [start, stop) as the current block, retrying a dropped connection."""
        self._block = b""
        failed = 0
        while True:
            try:
                self._block = self._get_range(start, stop)
                self._block_start = start
                return
            except STREAM_ERRORS as error:
                failed += 1
                if failed > self._conn.retries:
                    raise request_error(error, "GET", self.url) from error
                log_retry("Range read", self.url, failed, self._conn.retries, error)
                self._conn.wait(failed)
            except _RetryStatus as status:
                failed += 1
                if failed > self._conn.retries:
                    raise XNATResponseError(describe_response(status.response, "Reading the remote file failed"),
                                            status.response) from None
                self._conn.wait(failed)

    def _get_range(self, start: int, stop: int) -> bytes:
        headers = {"Range": f"bytes={start}-{stop - 1}", "Accept-Encoding": "identity"}
        self.requests += 1
        with self._conn.http.get(self.url, headers=headers, stream=True,
                                 timeout=self._conn.stream_timeout) as response:
            if response.status_code in RETRY_STATUSES:
                raise _RetryStatus(response)
            if response.status_code == 206:
                data = response.raw.read(stop - start, decode_content=False)
            elif response.status_code == 200:
                data = self._slice_of_full_body(response, start, stop)
            else:
                raise XNATResponseError(describe_response(response, "Reading the remote file failed"), response)
        if len(data) < stop - start:
            raise ConnectionError(f"short range: {len(data)} of {stop - start} bytes")
        return data[: stop - start]

    @staticmethod
    def _slice_of_full_body(response: Any, start: int, stop: int) -> bytes:
        # The server ignored Range: skip to start, keep what is needed, drop the rest.
        logger.debug("Server ignored the Range header for %s; skipping %d bytes", redact(response.url), start)
        skipped = 0
        parts: list[bytes] = []
        kept = 0
        for chunk in response.iter_content(chunk_size=64 * 1024):
            if skipped + len(chunk) <= start:
                skipped += len(chunk)
                continue
            piece = chunk[max(0, start - skipped):]
            skipped = start
            parts.append(piece)
            kept += len(piece)
            if kept >= stop - start:
                break
        return b"".join(parts)

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    def close(self) -> None:
        self._block = b""
        super().close()

    def __repr__(self) -> str:
        return f"<RemoteFile {redact(self.url)} size={self._size} pos={self._pos}>"


class _RetryStatus(Exception):
    def __init__(self, response: Any) -> None:
        super().__init__(response.status_code)
        self.response = response
