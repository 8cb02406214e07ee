"""Upload one file, bytes, text or stream: streamed, retried when it can be, verified on request.

* A path is checked before anything is sent: missing, a directory, unreadable: a clear
  :class:`~xnat.exceptions.XNATUploadError` and no request.
* The body is streamed from its source in blocks (never read whole into memory) with a
  ``Content-Length`` when the size is known, while its MD5 is computed.
* XNAT wants a raw body flagged ``inbody=true``. It refuses an *empty* raw body (400
  "didn't provide any data"), so a zero-length source goes as a one-part
  ``multipart/form-data`` body instead: empty files are uploaded, not skipped.
* A dropped connection or a 502/503/504 answer is retried (bounded, with backoff) when
  the source can be rewound (a path, bytes, a seekable stream); a one-way stream cannot
  be replayed, so its first failure is final unless the caller gives ``reopen``, which
  makes a rewindable copy for the next tries (``upload_dir`` packs its archive again).
* A server that takes the body more slowly than ``min_transfer_rate`` over
  ``transfer_rate_window`` (:class:`~xnat.transfer.connection.RateGuard`, counted as the
  socket takes the bytes) stops the upload with :class:`~xnat.exceptions.XNATTimeoutError`.
* XNAT answers 200 with ``{"duplicates": [...]}`` when the file exists and
  ``overwrite`` was not given, and keeps the old file: that is reported as an error
  rather than as a success.
* With ``verify=True`` the server's file listing is read afterwards and its MD5
  ``digest`` (or its size when it has none) compared with what was sent.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Union
from urllib.parse import unquote, urlsplit

import requests

from ..exceptions import (
    XNATChecksumError,
    XNATResponseError,
    XNATUploadError,
    describe_response,
    redact,
)
from ..transport import counting_sent
from .connection import (
    RETRY_STATUSES,
    STREAM_ERRORS,
    Cancelled,
    Connection,
    log_retry,
    request_error,
)
from .hashing import BackgroundMD5
from .progress import Progress

__all__ = ["Source", "UploadResult", "server_files", "split_file_url", "upload_source", "verify_uploads"]

logger = logging.getLogger(__name__)

#: What can be uploaded: a path, bytes (or bytearray/memoryview), text, or a binary file object.
Source = Union[str, os.PathLike[str], bytes, bytearray, memoryview, IO[bytes]]  # noqa: UP007 - a runtime alias

_BLOCK = 1024 * 1024
_MIN_BLOCK = 256 * 1024
_FILES_URL = re.compile(r"^(.*?/resources/[^/]+/files)(?:/(.*))?$")


@dataclass(frozen=True)
class UploadResult:
    """What one upload sent: where, how many bytes, their MD5 (None unless asked for)."""

    url: str
    size: int
    md5: str | None
    attempts: int = 1


class _Body:
    """The request body: reads from the source in blocks, hashing and counting."""

    def __init__(self, stream: IO[bytes], size: int | None, progress: Progress | None,
                 cancel: threading.Event | None, digest: bool) -> None:
        self._stream = stream
        self._size = size
        self._progress = progress
        self._cancel = cancel
        self.md5 = BackgroundMD5() if digest else None
        self.sent = 0

    def __len__(self) -> int:  # requests sends a Content-Length from this (0: chunked)
        return self._size or 0

    def __bool__(self) -> bool:  # requests replaces a falsy body with {}: never be falsy
        return True

    def read(self, size: int = -1) -> bytes:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled("Upload cancelled")
        # urllib3 asks for 16 KiB at a time; larger blocks halve the CPU per byte, and
        # it sends whatever a read returns.
        data = self._stream.read(_BLOCK if size is None or size < 0 else max(size, _MIN_BLOCK))
        if data:
            if self.md5 is not None:
                self.md5.update(data)
            self.sent += len(data)
            if self._progress is not None:
                self._progress.add(len(data))
        return data

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.read(_BLOCK), b"")

    def hexdigest(self) -> str | None:
        if self.md5 is None:
            return None
        value = self.md5.hexdigest()
        self.md5.close()
        return value

    def close(self) -> None:
        if self.md5 is not None:
            self.md5.close()


class _Opened:
    """A source opened for reading: its stream, size, start offset and display name."""

    def __init__(self, source: Source, what: str) -> None:
        self.close_after = False
        self.name = what
        given: object = source  # callers may pass what the type excludes (a text stream): checked as an object
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.exists():
                hint = " (to upload text, use upload_data)" if isinstance(source, str) else ""
                raise XNATUploadError(f"Cannot upload {path}: no such file{hint}")
            if path.is_dir():
                raise XNATUploadError(f"Cannot upload {path}: it is a directory (use upload_dir)")
            try:
                self.stream: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close()
            except OSError as error:
                raise XNATUploadError(f"Cannot upload {path}: {error.strerror or error}") from error
            self.close_after = True
            self.name = str(path)
        elif isinstance(source, (bytes, bytearray, memoryview)):
            self.stream = io.BytesIO(bytes(source))
            self.close_after = True
        elif isinstance(given, io.TextIOBase):
            raise XNATUploadError(f"Cannot upload the text stream {getattr(given, 'name', '')!r}: "
                                  "open the file in binary mode ('rb')")
        elif callable(getattr(source, "read", None)):
            self.stream = source
            self.name = str(getattr(source, "name", what))
        else:
            raise XNATUploadError(f"Cannot upload a {type(source).__name__}: give a path, bytes, "
                                  "a str (with upload_data) or a binary file object")
        self.start, self.size = _position_and_size(self.stream)

    def replace(self, source: Source) -> None:
        """Read ``source`` from now on (this one closed first)."""
        self.close()
        fresh = _Opened(source, self.name)
        self.stream, self.start, self.size, self.close_after = fresh.stream, fresh.start, fresh.size, fresh.close_after

    @property
    def rewindable(self) -> bool:
        return self.start is not None

    def rewind(self) -> None:
        assert self.start is not None
        self.stream.seek(self.start)

    def close(self) -> None:
        if self.close_after:
            self.stream.close()


def _position_and_size(stream: IO[bytes]) -> tuple[int | None, int | None]:
    """Where a stream starts and how many bytes remain; (None, None) when it cannot seek."""
    try:
        if not stream.seekable():
            return None, None
        start = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(start)
        return start, end - start
    except (AttributeError, OSError, ValueError):
        return None, None


def upload_source(conn: Connection, url: str, source: Source, *, method: str = "put",
                  overwrite: bool = False, query: Mapping[str, Any] | None = None,
                  content_type: str = "application/octet-stream", progress: Progress | None = None,
                  cancel: threading.Event | None = None, verify: bool = False,
                  digest: bool | None = None, reopen: Callable[[], Source] | None = None) -> UploadResult:
    """Upload ``source`` to the file URL ``url``; see the module documentation.

    ``digest`` computes the MD5 of what is sent (default: only when ``verify``). ``reopen``:
    for a source that cannot be rewound (a stream), makes a fresh, rewindable copy to try
    again with (e.g. an archive packed again into a temporary file); without it such an
    upload is tried once.
    """
    digest = verify if digest is None else digest
    method = method.upper()
    if method not in ("PUT", "POST"):
        raise XNATUploadError(f"Uploads use PUT or POST, not {method!r}")
    files_url, relpath = split_file_url(url) if verify else ("", "")  # a bad URL fails before sending
    opened = _Opened(source, "data")
    try:
        result = _send(conn, url, opened, method, overwrite, query or {}, content_type, progress, cancel, digest,
                       reopen)
    finally:
        opened.close()
    if verify:
        verify_uploads(conn, files_url, {relpath: (result.size, result.md5 or "")})
    return result


def _send(conn: Connection, url: str, opened: _Opened, method: str, overwrite: bool,
          query: Mapping[str, Any], content_type: str, progress: Progress | None,
          cancel: threading.Event | None, digest: bool,
          reopen: Callable[[], Source] | None = None) -> UploadResult:
    failed = 0
    params = dict(query)
    if overwrite:
        params["overwrite"] = "true"
    while True:
        body = _Body(opened.stream, opened.size, progress, cancel, digest)
        try:
            response, cause = _attempt(conn, method, url, body, opened, params, content_type)
            if response is not None and response.status_code not in RETRY_STATUSES:
                _check_response(conn, response)
                return UploadResult(url, body.sent, body.hexdigest(), failed + 1)
        finally:
            body.close()
        failed += 1
        if progress is not None:
            progress.add(-body.sent)
        if not opened.rewindable and reopen is not None and failed <= conn.retries:
            # The stream is spent: the next tries send a rewindable copy, closed by the caller.
            log_retry("Upload", url, failed, conn.retries, cause or f"status {response.status_code}")
            conn.wait(failed, cancel)
            opened.replace(reopen())
            reopen = None
            continue
        if not opened.rewindable or failed > conn.retries:
            detail = "" if opened.rewindable else " (the source stream cannot be rewound to try again)"
            if response is not None:
                raise XNATUploadError(describe_response(response, f"Upload of {opened.name} failed") + detail)
            raise XNATUploadError(f"Upload of {opened.name} to {redact(url)} failed after {failed} "
                                  f"attempt(s): {cause}{detail}") from cause
        log_retry("Upload", url, failed, conn.retries, cause or f"status {response.status_code}")
        conn.wait(failed, cancel)
        opened.rewind()


def _attempt(conn: Connection, method: str, url: str, body: _Body, opened: _Opened,
             params: Mapping[str, Any], content_type: str) -> tuple[Any, BaseException | None]:
    """One request: (response, None), or (None, the connection error to retry on)."""
    try:
        return _request(conn, method, url, body, opened, params, content_type), None
    except Cancelled:
        raise
    except STREAM_ERRORS as error:
        return None, error
    except requests.exceptions.RequestException as error:
        raise request_error(error, method, url) from error


def _request(conn: Connection, method: str, url: str, body: _Body, opened: _Opened,
             params: Mapping[str, Any], content_type: str) -> requests.Response:
    if opened.size == 0:
        # XNAT refuses an empty raw body; an empty multipart part is accepted.
        filename = PurePosixPath(unquote(urlsplit(url).path)).name or "file"
        return conn.http.request(method, conn.url(url, params), files={"file": (filename, b"", content_type)},
                                 timeout=conn.stream_timeout)
    # The throughput rule, as downloads have it: counted as the socket takes the body.
    guard = conn.rate_guard("Upload of", url)
    with counting_sent(guard.add if guard is not None else None):
        return conn.http.request(method, conn.url(url, {**params, "inbody": "true"}), data=body,
                                 headers={"Content-Type": content_type}, timeout=conn.stream_timeout)


def _check_response(conn: Connection, response: Any) -> None:
    conn.check(response, (200, 201), "Upload failed")
    text = response.text or ""
    if "duplicates" in text[:200]:
        try:
            duplicates = json.loads(text).get("duplicates") or []
        except (ValueError, AttributeError, RecursionError):
            duplicates = []
        if duplicates:
            raise XNATUploadError(
                f"Upload to {redact(response.url)} was not stored: the server already has "
                f"{', '.join(map(str, duplicates[:5]))}; pass overwrite=True to replace it")


def split_file_url(url: str) -> tuple[str, str]:
    """``(".../resources/R/files", "a/b.txt")`` from a file URL (query dropped)."""
    path_url = url.split("?", 1)[0]
    match = _FILES_URL.match(path_url)
    if not match or not match.group(2):
        raise XNATUploadError(f"Cannot verify {redact(url)}: not a .../resources/<label>/files/<path> URL")
    return match.group(1), unquote(match.group(2))


def server_files(conn: Connection, files_url: str) -> dict[str, tuple[int | None, str | None]]:
    """The resource's files as the server lists them: relative path -> (size, MD5 or None)."""
    response = conn.request("GET", conn.url(files_url, {"format": "json"}))
    conn.check(response, (200,), "Listing the uploaded files failed")
    try:
        rows = response.json()["ResultSet"]["Result"]
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise XNATResponseError(f"The file listing of {redact(files_url)} is not the expected JSON table",
                                response) from error
    listing: dict[str, tuple[int | None, str | None]] = {}
    for row in rows:
        match = _FILES_URL.match(str(row.get("URI", "")))
        name = unquote(match.group(2)) if match and match.group(2) else str(row.get("Name", ""))
        size = str(row.get("Size", ""))
        listing[name] = (int(size) if size.isdigit() else None, (row.get("digest") or None))
    return listing


def verify_uploads(conn: Connection, files_url: str, sent: Mapping[str, tuple[int, str]]) -> None:
    """Compare what was sent (path -> (size, md5)) with the server's listing, in one request."""
    listing = server_files(conn, files_url)
    problems = []
    for name, (size, md5) in sent.items():
        if name not in listing:
            problems.append(f"{name} is missing")
            continue
        server_size, digest = listing[name]
        if digest and digest.lower() != md5:
            problems.append(f"{name}: server MD5 {digest} differs from the {md5} sent")
        elif not digest and server_size is not None and server_size != size:
            problems.append(f"{name}: server has {server_size} bytes, {size} were sent")
    if problems:
        raise XNATChecksumError(f"Upload to {redact(files_url)} did not verify: " + "; ".join(problems[:10]))
