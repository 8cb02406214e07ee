"""``import-handler=XAR``: an XNAT archive (XNAT documents and their files) into the archive.

Source: ``NrgXnat/xnat-web``, ``XarImporter``. A XAR is a zip (or tar) holding XNAT documents
(``*.xml``) at its top and their files, either at the top or in one container folder (what
``GET .../XAR`` makes, with resource ``URI`` paths relative to that folder). The documents are
of one kind, as XNAT sorts them:

* one image session: its ``project`` and ``subject_ID`` must name a project the user creates in
  and one of its subjects (400 "Invalid project tag" / "Invalid subject", as XNAT says); it is
  written as a PUT of that document would write it (a label in use is 409);
* scans, or reconstructions, of one existing session (their ``image_session_ID``): each is
  written as a PUT of its document under that session would write it (edit rights there); an ID
  the session already has is updated, as XNAT's ``XarImporter`` saves such an item over the
  stored one: the document's fields replace theirs (the others stay) and its resources are
  added to the scan's (a resource label the scan already has is 409: this server holds one
  resource per label, where XNAT would keep both);
* image assessors of one existing session (their ``imageSession_ID``), each in the project its
  ``project`` names (create rights there; 400 "Invalid project tag" without one).

Two kinds in one XAR are refused (400, as XNAT), and so are documents of several sessions. A
session the user may not read is one that does not exist (400 "must reference a valid Imaging
Session"). Each resource a document lists gets the files below its catalog's folder. A
document ID already in use is not reused: the server makes one. Anything refused leaves
nothing behind. The answer is one URI per document written: ``/data/archive/experiments/{ID}``
for a session or an assessor, ``.../experiments/{session}/scans/{ID}`` (``reconstructions``).
"""

from __future__ import annotations

import posixpath
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder

from . import archive_write, resources
from .base import Ctx, HTTPError
from .deps import FileStore, ItemNode, item_xml, parse_item_xml
from .lookup import Node, find_experiment, find_subject, project_node, readable_rows, require_create

#: The parts of a session a XAR may hold instead: kind -> (their base type, the collection they
#: are created in, the field naming their session)
PARTS = {
    "scan": ("xnat:imageScanData", "scans", "image_session_ID"),
    "reconstruction": ("xnat:reconstructedImageData", "reconstructions", "image_session_ID"),
    "assessor": ("xnat:imageAssessorData", "assessors", "imageSession_ID"),
}
_VALID_SESSION = "All XNAT xml documents must reference a valid Imaging Session."


class Wanted(NamedTuple):
    """One resource to write: its owner, ``in``/``out`` (or ""), its folder under the archive root."""

    kind: str  # owner kind: experiment (sessions and assessors), scan, reconstruction
    owner: str  # the owner's ID (a scan's or reconstruction's pk)
    io: str
    folder: str
    resource: ItemNode


def run(ctx: Ctx, body: BinaryIO, name: str | None) -> list[str]:
    """Import the XAR in ``body``; the URIs of what it made."""
    staging = Path(tempfile.mkdtemp(prefix=".xar-", dir=ctx.app.data_dir))
    try:
        unpacked = FileStore(staging, durable=False, limits=ctx.app.files.limits)
        try:
            unpacked.extract(staging, "", body, name or "upload.xar", overwrite=False)
        except (ValueError, OSError) as error:
            raise HTTPError(400, f"Archive file is corrupt or not a valid archive file type: {error}") from None
        kind, documents, content = _layout(ctx, staging)
        if kind == "session":
            return [_import(ctx, documents[0], content)]
        return _import_parts(ctx, kind, documents, content)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _layout(ctx: Ctx, top: Path) -> tuple[str, list[ItemNode], Path]:
    """(the documents' kind, the documents, the folder their resource paths start in)."""
    entries = sorted(top.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        top, entries = entries[0], sorted(entries[0].iterdir())
    by_kind: dict[str, list[ItemNode]] = {}
    for path in (p for p in entries if p.is_file() and p.suffix.lower() == ".xml"):
        document = _parse(ctx, path)
        kind = _kind(ctx, document.xsi_type)
        if kind is not None:  # XNAT skips a document of any other type
            by_kind.setdefault(kind, []).append(document)
    if not by_kind:
        raise HTTPError(400, "Unable to locate XNAT xml document.")
    if len(by_kind) > 1:
        raise HTTPError(400, "Multiple data types cannot share a single XAR.  Please separate files into separate XARs")
    kind, documents = by_kind.popitem()
    if kind == "session" and len(documents) > 1:
        raise HTTPError(400, "XAR can only include data for one imaging session.")
    folders = [p for p in entries if p.is_dir()]
    extra = [p for p in entries if p.is_file() and p.suffix.lower() != ".xml"]
    content = folders[0] if len(folders) == 1 and not extra else top  # XNAT's "container folder"
    return kind, documents, content


def _parse(ctx: Ctx, path: Path) -> ItemNode:
    try:
        return parse_item_xml(path.read_bytes(), ctx.app.datatypes)
    except ValueError as error:
        raise HTTPError(422, f"The XAR's document {path.name} is not an XNAT item: {error}") from None


def _kind(ctx: Ctx, xsi_type: str) -> str | None:
    datatypes = ctx.app.datatypes
    if datatypes.is_a(xsi_type, "xnat:imageSessionData"):
        return "session"
    return next((kind for kind, (base, _, _) in PARTS.items() if datatypes.is_a(xsi_type, base)), None)


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
    _drop_taken_id(ctx, document)
    document.fields["subject_ID"] = subject["id"]
    parent = Node("subject", subject["id"], subject, project.key, project)
    created = archive_write.create(_as_put(ctx, document), parent, "experiments", label, "")
    experiment_id = created.get_data(as_text=True)
    row = find_experiment(ctx, experiment_id, None)
    assert row is not None, "the session was just written"
    node = Node("experiment", experiment_id, row, project.key)
    wanted = _session_resources(ctx, document, project.key, experiment_id)
    _all_or_nothing([lambda: resources.delete_tree(ctx, node, remove_files=True)],
                    lambda: _copy(ctx, wanted, content))
    return f"/data/archive/experiments/{experiment_id}"


def _drop_taken_id(ctx: Ctx, document: ItemNode) -> None:
    given = document.fields.get("ID")
    if given and find_experiment(ctx, str(given), None) is not None:
        del document.fields["ID"]  # taken here: the server makes one


def _all_or_nothing(undo: list[Callable[[], None]], step: Callable[[], object]) -> None:
    """Run ``step``; if it fails, what ``undo`` holds (filled as ``step`` writes) is run, last
    first, before the error goes on."""
    try:
        step()
    except BaseException:
        for action in reversed(undo):
            action()
        raise


# -- scans, reconstructions or assessors of an existing session -------------------------------
def _import_parts(ctx: Ctx, kind: str, documents: list[ItemNode], content: Path) -> list[str]:
    session = _session_of(ctx, kind, documents)
    for document in documents:  # refused before anything is written
        _check_labels_free(ctx, kind, document, session)
    made: list[Node] = []
    undo: list[Callable[[], None]] = []

    def write_all() -> None:
        for document in documents:
            made.append(_create_part(ctx, kind, document, session, undo))
            added = _copy(ctx, _part_resources(kind, document, made[-1], session), content)
            undo.append(lambda added=added: _drop_resources(ctx, added))  # type: ignore[misc]

    _all_or_nothing(undo, write_all)
    base = f"/data/archive/experiments/{session['id']}"
    return [f"/data/archive/experiments/{node.key}" if kind == "assessor"
            else f"{base}/{PARTS[kind][1]}/{node.row['id']}" for node in made]


def _session_of(ctx: Ctx, kind: str, documents: list[ItemNode]) -> sqlite3.Row:
    """The one image session every document names, if the user may read it (400 otherwise)."""
    named = {str(document.fields.get(PARTS[kind][2]) or "") for document in documents}
    if len(named) > 1:
        raise HTTPError(400, "XAR can only include data for one imaging session.")
    row = find_experiment(ctx, named.pop(), None)
    if row is None or not readable_rows(ctx, "experiment", [row]) \
            or not ctx.app.datatypes.is_a(row["xsi_type"], "xnat:imageSessionData"):
        raise HTTPError(400, _VALID_SESSION)
    return row


def _check_labels_free(ctx: Ctx, kind: str, document: ItemNode, session: sqlite3.Row) -> None:
    """409 when the document updates a scan (or reconstruction) that already has a resource of
    a label the document brings (XNAT keeps both; this server holds one resource per label)."""
    existing = _existing_part(ctx, kind, document, session)
    if existing is None:
        return
    for wanted in _part_resources(kind, document, existing, session):
        if ctx.backend.resources.find(wanted.kind, wanted.owner, wanted.io, _label(wanted.resource)) is not None:
            raise HTTPError(409, f"{kind.capitalize()} {existing.row['id']} of session {session['label']} already"
                                 f" has resource {_label(wanted.resource)}: nothing was imported")


def _existing_part(ctx: Ctx, kind: str, document: ItemNode, session: sqlite3.Row) -> Node | None:
    """The session's scan or reconstruction of the document's ID, if it has one."""
    key = str(document.fields.get("ID") or "")
    row = ctx.backend.archive.child(kind, session["id"], key) if kind != "assessor" and key else None
    if row is None:
        return None
    return Node(kind, str(row["pk"]), row, session["project"],
                Node("experiment", session["id"], session, session["project"]))


def _create_part(ctx: Ctx, kind: str, document: ItemNode, session: sqlite3.Row,
                 undo: list[Callable[[], None]]) -> Node:
    """Write one scan, reconstruction or assessor document as its PUT would; its node. What
    undoes the write goes on ``undo``."""
    _, coll, session_field = PARTS[kind]
    document.fields[session_field] = session["id"]
    if kind == "assessor":
        project_id = str(document.fields.get("project") or "")
        if not project_id or ctx.backend.projects.get(project_id) is None:
            raise HTTPError(400, "Could not process XAR file - Invalid project tag.")
        project = project_node(ctx, project_id)
        label = str(document.fields.get("label") or "")
        if not label:
            raise HTTPError(400, "The XAR's assessor document has no label")
        _drop_taken_id(ctx, document)
        parent = Node("experiment", session["id"], session, project.key)
        new_id = archive_write.create(_as_put(ctx, document), parent, coll, label, "").get_data(as_text=True)
        row = find_experiment(ctx, new_id, None)
        assert row is not None, "the assessor was just written"
        node = Node("assessor", new_id, row, project.key, parent)
        undo.append(lambda: resources.delete_tree(ctx, node, remove_files=True))
        return node
    key = str(document.fields.get("ID") or "")
    if not key:
        raise HTTPError(400, f"The XAR's {kind} document has no ID")
    archive = ctx.backend.archive
    existing = _existing_part(ctx, kind, document, session)
    if existing is not None:  # XarImporter saves the item over the stored one: an update
        with archive.transaction() as conn:
            before = archive.stored_fields(conn, kind, existing.row["pk"])
        archive_write.update(_as_put(ctx, document), existing)
        undo.append(lambda: _restore_fields(ctx, kind, existing.row["pk"], before))
        return existing
    parent = Node("experiment", session["id"], session, session["project"])
    archive_write.create(_as_put(ctx, document), parent, coll, key, "")
    row = archive.child(kind, session["id"], key)
    assert row is not None, f"the {kind} was just written"
    node = Node(kind, str(row["pk"]), row, session["project"], parent)
    undo.append(lambda: resources.delete_tree(ctx, node, remove_files=True))
    return node


def _restore_fields(ctx: Ctx, kind: str, pk: int, fields: dict[str, Any]) -> None:
    archive = ctx.backend.archive
    with archive.transaction() as conn:
        archive.set_fields(conn, kind, pk, fields)


def _drop_resources(ctx: Ctx, pks: list[int]) -> None:
    """Remove resources a failed import added, with their files."""
    for pk in pks:
        for folder in ctx.backend.archive.delete_tree("resource", str(pk)):
            ctx.app.files.delete(ctx.app.files.resource_dir(*folder.split("/")))


def _part_resources(kind: str, document: ItemNode, node: Node, session: sqlite3.Row) -> list[Wanted]:
    """Where each catalogued resource of a part goes, as this server lays a session's folder out."""
    session_dir = f"{session['project']}/arc001/{session['id']}"
    if kind == "scan":
        return [Wanted("scan", node.key, "", f"{session_dir}/SCANS/{node.key}/{_label(res)}", res)
                for res in document.child_items("file")]
    if kind == "reconstruction":
        return [Wanted("reconstruction", node.key, io, f"{session_dir}/PROCESSED/{node.key}/{io.upper()}/{_label(res)}",
                       res) for io in ("in", "out") for res in document.child_items(f"{io}/file")]
    own_dir = f"{node.row['project']}/arc001/{node.key}"
    return [Wanted("experiment", node.key, io, f"{own_dir}/{io.upper() or 'RESOURCES'}/{_label(res)}", res)
            for path, io in (("resources/resource", ""), ("in/file", "in"), ("out/file", "out"))
            for res in document.child_items(path)]


def _label(resource: ItemNode) -> str:
    return str(resource.fields.get("label") or "")


def _as_put(ctx: Ctx, document: ItemNode) -> Ctx:
    """The request context of a PUT of ``document`` by the same user (the XAR's session is
    written exactly as that PUT would write it)."""
    body = item_xml(document, ctx.app.datatypes, ctx.app.site_url)
    request = EnvironBuilder(method="PUT", data=body, content_type="text/xml").get_request()
    return Ctx(ctx.app, request, ctx.user, ctx.path, MultiDict(), session_id=ctx.session_id)


def _session_resources(ctx: Ctx, document: ItemNode, project: str, experiment_id: str) -> list[Wanted]:
    """The written session's own resources and its scans' (by the pk each scan got)."""
    session_dir = f"{project}/arc001/{experiment_id}"
    wanted = [Wanted("experiment", experiment_id, "", f"{session_dir}/RESOURCES/{_label(res)}", res)
              for res in document.child_items("resources/resource")]
    for scan in document.child_items("scans/scan"):
        row = ctx.backend.archive.child("scan", experiment_id, str(scan.fields.get("ID")))
        if row is not None:
            wanted += [Wanted("scan", str(row["pk"]), "", f"{session_dir}/SCANS/{row['pk']}/{_label(res)}", res)
                       for res in scan.child_items("file")]
    return wanted


def _copy(ctx: Ctx, wanted: list[Wanted], content: Path) -> list[int]:
    """Each catalogued resource in ``wanted`` with the files below its catalog's folder, in one
    transaction; the new resources' pks."""
    files = ctx.app.files
    now = time.time()
    added: list[int] = []
    fresh: list[Path] = []  # folders this call made: a failure takes them back with the rows
    try:
        with ctx.backend.archive.transaction() as conn:
            _copy_in(ctx, conn, wanted, content, now, added, fresh)
    except BaseException:
        for folder in fresh:
            files.delete(folder)
        raise
    return added


def _copy_in(ctx: Ctx, conn: sqlite3.Connection, wanted: list[Wanted], content: Path, now: float,
             added: list[int], fresh: list[Path]) -> None:
    store, files = ctx.backend.resources, ctx.app.files
    for item in wanted:
        uri, label = str(item.resource.fields.get("URI") or ""), _label(item.resource)
        if not uri or not label or uri.startswith("/") or ".." in uri.split("/"):
            continue  # not a catalog inside the XAR (an absolute server path means nothing here)
        attrs = {k: str(item.resource.fields[k]) for k in ("format", "content", "description", "tags")
                 if item.resource.fields.get(k)}
        pk = store.insert_in(conn, item.kind, item.owner, item.io, label, item.resource.xsi_type, attrs,
                             item.folder)
        added.append(pk)
        source = content / posixpath.dirname(uri)
        target = files.resource_dir(*item.folder.split("/"))
        if not target.exists():
            fresh.append(target)
        for path in sorted(p for p in source.rglob("*") if p.is_file() and p.name != posixpath.basename(uri)):
            rel = path.relative_to(source).as_posix()
            with open(path, "rb") as stream:
                stored = files.write(target, rel, stream, path.stat().st_size)
            store.catalogue_in(conn, pk, stored.path, stored.size, stored.md5, {}, now)
