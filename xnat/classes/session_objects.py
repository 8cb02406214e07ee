"""What a session adds for objects and transfers: top-level listings, create_object,
caches, and xnatpy's session-level download/upload methods.

:class:`SessionObjectsMixin` is a base of :class:`~xnat.session.BaseXNATSession`. Caches
are per session: ``session.clearcache()`` forgets every listing and fetched document;
``session.caching = False`` makes every read go to the server. Objects live in a weak
identity map with the most recently used few hundred held strongly.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..exceptions import XNATIOError, XNATValueError
from ..transport import DEFAULT_MIN_RATE, DEFAULT_RATE_WINDOW, DEFAULT_REQUEST_DEADLINE
from .listing import ListingAttribute
from .mount import DataDirType, resolve_mount

if TYPE_CHECKING:  # pragma: no cover
    from ..transfer import Transferer

__all__ = ["SessionObjectsMixin"]


class _TopListing(ListingAttribute):
    """``session.projects``, ``.subjects``, ``.experiments``: the session's listing of that
    kind (see :class:`~xnat.classes.listing.ListingAttribute`)."""

    owner_name = "session."

    def listing_of(self, obj: Any) -> Any:
        return obj._top_listing(self.kind)


class SessionObjectsMixin:
    """Objects, listings and transfers of a session (see the module docstring)."""

    _objects_layer: Any = None
    #: The classes built from the server's schemas (``session.classes.MrSessionData``). A
    #: plain attribute, not a property: IPython completes ``session.classes.<TAB>`` only
    #: through attributes it may read without running code.
    classes: Any = None
    #: Parallel transfers for jobs of many files (download_dir, upload_dir per_file).
    transfer_workers: int = 8  # xnat.transfer.parallel.DEFAULT_WORKERS (transfers are imported when first used)
    #: How often a failed transfer is tried again, and the first wait (doubling) in seconds.
    transfer_retries: int = 3
    transfer_backoff: float = 0.5

    # -- classes: a hand-written FileData joins every namespace ---------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "classes" and value is not None and hasattr(value, "register"):
            from .behaviour.file import install_file_class

            install_file_class(value, self)
        super().__setattr__(name, value)

    # -- the object layer ---------------------------------------------------------------------

    @property
    def _layer(self) -> Any:
        layer = self._objects_layer
        if layer is None:
            from .objects import ObjectLayer

            with _INIT_LOCK:
                if self._objects_layer is None:
                    self._objects_layer = ObjectLayer(self)
                layer = self._objects_layer
        return layer

    def _top_listing(self, kind: str) -> Any:
        cache = self.__dict__.setdefault("_top_listings", {})
        listing = cache.get(kind)
        if listing is None:
            listing = cache.setdefault(kind, self._layer.listing(f"/data/{kind}", kind))
        return listing

    projects = _TopListing("Every project visible to the user (one request on first use, then cached).")
    subjects = _TopListing("Every subject visible to the user (one request on first use, then cached).")
    experiments = _TopListing("Every experiment visible to the user (one request on first use, then cached).")

    def create_object(self, uri: str, type_: str | None = None, fieldname: str | None = None,
                      datafields: Mapping[str, Any] | None = None, parent: Any = None, **kwargs: Any) -> Any:
        """The object at the REST path ``uri`` (same object every time while it is in use).

        Without ``type_`` the type is read from the server (one GET, kept as the object's
        document). ``/REST/`` and ``/data/archive/`` paths are accepted.
        """
        row = {k: str(v) for k, v in datafields.items()} if datafields else None
        return self._layer.create_object(uri, type_, kwargs.get("id_"), row, parent)

    def remove_object(self, obj: Any) -> None:
        """Drop ``obj`` from the identity map (it is rebuilt on next use)."""
        self._layer.forget(obj)

    def _forget_object(self, obj: Any) -> None:
        self._layer.forget(obj)

    def _register_new(self, obj: Any, parent: Any) -> None:
        self._layer.register_new(obj, parent)

    def clearcache(self, wipe_general_object_cache: bool = True, wipe_listings: bool = True) -> None:
        """Forget cached listings and documents; the next read asks the server again."""
        layer = self._objects_layer
        if layer is not None:
            if wipe_listings:
                layer.refresh_listings()
            if wipe_general_object_cache:
                layer.clearcache()

    # -- the mounted archive ------------------------------------------------------------------

    def _mount_state(self) -> tuple[Path | None, DataDirType]:
        state: tuple[Path | None, DataDirType] | None = self.__dict__.get("_mount")
        if state is None:
            state = self.__dict__.setdefault("_mount", _mount_from_environment())
        return state

    @property
    def mount_data_dir(self) -> Path | None:
        """The archive folder mounted here (read-only), else None. ``XNAT_DATA`` names it (read at
        first use; a location that is not a readable folder is ignored, logged at INFO); set it
        to a folder, or None to read everything over the network (see :mod:`xnat.classes.mount`)."""
        return self._mount_state()[0]

    @mount_data_dir.setter
    def mount_data_dir(self, path: str | os.PathLike[str] | None) -> None:
        self.mount_archive(path)

    @property
    def mount_data_dir_type(self) -> DataDirType:
        """The layout of the mounted archive (``DataDirType.NONE`` without a mount)."""
        return self._mount_state()[1]

    @mount_data_dir_type.setter
    def mount_data_dir_type(self, type_: DataDirType | str) -> None:
        root = self.mount_data_dir
        if root is None:
            raise XNATValueError("mount_data_dir_type needs a mount_data_dir first")
        self.mount_archive(root, type_)

    def mount_archive(self, path: str | os.PathLike[str] | None, type_: DataDirType | str | None = None) -> None:
        """Read files from the archive mounted at ``path`` (layout ``type_``, guessed when None);
        ``None`` unmounts.

        :raises XNATIOError: ``path`` is not a readable folder (the mount is left as it was)
        """
        self.__dict__["_mount"] = (None, DataDirType.NONE) if path is None else resolve_mount(path, type_)

    # -- transfers ------------------------------------------------------------------------------

    def transferer(self, timeout: Any = None) -> Transferer:
        """A :class:`~xnat.transfer.Transferer` on this session's connection, for one transfer job.

        It streams, retries and verifies with the session's ``transfer_workers``,
        ``transfer_retries`` and ``transfer_backoff``; ``timeout`` (seconds or ``(connect,
        read)``) defaults to the session's ``request_timeout``. Raises
        :class:`~xnat.exceptions.XNATNotConnectedError` after ``disconnect()``.
        """
        from ..transfer import Transferer

        self._check_connection()  # type: ignore[attr-defined]
        default = getattr(self, "request_timeout", None) or 300.0
        return Transferer(self.interface, self.server, timeout=timeout or default,  # type: ignore[attr-defined]
                          workers=self.transfer_workers, retries=self.transfer_retries,
                          backoff=self.transfer_backoff,
                          min_rate=getattr(self, "min_transfer_rate", DEFAULT_MIN_RATE),
                          rate_window=getattr(self, "transfer_rate_window", DEFAULT_RATE_WINDOW),
                          deadline=getattr(self, "request_deadline", DEFAULT_REQUEST_DEADLINE))

    def download(self, uri: str, target: str | os.PathLike[str], format: str | None = None, verbose: bool | None = None,
                 timeout: Any = None, expected_md5_digest: str | None = None, overwrite: bool = True,
                 update_func: Any = None) -> str:
        """Download ``uri`` to the file ``target`` (verified; written under a temporary name first)."""
        query = {"format": format} if format else None
        self.transferer(timeout).download(uri, target, expected_md5=expected_md5_digest, overwrite=overwrite,
                                           query=query, verbose=verbose, update_func=update_func)
        return str(target)

    def download_stream(self, uri: str, target_stream: IO[bytes], format: str | None = None,
                        verbose: bool | None = False, chunk_size: int | None = None, update_func: Any = None,
                        timeout: Any = None, expected_md5_digest: str | None = None) -> None:
        """Download ``uri`` into a writable binary stream."""
        query = {"format": format} if format else None
        self.transferer(timeout).download_stream(uri, target_stream, expected_md5=expected_md5_digest,
                                                  query=query, verbose=verbose, update_func=update_func)

    def download_zip(self, uri: str, target: str | os.PathLike[str], verbose: bool | None = None, timeout: Any = None,
                     expected_md5_digest: str | None = None, overwrite: bool = True) -> str:
        """Download ``uri`` as a zip (``format=zip``) to the file ``target``."""
        self.transferer(timeout).download(uri, target, expected_md5=expected_md5_digest, overwrite=overwrite,
                                           query={"format": "zip"}, verbose=verbose)
        return str(target)

    def upload(self, uri: str, file_: str | bytes | os.PathLike[str] | IO[bytes], retries: int = 1,
               query: Mapping[str, Any] | None = None, content_type: str | None = None, method: str = "put",
               overwrite: bool = False, timeout: Any = None) -> Any:
        """Upload to ``uri`` (xnatpy's ``upload``): ``file_`` is an open binary file, the path of an
        existing file, or the data itself (``str``, sent as UTF-8, or ``bytes``)."""
        options: dict[str, Any] = {"query": query, "content_type": content_type, "method": method,
                                   "overwrite": overwrite, "timeout": timeout, "retries": retries}
        if isinstance(file_, os.PathLike) or (isinstance(file_, str) and os.path.isfile(file_)):
            return self.upload_file(uri, file_, **options)
        if isinstance(file_, (str, bytes)):
            return self.upload_string(uri, file_, **options)
        if hasattr(file_, "read"):
            return self.upload_stream(uri, file_, **options)
        raise XNATValueError(f"upload takes an open binary file, a file path, str or bytes, not {type(file_).__name__}")

    def upload_stream(self, uri: str, stream: IO[bytes], retries: int = 1, query: Mapping[str, Any] | None = None,
                      content_type: str | None = None, method: str = "put", overwrite: bool = False,
                      timeout: Any = None, verbose: bool | None = None, upload_size: int | None = None,
                      update_func: Any = None) -> Any:
        """Upload a binary stream as the raw request body (retried when it can be rewound)."""
        return self._upload(uri, stream, query, content_type, method, overwrite, timeout, verbose, update_func)

    def upload_file(self, uri: str, path: str | os.PathLike[str], verbose: bool | None = None, *,
                    upload_size: int | None = None, query: Mapping[str, Any] | None = None,
                    content_type: str | None = None, method: str = "put", overwrite: bool = False,
                    timeout: Any = None, retries: int = 1, update_func: Any = None) -> Any:
        """Upload the local file ``path`` to ``uri`` (streamed from disk)."""
        if not os.path.isfile(path):
            raise XNATIOError(f"upload_file: {path} is not a file" if os.path.exists(path)
                              else f"upload_file: {path} does not exist")
        return self._upload(uri, os.fspath(path), query, content_type, method, overwrite, timeout, verbose,
                            update_func)

    def upload_string(self, uri: str, data: str | bytes, **kwargs: Any) -> Any:
        """Upload text (sent as UTF-8) or bytes to ``uri``."""
        if not isinstance(data, (str, bytes)):
            raise XNATValueError(f"upload_string takes str or bytes, not {type(data).__name__}")
        raw = data.encode("utf-8") if isinstance(data, str) else data
        kwargs.setdefault("content_type", "text/plain; charset=utf-8" if isinstance(data, str) else None)
        return self._upload(uri, raw, kwargs.get("query"), kwargs.get("content_type"), kwargs.get("method", "put"),
                            kwargs.get("overwrite", False), kwargs.get("timeout"), kwargs.get("verbose"),
                            kwargs.get("update_func"))

    def _upload(self, uri: str, source: Any, query: Mapping[str, Any] | None, content_type: str | None,
                method: str, overwrite: bool, timeout: Any, verbose: bool | None, update_func: Any) -> Any:
        if method not in ("put", "post"):
            raise XNATValueError(f"upload method must be 'put' or 'post', not {method!r}")
        return self.transferer(timeout).upload(uri, source, method=method, overwrite=overwrite, query=query,
                                                content_type=content_type or "application/octet-stream",
                                                verbose=verbose, update_func=update_func)


_INIT_LOCK = threading.Lock()
logger = logging.getLogger(__name__)


def _mount_from_environment() -> tuple[Path | None, DataDirType]:
    """The mount ``XNAT_DATA`` names; none, logged at INFO, when it is not a readable folder."""
    location = os.environ.get("XNAT_DATA")
    if not location:
        return None, DataDirType.NONE
    try:
        return resolve_mount(location)
    except XNATIOError as error:
        logger.info("XNAT_DATA ignored, files are read over the network: %s", error)
        return None, DataDirType.NONE
