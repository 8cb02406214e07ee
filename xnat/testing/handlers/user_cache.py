"""``/data/user/cache/resources``: each user's own upload space, as XNAT's ``UserCacheResource``.

Source: ``NrgXnat/xnat-web``, ``restlet/resources/UserCacheResource.java``. A signed-in user
keeps named folders (``XNAME``) of files there, seen by no one else:

* ``GET .../resources``: a table of the user's folders (``Resource``, ``URI``);
* ``PUT .../resources/{X}``: a new folder (412 when it exists); ``DELETE``: the folder and all in it;
* ``GET .../resources/{X}[/files]``: a table of its files (``Name``, ``Size``, ``URI``), every level;
* ``PUT .../resources/{X}/files/{path}``: the body (raw, or one multipart file) stored at ``path``;
  ``POST .../resources/{X}/files``: multipart files stored under their own names (201);
* ``GET .../files/{path}``: the file; ``DELETE .../files/{path}[,{path}...]``: files (404 if one is missing).

``POST /data/services/import?src=/user/cache/resources/{X}/files/{path}`` imports a file from
here instead of a request body (:func:`cached_file`): what XNAT's uploader does.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, cast

from werkzeug.utils import send_file
from werkzeug.wrappers import Response

from .base import Ctx, HTTPError, text
from .deps import UnsafePath
from .listing import table

BASE = "/data/user/cache/resources"


def resources(ctx: Ctx) -> Response:
    """``GET /data/user/cache/resources``: the user's folders."""
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    home = _home(ctx)
    rows = [{"Resource": p.name, "URI": f"{BASE}/{p.name}"} for p in sorted(home.iterdir()) if p.is_dir()]
    return table(ctx, rows, ["Resource", "URI"], "", always=())


def resource(ctx: Ctx, xname: str, path: str | None = None) -> Response:
    """``.../resources/{X}``, ``.../resources/{X}/files`` and ``.../resources/{X}/files/{path}``."""
    home = _home(ctx)
    folder = _folder(home, xname)
    if path:
        return _one_path(ctx, folder, xname, path)
    if ctx.method == "GET":
        if not folder.is_dir():
            raise HTTPError(404, "User directory not found or is not a directory.")
        return _listing(ctx, folder, xname)
    if ctx.method == "PUT" and not ctx.path.endswith("/files"):
        if folder.exists():
            raise HTTPError(412, "Resource with this name already exists.")
        ctx.app.user_cache.resource_dir(ctx.user.login, xname)
        return text("")
    if ctx.method == "POST":
        return _post_files(ctx, xname)
    if ctx.method == "DELETE":
        if not ctx.app.user_cache.delete(folder):
            raise HTTPError(404, "User directory not found or is not a directory.")
        return text("")
    raise HTTPError(400, "Please use HTTP PUT request to specify a file name in the URL.")


def cached_file(ctx: Ctx, src: str) -> Path:
    """The calling user's cached file named by an import's ``src=`` (XNAT's retrievePrestoreFile)."""
    prefix = "/user/cache/resources/"
    rest = src.removeprefix("/data")
    xname, sep, path = rest.removeprefix(prefix).partition("/files/")
    if not rest.startswith(prefix) or not sep or not xname or not path:
        raise HTTPError(400, "src uri is invalid.")
    found = _inside(ctx, _folder(_home(ctx), xname), path)
    if not found.is_file():
        raise HTTPError(404, "Unknown src file.")
    return found


def _home(ctx: Ctx) -> Path:
    """The signed-in user's cache folder (the guest has none)."""
    ctx.require_login()
    return ctx.app.user_cache.resource_dir(ctx.user.login)


def _folder(home: Path, xname: str) -> Path:
    if xname in (".", "..") or "/" in xname:
        raise HTTPError(400, f"Invalid resource name {xname!r}")
    return home / xname


def _inside(ctx: Ctx, folder: Path, path: str) -> Path:
    try:
        return ctx.app.user_cache.path_of(folder, path)
    except (UnsafePath, ValueError) as error:
        raise HTTPError(400, f"Invalid file path {path!r}: {error}") from None


def _listing(ctx: Ctx, folder: Path, xname: str) -> Response:
    rows = [{"Name": rel, "Size": str((folder / rel).stat().st_size), "URI": f"{BASE}/{xname}/files/{rel}"}
            for rel in ctx.app.user_cache.list_files(folder)]
    return table(ctx, rows, ["Name", "Size", "URI"], "", always=())


def _one_path(ctx: Ctx, folder: Path, xname: str, path: str) -> Response:
    if ctx.method == "GET":
        target = _inside(ctx, folder, path)
        if not target.is_file():
            raise HTTPError(404, "User directory not found or is not a directory.")
        return send_file(target, ctx.request.environ, as_attachment=True)
    if ctx.method == "PUT":
        stream, length = _body(ctx)
        _inside(ctx, folder, path)  # 400 for a path that leaves the folder, before anything is made
        ctx.app.user_cache.write(ctx.app.user_cache.resource_dir(ctx.user.login, xname), path, stream, length)
        return text("")
    if ctx.method == "DELETE":
        targets = [_inside(ctx, folder, p) for p in path.split(",")]
        if not folder.is_dir() or any(not t.exists() for t in targets):
            raise HTTPError(404, "One or more specified files do not exist.")
        for target in targets:
            ctx.app.user_cache.delete(folder, target.relative_to(folder).as_posix())
        return text("")
    if ctx.method == "POST":
        raise HTTPError(400, "Please use HTTP PUT request to specify a file name in the URL.")
    raise HTTPError(405, "Method Not Allowed")


def _body(ctx: Ctx) -> tuple[BinaryIO, int | None]:
    """A PUT's file: one multipart file, or the raw body."""
    request = ctx.request
    if request.mimetype == "multipart/form-data":
        parts = list(request.files.values())
        if len(parts) != 1:
            raise HTTPError(400, f"Send one file to store under a name in the URL (got {len(parts)})")
        return cast(BinaryIO, parts[0].stream), None
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        raise HTTPError(400, "The request didn't provide any data; try inbody=true or multipart/form-data")
    return cast(BinaryIO, request.stream), request.content_length


def _post_files(ctx: Ctx, xname: str) -> Response:
    """``POST .../resources/{X}/files`` (or ``{X}``) with multipart files: each under its own name."""
    if ctx.flag("inbody") or ctx.request.mimetype != "multipart/form-data":
        raise HTTPError(400, "Please use HTTP PUT request to specify a file name in the URL.")
    parts = [p for p in ctx.request.files.values() if p.filename]
    if not parts:
        raise HTTPError(400, "The request holds no file to store")
    folder = ctx.app.user_cache.resource_dir(ctx.user.login, xname)
    for part in parts:
        ctx.app.user_cache.write(folder, str(part.filename), cast(BinaryIO, part.stream))
    return text("File(s) successfully uploaded", 201)
