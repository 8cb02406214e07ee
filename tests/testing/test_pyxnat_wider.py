"""pyxnat 1.6.4 beyond the seed workflow, unmodified, against the server over HTTP (issue 15,
"must show"): custom variables and study protocols, project users and roles, project codes,
aliases, scan parameters, provenance, and ``select(...).where(...)`` on projects, subjects and
sessions. Each call answers as pyxnat's documentation expects. Saved searches are exercised in
``test_saved_searches.py``.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xnat.testing.runner import XNATServer

from .conftest import USERS
from .test_pyxnat import pyxnat_module  # noqa: F401  (the fixture)


@pytest.fixture
def intf(reference_schemas: Path, tmp_path: Path, pyxnat_module: types.ModuleType) -> Iterator[Any]:  # noqa: F811
    """pyxnat signed in to a server with XNAT's real schema set (what a real XNAT serves)."""
    with XNATServer(data_dir=tmp_path / "data", users=USERS, schemas=reference_schemas) as server:
        interface = pyxnat_module.Interface(server=server.url, user="admin", password="admin")
        yield from _seeded(interface)


def _seeded(interface: Any) -> Iterator[Any]:
    project = interface.select.project("PW")
    project.create()
    # pyxnat's where() reads the matching IDs with JsonTable.__getitem__, which gives a string, not
    # a list, for a single match (and then iterates its characters): every where() below matches two.
    for label, age, date in (("S1", "30", "2020-01-01"), ("S2", "50", "2020-01-02"), ("S3", "60", "2020-01-01")):
        subject = project.subject(label)
        subject.create(**{"xnat:subjectData/group": "control"})
        subject.attrs.set("xnat:subjectData/demographics[@xsi:type=xnat:demographicData]/age", age)
        subject.experiment(f"{label}_MR").create(experiments="xnat:mrSessionData", **{"xnat:mrSessionData/date": date})
    yield interface
    interface.disconnect()


def test_study_protocols_and_custom_variables(intf: Any) -> None:
    """Project.add_custom_variables edits the project XML's studyProtocol and PUTs it back;
    get_custom_variables reads it; a subject's custom variable is an xpath field."""
    project = intf.select.project("PW")
    protocol = ('<xnat:studyProtocol ID="PW_xnat_subjectData" name="Subjects" data-type="xnat:subjectData"'
                ' xsi:type="xnat:datatypeProtocol"/>')  # as XNAT writes a project's protocol for a type
    xml = project.get().decode()
    project_xml = xml.replace("</xnat:Project>", protocol + "</xnat:Project>")
    intf.put("/data/projects/PW", data=project_xml, headers={"Content-Type": "text/xml"})
    project.add_custom_variables({"Subjects": {"cohort": {"site": "string", "visits": "int"}}})
    assert project.get_custom_variables() == {"Subjects": {"cohort": {"site": "string", "visits": "int"}}}
    subject = project.subject("S1")
    subject.attrs.set("xnat:subjectData/fields/field[name=site]/field", "Leiden")
    assert subject.attrs.get("xnat:subjectData/fields/field[name=site]/field") == "Leiden"


def test_project_users_roles_and_codes(intf: Any) -> None:
    intf.manage.users()  # the users exist server side
    project = intf.select.project("PW")
    assert project.users() == ["admin"] and project.owners() == ["admin"]
    project.add_user("alice", "member")
    project.add_user("bob", "collaborator")
    assert sorted(project.users()) == ["admin", "alice", "bob"]
    assert project.members() == ["alice"] and project.collaborators() == ["bob"]
    assert project.user_role("bob") == "collaborator"
    project.remove_user("bob")
    assert sorted(project.users()) == ["admin", "alice"]
    manager = intf.manage.project("PW")
    manager.set_prearchive_code("4")  # pyxnat joins the code into its URL: a string
    manager.set_quarantine_code("1")
    assert (manager.prearchive_code(), manager.quarantine_code()) == (4, 1)
    assert manager.current_arc() == b"arc001"


def test_aliases_and_scan_parameters(intf: Any) -> None:
    intf.put("/data/projects/PW?alias=PW_ALIAS")
    assert intf.select.project("PW").aliases() == ["PW_ALIAS"]
    scan = intf.select.project("PW").subject("S1").experiment("S1_MR").scan("1")
    scan.create(scans="xnat:mrScanData")
    scan.set_param("te", "2.5")
    scan.set_param("tr", "30")
    assert (scan.get_param("te"), scan.get_param("tr")) == ("2.5", "30")
    assert scan.params() == ["te", "tr"]  # in the order set, as XNAT writes them


def test_provenance_on_an_assessor(intf: Any) -> None:
    session = intf.select.project("PW").subject("S1").experiment("S1_MR")
    assessor = session.assessor("QC1")
    assessor.create(assessors="xnat:qcAssessmentData")
    step = {"program": "fsl", "program_version": "6.0", "timestamp": "2020-01-02T10:11:12", "user": "admin",
            "machine": "m1", "platform": "linux"}
    assessor.provenance.set(step)
    assessor.provenance.set({**step, "program": "ants", "program_version": "2.4"})  # added to the first
    steps = assessor.provenance.get()  # the assessors listing, one row per processStep
    assert [(s["program"], s["program_version"], s["machine"]) for s in steps] == \
        [("fsl", "6.0", "m1"), ("ants", "2.4", "m1")]


def test_select_where_on_projects_subjects_and_sessions(intf: Any) -> None:
    older = [("xnat:subjectData/AGE", ">", "40"), "AND"]
    subjects = intf.select.project("PW").subjects().where(older)
    assert sorted(s.label() for s in subjects) == ["S2", "S3"]
    sessions = intf.select("//experiments").where([("xnat:mrSessionData/DATE", "=", "2020-01-01"), "AND"])
    assert sorted(e.label() for e in sessions) == ["S1_MR", "S3_MR"]
    table = intf.select("xnat:subjectData", ["xnat:subjectData/SUBJECT_LABEL", "xnat:subjectData/AGE"]).where(
        [("xnat:subjectData/PROJECT", "=", "PW"), "AND"])
    assert sorted(table.items()) == [("S1", "30"), ("S2", "50"), ("S3", "60")]
    projects = intf.select("xnat:projectData", ["xnat:projectData/ID"]).where(
        [("xnat:projectData/ID", "LIKE", "PW%"), "AND"])
    assert projects.get("id", always_list=True) == ["PW"]
