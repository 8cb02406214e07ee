"""Files of resources: upload (raw or multipart, overwrite, extract), list, download, zip, delete.

Downloads go through ``werkzeug.utils.send_file`` so the bytes are served from disk by
``wsgi.file_wrapper`` with Content-Length, ETag (the MD5) and Range (206) support.
Uploads stream to disk through the file store; the catalogue row is written only
after the whole file has landed, so a cut-off upload leaves nothing catalogued.
"""

from __future__ import annotations

import json
import mimetypes
import posixpath
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

from werkzeug.exceptions import ClientDisconnected
from werkzeug.utils import send_file
from werkzeug.wrappers import Response

from . import file_paths, resources
from .base import Ctx, HTTPError, text
from .deps import ArchiveTooLarge, DuplicateFiles, IncompleteUpload, StoredFile, UnsafePath
from .listing import table
from .lookup import Node, require_delete, require_edit

FILE_DEFAULTS = ["Name", "Size", "URI", "collection", "file_tags", "file_format", "file_content", "cat_ID", "digest"]
ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz")


def _clean(relpath: str) -> str:
    """400 for ``..``, absolute paths and other tricks before anything touches the disk."""
    if relpath.startswith("/") or "\\" in relpath or "\0" in relpath or ".." in relpath.split("/") \
            or any(part in ("", ".") for part in relpath.split("/")):
        raise HTTPError(400, f"Invalid file path: {relpath!r}")
    return relpath


def resource_files(ctx: Ctx, node: Node, relpath: str) -> Response:
    """``.../resources/{R}/files[/{path}]``."""
    if ctx.method in ("PUT", "POST"):
        return _upload(ctx, node, relpath)
    if ctx.method == "DELETE":
        return _delete(ctx, node, relpath)
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    if relpath:
        _clean(relpath)
        catalogue = ctx.backend.resources
        if not catalogue.has_file(node.row["pk"], relpath) and catalogue.has_folder(node.row["pk"], relpath):
            return _listing_or_archive(ctx, [node], folder=relpath)  # a folder: its files
        return _download(ctx, node.row, relpath)
    return _listing_or_archive(ctx, [node])


def level_files(ctx: Ctx, nodes: list[Node], relpath: str) -> Response:
    """``.../{level}/files[/{path}]``: the files of every resource of one or more objects."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed: upload into a resource: .../resources/{label}/files/{name}")
    res_nodes = []
    for node in nodes:
        if node.kind == "resource":
            res_nodes.append(node)
            continue
        kind, owner_id = resources.owner(node)
        for row in ctx.backend.resources.of_owner(kind, owner_id):
            res_nodes.append(Node("resource", str(row["pk"]), row, node.project, node, row["io"]))
    if relpath:
        _clean(relpath)
        for res in res_nodes:
            if ctx.backend.resources.has_file(res.row["pk"], relpath):
                return _download(ctx, res.row, relpath)
        return _missing(ctx, relpath)
    return _listing_or_archive(ctx, res_nodes)


# -- reading ----------------------------------------------------------------------------
def _missing(ctx: Ctx, relpath: str) -> Response:
    if ctx.flag("accept-not-found"):
        return Response(status=204)
    raise HTTPError(404, f"Unable to find file {relpath}")


def _download(ctx: Ctx, res: sqlite3.Row, relpath: str) -> Response:
    row = ctx.backend.resources.file(res["pk"], relpath)
    if row is None:
        return _missing(ctx, relpath)
    try:
        path = ctx.app.files.path_of(resources.folder_of(ctx, res), relpath)
    except UnsafePath:
        raise HTTPError(400, f"Invalid file path: {relpath!r}") from None
    if not path.is_file():
        return _missing(ctx, relpath)
    mimetype = mimetypes.guess_type(relpath)[0] or "application/octet-stream"
    return send_file(path, ctx.request.environ, mimetype=mimetype, conditional=True, etag=row["md5"],
                     download_name=posixpath.basename(relpath), as_attachment=False)


def _file_rows(ctx: Ctx, res_nodes: list[Node], folder: str = "", locator: str = "URI",
               disk: bool = False) -> list[dict[str, Any]]:
    """Rows of the files of ``res_nodes``, each located by ``locator`` (see :mod:`.file_paths`);
    with ``disk`` (or a locator other than the URI) each row's ``_disk`` is its file on disk."""
    out = []
    root = ctx.app.files.root
    for res in res_nodes:
        base = res.uri()
        files = [f for f in ctx.backend.resources.files(res.row["pk"])
                 if not folder or f["path"].startswith(folder + "/")]
        paths = _disk_paths(ctx, res, files) if files and (disk or locator != "URI") else {}
        for f in files:
            disk_path = paths.get(f["path"])
            if disk_path is None or locator == "URI":
                where = f"{base}/files/{f['path']}"
            elif locator == "absolutePath":
                where = str(disk_path.resolve())
            else:
                where = disk_path.relative_to(root).as_posix()
            out.append({"Name": posixpath.basename(f["path"]), "Size": str(f["size"]),
                        locator: where, "collection": res.row["label"],
                        "file_tags": f["tags"], "file_format": f["format"], "file_content": f["content"],
                        "cat_ID": str(res.row["pk"]), "digest": f["md5"], "path": f["path"],
                        "_res": res, "_file": f, "_disk": disk_path})
    return out


def _disk_paths(ctx: Ctx, res: Node, files: list[sqlite3.Row]) -> dict[str, Path]:
    """Where each of a resource's ``files`` is on disk: the folder is checked once, each file once."""
    names = [f["path"] for f in files]
    return dict(zip(names, ctx.app.files.paths_of(resources.folder_of(ctx, res.row), names), strict=True))


def _listing_or_archive(ctx: Ctx, res_nodes: list[Node], folder: str = "") -> Response:
    fmt = (ctx.param("format") or "json").lower()
    archive = fmt in ("zip", "tar.gz", "tgz")
    locator = "URI" if archive else file_paths.locator(ctx.param("locator"))  # archives need the URI
    rows = _file_rows(ctx, res_nodes, folder, locator, disk=archive)
    if archive:
        how, root = file_paths.structure(ctx.param("structure")), ctx.app.files.root
        entries = [(file_paths.archive_name(r["_res"], r["path"], r["_disk"], root, how, fmt != "zip"), r["_disk"])
                   for r in rows if r["_disk"].is_file()]
        if fmt == "zip":
            body, mimetype, ext = ctx.app.files.stream_zip(entries), "application/zip", "zip"
        else:
            body, mimetype, ext = ctx.app.files.stream_targz(entries), "application/x-gtar", "tar.gz"
        name = res_nodes[0].parent.key if res_nodes and res_nodes[0].parent else "files"
        return Response(_chunks(body), mimetype=mimetype, direct_passthrough=True,
                        headers={"Content-Disposition": f'attachment; filename="{name}.{ext}"'})
    for key in ("file_content", "file_format"):  # NULL matches an empty value
        if ctx.param(key) == "NULL":
            rows = [r for r in rows if not r[key]]
            ctx.params.pop(key)
    defaults = [locator if c == "URI" else c for c in FILE_DEFAULTS]
    # XNAT describes the URI column whatever the locator (FileList's column properties)
    return table(ctx, rows, defaults, "Files", columns_meta=[{"key": "URI", "serverRoot": ""}], total=False,
                 always=(locator,))


def _chunks(body: Iterator[bytes]) -> Iterator[bytes]:
    yield from body


# -- writing ----------------------------------------------------------------------------
def _uploads(ctx: Ctx, relpath: str) -> list[tuple[str, BinaryIO, int | None]]:
    """(relative path, stream, expected length) of every file the request carries."""
    request = ctx.request
    if request.mimetype == "multipart/form-data":
        found: list[tuple[str, BinaryIO, int | None]] = []
        for storage in request.files.values():
            name = relpath if relpath and len(request.files) == 1 else \
                posixpath.join(relpath, posixpath.basename(storage.filename or "")) if storage.filename else relpath
            if not name:
                raise HTTPError(400, "A multipart file part needs a file name")
            found.append((_clean(name), cast(BinaryIO, storage.stream), None))
        if not found:
            raise HTTPError(400, "The request didn't provide any data. Try inbody=true or multipart/form-data")
        return found
    length = request.content_length
    if not length and not request.headers.get("Transfer-Encoding"):
        raise HTTPError(400, "The request didn't provide any data. Try inbody=true or multipart/form-data")
    if not relpath:
        raise HTTPError(400, "Name the file in the URL: .../files/{name}")
    return [(_clean(relpath), cast(BinaryIO, request.stream), length)]


def _upload(ctx: Ctx, node: Node, relpath: str) -> Response:
    require_edit(ctx, node)
    if relpath:
        _clean(relpath)
    overwrite, extract = ctx.flag("overwrite"), ctx.flag("extract")
    attrs = {k: ctx.param(k) or "" for k in ("format", "content", "tags")}
    folder = resources.folder_of(ctx, node.row)
    catalogue, files = ctx.backend.resources, ctx.app.files
    stored: list[StoredFile] = []
    duplicates: list[str] = []
    for name, stream, length in _uploads(ctx, relpath):
        try:
            if extract and name.lower().endswith(ARCHIVES):
                stored += files.extract(folder, posixpath.dirname(name), stream, posixpath.basename(name), overwrite)
                continue
            if not overwrite and catalogue.has_file(node.row["pk"], name):
                duplicates.append(name)
                _drain(stream)
                continue
            stored.append(files.write(folder, name, stream, length))
        except UnsafePath as exc:
            raise HTTPError(400, f"Invalid file path: {exc}") from None
        except (IncompleteUpload, ClientDisconnected):
            raise HTTPError(400, "The upload was cut off before the whole file arrived") from None
        except DuplicateFiles as exc:  # an archive whose members exist already, without overwrite
            duplicates.extend(exc.names)
        except ArchiveTooLarge as exc:  # a zip bomb, or just too much: nothing was unpacked
            raise HTTPError(413, f"Cannot extract {name}: {exc}") from None
        except (IsADirectoryError, NotADirectoryError):
            raise HTTPError(409, f"{name} clashes with an existing file or folder of that name") from None
        except ValueError as exc:  # not an archive, corrupt, conflicting member names
            raise HTTPError(400, f"Cannot extract {name}: {exc}") from None
    catalogue.catalogue(node.row["pk"], stored, attrs)
    if duplicates:
        return Response(json.dumps({"duplicates": duplicates}), status=200, mimetype="text/html")
    return text("", 200)


def _drain(stream: BinaryIO) -> None:
    """Read a refused upload to its end so the connection can be reused."""
    while stream.read(1 << 16):
        pass


def _delete(ctx: Ctx, node: Node, relpath: str) -> Response:
    require_delete(ctx, node)
    if not relpath:
        raise HTTPError(400, "Name the file to delete: .../files/{name}")
    _clean(relpath)
    catalogue = ctx.backend.resources
    if not catalogue.has_file(node.row["pk"], relpath):
        raise HTTPError(404, f"Unable to find file {relpath}")
    # The file goes first and the catalogue after: on a full disk the catalogue write
    # needs the space the delete frees. Should that write still fail, the row outlives
    # its file; a download answers 404 and deleting again finishes the job.
    try:
        ctx.app.files.delete(resources.folder_of(ctx, node.row), relpath)
    except UnsafePath:
        pass  # never stored through this path; only the catalogue row is left to drop
    if not catalogue.uncatalogue(node.row["pk"], relpath):
        raise HTTPError(404, f"Unable to find file {relpath}")
    return text("")
