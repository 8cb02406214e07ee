"""Files of a resource: :class:`FileData`, written by hand (XNAT's schemas have no file type).

A file is known from its resource's files listing row (``Name``, ``Size``, ``digest``,
``file_format``...), so reading its metadata makes no request. Downloads are verified
against the catalog MD5 (size when there is none) and written under a temporary name;
:meth:`FileData.open` reads byte ranges on demand.
"""

from __future__ import annotations

import os
from typing import IO, Any

from ...exceptions import XNATValueError
from ..base import XNATBaseObject
from ..rest import split_uri

__all__ = ["FileData", "install_file_class"]


class FileData(XNATBaseObject):
    """One file in a resource: ``resource.files['sub/dir/image.dcm']``."""

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

    def _transfer_args(self) -> dict[str, Any]:
        if self._row is None:
            self._fetch_row()
        return {"expected_md5": self.digest, "expected_size": self.size}

    def download(self, path: str | os.PathLike[str], verbose: bool | None = None, overwrite: bool = True,
                 update_func: Any = None) -> str:
        """Download the file to ``path`` (verified, atomic). Returns the path."""
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
