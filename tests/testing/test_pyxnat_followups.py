"""What pyxnat 1.6.4 met on the server after issue 15 (issue 18 follow-ups), unmodified, over
HTTP with XNAT's real schema set: ``inspect.scan_values`` / ``assessor_values`` (a session's
child tables joined by ``{type}/scans/scan/id``), provenance of a reconstruction (its listing's
``xnat:reconstructedImageData/...`` columns), ``xnat:reconstructedImageData`` among the search
elements, every alias of a project, ``attrs.get`` of an xpath with an ``[@xsi:type=...]`` step."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from xnat.testing.runner import XNATServer

from .conftest import USERS
from .test_pyxnat import pyxnat_module  # noqa: F401  (the fixture)

STEP = {"program": "fsl", "program_version": "6.0", "timestamp": "2020-01-02T10:11:12", "user": "admin",
        "machine": "m1", "platform": "linux"}


@pytest.fixture
def served(reference_schemas: Path, tmp_path: Path) -> Iterator[XNATServer]:
    with XNATServer(data_dir=tmp_path / "data", users=USERS, schemas=reference_schemas) as server:
        yield server


@pytest.fixture
def intf(served: XNATServer, pyxnat_module: types.ModuleType) -> Iterator[Any]:  # noqa: F811
    interface = pyxnat_module.Interface(server=served.url, user="admin", password="admin")
    session = interface.select.project("PF").subject("S1").experiment("MR1")
    session.create(experiments="xnat:mrSessionData")
    for scan in ("1", "2"):
        session.scan(scan).create(scans="xnat:mrScanData")
    session.assessor("QC1").create(assessors="xnat:qcAssessmentData")
    session.reconstruction("R1").create(reconstructions="xnat:reconstructedImageData")
    interface.select.project("PF").subject("S2").experiment("PET1").create(experiments="xnat:petSessionData")
    yield interface
    interface.disconnect()


def _rows(served: XNATServer, path: str, user: str = "admin", **query: str) -> list[dict[str, str]]:
    answer = requests.get(served.url + path, params={"format": "json", **query}, auth=(user, user), timeout=30)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["ResultSet"]["Result"])


def test_scan_and_assessor_values(intf: Any, served: XNATServer) -> None:
    assert sorted(intf.inspect.scan_values("xnat:mrSessionData", project="PF")) == ["", "1", "2"]
    assessor = intf.select.project("PF").subject("S1").experiment("MR1").assessor("QC1")
    assert sorted(intf.inspect.assessor_values("xnat:mrSessionData", project="PF")) == ["", assessor.id()]
    rows = _rows(served, "/data/experiments", columns="ID,label,xnat:mrSessionData/scans/scan/type,xnat:mrScanData/ID")
    assert sorted((r["label"], r["xnat:mrscandata/id"]) for r in rows) == [
        ("MR1", "1"), ("MR1", "2"), ("PET1", ""), ("QC1", "")]  # a left join: sessions without scans stay
    session = intf.select.project("PF").subject("S1").experiment("MR1").id()
    requests.put(f"{served.url}/data/experiments/{session}/reconstructions/R1?type=MPR", auth=("admin", "admin"),
                 timeout=30)
    rows = _rows(served, "/data/experiments", columns="ID,label,xnat:reconstructedImageData/ID,"
                 "xnat:mrSessionData/reconstructions/reconstructedImage/type")
    assert [(r["xnat:reconstructedimagedata/id"], r["xnat:mrsessiondata/reconstructions/reconstructedimage/type"])
            for r in rows if r["label"] == "MR1"] == [("R1", "MPR")]


def test_child_table_joins_keep_what_the_user_may_not_read_out(intf: Any, served: XNATServer) -> None:
    """An assessor is read through its own project: a joined column never shows one the user may not read."""
    admin, base = ("admin", "admin"), f"{served.url}/data/projects"
    assert requests.put(f"{base}/PF/accessibility/public", auth=admin, timeout=30).status_code == 200
    assert requests.put(f"{base}/PRIV", auth=admin, timeout=30).status_code == 201
    for shared in ("subjects/S1", "subjects/S1/experiments/MR1"):
        assert requests.put(f"{base}/PF/{shared}/projects/PRIV", auth=admin, timeout=30).status_code in (200, 201)
    made = requests.put(f"{base}/PRIV/subjects/S1/experiments/MR1/assessors/QC_PRIV",
                        params={"xsiType": "xnat:qcAssessmentData"}, auth=admin, timeout=30)
    assert made.status_code == 201, made.text
    def seen(user: str) -> set[str]:
        rows = _rows(served, "/data/projects/PF/experiments", user=user, columns="ID,label,xnat:imageAssessorData/label")
        return {r["xnat:imageassessordata/label"] for r in rows if r["label"] == "MR1"}
    assert seen("admin") == {"QC1", "QC_PRIV"} and seen("bob") == {"QC1"}


def test_provenance_of_a_reconstruction(intf: Any) -> None:
    reconstruction = intf.select.project("PF").subject("S1").experiment("MR1").reconstruction("R1")
    reconstruction.provenance.set(STEP)
    reconstruction.provenance.set({**STEP, "program": "ants"})
    assert [(s["program"], s["machine"]) for s in reconstruction.provenance.get()] == [("fsl", "m1"), ("ants", "m1")]


def test_reconstructions_are_search_elements(intf: Any, served: XNATServer) -> None:
    elements = {r["ELEMENT_NAME"]: r["COUNT"] for r in _rows(served, "/data/search/elements")}
    assert elements["xnat:reconstructedImageData"] == "1"
    assert {r["ELEMENT_NAME"]: r["COUNT"] for r in _rows(served, "/data/search/elements", user="bob")}[
        "xnat:reconstructedImageData"] == "0"  # bob reads no project
    table = intf.select("xnat:reconstructedImageData", ["xnat:reconstructedImageData/ID"]).where(
        [("xnat:reconstructedImageData/ID", "=", "R1"), "AND"])
    assert [row["id"] for row in table] == ["R1"]


def test_every_alias_of_a_project(intf: Any, served: XNATServer) -> None:
    intf.put("/data/projects/PF?alias=PF_ONE,PF_TWO")
    intf.put("/data/projects/PLAIN")
    assert intf.select.project("PF").aliases() == ["PF_ONE", "PF_TWO"] and intf.select.project("PLAIN").aliases() == []
    rows = _rows(served, "/data/projects", columns="ID,alias")
    assert sorted((r["ID"], r["alias"]) for r in rows) == [("PF", "PF_ONE"), ("PF", "PF_TWO"), ("PLAIN", "")]
    assert len(_rows(served, "/data/projects", columns="ID")) == 2  # no join when alias is not named
    assert [r["ID"] for r in _rows(served, "/data/projects", columns="ID,alias", alias="PF_TWO")] == ["PF"]


def test_attrs_get_of_a_typed_xpath_step(intf: Any, served: XNATServer) -> None:
    subject = intf.select.project("PF").subject("S1")
    path = "xnat:subjectData/demographics[@xsi:type=xnat:demographicData]/gender"
    subject.attrs.set(path, "female")
    assert subject.attrs.get(path) == "female" and subject.attrs.get("gender") == "female"
    # as a filter too (the key's own '=' travels encoded)
    assert [r["label"] for r in _rows(served, "/data/projects/PF/subjects", columns="label", **{path: "female"})] == \
        ["S1"]
    assert _rows(served, "/data/projects/PF/subjects", columns="label", **{path: "male"}) == []


# -- the pipeline engine's routes, for a server that runs no pipelines (handlers/pipelines.py) ----------
def _get(served: XNATServer, path: str, user: str = "admin", **query: str) -> requests.Response:
    return requests.get(served.url + path, params=query, auth=(user, user), timeout=30)


def test_archive_spec(intf: Any, served: XNATServer) -> None:
    from xml.etree import ElementTree

    assert intf.select.project("PF").pipelines.aliases() == {}  # pyxnat reads .../archive_spec
    intf.manage.project("PF").set_prearchive_code("4")
    answer = _get(served, "/data/projects/PF/archive_spec")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/xml")
    root = ElementTree.fromstring(answer.content)
    assert root.tag == "{http://nrg.wustl.edu/arc}project"
    assert (root.get("id"), root.get("current_arc"), root.get("prearchive_code"), root.get("quarantine_code")) == \
        ("PF", "arc001", "4", "0")
    assert root.findtext("{http://nrg.wustl.edu/arc}paths/{http://nrg.wustl.edu/arc}archivePath", "").endswith("/PF/")
    assert _get(served, "/data/projects/PF/archive_spec", user="bob").status_code in (403, 404)  # PF is private
    assert _get(served, "/data/projects/NOPE/archive_spec").status_code == 404
    assert requests.put(f"{served.url}/data/projects/PF/archive_spec", auth=("admin", "admin"),
                        timeout=30).status_code == 405


def test_workflows_of_a_server_that_runs_no_pipelines(intf: Any, served: XNATServer) -> None:
    experiment = intf.select.project("PF").subject("S1").experiment("MR1").id()
    listing = _get(served, "/data/services/workflows/fsl", format="json")
    assert listing.status_code == 200 and listing.json()["ResultSet"]["Result"] == []
    every = _get(served, "/data/services/workflows/fsl", format="json", project="PF", experiment=experiment,
                 display="ALL")
    assert every.status_code == 200 and every.json()["ResultSet"]["Result"] == []  # what pyxnat's status() reads
    latest = _get(served, "/data/services/workflows/fsl", project="PF", experiment=experiment)
    assert latest.status_code == 404 and experiment in latest.text
    # an experiment bob may not read answers as one that does not exist
    hidden = _get(served, "/data/services/workflows/fsl", user="bob", experiment=experiment)
    missing = _get(served, "/data/services/workflows/fsl", user="bob", experiment="NO_SUCH")
    assert hidden.status_code == missing.status_code == 200 and experiment not in hidden.text
    assert _get(served, "/data/services/workflows").status_code == 404  # XNAT's query fails without a name
    assert _get(served, "/data/workflows", format="json").json()["ResultSet"]["Result"] == []
    assert _get(served, "/data/workflows/7").status_code == 404
    stored = requests.put(f"{served.url}/data/workflows", auth=("admin", "admin"), timeout=30)
    assert stored.status_code == 405 and "records no workflows" in stored.text


def test_a_subfolder_of_the_current_arc_has_no_route(intf: Any, served: XNATServer) -> None:
    """pyxnat's set_subfolder_in_current_arc would PUT current_arc/{arc}/{subfolder}, but XNAT routes
    only current_arc/{folder} (exact match): the two-segment URL is a 404 and nothing changes. (pyxnat
    1.6.4 never sends it: it joins the bytes current_arc() answers with a str and raises TypeError.)"""
    manager = intf.manage.project("PF")
    with pytest.raises(TypeError):
        manager.set_subfolder_in_current_arc("sub")
    put = requests.put(f"{served.url}/data/projects/PF/current_arc/arc001/sub", auth=("admin", "admin"), timeout=30)
    assert put.status_code == 404 and manager.current_arc() == b"arc001"
