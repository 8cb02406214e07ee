"""Helpers shared by the behaviour mixins: child listings, labels, download layouts."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...exceptions import XNATValueError
from ..listing import ListingAttribute
from ..rest import split_uri
from .host import BehaviourHost

if TYPE_CHECKING:  # pragma: no cover - imported where used: transfers load only when needed
    from ...transfer import DownloadJob
    from .zipdir import EarlyZips

__all__ = ["ChildListing", "child_listing", "create_resource", "download_listed", "download_sources", "file_jobs",
           "place_under"]


class ChildListing(ListingAttribute):
    """``project.subjects``, ``experiment.scans``, ``resource.files``...: the object's listing
    of that kind (named by the attribute), made once per object (see :class:`ListingAttribute`)."""

    def listing_of(self, obj: Any) -> Any:
        return child_listing(obj, self.kind)


def child_listing(obj: BehaviourHost, kind: str, suffix: str | None = None) -> Any:
    """The listing ``<obj.uri>/<suffix or kind>`` of the object, made once and cached."""
    obj._session()
    key = f"listing:{suffix or kind}"
    cache = obj._cache
    listing = cache.get(key)
    if listing is None:
        listing = obj.xnat_session._layer.listing(f"{obj.uri}/{suffix or kind}", kind, parent=obj)
        listing = cache.setdefault(key, listing)
    return listing


def create_resource(obj: BehaviourHost, label: str, format: str | None = None, data_dir: str | None = None,
                    method: str | None = None) -> Any:
    """A new resource catalog ``label`` under ``obj`` (then ``upload_dir(data_dir)`` if given)."""
    cls = obj.xnat_session.classes.lookup["xnat:resourceCatalog"]
    fields = {"label": label}
    if format is not None:
        fields["format"] = format
    resource = cls(parent=obj, **fields)
    if data_dir is not None:
        resource.upload_dir(data_dir, method=method or "tgz_file")
    return resource


#: Per ``files`` URL: its download jobs, and each job's resource label (zips use labels).
FileGroups = list[tuple[str, list["DownloadJob"], dict[str, str]]]


def file_jobs(session: Any, sources: list[tuple[str, Callable[[dict[str, str]], str | None]]],
              target_dir: str | os.PathLike[str]) -> FileGroups:
    """Download jobs for the files listed at each ``files`` URL, placed by ``place(row)``."""
    from ...transfer import DownloadJob
    from ...transfer.paths import local_path

    groups: FileGroups = []
    for files_url, place in sources:
        jobs: list[DownloadJob] = []
        labels: dict[str, str] = {}
        for row in session.get_json(files_url)["ResultSet"]["Result"]:
            local = place(row)
            if local is None:
                continue
            size = row.get("Size")
            job = DownloadJob(row["URI"], local_path(target_dir, local),
                              row.get("digest") or None, int(size) if size and size.isdigit() else None)
            jobs.append(job)
            if row.get("collection"):
                labels[job.url] = row["collection"]
        groups.append((files_url, jobs, labels))
    return groups


def file_relpath(row: dict[str, str]) -> tuple[list[tuple[str, str]], str]:
    """(the URI's (collection, id) pairs, the file's path inside its resource)."""
    pairs = split_uri(row["URI"])
    return pairs, pairs[-1][1] if pairs and pairs[-1][0] == "files" else row.get("Name", "")


def download_listed(obj: BehaviourHost, sources: list[tuple[str, Place]], target_dir: str | os.PathLike[str],
                    verbose: bool | None, workers: int | None = None) -> None:
    """List each source's files and download them (:func:`run_download`); over a slow link
    each source's zip is asked for while its listing is read (:class:`.zipdir.EarlyZips`)."""
    from .zipdir import EarlyZips

    session = obj._session()
    round_trip = getattr(session, "round_trip", None)  # measured on the requests made so far
    with EarlyZips(session.transferer(), [url for url, _ in sources], round_trip) as early:
        run_download(obj, file_jobs(session, sources, target_dir), verbose, workers, early)


def run_download(obj: BehaviourHost, groups: FileGroups, verbose: bool | None, workers: int | None = None,
                 early: EarlyZips | None = None) -> None:
    """Download every group: many small files as one zip, the rest file by file in parallel."""
    from .zipdir import download_zipped, worth_zipping

    session = obj._session()
    transferer = session.transferer()
    round_trip = getattr(session, "round_trip", None)  # measured on the listing requests just made
    remaining: list[DownloadJob] = []
    for files_url, jobs, labels in groups:
        if worth_zipping(jobs, round_trip, workers or transferer.workers):
            opened = early.take(files_url) if early is not None else None
            remaining += download_zipped(transferer, files_url, jobs, labels, verbose, opened)
        else:
            remaining += jobs
    if remaining:
        transferer.download_many(remaining, workers=workers, overwrite=True, verbose=verbose)


Place = Callable[[dict[str, str]], "str | None"]


def place_under(prefix: str, flatten: bool = False) -> Place:
    """Put each listed file at ``<prefix>/[scans/<id>/]resources/<label>/files/<path>``
    (XNAT's own archive layout), or at ``<path>`` alone with ``flatten``."""
    def place(row: dict[str, str]) -> str | None:
        pairs, path = file_relpath(row)
        if flatten:
            return path
        parts = [prefix] if prefix else []
        ids = dict(pairs[:-1])
        for level in ("scans", "reconstructions", "assessors"):
            if level in ids:
                parts += [level, ids[level]]
        parts += ["resources", row.get("collection") or ids.get("resources", ""), "files", path]
        return "/".join(parts)
    return place


def download_sources(obj: BehaviourHost, prefix: str) -> list[tuple[str, Place]]:
    """What ``download_dir`` fetches for ``obj`` (a behaviour's ``_download_sources``)."""
    method = getattr(obj, "_download_sources", None)
    if method is None:
        raise XNATValueError(f"{type(obj).__name__} has no files to download")
    sources: list[tuple[str, Place]] = method(prefix)
    return sources


def make_target_dir(target_dir: str | os.PathLike[str]) -> None:
    """Create a download's target folder; a local failure is an XNATIOError naming its cause."""
    from ...transfer.download import os_error

    try:
        Path(target_dir).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise os_error(error, "create the folder", target_dir) from error


def download_dir(obj: BehaviourHost, target_dir: str | os.PathLike[str], prefix: str, verbose: bool | None = None,
                 workers: int | None = None) -> str:
    """Download every file of ``obj`` under ``target_dir`` (parallel, each verified)."""
    make_target_dir(target_dir)
    download_listed(obj, download_sources(obj, prefix), target_dir, verbose, workers)
    return str(Path(target_dir, prefix)) if prefix else str(target_dir)
