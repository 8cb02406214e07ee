"""The transfer engine's front door: :class:`Transferer`.

It needs only a ``requests.Session`` (authentication, TLS and cookies already set on
it), the server's base URL and a timeout, so the session and object layers wire their
``download``/``upload`` methods onto it without the engine knowing about them.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

from ..exceptions import XNATError, XNATIOError, XNATResponseError, describe_response, redact
from ..transport import DEFAULT_MIN_RATE, DEFAULT_RATE_WINDOW, DEFAULT_REQUEST_DEADLINE
from .connection import (
    DEFAULT_CHUNK_SIZE,
    RETRY_STATUSES,
    STREAM_ERRORS,
    Connection,
    log_retry,
)
from .download import DownloadResult, body_chunks, check_target, download_to_path, download_to_stream
from .parallel import DEFAULT_WORKERS, resolve_workers, run_jobs
from .paths import local_path
from .progress import Progress, UpdateFunc
from .remotefile import DEFAULT_READAHEAD, RemoteFile
from .tree import LocalFile, file_url, upload_tree
from .unzip import Rename, ZipStreamExtractor
from .upload import Source, UploadResult, server_files, split_file_url, upload_source

__all__ = ["DownloadJob", "Transferer", "UploadJob"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownloadJob:
    """One file of a :meth:`Transferer.download_many` job."""

    url: str
    target: str | os.PathLike[str]
    expected_md5: str | None = None
    expected_size: int | None = None


@dataclass(frozen=True)
class UploadJob:
    """One file of a :meth:`Transferer.upload_many` job."""

    url: str
    source: Source
    query: Mapping[str, Any] | None = None


class Transferer:
    """Streaming, verified, resumable and parallel transfers over one ``requests.Session``.

    ``base_url`` is the server root (``https://xnat.example.org``); every method takes a
    server path (``/data/...``) or a full URL. ``timeout`` bounds every wait (a number,
    or a ``(connect, read)`` pair); ``retries`` and ``backoff`` govern how failed
    transfers are tried again; ``workers`` is the default pool size for jobs of many files.
    ``min_rate`` (bytes/s; ``None`` switches it off) and ``rate_window`` (seconds) are the
    throughput a transfer must keep up (:class:`~xnat.transfer.connection.RateGuard`);
    ``deadline`` bounds the requests that are not transfers (listings), in seconds.
    """

    def __init__(self, http: requests.Session, base_url: str, timeout: float | tuple[float, float] = 300.0,
                 *, retries: int = 3, backoff: float = 0.5, workers: int = DEFAULT_WORKERS,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, min_rate: float | None = DEFAULT_MIN_RATE,
                 rate_window: float = DEFAULT_RATE_WINDOW, deadline: float | None = DEFAULT_REQUEST_DEADLINE) -> None:
        self.conn = Connection(http, base_url, timeout, retries, backoff, chunk_size, min_rate, rate_window, deadline)
        self.workers = workers

    def __repr__(self) -> str:
        return f"<Transferer {redact(self.conn.base_url)} workers={self.workers}>"

    # -- downloads ------------------------------------------------------------------

    def download(self, path_or_url: str, target: str | os.PathLike[str], *, expected_md5: str | None = None,
                 expected_size: int | None = None, overwrite: bool = False,
                 query: Mapping[str, Any] | None = None, verbose: bool | None = None,
                 update_func: UpdateFunc | None = None) -> DownloadResult:
        """Download one file to the path ``target`` (verified; resumed; atomic rename).

        With neither ``expected_md5`` nor ``expected_size`` given, a file of a resource
        (``.../resources/R/files/<path>``) is checked against its catalog entry (digest and
        size, one listing request): a body corrupted on the way then fails with
        :class:`~xnat.exceptions.XNATChecksumError` and leaves no file under ``target``.
        """
        if expected_md5 is None and expected_size is None and not (query or {}).get("format"):
            check_target(target, overwrite)  # a target that cannot be written is refused before any request
            expected_size, expected_md5 = self.catalog_entry(path_or_url)
        progress = Progress(expected_size, verbose=verbose, update_func=update_func, label="download")
        try:
            return download_to_path(self.conn, self.conn.url(path_or_url, query), target,
                                    expected_md5=expected_md5, expected_size=expected_size,
                                    overwrite=overwrite, progress=progress, on_total=progress.set_total)
        finally:
            progress.finish()

    def download_stream(self, path_or_url: str, stream: IO[bytes], *, expected_md5: str | None = None,
                        expected_size: int | None = None, query: Mapping[str, Any] | None = None,
                        verbose: bool | None = None, update_func: UpdateFunc | None = None) -> DownloadResult:
        """Download one file into a writable binary ``stream``."""
        progress = Progress(expected_size, verbose=verbose, update_func=update_func, label="download")
        try:
            return download_to_stream(self.conn, self.conn.url(path_or_url, query), stream,
                                      expected_md5=expected_md5, expected_size=expected_size, progress=progress,
                                      on_total=progress.set_total)
        finally:
            progress.finish()

    def open(self, path_or_url: str, size: int | None = None, readahead: int = DEFAULT_READAHEAD) -> RemoteFile:
        """A seekable read-only file over the remote file, fetched by ranges on demand."""
        return RemoteFile(self.conn, self.conn.url(path_or_url), size, readahead)

    def download_zip(self, path_or_url: str, target: str | os.PathLike[str], *, overwrite: bool = False,
                     query: Mapping[str, Any] | None = None, verbose: bool | None = None,
                     update_func: UpdateFunc | None = None) -> DownloadResult:
        """Save the zip of ``path_or_url`` (``format=zip`` is added) to the file ``target``."""
        return self.download(path_or_url, target, overwrite=overwrite, query={**(query or {}), "format": "zip"},
                             verbose=verbose, update_func=update_func)

    def extract_zip(self, path_or_url: str, target_dir: str | os.PathLike[str], *, rename: Rename | None = None,
                    overwrite: bool = False, query: Mapping[str, Any] | None = None,
                    verbose: bool | None = None, update_func: UpdateFunc | None = None,
                    max_bytes: int | None = None, digests: dict[str, str] | None = None,
                    opened: requests.Response | None = None) -> dict[str, Path]:
        """Stream the zip of ``path_or_url`` straight into ``target_dir``; returns entry name -> path.

        ``rename(entry_name)`` gives the local relative path (``None`` skips the entry).
        A dropped connection restarts the archive (a generated zip cannot resume);
        entries already extracted by this call are then replaced, never duplicated.
        ``max_bytes`` caps what the archive may expand to on disk (a zip bomb stops there
        with :class:`~xnat.exceptions.XNATIOError`); each entry is always held to the size
        its header announces. ``digests``, when given, receives each entry's MD5 as written.
        ``opened``, from :meth:`start_zip` on the same URL and query, is read instead of a
        first request of its own (a retry asks again).
        """
        url = self.conn.url(path_or_url, {**(query or {}), "format": "zip"})
        progress = Progress(None, verbose=verbose, update_func=update_func, label="zip")
        failed = 0
        try:
            extractor = ZipStreamExtractor(target_dir, rename=rename, overwrite=overwrite, on_bytes=progress.add,
                                           max_bytes=max_bytes, digests=digests)
            while True:
                try:
                    first, opened = opened, None
                    return self._extract_once(url, extractor, first)
                except _ZIP_RETRY as error:
                    failed += 1
                    if failed > self.conn.retries:
                        if isinstance(error, _Retry):
                            raise XNATResponseError(describe_response(error.response, "Zip download failed"),
                                                    error.response) from None
                        raise XNATIOError(f"Zip download of {redact(url)} failed after {failed} attempts: "
                                          f"the connection dropped ({type(error).__name__})") from error
                    log_retry("Zip download", url, failed, self.conn.retries, error)
                    progress.add(-progress.done)
                    self.conn.wait(failed)
        finally:
            if opened is not None:  # not read: a bad argument failed first
                opened.close()
            progress.finish()

    def start_zip(self, path_or_url: str, query: Mapping[str, Any] | None = None) -> requests.Response:
        """Ask for the zip of ``path_or_url``: the answer's head, its body still unread.

        For :meth:`extract_zip`'s ``opened``; whoever does not pass it on closes it.
        """
        return self._zip_request(self.conn.url(path_or_url, {**(query or {}), "format": "zip"}))

    def _zip_request(self, url: str) -> requests.Response:
        return self.conn.request("GET", url, stream=True, headers={"Accept-Encoding": "identity"})

    def _extract_once(self, url: str, extractor: ZipStreamExtractor,
                      opened: requests.Response | None = None) -> dict[str, Path]:
        response = opened if opened is not None else self._zip_request(url)
        with response:
            if response.status_code in RETRY_STATUSES:
                raise _Retry(response)
            self.conn.check(response, (200,), "Zip download failed")
            if response.headers.get("Content-Type", "").startswith("text/html"):
                raise XNATResponseError(describe_response(
                    response, "Zip download failed: the server sent an HTML page instead of a zip"), response)
            guard = self.conn.rate_guard("Zip download of", url)
            return extractor.extract(body_chunks(response, self.conn.chunk_size, guard))

    def download_many(self, jobs: Sequence[DownloadJob], *, workers: int | None = None, overwrite: bool = False,
                      verbose: bool | None = None, update_func: UpdateFunc | None = None) -> list[DownloadResult]:
        """Download many files in parallel, one progress for the whole job.

        Every target is checked before anything is fetched. The first failure stops the
        rest; the error lists the files that failed (``.failures``) and keeps the
        finished results (``.completed``).
        """
        resolve_workers(self.workers if workers is None else workers, 1)  # a bad value fails before any request
        targets = [Path(job.target) for job in jobs]
        if len(set(targets)) != len(targets):
            raise XNATIOError("download_many: two jobs write to the same target path")
        for target in targets:
            check_target(target, overwrite)
        # Sizes not known in advance are added to the total as each transfer learns them.
        total = sum(job.expected_size for job in jobs if job.expected_size is not None)
        progress = Progress(total, files=len(jobs), verbose=verbose, update_func=update_func, label="download")

        def work(job: DownloadJob, cancel: threading.Event) -> DownloadResult:
            result = download_to_path(self.conn, self.conn.url(job.url), job.target, expected_md5=job.expected_md5,
                                      expected_size=job.expected_size, overwrite=overwrite,
                                      progress=progress, cancel=cancel, on_total=progress.add_total)
            progress.file_done()
            return result

        try:
            return run_jobs(jobs, work, lambda job: str(job.target), self.workers if workers is None else workers,
                            "downloads")
        finally:
            progress.finish()

    def catalog_entry(self, path_or_url: str) -> tuple[int | None, str | None]:
        """``(size, MD5)`` of a resource file as its catalog lists them; ``(None, None)`` when unknown.

        Anything that is not a file of a resource, or whose listing cannot be read, is
        unknown: the download then checks the announced length only.
        """
        try:
            files_url, relpath = split_file_url(self.conn.url(path_or_url))
            return self.list_files(files_url).get(relpath, (None, None))
        except XNATError as error:
            logger.debug("No catalog entry for %s (%s); checking the length only", redact(path_or_url), error)
            return None, None

    def list_files(self, files_url: str) -> dict[str, tuple[int | None, str | None]]:
        """A resource's files (``.../resources/R/files``): relative path -> (size, MD5 or None)."""
        return server_files(self.conn, self.conn.url(files_url))

    def download_tree(self, files_url: str, target_dir: str | os.PathLike[str], *,
                      rename: Callable[[str], str | None] | None = None, workers: int | None = None,
                      overwrite: bool = False, verbose: bool | None = None,
                      update_func: UpdateFunc | None = None) -> list[DownloadResult]:
        """Download every file of a resource, in parallel, each verified against its digest.

        One listing request, then one verified download per file into ``target_dir``
        (server names made safe; ``rename(relpath)`` may map or skip them).
        """
        listing = self.list_files(files_url)
        base = self.conn.url(files_url).split("?", 1)[0].rstrip("/")
        jobs = []
        for relpath, (size, digest) in sorted(listing.items()):
            local = rename(relpath) if rename is not None else relpath
            if local is None:
                continue
            jobs.append(DownloadJob(file_url(base, relpath), local_path(target_dir, local), digest, size))
        return self.download_many(jobs, workers=workers, overwrite=overwrite, verbose=verbose,
                                  update_func=update_func)

    # -- uploads --------------------------------------------------------------------

    def upload(self, path_or_url: str, source: Source, *, method: str = "put", overwrite: bool = False,
               query: Mapping[str, Any] | None = None, content_type: str = "application/octet-stream",
               verify: bool = False, verbose: bool | None = None,
               update_func: UpdateFunc | None = None) -> UploadResult:
        """Upload a path, bytes or binary file object to a file URL (``.../files/name``)."""
        size = _size_of(source)
        progress = Progress(size, verbose=verbose, update_func=update_func, label="upload")
        try:
            return upload_source(self.conn, self.conn.url(path_or_url), source, method=method, overwrite=overwrite,
                                 query=query, content_type=content_type, progress=progress, verify=verify)
        finally:
            progress.finish()

    def upload_data(self, path_or_url: str, data: str | bytes | IO[bytes], **kwargs: Any) -> UploadResult:
        """Upload in-memory data: ``str`` is sent as UTF-8 text, bytes and streams as they are."""
        if isinstance(data, str):
            data = data.encode("utf-8")
            kwargs.setdefault("content_type", "text/plain; charset=utf-8")
        elif not isinstance(data, (bytes, bytearray, memoryview)) and not callable(getattr(data, "read", None)):
            raise XNATIOError(f"upload_data takes str, bytes or a binary file object, not {type(data).__name__}")
        return self.upload(path_or_url, data, **kwargs)

    def upload_many(self, jobs: Sequence[UploadJob], *, workers: int | None = None, overwrite: bool = False,
                    method: str = "put", verbose: bool | None = None,
                    update_func: UpdateFunc | None = None) -> list[UploadResult]:
        """Upload many sources in parallel, one progress; the first failure stops the rest."""
        sizes = [_size_of(job.source) for job in jobs]
        total = sum(s for s in sizes if s is not None) if all(s is not None for s in sizes) else None
        progress = Progress(total, files=len(jobs), verbose=verbose, update_func=update_func, label="upload")

        def work(job: UploadJob, cancel: threading.Event) -> UploadResult:
            result = upload_source(self.conn, self.conn.url(job.url), job.source, method=method,
                                   overwrite=overwrite, query=job.query, progress=progress, cancel=cancel)
            progress.file_done()
            return result

        try:
            return run_jobs(jobs, work, lambda job: str(job.url), self.workers if workers is None else workers,
                            "uploads")
        finally:
            progress.finish()

    def upload_tree(self, files_url: str, directory: str | os.PathLike[str], *, method: str = "per_file",
                    overwrite: bool = False, query: Mapping[str, Any] | None = None,
                    workers: int | None = None, verify: bool = False, verbose: bool | None = None,
                    update_func: UpdateFunc | None = None) -> list[LocalFile]:
        """Upload a directory tree into the resource at ``files_url`` (``.../resources/R/files``)."""
        return upload_tree(self.conn, self.conn.url(files_url), directory, method=method, overwrite=overwrite,
                           query=query, workers=self.workers if workers is None else workers, verify=verify,
                           verbose=verbose, update_func=update_func)


class _Retry(Exception):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"status {response.status_code}")
        self.response = response


#: What makes a zip download start again: a busy server or a dropped connection.
_ZIP_RETRY: tuple[type[BaseException], ...] = (_Retry, *STREAM_ERRORS)


def _size_of(source: Any) -> int | None:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            return os.path.getsize(source)
        except OSError:
            return None  # the upload itself reports the missing file clearly
    try:
        if source.seekable():
            position: int = source.tell()
            end: int = source.seek(0, io.SEEK_END)
            source.seek(position)
            return end - position
    except (AttributeError, OSError, ValueError):
        pass
    return None
