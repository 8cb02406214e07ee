"""Many small files in one request: a streamed zip, then every file checked.

``download_dir`` on a resource of 2,000 small files would otherwise make 2,000 requests,
and on XNAT the per-request cost dominates small files. Here the source's ``files`` URL
is fetched once as ``?format=zip`` and extracted as it streams (no zip on disk). The zip
itself carries only CRCs, so each extracted file is then checked against the listing it
came from (MD5 when the catalog has one, size otherwise); a file that is missing or wrong
is fetched again on its own, verified. Whether the zip is worth it is decided by
:func:`xnat.transfer.plan.choose_method` (count, sizes, measured round trip, parallelism);
large files keep the per-file path, which runs in parallel and resumes a dropped connection.

Over a slow link (:func:`xnat.transfer.plan.ask_archive_early`) the zip is asked for on a
second connection while the listing is read (:class:`EarlyZips`), so the two cost one round
trip, as a peer's single zip request does. The checks wait for the listing: entries are
placed, bounded (the listed sizes cap the expansion) and verified from it. A zip that the
listing says not to use is closed unread.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ...exceptions import XNATError

if TYPE_CHECKING:  # pragma: no cover - the transfer layer is loaded when a download runs
    import requests

    from ...transfer import DownloadJob, Transferer

logger = logging.getLogger(__name__)

__all__ = ["EarlyZips", "download_zipped", "worth_zipping"]


class EarlyZips:
    """The zips of some ``files`` URLs, asked for while their listings are read (a context manager).

    Nothing is asked unless :func:`~xnat.transfer.plan.ask_archive_early` says so. A zip
    that is not taken is closed unread on exit.
    """

    def __init__(self, transferer: Transferer, files_urls: list[str], round_trip: float | None) -> None:
        from ...transfer.plan import ask_archive_early

        self._pending: dict[str, Future[requests.Response]] = {}
        self._pool: ThreadPoolExecutor | None = None
        if ask_archive_early(len(files_urls), round_trip):
            self._pool = ThreadPoolExecutor(max_workers=len(files_urls), thread_name_prefix="xnat-early-zip")
            self._pending = {url: self._pool.submit(transferer.start_zip, url) for url in files_urls}

    def take(self, files_url: str) -> requests.Response | None:
        """The zip asked for ``files_url``, now the caller's to read or close; None when none was
        asked or asking failed (the caller then asks again, with its retries)."""
        future = self._pending.pop(files_url, None)
        if future is None:
            return None
        try:
            return future.result()
        except Exception as error:  # noqa: BLE001 - any failure here is retried by the caller's own request
            logger.debug("The early zip of %s failed (%s); asking again", files_url, error)
            return None

    def __enter__(self) -> EarlyZips:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        for url in list(self._pending):
            response = self.take(url)
            if response is not None:
                response.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

def worth_zipping(jobs: list[DownloadJob], round_trip: float | None = None, workers: int = 4) -> bool:
    """Whether one zip beats a request per file for these download jobs, over a link of this
    round trip (None: not measured) with this many parallel transfers (the rule: :mod:`xnat.transfer.plan`)."""
    from ...transfer.plan import choose_method

    return choose_method([job.expected_size for job in jobs], round_trip, workers) == "archive"


def _entry_key(entry: str) -> tuple[str, str, str] | None:
    """(scan or '', resource label, path in the resource) of a zip entry, or None.

    Entries are laid out as XNAT lays them out: ``<label>/[scans/<id>[-<type>]/]
    resources/<resource>/files/<path>`` (older servers leave out ``files/``).
    """
    parts = entry.split("/")
    try:
        at = max(i for i, part in enumerate(parts[:-1]) if part == "resources")
    except ValueError:
        return None
    resource = parts[at + 1] if at + 1 < len(parts) else ""
    rest = parts[at + 2:]
    if rest and rest[0] == "files":
        rest = rest[1:]
    scan = parts[parts.index("scans") + 1] if "scans" in parts[:at] else ""
    return (scan, resource, "/".join(rest)) if resource and rest else None


def _job_key(job: DownloadJob, resource_labels: dict[str, str]) -> tuple[str, str, str]:
    """The same key for a job, from its file URI (``.../resources/<id>/files/<path>``)."""
    parts = job.url.split("?", 1)[0].split("/")
    at = max(i for i, part in enumerate(parts) if part == "resources")
    files_at = parts.index("files", at)
    scan = parts[parts.index("scans") + 1] if "scans" in parts[:at] else ""
    resource = resource_labels.get(job.url, parts[at + 1])
    return scan, resource, "/".join(parts[files_at + 1:])


def _matches(path: Path, job: DownloadJob, written_md5: str | None = None) -> bool:
    """Whether the file at ``path`` is the job's: its size, and its MD5 (as computed while it
    was extracted, ``written_md5``, else read back from disk)."""
    try:
        if job.expected_size is not None and path.stat().st_size != job.expected_size:
            return False
    except OSError:
        return False
    if not job.expected_md5:
        return True
    if written_md5 is not None:
        return written_md5 == job.expected_md5
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest() == job.expected_md5


def download_zipped(transferer: Transferer, files_url: str, jobs: list[DownloadJob], resource_labels: dict[str, str],
                    verbose: bool | None, opened: requests.Response | None = None) -> list[DownloadJob]:
    """Fetch ``jobs`` as one zip of ``files_url``; returns the jobs still to fetch one by one.

    ``resource_labels`` maps a job's URL to its resource label, since listings give
    resource IDs in URIs but zips name resources by label. ``opened``: the zip already
    asked for (:class:`EarlyZips`).
    """
    wanted: dict[tuple[str, str, str], DownloadJob] = {}
    # A scan segment in a zip may read "<id>-<type>": entries are also found by
    # (resource, path) and then told apart by the scan ID.
    by_path: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for job in jobs:
        key = _job_key(job, resource_labels)
        wanted[key] = job
        by_path[key[1], key[2]].append(key)
    # Entries are extracted under the folder common to every target, then renamed into place.
    root = os.path.commonpath([os.path.dirname(os.fspath(job.target)) for job in jobs])

    def rename(entry: str) -> str | None:
        key = _entry_key(entry)
        if key is None:
            return None
        job = wanted.get(key)
        if job is None:
            candidates = by_path.get((key[1], key[2]), [])
            scan_id = key[0].split("-", 1)[0]
            chosen = ([k for k in candidates if k[0] in (key[0], scan_id)]
                      or (candidates if len(candidates) == 1 else []))
            job = wanted.get(chosen[0]) if chosen else None
        if job is None:
            return None
        return os.path.relpath(os.fspath(job.target), root)

    # The zip may not write more than the listed files hold: a bigger one is refused (a zip bomb).
    listed = sum(job.expected_size for job in jobs if job.expected_size is not None)
    digests: dict[str, str] = {}
    try:
        extracted = transferer.extract_zip(files_url, root, rename=rename, overwrite=True, verbose=verbose,
                                           max_bytes=listed, digests=digests, opened=opened)
    except XNATError as error:
        logger.info("zip download of %s failed (%s); fetching the files one by one", files_url, error)
        return jobs
    written = {os.fspath(path): digests.get(entry) for entry, path in extracted.items()}
    missing = [job for job in jobs if not _matches(Path(job.target), job, written.get(os.fspath(job.target)))]
    if missing:
        logger.info("%d of %d files from the zip of %s are missing or differ; fetching them one by one",
                    len(missing), len(jobs), files_url)
    return missing
