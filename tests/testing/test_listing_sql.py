"""Experiment listings written by SQLite (the path clients' listings take): the same bytes as
the general path, and the same access decisions."""

from __future__ import annotations

import pytest

from xnat.testing.backend.archive import _json_as_python
from xnat.testing.handlers.archive import EXPERIMENT_ALIASES

from .conftest import Api

COLUMNS = ["ID,URI,label,xsiType,date,project,subject_ID,insert_date", "label,insert_user,last_modified,subject_label",
           "ID", "LABEL,Date", "DEFAULT", ",".join(EXPERIMENT_ALIASES)]


def _both(api: Api, path: str, columns: str) -> tuple[bytes, bytes]:
    """(the plain listing, the same through the general path: a filter every row passes)."""
    plain = api.get(f"{path}?format=json&columns={columns}")
    general = api.get(f"{path}?format=json&columns={columns}&ID=*")
    assert plain.status_code == general.status_code == 200
    return plain.data, general.data


@pytest.fixture
def shared_tree(admin: Api, session_tree: dict[str, str]) -> dict[str, str]:
    """session_tree, plus P2 holding E2 of subject S1 (P2 private) and E1 shared into P2 as E1_IN_P2."""
    assert admin.put("/data/projects/P2?name=Second").status_code == 201
    subject, e1 = session_tree["subject"], session_tree["experiment"]
    assert admin.put(f"/data/projects/P1/subjects/{subject}/projects/P2").status_code in (200, 201)
    e2 = admin.put(f"/data/projects/P2/subjects/{subject}/experiments/E2?xsiType=xnat:petSessionData").text
    assert admin.put(f"/data/projects/P1/subjects/{subject}/experiments/{e1}/projects/P2?label=E1_IN_P2"
                     ).status_code in (200, 201)
    assert admin.put("/data/projects/P1/users/Members/alice").status_code == 200
    return {**session_tree, "e2": e2}


def test_sqlite_writes_json_as_python_does() -> None:
    assert _json_as_python()


def test_plain_listings_are_the_general_paths_bytes(admin: Api, alice: Api, shared_tree: dict[str, str]) -> None:
    subject = shared_tree["subject"]
    paths = ["/data/projects/P1/experiments", "/data/projects/P2/experiments",
             f"/data/projects/P1/subjects/{subject}/experiments"]
    for api, readable in ((admin, paths), (alice, paths[::2])):      # alice cannot read P2
        for path in readable:
            for columns in COLUMNS:
                plain, general = _both(api, path, columns)
                assert plain == general, (api.auth, path, columns)
    labels = [r["label"] for r in admin.rows("/data/projects/P2/experiments?format=json&columns=ID,label")]
    assert sorted(labels) == ["E1_IN_P2", "E2"]     # a share is listed under its label there


def test_plain_listings_keep_out_what_the_user_may_not_read(alice: Api, admin: Api,
                                                            shared_tree: dict[str, str]) -> None:
    subject = shared_tree["subject"]
    seen = alice.rows(f"/data/projects/P1/subjects/{subject}/experiments?format=json&columns=ID,label")
    assert [r["ID"] for r in seen] == [shared_tree["experiment"]]      # E2 sits in P2, private to alice
    everything = admin.rows(f"/data/projects/P1/subjects/{subject}/experiments?format=json&columns=ID,label")
    assert {r["ID"] for r in everything} == {shared_tree["experiment"], shared_tree["e2"]}
    assert alice.get("/data/projects/P2/experiments?format=json&columns=ID,label").status_code in (403, 404)
