"""Moving files for pyxnat's ``File``, ``Resource`` and collections, through our transfers.

Every function takes the session and server paths; they stream in large chunks, check the
MD5 the server lists when there is one, and write to the destination only once the bytes
are complete (pyxnat streams 1 KiB chunks straight into the target, unchecked).
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

from ..exceptions import XNATIOError

__all__ = ["download_file", "download_zip", "extract_resource", "extract_zip_file", "upload_file", "upload_zip"]


def download_file(session: Any, uri: str, dest: str | os.PathLike[str], digest: str | None = None) -> str:
    """Download the file at ``uri`` to the path ``dest`` (replaced if present); returns ``dest``."""
    target = Path(dest).expanduser()
    if target.parent and not target.parent.is_dir():
        raise XNATIOError(f"cannot download {uri} to {target}: the folder {target.parent} does not exist")
    session.transferer().download(uri, target, expected_md5=digest or None, overwrite=True)
    return str(target)


def download_zip(session: Any, uri: str, dest: str | os.PathLike[str]) -> str:
    """Save the zip of everything under ``uri`` as the file ``dest``; returns ``dest``."""
    target = Path(dest).expanduser()
    if not target.parent.is_dir():
        raise XNATIOError(f"cannot download {uri} to {target}: the folder {target.parent} does not exist")
    session.transferer().download_zip(uri, target, overwrite=True)
    return str(target)


def extract_resource(session: Any, resource_uri: str, label: str, dest_dir: str | os.PathLike[str]) -> list[str]:
    """Stream the zip of a resource into ``dest_dir/<label>/...``, as pyxnat lays it out."""
    folder = Path(dest_dir).expanduser()
    if not folder.is_dir():
        raise XNATIOError(f"cannot download {resource_uri} into {folder}: it is not an existing folder")

    def rename(entry: str) -> str:
        # XNAT prefixes entries with the object path down to ".../files/"; keep what follows.
        _, marker, rest = entry.partition("/files/")
        return f"{label}/{rest if marker else entry.rpartition('/')[2]}"

    extracted = session.transferer().extract_zip(f"{resource_uri}/files", folder, rename=rename, overwrite=True)
    return sorted(str(path) for path in extracted.values())


def upload_file(session: Any, file_uri: str, src: Any, query: dict[str, Any], overwrite: bool) -> None:
    """Upload ``src`` (a path, or the content as str or bytes) to ``file_uri``."""
    transferer = session.transferer()
    if isinstance(src, (str, os.PathLike)) and os.path.isfile(src):
        transferer.upload(file_uri, Path(src), method="put", overwrite=overwrite, query=query)
    elif isinstance(src, (str, bytes, bytearray)):
        transferer.upload_data(file_uri, src, method="put", overwrite=overwrite, query=query)
    else:
        raise XNATIOError(f"cannot upload {src!r} to {file_uri}: give a file path, or the content as str or bytes")


def upload_zip(session: Any, resource_uri: str, zip_path: str | os.PathLike[str], overwrite: bool,
               extract: bool) -> None:
    """Upload a local zip into a resource; with ``extract`` the server unpacks it."""
    path = Path(zip_path).expanduser()
    if not path.is_file():
        raise XNATIOError(f"cannot upload {path}: no such file")
    query = {"extract": "true"} if extract else {}
    session.transferer().upload(f"{resource_uri}/files/{path.name}", path, method="put", overwrite=overwrite,
                                query=query)


def extract_zip_file(zip_path: str | os.PathLike[str], dest_dir: str | os.PathLike[str]) -> list[str]:
    """Extract a downloaded zip into ``dest_dir``; an entry that would land outside it is refused."""
    folder = Path(dest_dir).resolve()
    written = []
    with zipfile.ZipFile(zip_path) as archive:
        for entry in archive.infolist():
            target = (folder / entry.filename).resolve()
            if folder not in target.parents:
                raise XNATIOError(f"{zip_path}: the entry {entry.filename!r} would be written outside {folder}")
            if entry.is_dir():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(entry) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
            written.append(str(target))
    return written
