"""``POST /data/services/import``: DICOM (zip, tar, tar.gz) into the prearchive or the archive.

Follows XNAT's importer (REST-NOTES §9): the upload is the raw body or a multipart file;
``dest=/archive/projects/P[/subjects/S[/experiments/E]]`` or ``/prearchive/projects/P`` (no
project at all: the Unassigned prearchive, which admins see),
``project``/``subject``/``session`` override the labels the headers give (subject =
PatientName, session = PatientID, as XNAT's defaults) and ``subject``/``session`` those of the
destination; when ``project`` and ``dest`` name different projects, ``dest`` wins, except with
``import-handler=DICOM-zip`` (as in XNAT, see ``_project``);
``import-handler=inbox`` imports a folder below the site's inbox (:mod:`.inbox`), ``XAR`` an
XNAT archive (:mod:`.xar`);
``overwrite=none|append|delete``; ``src=/user/cache/resources/X/files/f.zip`` imports a file the
user uploaded to its cache before; ``rename=true`` stores every DICOM file under the name
the file namer gives it (``{SOPInstanceUID}.dcm``) instead of its name in the upload (XNAT's
``GradualDicomImporter.getSafeFile``; gradual uploads are always named so here, as they
rarely carry a name); ``Ignore-Unparsable=true`` skips non-DICOM members
(otherwise an upload holding any is refused, 400). The answer is the new URI(s),
``/data``-prefixed, as text. ``import-handler=gradual-DICOM`` takes files one by one: they
go to the prearchive (or, with ``Direct-Archive=true``, are appended to the archived
session) and files of one study gather in one prearchive session.

Every study is staged in the prearchive first, as XNAT does; an archive destination then
commits it in one transaction. When that commit is refused (say the session exists and
``overwrite`` was not given) the staged session stays in the prearchive with status
ERROR and the reason, and the archive is untouched.
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any, BinaryIO, cast

from werkzeug.wrappers import Response

from ..dicomreader import DicomArchive, Study, read_dicom_archive
from ..importing import ImportError_, Target, commit, merge, stage
from ..prearchive_store import UNASSIGNED, PrearchiveSession, prearchive_of
from . import inbox, status, user_cache, xar
from .base import Ctx, HTTPError, forbidden, text
from .lookup import project_node
from .writes import check_label

logger = logging.getLogger(__name__)

HANDLERS = ("SI", "DICOM-zip", "gradual-DICOM", "inbox", "XAR")
_SPOOL = 64 * 1024 * 1024


def parse_dest(dest: str) -> dict[str, str]:
    """``/archive/projects/P/subjects/S/experiments/E`` or ``/prearchive/projects/P`` as parts."""
    path = dest.strip()
    if path.startswith("/data/"):
        path = path[5:]
    segs = [s for s in path.split("/") if s]
    if not segs or segs[0] not in ("archive", "prearchive"):
        raise HTTPError(400, f"Invalid destination {dest!r}:"
                             " use /archive/projects/{P}[...] or /prearchive/projects/{P}")
    found = {"kind": segs[0]}
    names = {"projects": "project", "subjects": "subject", "experiments": "session"}
    rest = segs[1:]
    if len(rest) % 2 or any(rest[i] not in names for i in range(0, len(rest), 2)):
        raise HTTPError(400, f"Invalid destination {dest!r}:"
                             " use /archive/projects/{P}/subjects/{S}/experiments/{E}")
    for i in range(0, len(rest), 2):
        found[names[rest[i]]] = rest[i + 1]
    if segs[0] == "prearchive" and ("subject" in found or "session" in found):
        raise HTTPError(400, f"Invalid destination {dest!r}: a prearchive destination names only the project")
    return found


def _project(ctx: Ctx, handler: str, dest: dict[str, str]) -> str | None:
    """The project named by ``project=`` or by ``dest=``; when both name one, XNAT's handler decides.

    Only the winner is used (and must be writable); the other is ignored, as XNAT does. In
    NrgXnat/xnat-web, ``src/main/java/org/nrg/xnat/``: ``restlet/actions/SessionImporter.java``
    (``SessionImporter.call``; SI, the default handler) puts an archive ``dest``'s project over
    ``project``, and merges a prearchive ``dest``'s ``PROJECT_ID``, which
    ``helpers/PrearcImporterHelper.java`` (``identifyProject``) reads before ``project``: ``dest``
    wins. ``archive/GradualDicomImporter.java`` reads ``PrearcUtils.identifyProject``
    (``helpers/prearchive/PrearcUtils.java``: ``PROJECT_ID``, else ``dest``'s project): ``dest``
    wins. ``archive/DicomZipImporter.java`` (``call``) merges ``dest``'s parts into the parameters
    first, then copies ``project`` over ``PROJECT_ID``: ``project`` wins. The order of the query
    parameters plays no part (they are a map).
    """
    named, destined = ctx.param("project"), dest.get("project")
    if handler == "DICOM-zip":
        return named or destined
    return destined or named


def _body(ctx: Ctx) -> tuple[BinaryIO, str | None]:
    """The uploaded archive, spooled (it has to be seekable for zip), and its file name; with
    ``src=`` the user's cached file instead (XNAT's Importer: ``src`` names a file of
    ``/user/cache/resources``, uploaded before)."""
    src = ctx.param("src")
    if src:
        cached = user_cache.cached_file(ctx, src)
        return cast(BinaryIO, open(cached, "rb")), cached.name  # closed by the caller, as the spool is
    request = ctx.request
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL, dir=str(ctx.app.data_dir))  # noqa: SIM115 -- closed by its owner
    if request.mimetype == "multipart/form-data":
        parts = list(request.files.values())
        if len(parts) != 1:
            raise HTTPError(400, f"Send exactly one file to import (got {len(parts)})")
        source, name = parts[0].stream, parts[0].filename
    else:
        if not request.content_length and not request.headers.get("Transfer-Encoding"):
            raise HTTPError(400, "The request didn't provide any data. Try inbody=true or multipart/form-data")
        source, name = request.stream, None
    while chunk := source.read(1 << 20):
        spool.write(chunk)
    if not spool.tell():
        raise HTTPError(400, "The uploaded file is empty")
    spool.seek(0)
    return cast(BinaryIO, spool), name


def _labels(ctx: Ctx, dest: dict[str, str], study: Study, several: bool) -> tuple[str, str]:
    subject = ctx.param("subject") or dest.get("subject") or study.default_subject_label
    label = ctx.param("session") or ctx.param("label") or dest.get("session")
    if label and several:
        raise HTTPError(400, "The upload holds several studies but one session label was given")
    label = label or study.default_session_label or study.default_subject_label
    if not subject or not label:
        raise HTTPError(400, "Cannot tell the subject or session label: the DICOM has no PatientName/PatientID;"
                             " give subject= and session=")
    try:
        return check_label(subject, "subject label"), check_label(label, "session label")
    except HTTPError as error:
        raise HTTPError(400, error.reason) from None


def import_(ctx: Ctx) -> Response:
    """``POST /data/services/import``."""
    if ctx.method != "POST":
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    handler = ctx.param("import-handler") or "SI"
    if handler not in HANDLERS:
        raise HTTPError(400, f"Unsupported import handler {handler!r} (this server has {', '.join(HANDLERS)})")
    if handler == "inbox":  # a folder already on the server: its own parameters (see handlers.inbox)
        return inbox.run(ctx, _import_studies)
    if handler == "XAR":  # an XNAT archive: a session document and its folder (see handlers.xar)
        body, name = _body(ctx)
        try:
            return _uri_answer(ctx, xar.run(ctx, body, name))
        finally:
            body.close()
    gradual = handler == "gradual-DICOM"
    # gradual-DICOM (file by file, as DICOM senders do) lands in the prearchive by default
    raw_dest = ctx.param("dest")
    dest = parse_dest(raw_dest) if raw_dest else {"kind": "prearchive" if gradual else "archive"}
    if ctx.flag("Direct-Archive"):
        dest["kind"] = "archive"
    project = _project(ctx, handler, dest)
    if project:
        project = project_node(ctx, project, write=True).key  # 404 unknown project, 403 not yours
    else:  # no project: staged in the Unassigned prearchive, as XNAT's importer does
        project, dest["kind"] = UNASSIGNED, "prearchive"
    overwrite = (ctx.param("overwrite") or ("append" if gradual else "none")).lower()
    if overwrite not in ("none", "append", "delete"):
        raise HTTPError(400, f"Invalid overwrite value {overwrite!r}: use none, append or delete")
    body, name = _body(ctx)
    try:
        archive = read_dicom_archive(body, name)
    except ValueError as error:
        raise HTTPError(400, f"Unable to import the upload: {error}") from None
    finally:
        body.close()
    return _uri_answer(ctx, _import_studies(ctx, archive, project, dest, overwrite, gradual))


def _import_studies(ctx: Ctx, archive: DicomArchive, project: str, dest: dict[str, str], overwrite: str,
                    gradual: bool = False) -> list[str]:
    """Stage (and, for an archive destination, archive) every study; their URIs."""
    if archive.unparsable and not ctx.flag("Ignore-Unparsable"):
        shown = ", ".join(archive.unparsable[:5]) + (" ..." if len(archive.unparsable) > 5 else "")
        raise HTTPError(400, f"The upload holds {len(archive.unparsable)} file(s) that are not DICOM ({shown});"
                             " nothing was imported (send Ignore-Unparsable=true to skip them)")
    targets = [Target(project, *_labels(ctx, dest, study, len(archive) > 1)) for study in archive]
    return [_one(ctx, study, target, dest["kind"], overwrite, gradual) for study, target in zip(archive, targets)]


def _one(ctx: Ctx, study: Study, target: Target, kind: str, overwrite: str, gradual: bool = False) -> str:
    pre = prearchive_of(ctx.app)
    existing = _receiving(ctx, study, target) if gradual and kind == "prearchive" else None
    if existing is not None:
        return "/data" + merge(ctx.app, pre, existing, study).url
    # rename=true: every file is named by the DICOM file namer, not by its name in the upload
    # (XNAT's GradualDicomImporter.getSafeFile, which DicomZipImporter calls for each entry)
    session = stage(ctx.app, pre, study, target, ctx.user.login, by_uid=gradual or ctx.flag("rename"))
    if kind == "prearchive":
        return "/data" + session.url
    return archive_staged(ctx, session, target, overwrite)


def _receiving(ctx: Ctx, study: Study, target: Target) -> PrearchiveSession | None:
    """The prearchive session a gradual upload of this study adds to, if there is one."""
    for session in prearchive_of(ctx.app).list({target.project}):
        if session.tag == study.study_instance_uid and session.folder_name == target.label \
                and session.status in ("RECEIVING", "READY"):
            return session
    return None


def archive_staged(ctx: Ctx, session: PrearchiveSession, target: Target, overwrite: str) -> str:
    """Commit a READY prearchive session; on failure it stays there as ERROR with the reason."""
    if overwrite == "delete" and not ctx.backend.access.can_delete(ctx.user, target.project):
        raise forbidden("overwrite=delete drops the session's scans: only the project's owners delete")
    new_status = status.on_archive(ctx, target.project)
    pre = prearchive_of(ctx.app)
    pre.set_status(session, "ARCHIVING")
    try:
        subject_id, experiment_id = commit(ctx.app, pre, session, target, overwrite, ctx.user.login, new_status)
    except ImportError_ as error:
        pre.set_status(session, "ERROR", error.reason)
        raise HTTPError(error.status, f"{error.reason} (left in the prearchive as ERROR: /data{session.url})") \
            from None
    except BaseException as error:
        pre.set_status(session, "ERROR", f"archiving failed: {error}")
        raise
    pre.remove(session)
    logger.info("archived %s as %s", session.url, experiment_id)
    return f"/data/archive/projects/{target.project}/subjects/{subject_id}/experiments/{experiment_id}"


def _uri_answer(ctx: Ctx, uris: list[str], status: int = 200) -> Response:
    """text/uri-list (CRLF after each) when asked for; plain text with the URI(s) otherwise."""
    accept = ctx.request.headers.get("Accept", "")
    if "text/uri-list" in accept:
        return text("".join(f"{u}\r\n" for u in uris), status, "text/uri-list")
    return text("\r\n".join(uris), status)


def uri_answer(ctx: Ctx, uris: list[str], status: int = 200) -> Response:
    """Public for the archive service: the same negotiation."""
    return _uri_answer(ctx, uris, status)


def target_for(ctx: Ctx, session: PrearchiveSession, dest: dict[str, Any] | None = None) -> Target:
    """Archive target of a prearchive session with the request's overrides applied."""
    dest = dest or {}
    project = ctx.param("project") or dest.get("project") or session.project
    subject = ctx.param("subject") or dest.get("subject") or session.subject
    label = ctx.param("session") or ctx.param("label") or dest.get("session") or session.name
    try:
        return Target(project, check_label(subject, "subject label"), check_label(label, "session label"))
    except HTTPError as error:
        raise HTTPError(400, error.reason) from None
