"""Download one file: streamed, verified, resumed after a dropped connection.

How a download to a path goes:

1. The target is checked first (an existing file without ``overwrite``, a directory, a
   parent that cannot be created): a clear :class:`~xnat.exceptions.XNATIOError`, and
   nothing is requested.
2. The body streams, one chunk at a time (memory stays flat whatever the size), into a
   hidden temporary file beside the target while its MD5 is computed.
3. A dropped or stalled connection resumes where it stopped with a ``Range`` request
   (``If-Range`` with the ETag, so a file changed meanwhile restarts from zero). A
   ``502/503/504`` answer is retried too. Retries are bounded with exponential backoff.
4. The result is verified: MD5 against ``expected_md5`` (the catalog digest) when given,
   size against ``expected_size`` and the announced length otherwise. A mismatch starts
   over; still wrong after the retries, it raises :class:`XNATChecksumError`.
5. Only then is the temporary file renamed to the target. On any failure it is removed:
   a wrong or partial file never appears under the target name.
"""

from __future__ import annotations

import errno
import http.client
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlsplit

import requests

from ..exceptions import (
    XNATChecksumError,
    XNATIOError,
    XNATResponseError,
    describe_response,
    redact,
)
from .connection import (
    RETRY_STATUSES,
    STREAM_ERRORS,
    Cancelled,
    Connection,
    RateGuard,
    log_retry,
    request_error,
)
from .hashing import BUFFER_SIZE, BackgroundMD5
from .paths import temp_name
from .progress import Progress

__all__ = ["DownloadResult", "check_target", "download_to_path", "download_to_stream", "os_error"]

logger = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
#: Bodies from this size on are read into reused buffers (see ``_readinto_source``).
READINTO_MIN_SIZE = 8 << 20


@dataclass(frozen=True)
class DownloadResult:
    """What a finished download produced: where, how many bytes, their MD5.

    ``md5`` is computed (and checked) only when an expected MD5 was given; else None.
    """

    url: str
    size: int
    md5: str | None
    path: Path | None = None
    attempts: int = 1


class _Sink(Protocol):
    written: int

    def write(self, data: bytes | memoryview) -> None: ...
    def restart(self) -> bool: ...


def os_error(error: OSError, action: str, path: object) -> XNATIOError:
    """A clear message for a local file error; a full disk is named as such."""
    if error.errno == errno.ENOSPC:
        reason = "the disk is full (no space left on device)"
    elif error.errno == errno.EDQUOT:
        reason = "the disk quota is exceeded"
    elif error.errno == errno.EROFS:
        reason = "the file system is read-only"
    elif error.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied" if error.errno == errno.EACCES else "operation not permitted"
        blocker = _nearest_existing(Path(str(path)))
        if not os.access(blocker, os.W_OK):  # name the folder that is in the way
            reason += f" ({blocker} is not writable)"
    else:
        reason = error.strerror or str(error)
    return XNATIOError(f"Could not {action} {path}: {reason}")


def _nearest_existing(path: Path) -> Path:
    """``path`` or the closest of its parents that exists."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


class TempFileSink:
    """A hidden temporary file beside the target; renamed onto it only when verified."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.written = 0
        # os.open with 0o666 (not mkstemp's 0o600): the final file gets the user's umask.
        for _ in range(100):
            self.path = target.parent / f"{temp_name(target)}{secrets.token_hex(4)}.part"
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                continue
            except OSError as error:
                raise os_error(error, "create a file in", target.parent) from error
        else:  # pragma: no cover - 100 random collisions
            raise XNATIOError(f"Could not create a temporary file in {target.parent}")
        self.file: IO[bytes] = os.fdopen(fd, "wb")

    def write(self, data: bytes | memoryview) -> None:
        try:
            self.file.write(data)
        except OSError as error:
            raise os_error(error, "write", self.target) from error
        self.written += len(data)

    def restart(self) -> bool:
        self.file.seek(0)
        self.file.truncate()
        self.written = 0
        return True

    def commit(self, overwrite: bool) -> None:
        try:
            self.file.close()
        except OSError as error:  # the last buffered write can hit a full disk here
            raise os_error(error, "write", self.target) from error
        if not overwrite and os.path.lexists(self.target):
            raise XNATIOError(f"{self.target} appeared during the download; not overwritten (pass overwrite=True)")
        try:
            os.replace(self.path, self.target)
        except OSError as error:
            raise os_error(error, "rename the download to", self.target) from error

    def discard(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass  # a full disk again; the file is removed below anyway
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class _StreamSink:
    """A caller's file object; it can start over only when it is seekable."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.written = 0
        try:
            self.start: int | None = stream.tell() if stream.seekable() else None
        except (AttributeError, OSError):
            self.start = None

    def write(self, data: bytes | memoryview) -> None:
        if isinstance(data, memoryview):  # the buffer is reused: the caller's stream may keep what it gets
            data = data.tobytes()
        try:
            self.stream.write(data)
        except OSError as error:
            raise os_error(error, "write to", getattr(self.stream, "name", "the output stream")) from error
        self.written += len(data)

    def restart(self) -> bool:
        if self.start is None:
            return False
        self.stream.seek(self.start)
        self.stream.truncate()
        self.written = 0
        return True


def check_target(target: str | os.PathLike[str], overwrite: bool) -> Path:
    """Refuse a target that is a directory or exists without ``overwrite``; create its parent."""
    path = Path(target)
    if path.is_dir():
        raise XNATIOError(f"The download target {path} is a directory; give the path of a file")
    if not overwrite and os.path.lexists(path):
        raise XNATIOError(f"The download target {path} already exists; pass overwrite=True to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise os_error(error, "create the folder", path.parent) from error
    if not os.access(path.parent, os.W_OK):
        raise XNATIOError(f"Could not write {path}: permission denied on {path.parent}")
    return path


def download_to_path(conn: Connection, url: str, target: str | os.PathLike[str], *,
                     expected_md5: str | None = None, expected_size: int | None = None,
                     overwrite: bool = False, progress: Progress | None = None,
                     cancel: threading.Event | None = None,
                     on_total: Callable[[int], None] | None = None) -> DownloadResult:
    """Download ``url`` to the file ``target``; see the module documentation."""
    path = check_target(target, overwrite)
    sink = TempFileSink(path)
    try:
        result = _fetch(conn, url, sink, expected_md5, expected_size, progress, cancel, on_total)
        sink.commit(overwrite)
    except BaseException:
        sink.discard()
        raise
    return DownloadResult(url, result.size, result.md5, path, result.attempts)


def download_to_stream(conn: Connection, url: str, stream: IO[bytes], *,
                       expected_md5: str | None = None, expected_size: int | None = None,
                       progress: Progress | None = None, cancel: threading.Event | None = None,
                       on_total: Callable[[int], None] | None = None) -> DownloadResult:
    """Download ``url`` into the writable binary ``stream``, verified like a path download.

    A seekable stream is rewound and truncated when the download has to start over; a
    stream that is not seekable cannot be, so a bad checksum raises at once.
    """
    if not callable(getattr(stream, "write", None)):
        raise XNATIOError(f"download_stream needs a writable binary file object, not {type(stream).__name__}")
    return _fetch(conn, url, _StreamSink(stream), expected_md5, expected_size, progress, cancel, on_total)


class _Attempts:
    """Counts failed attempts against the connection's bound, with backoff between them."""

    def __init__(self, conn: Connection, url: str, cancel: threading.Event | None) -> None:
        self.conn, self.url, self.cancel = conn, url, cancel
        self.failed = 0

    def retry(self, cause: object) -> bool:
        """Count a failure; wait and return True when another attempt is allowed."""
        self.failed += 1
        if self.failed > self.conn.retries:
            return False
        log_retry("Download", self.url, self.failed, self.conn.retries, cause)
        self.conn.wait(self.failed, self.cancel)
        return True


def _fetch(conn: Connection, url: str, sink: _Sink, expected_md5: str | None,
           expected_size: int | None, progress: Progress | None,
           cancel: threading.Event | None, on_total: Callable[[int], None] | None = None) -> DownloadResult:
    """Run one download into ``sink``; ``on_total(size)`` is called when the size is first learnt."""
    # Without an expected MD5 the size is the check: no CPU is spent on a digest.
    digest = BackgroundMD5(depth=4) if expected_md5 else None
    try:
        return _Download(conn, url, sink, expected_md5, expected_size, progress, cancel, on_total, digest).run()
    finally:
        if digest is not None:
            digest.close()


class _Download:
    """The state of one download across its attempts: bytes kept, ETag, announced size."""

    def __init__(self, conn: Connection, url: str, sink: _Sink, expected_md5: str | None,
                 expected_size: int | None, progress: Progress | None, cancel: threading.Event | None,
                 on_total: Callable[[int], None] | None, digest: BackgroundMD5 | None) -> None:
        self.conn, self.url, self.sink = conn, url, sink
        self.expected_md5 = expected_md5.strip().lower() if expected_md5 else None
        self.expected_size = expected_size
        self.progress, self.cancel, self.on_total, self.digest = progress, cancel, on_total, digest
        self.attempts = _Attempts(conn, url, cancel)
        self.total: int | None = expected_size
        self.etag: str | None = None

    def run(self) -> DownloadResult:
        while True:
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled(f"Download of {redact(self.url)} cancelled")
            if not self._attempt():
                continue
            md5 = self.digest.hexdigest() if self.digest is not None else None
            problem = _verify(self.sink.written, md5, self.total, self.expected_size, self.expected_md5)
            if problem is None:
                return DownloadResult(self.url, self.sink.written, md5, attempts=self.attempts.failed + 1)
            if not (self.attempts.retry(problem) and self.start_over()):
                raise XNATChecksumError(f"Download of {redact(self.url)} is corrupt: {problem}")

    def start_over(self) -> bool:
        """Drop the bytes kept so far; False when the sink cannot be rewound."""
        if self.progress is not None:
            self.progress.add(-self.sink.written)
        if not self.sink.restart():
            return False
        if self.digest is not None:
            self.digest.reset()
        return True

    def _attempt(self) -> bool:
        """One request; True when the body is complete (to be verified), False to try again."""
        headers = {"Accept-Encoding": "identity"}  # byte offsets must be those of the file
        if self.sink.written:
            headers["Range"] = f"bytes={self.sink.written}-"
            if self.etag:
                headers["If-Range"] = self.etag
        try:
            response = self.conn.http.get(self.url, headers=headers, stream=True, timeout=self.conn.stream_timeout)
        except STREAM_ERRORS as error:
            if self.attempts.retry(error):
                return False
            raise request_error(error, "GET", self.url) from error
        except requests.exceptions.RequestException as error:
            raise request_error(error, "GET", self.url) from error
        with response:
            action = self._judge(response)
            if action == "body":
                return self._read_body(response)
            return action == "complete"

    def _judge(self, response: requests.Response) -> str:
        """What to do with a response: "body" (read it), "complete" or "again"; raises when hopeless."""
        status, written = response.status_code, self.sink.written
        if status in RETRY_STATUSES:
            if self.attempts.retry(f"status {status}"):
                return "again"
        elif status == 200:
            if written and not self.start_over():  # the server ignored the range: a full body
                raise XNATIOError(f"Download of {redact(self.url)} cannot resume and the stream cannot be rewound")
            return "body"
        elif status == 206:
            if _range_start(response) == written:
                return "body"
            if self.attempts.retry("wrong range") and self.start_over():
                return "again"
            raise XNATIOError(f"Download of {redact(self.url)}: the server sent the wrong byte range")
        elif status == 416 and written:
            if self.total is not None and written >= self.total:
                return "complete"  # everything had arrived when the connection dropped
            if self.attempts.retry("range not satisfiable") and self.start_over():
                return "again"
        raise XNATResponseError(describe_response(response, "Download failed"), response)

    def _read_body(self, response: requests.Response) -> bool:
        announced = _announced_total(response, self.sink.written, self.total)
        if self.on_total is not None and self.total is None and announced is not None:
            self.on_total(announced)
            self.on_total = None
        self.total = announced
        self.etag = _strong_etag(response) or self.etag
        try:
            _copy_body(response, self.sink, self.url, self.digest, self.progress, self.cancel,
                       self.conn.rate_guard("Download of", self.url))
        except STREAM_ERRORS as error:
            if _encoded(response) and not self.start_over():  # encoded offsets cannot resume
                raise XNATIOError(f"Download of {redact(self.url)} dropped and cannot be restarted") from error
            if self.attempts.retry(error):
                return False
            raise XNATIOError(
                f"Download of {redact(self.url)} failed after {self.attempts.failed} attempts: the "
                f"connection dropped after {self.sink.written} bytes ({type(error).__name__})"
            ) from error
        if self.total is not None and self.sink.written < self.total:
            if self.attempts.retry(f"body ended after {self.sink.written} of {self.total} bytes"):
                return False
            raise XNATIOError(f"Download of {redact(self.url)} is incomplete: "
                              f"{self.sink.written} of {self.total} bytes")
        return True


def _copy_body(response: requests.Response, sink: _Sink, url: str, digest: BackgroundMD5 | None,
               progress: Progress | None, cancel: threading.Event | None, guard: RateGuard | None) -> None:
    source = _readinto_source(response)
    if source is not None:
        _copy_into_buffers(source, response, sink, url, digest, progress, cancel, guard)
        return
    hash_update = digest.update if digest is not None else None
    first = sink.written == 0
    for chunk in body_chunks(response, 1024 * 1024, guard):
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"Download of {redact(url)} cancelled")
        if first:
            _refuse_html_page(response, chunk, url)
            first = False
        sink.write(chunk)
        if hash_update is not None:
            hash_update(chunk)
        if progress is not None:
            progress.add(len(chunk))


def _readinto_source(response: requests.Response) -> http.client.HTTPResponse | None:
    """The standard library response under a big, unencoded body, to be read with ``readinto``.

    urllib3's own ``readinto`` reads into a new bytes object and copies it over; the
    ``http.client`` response beneath it reads straight into our buffer. Reading past
    urllib3 means the connection is closed afterwards instead of going back to the pool:
    a few milliseconds against the seconds such a body takes, so only big bodies do.
    Anything else (a test double, an encoded or small body) takes the chunked path.
    """
    length = response.headers.get("Content-Length", "")
    if _encoded(response) or not (length.isdigit() and int(length) >= READINTO_MIN_SIZE):
        return None
    source = getattr(response.raw, "_fp", None)
    return source if isinstance(source, http.client.HTTPResponse) else None


def _copy_into_buffers(source: http.client.HTTPResponse, response: requests.Response, sink: _Sink, url: str,
                       digest: BackgroundMD5 | None, progress: Progress | None, cancel: threading.Event | None,
                       guard: RateGuard | None) -> None:
    """Read into reused buffers: write each one out, then hand it to the hashing thread.

    A drop in the middle of a read loses that read's bytes (at most one buffer): the
    resume starts after the last buffer written, so the file stays right.
    """
    spare = bytearray(BUFFER_SIZE) if digest is None else None
    first = sink.written == 0
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"Download of {redact(url)} cancelled")
        buffer = spare if spare is not None else digest.take()  # type: ignore[union-attr]  # one is set
        try:
            length = source.readinto(buffer)
            if not length:
                break
            with memoryview(buffer) as view:
                if first:
                    _refuse_html_page(response, bytes(view[:512]), url)
                    first = False
                sink.write(view[:length])
        except BaseException:
            if digest is not None:
                digest.give_back(buffer)
            raise
        if digest is not None:
            digest.submit(buffer, length)
        if guard is not None:
            guard.add(length)
        if progress is not None:
            progress.add(length)
    if digest is not None:
        digest.give_back(buffer)


def body_chunks(response: requests.Response, size: int, guard: RateGuard | None = None) -> Iterator[bytes]:
    """The body as it arrives, keeping every byte received before a connection drops.

    ``iter_content`` reads fixed amounts and loses a partial last read when the
    connection breaks; ``read1`` hands over whatever arrived, so a resume starts at the
    true offset (and a trickling body meets ``guard``, the throughput rule, as it trickles).
    Encoded bodies (gzip) go through ``iter_content`` to be decoded.
    """
    raw = response.raw
    if _encoded(response) or not hasattr(raw, "read1"):
        chunks: Iterator[bytes] = response.iter_content(chunk_size=size)
    else:
        chunks = iter(lambda: raw.read1(size, decode_content=False), b"")
    for chunk in chunks:
        if guard is not None:
            guard.add(len(chunk))
        yield chunk


def _encoded(response: requests.Response) -> bool:
    return response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")


def _refuse_html_page(response: requests.Response, chunk: bytes, url: str) -> None:
    """An HTML page where a file was expected is a login or error page, not the data."""
    content_type = response.headers.get("Content-Type", "")
    if not content_type.startswith("text/html") or urlsplit(url).path.lower().endswith((".html", ".htm")):
        return
    head = chunk[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise XNATResponseError(
            describe_response(response, "Download failed: the server sent an HTML page (a login or "
                                        "error page?) instead of the file"), response)


def _range_start(response: requests.Response) -> int | None:
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _announced_total(response: requests.Response, offset: int, known: int | None) -> int | None:
    """The full size of the file as the response announces it (None when it does not)."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match and match.group(3) != "*":
        return int(match.group(3))
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and not response.headers.get("Content-Encoding"):
        return offset + int(length) if response.status_code == 206 else int(length)
    return known


def _strong_etag(response: requests.Response) -> str | None:
    etag = response.headers.get("ETag")
    return etag if etag and not etag.startswith("W/") else None  # If-Range needs a strong one


def _verify(size: int, md5: str | None, total: int | None, expected_size: int | None,
            expected_md5: str | None) -> str | None:
    """What is wrong with the downloaded bytes, or None when they check out."""
    if expected_md5 is not None and md5 != expected_md5:
        return f"MD5 {md5} differs from the expected {expected_md5}"
    if expected_size is not None and size != expected_size:
        return f"{size} bytes received, {expected_size} expected"
    if total is not None and size != total:
        return f"{size} bytes received, the server announced {total}"
    return None
