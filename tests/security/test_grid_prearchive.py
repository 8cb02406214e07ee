"""More rows of the access grid (``test_grid.py``): the prearchive services (archive, move,
rebuild/build), DICOM import into a project, and the plugin listing. Same rule table, same
callers, same verdicts: a leak and a wrong refusal both fail.

Sources of the rules: XNAT's prearchive of a project is used (listed, archived from, moved,
rebuilt) by its owners and members, admins everything [SRC PrearcUtils.canModify: the
project's ``canEdit``]; archiving or importing into a project needs create rights there
[SRC PrearcSessionArchiver / ImporterHandlerA: ``Permissions.canCreate`` on the
destination]; moving a session between prearchives needs both ends [SRC
PrearcSessionResource ``move``: ``canModify`` on the source and on ``newProject``].
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.services.conftest import zip_folder

from .conftest import ACCESSIBILITIES, ROLES, Caller, World
from .test_grid import Op, Outcome, Run, check_cell, edits, signed_in, status, uses_prearchive

CASE = Path(os.environ.get("XNAT_REFERENCE", "/work/shared/xnat-reference")) / "dicom" / "Case001"


def _own_project(c: Caller) -> str:
    """The caller's own private project (the guest has none: the admin's, which it may not use)."""
    return "D_admin" if c.role == "guest" else f"D_{c.role}"


def _stage(w: World, project: str) -> str:
    """A fresh session the admin staged in ``project``'s prearchive (its /data URL)."""
    n = w.next()
    r = w.ok(w.admin.post(f"/data/services/import?dest=/prearchive/projects/{project}&subject=PS{n}&session=PE{n}",
                          data=zip_folder(CASE), headers={"Content-Type": "application/zip"}))
    return r.get_data(as_text=True).strip()


def _src(url: str) -> str:
    return url.removeprefix("/data")


def _in_prearchive(w: World, project: str, label: str) -> bool:
    return label in w.ok(w.admin.get(f"/data/prearchive/projects/{project}?format=json")).text


def _archive_from(w: World, c: Caller, p: str) -> Outcome:
    """Archive a session of p's prearchive (into p, under labels of its own)."""
    n = w.next()
    r = c.post(f"/data/services/archive?src={_src(_stage(w, p))}&subject=AS{n}&session=AE{n}")
    return Outcome(r.status_code, w.exists(f"/data/projects/{p}/subjects/AS{n}/experiments/AE{n}"))


def _archive_into(w: World, c: Caller, p: str) -> Outcome:
    """Archive a session of the caller's own prearchive into p (project= names the destination)."""
    n = w.next()
    r = c.post(f"/data/services/archive?src={_src(_stage(w, _own_project(c)))}&project={p}"
               f"&subject=AS{n}&session=AE{n}")
    return Outcome(r.status_code, w.exists(f"/data/projects/{p}/subjects/AS{n}/experiments/AE{n}"))


def _commit(w: World, c: Caller, p: str) -> Outcome:
    """``POST {session}?action=commit`` on a session of p's prearchive."""
    n = w.next()
    r = c.post(f"{_stage(w, p)}?action=commit&subject=AS{n}&session=AE{n}")
    return Outcome(r.status_code, w.exists(f"/data/projects/{p}/subjects/AS{n}/experiments/AE{n}"))


def _label_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _move_out(w: World, c: Caller, p: str) -> Outcome:
    """Move a session of p's prearchive into the caller's own project's prearchive."""
    url = _stage(w, p)
    dest = _own_project(c)
    r = c.post(f"/data/services/prearchive/move?src={_src(url)}&newProject={dest}")
    return Outcome(r.status_code, _in_prearchive(w, dest, _label_of(url)) and not _in_prearchive(w, p, _label_of(url)))


def _move_in(w: World, c: Caller, p: str) -> Outcome:
    """Move a session of the caller's own prearchive into p's: the destination's rule decides."""
    url = _stage(w, _own_project(c))
    r = c.post(f"/data/services/prearchive/move?src={_src(url)}&newProject={p}")
    return Outcome(r.status_code, _in_prearchive(w, p, _label_of(url)))


def _move_action(w: World, c: Caller, p: str) -> Outcome:
    """``POST {session}?action=move&newProject=...`` from p's prearchive to the caller's own."""
    url = _stage(w, p)
    dest = _own_project(c)
    r = c.post(f"{url}?action=move&newProject={dest}")
    return Outcome(r.status_code, _in_prearchive(w, dest, _label_of(url)))


def _rebuild_service(w: World, c: Caller, p: str) -> Outcome:
    return status(c.post(f"/data/services/prearchive/rebuild?src={_src(_stage(w, p))}"))


def _build_action(w: World, c: Caller, p: str) -> Outcome:
    return status(c.post(f"{_stage(w, p)}?action=build"))


def _delete_service(w: World, c: Caller, p: str) -> Outcome:
    url = _stage(w, p)
    r = c.post(f"/data/services/prearchive/delete?src={_src(url)}")
    return Outcome(r.status_code, not _in_prearchive(w, p, _label_of(url)))


def _import(dest: str) -> Run:
    """Import Case001 with the destination ``dest`` (``{p}``: the cell's project, ``{own}``: the
    caller's own) under fresh labels; the cell is in when the session landed in ``p``."""
    def run(w: World, c: Caller, p: str) -> Outcome:
        n = w.next()
        where = dest.format(p=p, own=_own_project(c))
        r = c.post(f"/data/services/import?{where}&subject=IS{n}&session=IE{n}", data=zip_folder(CASE),
                   headers={"Content-Type": "application/zip"})
        landed = (w.exists(f"/data/projects/{p}/subjects/IS{n}/experiments/IE{n}")
                  or _in_prearchive(w, p, f"IE{n}"))
        return Outcome(r.status_code, landed)
    return run


def nobody(role: str, accessibility: str) -> bool:
    """What no caller reaches: the project a request names only to have it ignored."""
    return False


OPS: dict[str, Op] = {
    "archive from prearchive": Op(uses_prearchive, _archive_from, False),
    "archive into project": Op(edits, _archive_into, False),
    "commit action": Op(uses_prearchive, _commit, False),
    "prearchive move out": Op(uses_prearchive, _move_out, False),
    "prearchive move in": Op(uses_prearchive, _move_in, False),
    "move action": Op(uses_prearchive, _move_action, False),
    "rebuild service": Op(uses_prearchive, _rebuild_service, False),
    "build action": Op(uses_prearchive, _build_action, False),
    "prearchive delete service": Op(uses_prearchive, _delete_service, False),
    "import into project": Op(edits, _import("project={p}"), False),
    "import, dest= archive": Op(edits, _import("dest=/archive/projects/{p}"), False),
    "import, dest= prearchive": Op(edits, _import("dest=/prearchive/projects/{p}"), False),
    # project= and dest= naming different projects: the handler picks one and ignores the other
    # (xnat.testing.handlers.importer._project, after XNAT's SessionImporter and DicomZipImporter),
    # so a project is reached only by the one that wins, and only with create rights there
    "import, project= own, dest= archive p": Op(edits, _import("project={own}&dest=/archive/projects/{p}"), False),
    "import, dest= prearchive p, project= own": Op(
        edits, _import("dest=/prearchive/projects/{p}&project={own}"), False),
    "import, project= p, dest= archive own": Op(nobody, _import("project={p}&dest=/archive/projects/{own}"), False),
    "import DICOM-zip, project= p, dest= archive own": Op(
        edits, _import("import-handler=DICOM-zip&project={p}&dest=/archive/projects/{own}"), False),
    "import DICOM-zip, project= own, dest= prearchive p": Op(
        nobody, _import("import-handler=DICOM-zip&project={own}&dest=/prearchive/projects/{p}"), False),
    "plugins": Op(signed_in, lambda w, c, p: status(c.get("/xapi/plugins")), False),
}


@pytest.mark.parametrize("accessibility", ACCESSIBILITIES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("op", list(OPS))
def test_cell(world: World, op: str, role: str, accessibility: str) -> None:
    check_cell(world, OPS, op, role, accessibility)
