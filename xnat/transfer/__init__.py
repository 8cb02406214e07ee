"""Moving data to and from XNAT: streamed, verified, resumable, parallel, with progress.

The engine works on a plain ``requests.Session`` (authentication and TLS already set),
a base URL and a timeout; it knows nothing of sessions or objects, which wire their
methods onto it. On a small embedded archive::

    import requests
    from xnat.testing.runner import XNATServer
    from xnat.transfer import Transferer

    with XNATServer(populate="projects=1,subjects=1,experiments=1,files=1") as server:
        http_session = requests.Session()
        http_session.auth = ("admin", "admin")
        t = Transferer(http_session, server.url, timeout=300)
        dicom = "/data/experiments/XNAT_E00001/scans/2/resources/DICOM/files"
        name, (size, digest) = next(iter(t.list_files(dicom).items()))
        t.download(f"{dicom}/{name}", "1.dcm", expected_md5=digest)
        t.download_tree(dicom, "out/")                                          # parallel, verified
        t.extract_zip("/data/experiments/XNAT_E00001/scans/ALL/files", "all/")  # streamed, no zip on disk
        with t.open(f"{dicom}/{name}") as f:                                    # ranges on demand
            header = f.read(4096)
        nifti = "/data/experiments/XNAT_E00001/scans/2/resources/NIFTI/files"
        t.upload(f"{nifti}/a.dcm", "1.dcm", overwrite=True, verify=True)
        t.upload_tree(nifti, "out/", method="per_file")

Public surface (:class:`Transferer` methods):

=====================  ==============================================================
``download``           one file to a path: temp file beside the target, MD5/size check,
                       Range resume, rename when verified; ``overwrite=False`` refuses
                       an existing target before any request
``download_stream``    one file into a binary stream (rewound on retry when seekable)
``open``               :class:`RemoteFile`, a seekable reader fetching byte ranges
``download_zip``       ``?format=zip`` saved to a file
``extract_zip``        ``?format=zip`` extracted as it streams (``rename=`` maps names)
``download_many``      :class:`DownloadJob` list on a thread pool (``workers=``)
``list_files``         a resource's files: relative path -> (size, MD5)
``download_tree``      every file of a resource, parallel, each verified
``upload``             path / bytes / binary stream to a file URL (``verify=True``
                       compares the server's digest afterwards)
``upload_data``        ``str`` (UTF-8), bytes or a stream
``upload_many``        :class:`UploadJob` list on a thread pool
``upload_tree``        a directory: ``per_file`` | ``tar_memory`` | ``tgz_memory`` |
                       ``tar_file`` | ``tgz_file``
=====================  ==============================================================

Progress: ``verbose=None`` draws a progressbar2 bar on stderr only when stderr is a
terminal (``True`` forces it, ``False`` never); ``update_func(bytes_done, total,
finished)`` is called as in xnatpy. Errors come from :mod:`xnat.exceptions`:
``XNATChecksumError`` (corrupt after the retries), ``XNATIOError`` (local file problems,
dropped connections after the retries), ``XNATUploadError``, ``XNATResponseError``
(unexpected status, with the server's reason), ``XNATConnectionError`` /
``XNATTimeoutError``.

Modules: :mod:`.transferer` (the front door, :class:`Transferer`, and its job types);
:mod:`.connection` (session, base URL, timeouts, retry policy); :mod:`.download` (one
file: streamed, verified, resumed); :mod:`.upload` (one file, bytes or stream);
:mod:`.tree` (a directory tree, per file or as one archive); :mod:`.plan` (per file or one
archive, whichever is faster for the count, sizes and round trip); :mod:`.parallel` (jobs
on a thread pool, the first failure stopping the rest); :mod:`.unzip` (a zip extracted as it
streams); :mod:`.entryfiles` (where an extracted entry's bytes wait until verified);
:mod:`.remotefile` (a seekable reader over byte ranges); :mod:`.hashing` (MD5
beside a transfer); :mod:`.paths` (safe local names for server-given names);
:mod:`.progress` (counts, ``update_func`` and the stderr bar).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below are imported on first use (see __getattr__)
    from .connection import Connection
    from .download import DownloadResult
    from .paths import safe_component, safe_relpath
    from .progress import Progress, UpdateFunc
    from .remotefile import RemoteFile
    from .transferer import DownloadJob, Transferer, UploadJob
    from .tree import UPLOAD_METHODS, LocalFile
    from .unzip import ZipStreamExtractor, extract_zip_stream
    from .upload import UploadResult

__all__ = [
    "UPLOAD_METHODS",
    "Connection",
    "DownloadJob",
    "DownloadResult",
    "LocalFile",
    "Progress",
    "RemoteFile",
    "Transferer",
    "UpdateFunc",
    "UploadJob",
    "UploadResult",
    "ZipStreamExtractor",
    "extract_zip_stream",
    "safe_component",
    "safe_relpath",
]

# Where each public name lives. The package imports a module the first time one of its
# names is asked for: a session that only reports progress (the map results do) does
# not pay for tarfile, zlib and the thread pools at connect.
_HOMES = {
    "UPLOAD_METHODS": "tree", "Connection": "connection", "DownloadJob": "transferer",
    "DownloadResult": "download", "LocalFile": "tree", "Progress": "progress", "RemoteFile": "remotefile",
    "Transferer": "transferer", "UpdateFunc": "progress", "UploadJob": "transferer", "UploadResult": "upload",
    "ZipStreamExtractor": "unzip", "extract_zip_stream": "unzip", "safe_component": "paths",
    "safe_relpath": "paths",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later reads are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
