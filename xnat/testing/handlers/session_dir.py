"""``/DIR`` and ``/XAR``: a session's folder on disk, as XNAT's ``DIRResource`` serves it.

Source: ``NrgXnat/xnat-web``, ``restlet/resources/files/DIRResource.java`` (routed at
``/experiments/{E}/DIR``, ``/projects/{P}/experiments/{E}/DIR`` and the same with ``XAR``):

* ``GET .../DIR`` lists the session folder's entries as a table (``Name``, ``DIR``, ``Size``,
  ``URI`` = ``/data/experiments/{ID}/DIR/{path}``, title "Files"); ``recursive=true`` lists every
  file below. ``.../DIR/{glob}/{glob}...`` matches each segment as a file-name pattern (``..``
  is refused with 400); one matching file is sent as is; ``format=zip|tar.gz`` zips the matches.
* ``GET .../XAR`` is the whole folder as a zip with the session document ``{ID}.xml`` beside it,
  its resource paths relative to the folder (an XNAT archive, what the ``XAR`` import handler takes).
* Only for subject assessors (``xnat:subjectAssessorData``): others answer 400; the guest 401;
  a session without a folder 404.

The folder is this server's (``{project}/arc001/{ID}``: ``SCANS/{pk}/{label}``,
``RESOURCES/{label}``...), which XNAT lays out the same way but with labels and scan IDs.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from werkzeug.utils import send_file
from werkzeug.wrappers import Response

from .base import Ctx, HTTPError
from .deps import ItemNode, item_xml
from .items import build
from .listing import table
from .lookup import Node

DIR_COLUMNS = ["Name", "DIR", "Size", "URI"]


def serve(ctx: Ctx, node: Node, kind: str, path: str) -> Response:
    """``GET <session>/DIR[/path]`` or ``<session>/XAR``."""
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    if ctx.user.is_guest:
        raise HTTPError(401, "Authentication required")
    if not ctx.app.datatypes.is_a(node.xsi_type, "xnat:subjectAssessorData"):
        raise HTTPError(400, "Resource only available for extensions of the xnat:subjectAssessorData type.")
    session_dir = ctx.app.files.root / node.row["project"] / "arc001" / node.key
    if not session_dir.is_dir():
        raise HTTPError(404, "Session directory doesn't exist in standard location for this experiment.")
    if kind == "XAR":
        return _xar(ctx, node, session_dir)
    matches = [session_dir] if not path else _glob(session_dir, path)
    if not matches:
        raise HTTPError(404, "Specified request didn't match any stored files.")
    fmt = (ctx.param("format") or "").lower()
    if len(matches) == 1 and matches[0].is_file() and fmt not in ("zip", "tar.gz"):
        return send_file(matches[0], ctx.request.environ, as_attachment=True)
    recursive = ctx.flag("recursive")
    if fmt in ("zip", "tar.gz"):
        files = [f for m in matches for f in (_walk(m) if m.is_dir() else [m])]
        return _archive(ctx, node, [(_entry(node, session_dir, f), f) for f in files], fmt)
    rows = []
    for parent in matches:
        found = (_walk(parent) if recursive else _children(parent)) if parent.is_dir() else [parent]
        for f in found:
            rel = f.relative_to(session_dir).as_posix() + ("/" if f.is_dir() else "")
            name = f.relative_to(parent).as_posix() if parent.is_dir() else f.name
            rows.append({"Name": name + ("/" if f.is_dir() else ""), "DIR": "true" if f.is_dir() else "false",
                         "Size": str(f.stat().st_size), "URI": f"/data/experiments/{node.key}/DIR/{rel}"})
    return table(ctx, rows, DIR_COLUMNS, "Files", always=(), columns_meta=[{"key": "URI", "serverRoot": ""}])


def _glob(root: Path, path: str) -> list[Path]:
    """DIRResource.getFiles: each segment a file-name pattern; ``..`` refused."""
    found = [root]
    for segment in [s for s in path.split("/") if s]:
        if segment.strip() in ("..", "."):
            raise HTTPError(400, f"'{segment}' is not allowed in this resource URI.")
        found = [d / name for d in found if d.is_dir() for name in sorted(os.listdir(d))
                 if fnmatch.fnmatchcase(name, segment) and not (d / name).is_symlink()]
    return found


def _children(folder: Path) -> list[Path]:
    """The entries of ``folder`` (links left out, as everywhere here)."""
    return sorted(p for p in folder.iterdir() if not p.is_symlink())


def _walk(folder: Path) -> list[Path]:
    """Every regular file below ``folder`` (links are not followed)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _entry(node: Node, session_dir: Path, path: Path) -> str:
    """A file's name in a downloaded zip: below the session's folder, named by its label."""
    return f"{node.row['label']}/{path.relative_to(session_dir).as_posix()}"


def _xar(ctx: Ctx, node: Node, session_dir: Path) -> Response:
    """The session folder zipped with its document ``{ID}.xml`` (written when the download starts)."""
    tree = build(ctx, node)
    _relative_uris(tree, f"{session_dir}/")
    document = item_xml(tree, ctx.app.datatypes, ctx.app.site_url)
    files = [(_entry(node, session_dir, f), f) for f in _walk(session_dir)]
    return _response(node, _xar_body(ctx, node, document, files), "application/zip", "xar")


def _relative_uris(node: ItemNode, prefix: str) -> None:
    """Resource ``URI`` paths made relative to the session folder, as XNAT writes a XAR's document
    (``SAXWriter.setRelativizePath``), so that the archive means the same on another server."""
    uri = node.fields.get("URI")
    if isinstance(uri, str) and uri.startswith(prefix):
        node.fields["URI"] = uri[len(prefix):]
    for _, items in node.children:
        for item in items:
            _relative_uris(item, prefix)


def _xar_body(ctx: Ctx, node: Node, document: bytes, files: list[tuple[str, Path]]) -> Iterator[bytes]:
    """The XAR's bytes; its document goes through a temporary file, made only once the body is
    read (a HEAD reads none) and removed however the download ends."""
    handle, name = tempfile.mkstemp(prefix=".xar-", suffix=".xml")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(document)
        yield from ctx.app.files.stream_zip([(f"{node.key}.xml", Path(name)), *files])
    finally:
        Path(name).unlink(missing_ok=True)


def _archive(ctx: Ctx, node: Node, entries: list[tuple[str, Path]], fmt: str) -> Response:
    files = ctx.app.files
    if fmt == "zip":
        return _response(node, files.stream_zip(entries), "application/zip", "zip")
    return _response(node, files.stream_targz(entries), "application/x-gtar", "tar.gz")


def _response(node: Node, body: Iterator[bytes], mimetype: str, suffix: str) -> Response:
    return Response(body, mimetype=mimetype, direct_passthrough=True,
                    headers={"Content-Disposition": f'attachment; filename="{node.row["label"]}.{suffix}"'})
