"""The access grid: every caller x every project accessibility x every read and write route.

Each cell runs one request and compares what happened with the rule table below, written
down here apart from the server's own (``xnat/testing/backend/access.py`` holds the table
with its sources). A cell fails when someone gets in where the table says no (a leak) and
when someone is refused where the table says yes (XNAT would allow it). A refusal is 403
when the caller sees the project, and 404 when it may not even see it (its existence is
not told), as XNAT answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services.conftest import zip_folder

from .conftest import ACCESSIBILITIES, MR, PROJECT_OF, ROLES, Caller, World

SIGNED_IN_ROLES = ("owner", "member", "collab")


# -- the rule table (XNAT's default roles; see access.py for the sources) ----------------------
def reads(role: str, accessibility: str) -> bool:
    """Admins, anyone with a role, and everyone (the guest too) for public data."""
    return role == "admin" or role in SIGNED_IN_ROLES or accessibility == "public"


def sees(role: str, accessibility: str) -> bool:
    return reads(role, accessibility) or accessibility in ("public", "protected")


def edits(role: str, accessibility: str) -> bool:
    """Owners and members create and edit; collaborators only read."""
    return role in ("admin", "owner", "member")


def deletes(role: str, accessibility: str) -> bool:
    """Owners delete; members do not."""
    return role in ("admin", "owner")


def owns(role: str, accessibility: str) -> bool:
    return role in ("admin", "owner")


def shares_out(role: str, accessibility: str) -> bool:
    """Read on the source, owner or member there (or public data), and a project to share into."""
    return role != "guest" and reads(role, accessibility) and (edits(role, accessibility) or accessibility == "public")


def uses_prearchive(role: str, accessibility: str) -> bool:
    """Owners and members upload to and archive from a project's prearchive."""
    return role in ("admin", "owner", "member")


def moves(role: str, accessibility: str) -> bool:
    """Changing the primary project needs delete rights in the source and a project to move into."""
    return role != "guest" and deletes(role, accessibility)


# -- the routes --------------------------------------------------------------------------------
@dataclass
class Outcome:
    status: int
    got_in: bool | None = None  # None: judged by the status (200/201 is in)


Run = Callable[[World, Caller, str], Outcome]


@dataclass
class Op:
    rule: Callable[[str, str], bool]
    run: Run
    through_project: bool = True  # addressed through the project's URL: refusals answer 403/404


def status(response) -> Outcome:  # type: ignore[no-untyped-def]
    return Outcome(response.status_code)


def listed(response, key: str) -> Outcome:  # type: ignore[no-untyped-def]
    """A membership check: is ``key`` in a listing's answer?"""
    return Outcome(response.status_code, response.status_code == 200 and key in response.text)


def _tree(w: World, p: str):  # type: ignore[no-untyped-def]
    return w.trees[p]


SEARCH = ('<xdat:bundle xmlns:xdat="http://nrg.wustl.edu/security"><xdat:root_element_name>xnat:subjectData'
          '</xdat:root_element_name><xdat:search_field><xdat:element_name>xnat:subjectData</xdat:element_name>'
          '<xdat:field_ID>SUBJECTID</xdat:field_ID><xdat:sequence>0</xdat:sequence><xdat:type>string</xdat:type>'
          '<xdat:header>ID</xdat:header></xdat:search_field></xdat:bundle>')


def reads_signed_in(role: str, accessibility: str) -> bool:
    """Saved searches need an account (the guest has none to own them); their rows follow read access."""
    return role != "guest" and reads(role, accessibility)


def _saved_results(w: World, c: Caller, p: str) -> Outcome:
    """A search the admin saved for everyone (secure="false", as pyxnat saves) run by the caller."""
    body = SEARCH.replace("<xdat:bundle ", '<xdat:bundle secure="false" ')
    w.ok(w.admin.put(f"/data/search/saved/grid_{p}", data=body, content_type="text/xml"))
    return listed(c.get(f"/data/search/saved/grid_{p}/results?format=json"), _tree(w, p).subject)


def _saved_private(w: World, c: Caller, p: str) -> Outcome:
    """A secure search of the admin's: nobody else reaches it, whatever they may read."""
    body = SEARCH.replace("<xdat:bundle ", '<xdat:bundle secure="true" ')
    w.ok(w.admin.put(f"/data/search/saved/grid_secure_{p}", data=body, content_type="text/xml"))
    return listed(c.get(f"/data/search/saved/grid_secure_{p}/results?format=json"), _tree(w, p).subject)


def _cached_of_admin(w: World, c: Caller, p: str) -> Outcome:
    """Results the admin kept with cache=true: pages of them are the admin's alone (CachedSearchResource)."""
    r = w.ok(w.admin.post("/data/search?format=json&cache=true", data=SEARCH, content_type="text/xml"))
    return listed(c.get(f"/data/search/{r.json['ResultSet']['ID']}?format=json"), _tree(w, p).subject)


def _admin_cache_file(w: World, c: Caller, p: str) -> Outcome:
    """A file in the admin's user cache: each user reaches only its own (UserCacheResource)."""
    w.ok(w.admin.put("/data/user/cache/resources/mine/files/secret.txt", data=b"admin's"))
    r = c.get("/data/user/cache/resources/mine/files/secret.txt")
    return Outcome(r.status_code, r.status_code == 200 and r.data == b"admin's")


def _project_resources(w: World, c: Caller, p: str) -> Outcome:
    r = c.get(f"/data/projects/{p}?format=json")
    return Outcome(r.status_code, r.status_code == 200 and '"PR"' in r.text)


def _delete(url: str, check: str | None = None) -> Callable[[World, Caller, str, str], Outcome]:
    def run(w: World, c: Caller, base: str, target: str) -> Outcome:
        r = c.delete(url.format(base=base, target=target))
        gone = not w.exists((check or url).format(base=base, target=target))
        return Outcome(r.status_code, gone)
    return run


def _fresh(w: World, p: str):  # type: ignore[no-untyped-def]
    return w.tree(p)


def _delete_subject(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    r = c.delete(f"/data/projects/{p}/subjects/{t.subject}")
    return Outcome(r.status_code, not w.exists(f"/data/subjects/{t.subject}"))


def _delete_experiment(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    r = c.delete(f"/data/projects/{p}/subjects/{t.subject}/experiments/{t.session}")
    return Outcome(r.status_code, not w.exists(f"/data/experiments/{t.session}"))


def _delete_scan(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    r = c.delete(f"/data/projects/{p}/experiments/{t.session}/scans/1")
    return Outcome(r.status_code, not w.exists(f"/data/experiments/{t.session}/scans/1"))


def _delete_resource(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    r = c.delete(f"/data/projects/{p}/experiments/{t.session}/resources/R")
    return Outcome(r.status_code, not w.exists(f"/data/experiments/{t.session}/resources/R/files/f.txt"))


def _delete_file(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    url = f"/data/projects/{p}/experiments/{t.session}/scans/1/resources/DICOM/files/a.txt"
    r = c.delete(url)
    return Outcome(r.status_code, not w.exists(f"/data/experiments/{t.session}/scans/1/resources/DICOM/files/a.txt"))


def _edit_subject(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    return status(c.put(f"/data/projects/{p}/subjects/{t.subject}?gender=female"))


def _relabel_subject(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    r = c.put(f"/data/projects/{p}/subjects/{t.subject}?label=NEW{w.next()}")
    return status(r)


def _edit_experiment(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    return status(c.put(f"/data/projects/{p}/experiments/{t.session}?note=changed"))


def _share(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    dest = f"D_{c.role}"
    r = c.put(f"/data/projects/{p}/subjects/{t.subject}/projects/{dest}")
    shared = w.app.backend.archive.is_shared("subject", t.subject, dest)
    return Outcome(r.status_code, shared)


def _share_by_id(w: World, c: Caller, p: str) -> Outcome:
    """PUT /data/projects/MINE/subjects/{another project's ID}: a share only where the rule allows."""
    t = _fresh(w, p)
    dest = f"D_{c.role}"
    c.put(f"/data/projects/{dest}/subjects/{t.subject}")
    return Outcome(200, w.app.backend.archive.is_shared("subject", t.subject, dest))


def _move(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    dest = f"D_{c.role}"
    r = c.put(f"/data/projects/{p}/experiments/{t.session}/projects/{dest}?primary=true")
    moved = w.app.backend.archive.find("experiment", t.session, None)["project"] == dest
    return Outcome(r.status_code, moved)


def _move_by_id(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    dest = f"D_{c.role}"
    c.put(f"/data/projects/{dest}/experiments/{t.session}?primary=true")
    return Outcome(200, w.app.backend.archive.find("experiment", t.session, None)["project"] == dest)


def _unshare(w: World, c: Caller, p: str) -> Outcome:
    t = w.shared_tree(p)
    r = c.delete(f"/data/projects/{p}/subjects/{t.subject}")
    return Outcome(r.status_code, not w.app.backend.archive.is_shared("subject", t.subject, p))


def _relabel_shared(w: World, c: Caller, p: str) -> Outcome:
    t = w.shared_tree(p)
    label = f"SH{w.next()}"
    r = c.put(f"/data/projects/{p}/subjects/{t.subject}?label={label}")
    return Outcome(r.status_code, w.app.backend.archive.share_label("subject", t.subject, p) == label)


def _assessor_on_shared(w: World, c: Caller, p: str) -> Outcome:
    t = w.shared_tree(p)
    return status(c.put(f"/data/projects/{p}/experiments/{t.session}/assessors/Q{w.next()}"
                        "?xsiType=xnat:qcAssessmentData"))


def _delete_assessor(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    qc = w.ok(w.admin.put(f"/data/experiments/{t.session}/assessors/QC{w.next()}?xsiType=xnat:qcAssessmentData")).text
    r = c.delete(f"/data/projects/{p}/experiments/{t.session}/assessors/{qc}")
    return Outcome(r.status_code, not w.exists(f"/data/experiments/{qc}"))


def _delete_subject_file(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    r = c.delete(f"/data/projects/{p}/subjects/{t.subject}/resources/SR/files/s.txt")
    return Outcome(r.status_code, not w.exists(f"/data/subjects/{t.subject}/resources/SR/files/s.txt"))


def _delete_project_file(w: World, c: Caller, p: str) -> Outcome:
    accessibility = {v: k for k, v in PROJECT_OF.items()}[p]
    project = w.project(accessibility)
    r = c.delete(f"/data/projects/{project}/resources/PR/files/p.txt")
    return Outcome(r.status_code, not w.exists(f"/data/projects/{project}/resources/PR/files/p.txt"))


def _edit_scan(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    return status(c.put(f"/data/projects/{p}/experiments/{t.session}/scans/1?type=changed"))


def _share_experiment(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    dest = f"D_{c.role}"
    r = c.put(f"/data/projects/{p}/experiments/{t.session}/projects/{dest}")
    return Outcome(r.status_code, w.app.backend.archive.is_shared("experiment", t.session, dest))


def _unshare_by_share_route(w: World, c: Caller, p: str) -> Outcome:
    t = w.shared_tree(p)
    r = c.delete(f"/data/projects/{p}/subjects/{t.subject}/projects/{p}")
    return Outcome(r.status_code, not w.app.backend.archive.is_shared("subject", t.subject, p))


def _refresh_catalog(w: World, c: Caller, p: str) -> Outcome:
    t = _fresh(w, p)
    return status(c.post(f"/data/services/refresh/catalog?resource=/archive/projects/{p}/subjects/{t.subject}"
                         f"/experiments/{t.session}&options=append"))


def _fresh_project_op(method: str, suffix: str) -> Run:
    def run(w: World, c: Caller, accessibility_project: str) -> Outcome:
        accessibility = {v: k for k, v in PROJECT_OF.items()}[accessibility_project]
        project = w.project(accessibility)
        r = c.request(method, f"/data/projects/{project}{suffix}")
        if method == "DELETE":
            return Outcome(r.status_code, not w.app.backend.projects.exists(project))
        return status(r)
    return run


def signed_in(role: str, accessibility: str) -> bool:
    """Site reads that need an account (XNAT answers the guest 401)."""
    return role != "guest"


def admin_only(role: str, accessibility: str) -> bool:
    """Site administration: users, site settings, tokens for others (access.py: manages_users, manages_site)."""
    return role == "admin"


def _on_fresh_user(method: str, suffix: str, **kwargs: object) -> Run:
    """A request on an account made for the one cell, so that changing it touches no other cell."""
    def run(w: World, c: Caller, p: str) -> Outcome:
        login = f"victim{w.next()}"
        w.app.auth.add_user(login, "victim-password")
        return status(c.request(method, f"/xapi/users/{login}{suffix}", **kwargs))
    return run


_STAGED: dict[tuple[int, str], str] = {}  # (world, project) -> the session the admin staged in its prearchive


def _staged(w: World, p: str) -> str:
    """A DICOM session in the project's prearchive (imported once per project, by the admin)."""
    if (id(w), p) not in _STAGED:
        case = Path(os.environ["XNAT_REFERENCE"]) / "dicom" / "Case001"
        r = w.ok(w.admin.post(f"/data/services/import?dest=/prearchive/projects/{p}", data=zip_folder(case),
                              headers={"Content-Type": "application/zip"}))
        _STAGED[id(w), p] = r.get_data(as_text=True).strip()
    return _STAGED[id(w), p]


def _delete_staged(w: World, c: Caller, p: str) -> Outcome:
    r = c.delete(_staged(w, p))
    if r.status_code == 200:
        del _STAGED[id(w), p]  # gone: the next cell stages another
    return status(r)


OPS: dict[str, Op] = {
    # reading
    "list projects": Op(sees, lambda w, c, p: listed(c.get("/data/projects?format=json"), f'"{p}"'), False),
    "get project": Op(sees, lambda w, c, p: status(c.get(f"/data/projects/{p}?format=json"))),
    "project resources in item": Op(reads, _project_resources, False),
    "list subjects": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/subjects"))),
    "get subject": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/subjects/S?format=json"))),
    "get subject by ID": Op(reads, lambda w, c, p: status(c.get(f"/data/subjects/{_tree(w, p).subject}?format=json"))),
    "list experiments": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/experiments"))),
    "list subject experiments": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/subjects/S/experiments"))),
    "get experiment json": Op(reads, lambda w, c, p: status(
        c.get(f"/data/experiments/{_tree(w, p).session}?format=json"))),
    "get experiment xml": Op(reads, lambda w, c, p: status(
        c.get(f"/data/projects/{p}/subjects/S/experiments/E?format=xml"))),
    "list scans": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/experiments/E/scans"))),
    "get scan": Op(reads, lambda w, c, p: status(c.get(f"/data/experiments/{_tree(w, p).session}/scans/1?format=json"))),
    "list resources": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/experiments/E/resources"))),
    "list files": Op(reads, lambda w, c, p: status(
        c.get(f"/data/projects/{p}/experiments/E/scans/1/resources/DICOM/files"))),
    "download file": Op(reads, lambda w, c, p: listed(
        c.get(f"/data/projects/{p}/experiments/E/scans/1/resources/DICOM/files/a.txt"), "scan data")),
    "download project file": Op(reads, lambda w, c, p: listed(
        c.get(f"/data/projects/{p}/resources/PR/files/p.txt"), "project")),
    "download session zip": Op(reads, lambda w, c, p: status(
        c.get(f"/data/experiments/{_tree(w, p).session}/resources/R/files?format=zip"))),
    "global subjects": Op(reads, lambda w, c, p: listed(c.get("/data/subjects"), _tree(w, p).subject), False),
    "global experiments": Op(reads, lambda w, c, p: listed(c.get("/data/experiments"), _tree(w, p).session), False),
    "search": Op(reads, lambda w, c, p: listed(
        c.post("/data/search?format=json", data=SEARCH, content_type="text/xml"), _tree(w, p).subject), False),
    "saved search results": Op(reads_signed_in, _saved_results, False),
    "secure saved search of another": Op(lambda role, accessibility: role == "admin", _saved_private, False),
    "cached search of another": Op(lambda role, accessibility: role == "admin", _cached_of_admin, False),
    "user cache of another": Op(lambda role, accessibility: role == "admin", _admin_cache_file, False),
    "user profiles": Op(lambda role, accessibility: role == "admin",
                        lambda w, c, p: status(c.get("/xapi/users/profiles")), False),
    "groups of another user": Op(lambda role, accessibility: role == "admin",
                                 lambda w, c, p: status(c.get("/xapi/users/admin/groups")), False),
    # creating and editing
    "create subject": Op(edits, lambda w, c, p: status(c.put(f"/data/projects/{p}/subjects/N{w.next()}"))),
    "edit subject": Op(edits, _edit_subject),
    "relabel subject": Op(edits, _relabel_subject),
    "create experiment": Op(edits, lambda w, c, p: status(
        c.put(f"/data/projects/{p}/subjects/S/experiments/N{w.next()}?xsiType={MR}"))),
    "edit experiment": Op(edits, _edit_experiment),
    "create assessor": Op(edits, lambda w, c, p: status(
        c.put(f"/data/projects/{p}/experiments/E/assessors/Q{w.next()}?xsiType=xnat:qcAssessmentData"))),
    "create scan": Op(edits, lambda w, c, p: status(
        c.put(f"/data/projects/{p}/experiments/E/scans/N{w.next()}?xsiType=xnat:mrScanData"))),
    "create resource": Op(edits, lambda w, c, p: status(c.put(f"/data/projects/{p}/experiments/E/resources/N{w.next()}"))),
    "upload file": Op(edits, lambda w, c, p: status(
        c.put(f"/data/projects/{p}/experiments/E/resources/R/files/u{w.next()}.txt?inbody=true", data=b"u"))),
    "upload project file": Op(edits, lambda w, c, p: status(
        c.put(f"/data/projects/{p}/resources/PR/files/u{w.next()}.txt?inbody=true", data=b"u"))),
    # deleting
    "delete subject": Op(deletes, _delete_subject),
    "delete experiment": Op(deletes, _delete_experiment),
    "delete scan": Op(deletes, _delete_scan),
    "delete resource": Op(deletes, _delete_resource),
    "delete file": Op(deletes, _delete_file),
    # sharing and moving
    "share subject out": Op(shares_out, _share),
    "share in by ID": Op(shares_out, _share_by_id, False),
    "move experiment (primary)": Op(moves, _move),
    "move in by ID (primary)": Op(moves, _move_by_id, False),
    "unshare": Op(deletes, _unshare),
    "relabel shared subject": Op(edits, _relabel_shared),
    "assessor on shared session": Op(edits, _assessor_on_shared),
    # more reads
    "project users": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/users"))),
    "project accessibility": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/accessibility"))),
    "project setting": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/prearchive_code"))),
    "project pipelines": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/pipelines"))),
    "project config": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/config"))),
    "write project config": Op(owns, lambda w, c, p: status(
        c.put(f"/data/projects/{p}/config/tool{w.next()}/path?inbody=true", data=b"x"))),
    "head project": Op(sees, lambda w, c, p: status(c.request("HEAD", f"/data/projects/{p}"))),
    "head subject": Op(reads, lambda w, c, p: status(c.request("HEAD", f"/data/projects/{p}/subjects/S"))),
    "head file": Op(reads, lambda w, c, p: status(
        c.request("HEAD", f"/data/projects/{p}/experiments/E/scans/1/resources/DICOM/files/a.txt"))),
    "files by absolute path": Op(reads, lambda w, c, p: status(
        c.get(f"/data/projects/{p}/experiments/E/scans/1/resources/DICOM/files?locator=absolutePath"))),
    "zip, improved structure": Op(reads, lambda w, c, p: status(
        c.get(f"/data/experiments/{_tree(w, p).session}/scans/ALL/files?format=zip&structure=improved"))),
    # DIRResource answers the guest 401 even on public data (refusal codes differ: not checked)
    "session folder (DIR)": Op(lambda role, acc: reads(role, acc) and role != "guest",
                               lambda w, c, p: status(c.get(f"/data/projects/{p}/experiments/E/DIR")), False),
    "session archive (XAR)": Op(lambda role, acc: reads(role, acc) and role != "guest", lambda w, c, p: status(
        c.get(f"/data/experiments/{_tree(w, p).session}/XAR")), False),
    "experiment status": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/experiments/E/status"))),
    "quarantine experiment": Op(owns, lambda w, c, p: status(
        c.put(f"/data/projects/{p}/experiments/E?quarantine=true"))),
    "project xml": Op(sees, lambda w, c, p: status(c.get(f"/data/projects/{p}?format=xml"))),
    "project resources": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/resources"))),
    "project zip": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/files?format=zip"))),
    "subject xml": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/subjects/S?format=xml"))),
    "subject file": Op(reads, lambda w, c, p: listed(
        c.get(f"/data/projects/{p}/subjects/S/resources/SR/files/s.txt"), "s")),
    "share listing": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/subjects/S/projects"))),
    "all scans' files": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/experiments/E/scans/ALL/files"))),
    "assessor listing": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/experiments/E/assessors"))),
    "scan zip": Op(reads, lambda w, c, p: status(
        c.get(f"/data/experiments/{_tree(w, p).session}/scans/1/resources/DICOM/files?format=zip"))),
    "prearchive": Op(uses_prearchive, lambda w, c, p: status(c.get(f"/data/prearchive/projects/{p}"))),
    # a session in the prearchive: seen and acted on by those who may archive it (its prearchive's users)
    "prearchive session": Op(uses_prearchive, lambda w, c, p: status(c.get(f"{_staged(w, p)}?format=json")), False),
    "prearchive session scans": Op(uses_prearchive, lambda w, c, p: status(
        c.get(f"{_staged(w, p)}/scans?format=json")), False),
    "delete prearchive session": Op(uses_prearchive, _delete_staged, False),
    # more writes
    "edit scan": Op(edits, _edit_scan),
    "create reconstruction": Op(edits, lambda w, c, p: status(
        c.put(f"/data/projects/{p}/experiments/E/reconstructions/R{w.next()}?xsiType=xnat:reconstructedImageData"))),
    "create subject resource": Op(edits, lambda w, c, p: status(
        c.put(f"/data/projects/{p}/subjects/S/resources/N{w.next()}"))),
    "refresh catalog": Op(edits, _refresh_catalog, False),  # a service: the guest is refused before any lookup
    "delete assessor": Op(deletes, _delete_assessor),
    "delete subject file": Op(deletes, _delete_subject_file),
    "delete project file": Op(deletes, _delete_project_file),
    "share experiment out": Op(shares_out, _share_experiment),
    "unshare by share route": Op(deletes, _unshare_by_share_route),
    # the project itself
    "edit project": Op(owns, _fresh_project_op("PUT", "?description=changed")),
    "set accessibility": Op(owns, _fresh_project_op("PUT", "/accessibility/private")),
    "add project user": Op(owns, _fresh_project_op("PUT", "/users/Collaborators/outsider")),
    "delete project": Op(owns, _fresh_project_op("DELETE", "")),
    # the site: accounts, settings, configuration documents, tokens (the same for every project)
    "user list": Op(signed_in, lambda w, c, p: status(c.get("/data/users?format=json")), False),
    "site settings": Op(signed_in, lambda w, c, p: status(c.get("/xapi/siteConfig")), False),
    "set site settings": Op(admin_only, lambda w, c, p: status(
        c.post("/xapi/siteConfig", json={"siteDescriptionText": f"d{w.next()}"})), False),
    "set a site setting": Op(admin_only, lambda w, c, p: status(
        c.put("/xapi/siteConfig/siteDescriptionText", data=f"d{w.next()}")), False),
    "site config documents": Op(signed_in, lambda w, c, p: status(c.get("/data/config?format=json")), False),
    "write site config": Op(admin_only, lambda w, c, p: status(
        c.put(f"/data/config/tool{w.next()}/path?inbody=true", data=b"x")), False),
    "account list": Op(admin_only, lambda w, c, p: status(c.get("/xapi/users")), False),
    "create account": Op(admin_only, lambda w, c, p: status(
        c.post("/xapi/users", json={"username": f"made{w.next()}", "password": "made-password"})), False),
    "change another account": Op(admin_only, _on_fresh_user("PUT", "", json={"firstName": "Changed"}), False),
    "disable an account": Op(admin_only, _on_fresh_user("PUT", "/enabled/false"), False),
    "unverify an account": Op(admin_only, _on_fresh_user("PUT", "/verified/false"), False),
    "another account": Op(admin_only, lambda w, c, p: status(c.get("/xapi/users/admin")), False),
    "another profile": Op(admin_only, lambda w, c, p: status(c.get("/xapi/users/profile/admin")), False),
    "another account's roles": Op(admin_only, lambda w, c, p: status(c.get("/xapi/users/admin/roles")), False),
    "another account's flag": Op(admin_only, lambda w, c, p: status(c.get("/xapi/users/admin/enabled")), False),
    "site roles": Op(admin_only, lambda w, c, p: status(c.get("/xapi/users/rolemap")), False),
    "own token": Op(signed_in, lambda w, c, p: status(c.get("/data/services/tokens/issue")), False),
    "token for another": Op(admin_only, lambda w, c, p: status(
        c.get("/data/services/tokens/issue/user/owner")), False),
    "change own e-mail": Op(signed_in, lambda w, c, p: status(
        c.put("/xapi/users/update", json={"email": f"e{w.next()}@example.org"})), False),
}


@pytest.mark.parametrize("accessibility", ACCESSIBILITIES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("op", list(OPS))
def test_cell(world: World, op: str, role: str, accessibility: str) -> None:
    check_cell(world, OPS, op, role, accessibility)


def check_cell(world: World, ops: dict[str, Op], op: str, role: str, accessibility: str) -> None:
    """One cell of a grid: ``op`` as ``role`` on a project of ``accessibility``, against its rule."""
    rule = ops[op]
    expected = rule.rule(role, accessibility)
    outcome = rule.run(world, world.callers[role], PROJECT_OF[accessibility])
    got_in = outcome.got_in if outcome.got_in is not None else outcome.status in (200, 201)
    assert got_in == expected, (f"{op} as {role} on a {accessibility} project: "
                                f"{'got in where it does not belong' if got_in else 'refused where XNAT allows'}"
                                f" (status {outcome.status})")
    if not expected and rule.through_project:
        allowed_refusals = (403,) if sees(role, accessibility) else (404,)
        assert outcome.status in allowed_refusals, (f"{op} as {role} on a {accessibility} project answered "
                                                    f"{outcome.status}, expected one of {allowed_refusals}")
