"""More rows of the access grid (``test_grid.py``), for the routes and joins added for pyxnat's
follow-ups (issue 18): a project's archive specification, the workflows service, an assessor
joined into an experiment listing, a project's aliases joined into the project listing. Same
rule table, same callers, same verdicts: a leak and a wrong refusal both fail."""

from __future__ import annotations

import pytest

from .conftest import ACCESSIBILITIES, PROJECT_OF, ROLES, Caller, World
from .test_grid import Op, Outcome, check_cell, listed, reads, sees, status


def _workflows_of_session(w: World, c: Caller, p: str) -> Outcome:
    """``display=LATEST`` of a readable session is a 404 naming it; for anyone else it is no session at all."""
    session = w.trees[p].session
    r = c.get(f"/data/services/workflows/fsl?experiment={session}")
    return Outcome(r.status_code, r.status_code == 404 and session in r.text)


def _joined_assessor(w: World, c: Caller, p: str) -> Outcome:
    label = f"QJ{w.next()}"
    w.ok(w.admin.put(f"/data/projects/{p}/experiments/E/assessors/{label}?xsiType=xnat:qcAssessmentData"))
    return listed(c.get("/data/experiments?format=json&columns=ID,xnat:imageAssessorData/label"), label)


def _joined_alias(w: World, c: Caller, p: str) -> Outcome:
    accessibility = {v: k for k, v in PROJECT_OF.items()}[p]
    project = w.project(accessibility)
    alias = f"AL{w.next()}"
    w.ok(w.admin.put(f"/data/projects/{project}?alias={alias}"))
    return listed(c.get("/data/projects?format=json&columns=ID,alias"), alias)


OPS: dict[str, Op] = {
    "archive spec": Op(reads, lambda w, c, p: status(c.get(f"/data/projects/{p}/archive_spec"))),
    "workflows of a session": Op(reads, _workflows_of_session, False),
    "assessor joined into experiments": Op(reads, _joined_assessor, False),
    "aliases joined into projects": Op(sees, _joined_alias, False),
    "recorded workflows": Op(lambda role, accessibility: True,
                             lambda w, c, p: status(c.get("/data/workflows?format=json")), False),
}


@pytest.mark.parametrize("accessibility", ACCESSIBILITIES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("op", list(OPS))
def test_cell(world: World, op: str, role: str, accessibility: str) -> None:
    check_cell(world, OPS, op, role, accessibility)
