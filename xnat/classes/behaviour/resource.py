"""Resources: files listing, uploads (one file, data, a directory) and downloads."""

from __future__ import annotations

import os
from typing import IO, Any

from ...exceptions import XNATIOError, XNATValueError
from ..mount import HasDataDir
from ..registry import behaviour
from .common import ChildListing, Place, download_dir, place_under
from .host import HostBase


@behaviour("xnat:abstractResource")
class ResourceBehaviour(HasDataDir, HostBase):
    """``scan.resources['DICOM']``: keyed by resource number or label."""

    __slots__ = ()  # the objects' state lives in XNATBaseObject's slots

    SECONDARY_LOOKUP_FIELD = "label"

    def __init__(self, uri: str | None = None, xnat_session: Any = None, id_: str | None = None,
                 datafields: dict[str, Any] | None = None, parent: Any = None, fieldname: str | None = None,
                 overwrites: dict[str, Any] | None = None, data_dir: str | os.PathLike[str] | None = None,
                 upload_method: str | None = None, **kwargs: Any) -> None:
        """xnatpy's constructor: with ``data_dir`` a new resource is filled with that
        directory's files (:meth:`upload_dir` with ``upload_method``, default ``tgz_file``)."""
        if data_dir is not None and not os.path.isdir(data_dir):
            # Checked before the resource is created, so a typo leaves nothing half made.
            raise XNATIOError(f"data_dir {data_dir} is not a directory")
        super().__init__(uri, xnat_session, id_, datafields, parent, fieldname, overwrites,  # type: ignore[call-arg]  # the host's real base, XNATBaseObject
                         **kwargs)
        if data_dir is not None:
            self.upload_dir(data_dir, method=upload_method or "tgz_file")

    files = ChildListing("The resource's files, keyed by path (one request; size and digest included).")

    def _files_url(self) -> str:
        self._session()
        return f"{self.uri}/files"

    def _uploaded(self) -> None:
        listing = self._cache.get("listing:files")
        if listing is not None:
            listing.clearcache()
        if self._row is not None:
            self._row = {k: v for k, v in self._row.items() if k not in ("file_count", "file_size")}
        self._after_write()

    @staticmethod
    def _remote(remotepath: str) -> str:
        if not isinstance(remotepath, str) or not remotepath.strip("/"):
            raise XNATValueError(f"remotepath must name a file inside the resource, not {remotepath!r}")
        parts = remotepath.strip("/").split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise XNATValueError(f"remotepath {remotepath!r} may not contain empty, '.' or '..' parts")
        return "/".join(parts)

    def _upload_query(self, extract: bool, file_content: str | None, file_format: str | None,
                      file_tags: str | None, extra: dict[str, Any]) -> dict[str, str]:
        query = {k: str(v) for k, v in extra.items() if v is not None}
        for key, value in (("content", file_content), ("format", file_format), ("tags", file_tags)):
            if value is not None:
                query[key] = value
        if extract:
            query["extract"] = "true"
        return query

    def upload(self, data: str | os.PathLike[str] | IO[bytes], remotepath: str, overwrite: bool = False,
               extract: bool = False, file_content: str | None = None, file_format: str | None = None,
               file_tags: str | None = None, verbose: bool | None = None, verify: bool = False,
               **kwargs: Any) -> Any:
        """Upload a local file (path) or binary file object as ``remotepath`` in the resource.

        ``extract=True`` unpacks a zip/tar on the server; ``overwrite=True`` replaces an
        existing file (otherwise an existing file is an error and is left untouched).
        """
        if isinstance(data, (str, os.PathLike)):
            if not os.path.exists(data):
                raise XNATIOError(f"upload: {data} does not exist")
            if os.path.isdir(data):
                raise XNATIOError(f"upload: {data} is a directory: use upload_dir")
        elif not callable(getattr(data, "read", None)):
            raise XNATIOError(f"upload takes a path or a binary file object, not {type(data).__name__}")
        url = f"{self._files_url()}/{self._remote(remotepath)}"
        query = self._upload_query(extract, file_content, file_format, file_tags, kwargs)
        try:
            return self._session().transferer().upload(url, data, overwrite=overwrite, query=query,
                                                        verify=verify, verbose=verbose)
        finally:
            self._uploaded()

    def upload_data(self, data: str | bytes | IO[bytes], remotepath: str, overwrite: bool = False,
                    extract: bool = False, file_content: str | None = None, file_format: str | None = None,
                    file_tags: str | None = None, verbose: bool | None = None, **kwargs: Any) -> Any:
        """Upload in-memory data (``str`` as UTF-8, bytes, or a binary stream) as ``remotepath``."""
        url = f"{self._files_url()}/{self._remote(remotepath)}"
        query = self._upload_query(extract, file_content, file_format, file_tags, kwargs)
        try:
            return self._session().transferer().upload_data(url, data, overwrite=overwrite, query=query,
                                                             verbose=verbose)
        finally:
            self._uploaded()

    def upload_dir(self, directory: str | os.PathLike[str], overwrite: bool = False, method: str = "tgz_file",
                   verbose: bool | None = None, verify: bool = False, workers: int | None = None,
                   **kwargs: Any) -> Any:
        """Upload a directory tree: ``directory/a/b.txt`` becomes ``files/a/b.txt``.

        ``method``: ``per_file`` (parallel, one PUT each), ``tar_memory``, ``tgz_memory``,
        ``tar_file`` or ``tgz_file`` (one archive, extracted by the server). Empty files are
        uploaded too.
        """
        if not os.path.isdir(directory):
            raise XNATIOError(f"upload_dir: {directory} is not a directory")
        try:
            return self._session().transferer().upload_tree(
                self._files_url(), directory, method=method, overwrite=overwrite,
                query={k: str(v) for k, v in kwargs.items()} or None, workers=workers, verify=verify,
                verbose=verbose)
        finally:
            self._uploaded()

    def refresh_catalog(self) -> None:
        """Have the server re-read this resource's files into its catalogue
        (``session.services.refresh_catalog(resource)``)."""
        self._session().services.refresh_catalog(self)
        self._uploaded()  # file sizes and counts may have changed

    def download(self, path: str | os.PathLike[str], verbose: bool | None = None) -> str:
        """A zip of the resource's files."""
        return str(self._session().download_zip(self._files_url(), path, verbose=verbose))

    def _prefix(self) -> str:
        parent = self.parent
        if parent is None:
            return ""
        owner_prefix = getattr(parent, "_prefix", None)
        if owner_prefix is not None:
            return str(owner_prefix())
        if getattr(type(parent), "SECONDARY_LOOKUP_FIELD", None) == "name":  # a project
            return str(parent.id)
        return str(getattr(parent, "label", None) or parent.id)

    def _download_sources(self, prefix: str, flatten: bool = False) -> list[tuple[str, Place]]:
        return [(self._files_url(), place_under(prefix, flatten))]

    def download_dir(self, target_dir: str | os.PathLike[str], verbose: bool | None = None,
                     flatten_dirs: bool = False, workers: int | None = None) -> str:
        """Download the files to ``target_dir/<owner>/[scans/<ID>/]resources/<label>/files/...``,
        or straight into ``target_dir`` with ``flatten_dirs=True``. Returns that folder."""
        if not flatten_dirs:
            return download_dir(self, target_dir, self._prefix(), verbose, workers)
        from .common import download_listed

        os.makedirs(target_dir, exist_ok=True)
        download_listed(self, self._download_sources("", True), target_dir, verbose, workers)
        return os.fspath(target_dir)
