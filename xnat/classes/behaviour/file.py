"""Files of a resource: :class:`FileData`, written by hand (XNAT's schemas have no file type).

A file is known from its resource's files listing row (``Name``, ``Size``, ``digest``,
``file_format``...), so reading its metadata makes no request. Downloads are verified
against the catalog MD5 (size when there is none) and written under a temporary name;
:meth:`FileData.open` reads byte ranges on demand.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from ...exceptions import XNATIOError, XNATValueError
from ..base import XNATBaseObject
from ..mount import expected_data_dir
from ..rest import split_uri

__all__ = ["FileData", "install_file_class"]

logger = logging.getLogger(__name__)


class FileData(XNATBaseObject):
    """One file in a resource: ``resource.files['sub/dir/image.dcm']``."""

    __slots__ = ()  # a mixin of XNATBaseObject: no dict per object

    __xsi_type__ = "xnat:fileData"
    SECONDARY_LOOKUP_FIELD = "Name"

    @property
    def path(self) -> str:
        """The file's path inside its resource."""
        pairs = split_uri(self._uri or "")
        return pairs[-1][1] if pairs and pairs[-1][0] == "files" else str(self._id or "")

    @property  # type: ignore[misc]  # a file's ID is its path: read-only, unlike other objects' IDs
    def id(self) -> str:
        return self._id or self.path

    @property
    def name(self) -> str:
        """The file name (the last part of :attr:`path`)."""
        return self.path.rsplit("/", 1)[-1]

    def _row_value(self, key: str) -> str | None:
        self._check_alive()
        row = self._row
        if row is None:
            row = self._fetch_row()
        value = row.get(key)
        return value if value not in (None, "") else None

    def _fetch_row(self) -> dict[str, str]:
        files_url = self._uri.split("/files/", 1)[0] + "/files"  # type: ignore[union-attr]  # a file is always bound
        rows: list[dict[str, str]] = self._session().get_json(files_url)["ResultSet"]["Result"]
        for row in rows:
            if row.get("URI", "").endswith("/files/" + self.path):
                self._row = row
                return row
        raise XNATValueError(f"{self._uri}: no such file in {files_url}")

    def _get_field(self, name: str) -> Any:
        return self._row_value(name)

    @property
    def fulldata(self) -> dict[str, Any]:
        self._row_value("URI")
        return {"data_fields": dict(self._row or {}), "children": [], "meta": {"xsi:type": self.__xsi_type__}}

    @property
    def size(self) -> int | None:
        """Size in bytes, from the listing."""
        value = self._row_value("Size")
        return int(value) if value is not None and value.isdigit() else None

    file_size = size

    @property
    def digest(self) -> str | None:
        """The catalog's MD5 of the file, when the server has one."""
        return self._row_value("digest")

    @property
    def file_format(self) -> str | None:
        return self._row_value("file_format")

    @property
    def file_content(self) -> str | None:
        return self._row_value("file_content")

    @property
    def file_tags(self) -> str | None:
        return self._row_value("file_tags")

    @property
    def collection(self) -> str | None:
        """The label of the resource the file is in."""
        return self._row_value("collection")

    @property
    def cat_id(self) -> str | None:
        return self._row_value("cat_ID")

    # -- the mounted archive (xnat.classes.mount) ---------------------------------------------

    @property
    def expected_data_path(self) -> Path | None:
        """Where the file would be in the mounted archive (None without a mount)."""
        resource = self.parent
        folder = expected_data_dir(resource) if resource is not None else None
        parts = self.path.split("/")
        if folder is None or any(part in ("", ".", "..") or "\\" in part for part in parts):
            return None
        return folder.joinpath(*parts)

    @property
    def data_path(self) -> Path | None:
        """The file in the mounted archive, when there is a mount and the file is there."""
        expected = self.expected_data_path
        return expected if expected is not None and expected.is_file() else None

    def _mounted_copy(self) -> Path | None:
        """The mounted file when it matches the catalog's size, else None (logged at INFO)."""
        found = self.data_path
        if found is None:
            return None
        size = self.size
        if size is not None and found.stat().st_size != size:
            logger.info("%s: %s on the mount has %d bytes, the catalog says %d; reading over the network",
                        self.path, found, found.stat().st_size, size)
            return None
        return found

    def verify_digest(self) -> bool:
        """Whether the file's MD5 (read from the mount when it is there, else over the network)
        matches the catalog's digest. Without a digest in the catalog there is nothing to match."""
        digest = self.digest
        if digest is None:
            raise XNATValueError(f"{self.path}: the catalog holds no digest to verify against")
        md5 = hashlib.md5(usedforsecurity=False)
        with self.open() as source:
            while chunk := source.read(1024 * 1024):
                md5.update(chunk)
        return md5.hexdigest() == digest

    def _copy_from_mount(self, source: Path, target: str | os.PathLike[str], overwrite: bool) -> bool:
        """Copy the mounted file to ``target`` through a temporary name, checked against the
        catalog's digest; False (nothing left behind) when it does not match."""
        destination = Path(target)
        if destination.exists() and not overwrite:
            raise XNATIOError(f"{destination} exists and overwrite is False")
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".download-", dir=destination.parent)
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            with open(source, "rb") as reader, os.fdopen(handle, "wb") as writer:
                while chunk := reader.read(1024 * 1024):
                    md5.update(chunk)
                    writer.write(chunk)
            if self.digest is not None and md5.hexdigest() != self.digest:
                logger.info("%s: %s on the mount does not match the catalog digest; reading over the network",
                            self.path, source)
                os.unlink(temporary)
                return False
            os.replace(temporary, destination)
            return True
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

    def _transfer_args(self) -> dict[str, Any]:
        if self._row is None:
            self._fetch_row()
        return {"expected_md5": self.digest, "expected_size": self.size}

    def download(self, path: str | os.PathLike[str], verbose: bool | None = None, overwrite: bool = True,
                 update_func: Any = None) -> str:
        """Download the file to ``path`` (verified, atomic). Returns the path. From the mounted
        archive when the file is there and matches the catalog (size and digest), else the network."""
        mounted = self._mounted_copy()
        if mounted is not None and self._copy_from_mount(mounted, path, overwrite):
            return os.fspath(path)
        self._session().transferer().download(self._uri, path, overwrite=overwrite, verbose=verbose,
                                               update_func=update_func, **self._transfer_args())
        return os.fspath(path)

    def download_stream(self, target_stream: IO[bytes], verbose: bool | None = False,
                        update_func: Any = None, chunk_size: int | None = None) -> None:
        """Download the file into a writable binary stream (verified)."""
        self._session().transferer().download_stream(self._uri, target_stream, verbose=verbose,
                                                      update_func=update_func, **self._transfer_args())

    def open(self, mode: str = "rb") -> Any:
        """A seekable read-only file that fetches byte ranges as they are read."""
        if mode not in ("r", "rb"):
            raise XNATValueError(f"open(): files on XNAT are read-only (mode 'rb'), not {mode!r}")
        mounted = self._mounted_copy()
        if mounted is not None:
            return open(mounted, "rb")  # the caller closes it, as with the remote file
        return self._session().transferer().open(self._uri, size=self.size)

    def delete(self, remove_files: bool = True) -> None:
        """Delete the file from its resource."""
        session = self._session()
        session.delete(self._uri)
        self._destroyed = True
        session._forget_object(self)

    def __repr__(self) -> str:
        dead = " (deleted)" if self._destroyed else ""
        return f"<FileData {self.path}{dead}>"


def install_file_class(namespace: Any, session: Any) -> None:
    """Give ``namespace`` a FileData bound to ``session`` (unless the schemas define one)."""
    if "xnat:fileData" in namespace.lookup:
        return
    cls = type("FileData", (FileData,), {"xnat_session": session, "__module__": FileData.__module__,
                                          "__doc__": FileData.__doc__})
    namespace.register("xnat:fileData", cls)
