"""``import-handler=XAR``: an XNAT archive (a session document and its folder) into the archive.

Source: ``NrgXnat/xnat-web``, ``XarImporter``. A XAR is a zip (or tar) holding the session's
document (``{ID}.xml``) at its top and the session's folder, either at the top or in one
container folder (what ``GET .../XAR`` makes, with resource ``URI`` paths relative to that
folder). The document's ``project`` and ``subject_ID`` must name a project the user creates in
and one of its subjects (400 "Invalid project tag" / "Invalid subject", as XNAT says); the
session is written as a PUT of that document would write it (the same checks; a label in use
is 409), then each resource the document lists gets the files below its catalog's folder.
The answer is the session's URI, ``/data/archive/experiments/{ID}``.

Here a XAR takes one image session document (XNAT also takes scans, reconstructions or
assessors of an existing session). A document ID already in use is not reused: the server
makes one. Anything refused leaves nothing behind.
"""

from __future__ import annotations

import posixpath
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder

from . import archive_write, resources
from .base import Ctx, HTTPError
from .deps import FileStore, ItemNode, item_xml, parse_item_xml
from .lookup import Node, find_experiment, find_subject, project_node, require_create


def run(ctx: Ctx, body: BinaryIO, name: str | None) -> list[str]:
    """Import the XAR in ``body``; the new session's URI."""
    staging = Path(tempfile.mkdtemp(prefix=".xar-", dir=ctx.app.data_dir))
    try:
        unpacked = FileStore(staging, durable=False, limits=ctx.app.files.limits)
        try:
            unpacked.extract(staging, "", body, name or "upload.xar", overwrite=False)
        except (ValueError, OSError) as error:
            raise HTTPError(400, f"Archive file is corrupt or not a valid archive file type: {error}") from None
        document, content = _layout(ctx, staging)
        return [_import(ctx, document, content)]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _layout(ctx: Ctx, top: Path) -> tuple[ItemNode, Path]:
    """(the session document, the folder its resource paths start in)."""
    entries = sorted(top.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        top, entries = entries[0], sorted(entries[0].iterdir())
    documents = [p for p in entries if p.is_file() and p.suffix.lower() == ".xml"]
    folders = [p for p in entries if p.is_dir()]
    if not documents:
        raise HTTPError(400, "Unable to locate XNAT xml document.")
    if len(documents) > 1:
        raise HTTPError(400, "XAR can only include data for one imaging session.")
    try:
        document = parse_item_xml(documents[0].read_bytes(), ctx.app.datatypes)
    except ValueError as error:
        raise HTTPError(422, f"The XAR's document is not an XNAT item: {error}") from None
    if not ctx.app.datatypes.is_a(document.xsi_type, "xnat:imageSessionData"):
        raise HTTPError(400, f"This server's XAR import takes one image session document, not {document.xsi_type}")
    extra = [p for p in entries if p.is_file() and p not in documents]
    content = folders[0] if len(folders) == 1 and not extra else top  # XNAT's "container folder"
    return document, content


def _import(ctx: Ctx, document: ItemNode, content: Path) -> str:
    project_id, subject_key = str(document.fields.get("project") or ""), str(document.fields.get("subject_ID") or "")
    if not project_id or ctx.backend.projects.get(project_id) is None:
        raise HTTPError(400, "Could not process XAR file - Invalid project tag.")
    project = project_node(ctx, project_id)
    require_create(ctx, project.key)
    subject = find_subject(ctx, subject_key, project.key) if subject_key else None
    if subject is None:
        raise HTTPError(400, "Could not process XAR file - Invalid subject.")
    label = str(document.fields.get("label") or "")
    if not label:
        raise HTTPError(400, "The XAR's session document has no label")
    given = document.fields.get("ID")
    if given and find_experiment(ctx, str(given), None) is not None:
        del document.fields["ID"]  # taken here: the server makes one
    document.fields["subject_ID"] = subject["id"]
    parent = Node("subject", subject["id"], subject, project.key, project)
    created = archive_write.create(_as_put(ctx, document), parent, "experiments", label, "")
    experiment_id = created.get_data(as_text=True)
    try:
        _copy_resources(ctx, document, content, project.key, experiment_id)
    except BaseException:
        row = find_experiment(ctx, experiment_id, None)
        if row is not None:  # all or nothing: the half-made session goes
            resources.delete_tree(ctx, Node("experiment", experiment_id, row, project.key), remove_files=True)
        raise
    return f"/data/archive/experiments/{experiment_id}"


def _as_put(ctx: Ctx, document: ItemNode) -> Ctx:
    """The request context of a PUT of ``document`` by the same user (the XAR's session is
    written exactly as that PUT would write it)."""
    body = item_xml(document, ctx.app.datatypes, ctx.app.site_url)
    request = EnvironBuilder(method="PUT", data=body, content_type="text/xml").get_request()
    return Ctx(ctx.app, request, ctx.user, ctx.path, MultiDict(), session_id=ctx.session_id)


def _copy_resources(ctx: Ctx, document: ItemNode, content: Path, project: str, experiment_id: str) -> None:
    """Each catalogued resource of the document (the session's and its scans') with its files."""
    wanted: list[tuple[str, str, str, ItemNode]] = []  # (owner kind, scan ID or "", folder, resource)
    for res in document.child_items("resources/resource"):
        wanted.append(("experiment", "", "RESOURCES", res))
    for scan in document.child_items("scans/scan"):
        for res in scan.child_items("file"):
            wanted.append(("scan", str(scan.fields.get("ID")), "SCANS", res))
    archive, store, files = ctx.backend.archive, ctx.backend.resources, ctx.app.files
    now = time.time()
    with archive.transaction() as conn:
        for kind, scan_id, holder, res in wanted:
            uri, label = str(res.fields.get("URI") or ""), str(res.fields.get("label") or "")
            if not uri or not label or uri.startswith("/") or ".." in uri.split("/"):
                continue  # not a catalog inside the XAR (an absolute server path means nothing here)
            owner = experiment_id
            if kind == "scan":
                scan_row = archive.scan_by_id(conn, experiment_id, scan_id)
                if scan_row is None:
                    continue
                owner = str(scan_row["pk"])
            folder_rel = f"{project}/arc001/{experiment_id}/{holder}/" + (f"{owner}/" if kind == "scan" else "") + label
            attrs = {k: str(res.fields[k]) for k in ("format", "content", "description", "tags") if res.fields.get(k)}
            pk = store.insert_in(conn, kind, owner, "", label, res.xsi_type, attrs, folder_rel)
            source = content / posixpath.dirname(uri)
            target = files.resource_dir(*folder_rel.split("/"))
            for path in sorted(p for p in source.rglob("*") if p.is_file() and p.name != posixpath.basename(uri)):
                rel = path.relative_to(source).as_posix()
                with open(path, "rb") as stream:
                    stored = files.write(target, rel, stream, path.stat().st_size)
                store.catalogue_in(conn, pk, stored.path, stored.size, stored.md5, {}, now)
