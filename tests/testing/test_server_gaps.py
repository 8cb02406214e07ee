"""Gaps a client found in the server: short URLs, NULL clears, scan parameters, resource
rows, xpath columns named by alias, racing implicit resources, durability switch."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from xnat.exceptions import XNATValueError
from xnat.testing.app import XNATApp

from .conftest import USERS, Api


def _q(key: str) -> str:
    """A query key as a client sends it (``[name=te]`` percent-encoded)."""
    return quote(key, safe=":/")


# -- 1. short and odd paths never crash the walk --------------------------------------
def test_missing_resource_item_is_404(admin: Api, session_tree: dict[str, str]) -> None:
    eid = session_tree["experiment"]
    r = admin.get(f"/data/experiments/{eid}/resources/NOPE?format=json")
    assert r.status_code == 404 and "NOPE" in r.text
    assert admin.get(f"/data/experiments/{eid}/scans/1/resources/NOPE").status_code == 404
    assert admin.delete(f"/data/experiments/{eid}/resources/NOPE").status_code == 404


TAILS = ["resources", "resources/NOPE", "resources/NOPE/x", "resources/DICOM", "resources/DICOM/files/",
         "resources/NOPE/files", "resources//files", "resources/1/files/a/b.txt", "in", "in/resources/X",
         "out/x", "scans", "scans/ALL", "scans/ALL/resources", "scans/ALL/resources/DICOM", "scans/1,2/files",
         "scans/*/x", "scans//", "projects", "projects/P1/x", "projects/NOPE", "files", "files/a", "files/..",
         "experiments/NOPE/scans", "subjects//experiments", "", "//", "reconstructions/R/in",
         "reconstructions/R/in/resources", "assessors/NOPE/out/resources/x/files", "x/y/z",
         "resources/DICOM/files/../../etc"]


def test_truncated_and_odd_paths_never_answer_500(admin: Api, session_tree: dict[str, str]) -> None:
    eid, sid = session_tree["experiment"], session_tree["subject"]
    assert admin.put(f"/data/experiments/{eid}/assessors/A1?xsiType=xnat:qcAssessmentData").status_code == 201
    bases = ["/data/projects/P1", f"/data/experiments/{eid}", f"/data/subjects/{sid}",
             f"/data/experiments/{eid}/assessors/A1", f"/data/experiments/{eid}/scans/1", "/data/projects/P1/subjects/S1"]
    answers = {}
    for base, tail, method in itertools.product(bases, TAILS, ("GET", "PUT", "POST")):
        answers[(method, base, tail)] = admin.request(method, f"{base}/{tail}?format=json").status_code
    failed = {k: v for k, v in answers.items() if v >= 500}
    assert not failed
    assert answers[("GET", f"/data/experiments/{eid}", "resources/NOPE")] == 404
    assert admin.delete(f"/data/experiments/{eid}/resources/NEVER").status_code == 404
    for base, tail in itertools.product(bases, TAILS[::-1]):  # deletes last: they remove things
        assert admin.delete(f"{base}/{tail}").status_code < 500, (base, tail)


# -- 2. NULL clears a field -----------------------------------------------------------
def _item(admin: Api, uri: str) -> dict:
    r = admin.get(f"{uri}?format=json")
    assert r.status_code == 200, r.text
    return r.json["items"][0]


def test_null_clears_fields_and_custom_variables(admin: Api, session_tree: dict[str, str]) -> None:
    uri = f"/data/experiments/{session_tree['experiment']}"
    custom = _q("xnat:experimentData/fields/field[name=weight]/field")
    assert admin.put(f"{uri}?xsiType=xnat:mrSessionData&xnat:mrSessionData/note=temp&{custom}=70").status_code == 200
    item = _item(admin, uri)
    assert item["data_fields"]["note"] == "temp" and item["data_fields"]["date"] == "2020-02-03"
    assert any(c["field"] == "fields/field" for c in item["children"])
    r = admin.put(f"{uri}?xsiType=xnat:mrSessionData&xnat:mrSessionData/note=NULL&{custom}=NULL"
                  "&xnat:mrSessionData/date=NULL")
    assert r.status_code == 200, r.text
    item = _item(admin, uri)
    assert "note" not in item["data_fields"] and "date" not in item["data_fields"]
    assert not any(c["field"] == "fields/field" for c in item["children"])
    assert admin.rows("/data/experiments?columns=ID,date,note")[0]["date"] == ""


def test_null_on_subject_demographics_and_on_create(admin: Api, session_tree: dict[str, str]) -> None:
    uri = f"/data/subjects/{session_tree['subject']}"
    assert admin.put(f"{uri}?gender=NULL").status_code == 200
    assert not any(c["field"] == "demographics" for c in _item(admin, uri)["children"])
    created = admin.put("/data/projects/P1/subjects/S2?xsiType=xnat:subjectData&xnat:subjectData/group=NULL")
    assert created.status_code == 201
    assert "group" not in _item(admin, f"/data/subjects/{created.text}")["data_fields"]


def test_null_for_an_unknown_field_is_still_400(admin: Api, session_tree: dict[str, str]) -> None:
    r = admin.put(f"/data/experiments/{session_tree['experiment']}?xsiType=xnat:mrSessionData"
                  "&xnat:mrSessionData/nosuchfield=NULL")
    assert r.status_code == 400 and "nosuchfield" in r.text


# -- 3. scan parameters -----------------------------------------------------------------
def _param(name: str) -> str:
    return _q(f"xnat:mrScanData/parameters/addParam[name={name}]/addField")


def _params_of(item: dict) -> dict[str, str]:
    groups = [c for c in item["children"] if c["field"] == "parameters/addParam"]
    return {i["data_fields"]["name"]: i["data_fields"]["addField"] for g in groups for i in g["items"]}


def test_scan_parameters_round_trip(admin: Api, session_tree: dict[str, str]) -> None:
    uri = f"/data/experiments/{session_tree['experiment']}/scans/1"
    r = admin.put(f"{uri}?xsiType=xnat:mrScanData&{_param('te')}=5&{_param('tr')}=2000&xnat:mrScanData/parameters/tr=3")
    assert r.status_code == 200, r.text
    item = _item(admin, uri)
    assert _params_of(item) == {"te": "5", "tr": "2000"}
    child = next(c for c in item["children"] if c["field"] == "parameters/addParam")["items"][0]
    assert child["meta"]["xsi:type"] == "xnat:addField" and set(child["data_fields"]) == {"name", "addField"}
    assert item["data_fields"]["parameters/tr"] == 3.0
    assert not any("addParam" in key for key in item["data_fields"])
    assert admin.put(f"{uri}?xsiType=xnat:mrScanData&{_param('tr')}=NULL&{_param('te')}=6").status_code == 200
    assert _params_of(_item(admin, uri)) == {"te": "6"}
    xml = admin.get(f"{uri}?format=xml").text
    assert 'name="te">6</xnat:addParam>' in xml
    # a scan created with parameters, and a session document carrying them
    assert admin.put(f"{uri[:-1]}2?xsiType=xnat:mrScanData&{_param('flip')}=9").status_code == 201
    assert _params_of(_item(admin, f"{uri[:-1]}2")) == {"flip": "9"}
    session_xml = admin.get(f"/data/experiments/{session_tree['experiment']}?format=xml").data
    assert admin.put(f"{uri}?xsiType=xnat:mrScanData&{_param('te')}=NULL").status_code == 200
    assert _params_of(_item(admin, uri)) == {}
    r = admin.put(f"/data/experiments/{session_tree['experiment']}", data=session_xml,
                  content_type="text/xml")
    assert r.status_code == 200, r.text
    assert _params_of(_item(admin, uri)) == {"te": "6"}


def test_scan_parameters_only_where_the_type_has_them(admin: Api, session_tree: dict[str, str]) -> None:
    r = admin.put(f"/data/experiments/{session_tree['experiment']}?xsiType=xnat:mrSessionData"
                  f"&{_q('xnat:mrSessionData/parameters/addParam[name=te]/addField')}=5")
    assert r.status_code == 400 and "parameters/addParam" in r.text


# -- 4. resource rows as xnatpy reads them ----------------------------------------------
def test_resource_rows_carry_identity_columns(admin: Api, session_tree: dict[str, str]) -> None:
    eid = session_tree["experiment"]
    assert admin.put(f"/data/experiments/{eid}/resources/NIFTI?format=NIFTI").status_code == 200
    rows = admin.rows(f"/data/experiments/{eid}/resources?columns=ID,URI,label,xsiType&format=json")
    assert [r["label"] for r in rows] == ["NIFTI"]
    row = rows[0]
    assert row["xnat_abstractresource_id"].isdigit() and row["element_name"] == "xnat:resourceCatalog"
    assert row["xsiType"] == "xnat:resourceCatalog"
    # like a real server: no URI or ID, so xnatpy rebuilds them from xnat_abstractresource_id
    assert "URI" not in row and "ID" not in row
    default = admin.rows(f"/data/experiments/{eid}/scans/1/resources")[0]
    assert set(default) == {"xnat_abstractresource_id", "label", "element_name", "category", "cat_id", "cat_desc",
                            "file_count", "file_size", "tags", "content", "format"}
    assert (default["label"], default["file_count"]) == ("DICOM", "1")


# -- 5. xpath columns named by their alias --------------------------------------------
def test_xpath_columns_come_back_under_the_alias(admin: Api, session_tree: dict[str, str]) -> None:
    eid, sid = session_tree["experiment"], session_tree["subject"]
    rows = admin.rows(f"/data/experiments?xsiType=xnat:subjectAssessorData&ID={eid}"
                      "&columns=ID,project,xnat:subjectAssessorData/subject_id,xnat:mrSessionData/fieldStrength")
    assert rows == [{"ID": eid, "project": "P1", "subject_ID": sid, "xnat:mrsessiondata/fieldstrength": "",
                     "URI": f"/data/experiments/{eid}"}]
    rows = admin.rows("/data/projects/P1/experiments")  # the real default row keeps the lower-cased xpath
    assert rows[0]["xnat:subjectassessordata/id"] == eid and "subject_ID" not in rows[0]
    rows = admin.rows("/data/projects/P1/subjects?columns=xnat:subjectData/label,xnat:subjectData/ID")
    # the project is a key column of a subject: kept whatever columns= asks (issue 15 item 1)
    assert rows == [{"label": "S1", "ID": sid, "project": "P1", "URI": f"/data/subjects/{sid}"}]


def test_pyxnat_finds_the_subject_of_an_experiment(served: tuple[str, XNATApp],
                                                   pyxnat_module) -> None:
    url, app = served
    app.populate("projects=1,subjects=1,experiments=1")
    intf = pyxnat_module.Interface(server=url, user="admin", password="admin")
    try:
        eid = intf.array.experiments(project_id="PROJ001").data[0]["ID"]
        found = intf.array.experiments(experiment_id=eid).data
        assert found[0]["subject_ID"] == "XNAT_S00001"
        experiment = intf.select.project("PROJ001").experiment(eid)  # pyxnat looks its subject up
        assert "/subjects/XNAT_S00001/experiments/" in experiment._uri and experiment.exists()
    finally:
        intf.disconnect()


@pytest.fixture
def pyxnat_module(monkeypatch: pytest.MonkeyPatch):
    from .test_pyxnat import pyxnat_module as make

    return make.__wrapped__(monkeypatch)


# -- 6. racing first uploads ----------------------------------------------------------
def test_parallel_first_uploads_create_the_resource_once(served: tuple[str, XNATApp]) -> None:
    url, _app = served
    s = requests.Session()
    s.auth = ("admin", "admin")
    assert s.put(f"{url}/data/projects/P1").status_code == 201
    assert s.put(f"{url}/data/projects/P1/subjects/S1").status_code == 201
    eid = s.put(f"{url}/data/projects/P1/subjects/S1/experiments/E1?xsiType=xnat:mrSessionData").text
    barrier = threading.Barrier(8)
    answers: list[int] = []

    def upload(i: int) -> None:
        with requests.Session() as own:
            own.auth = ("admin", "admin")
            barrier.wait()
            answers.append(own.put(f"{url}/data/experiments/{eid}/resources/NEW/files/f{i}.txt?inbody=true",
                                   data=b"%d" % i).status_code)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [200] * 8
    rows = s.get(f"{url}/data/experiments/{eid}/resources?format=json").json()["ResultSet"]["Result"]
    assert [(r["label"], r["file_count"]) for r in rows] == [("NEW", "8")]
    r = s.put(f"{url}/data/experiments/{eid}/resources/NEW")
    assert r.status_code == 409 and "already exists" in r.text


def test_upload_that_lost_the_creation_race_uses_the_winners_resource(
        admin: Api, session_tree: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic form of the race: the lookup misses, then another request creates it."""
    from xnat.testing.handlers import archive

    eid = session_tree["experiment"]
    real_find = archive.find_child

    def stale_find(ctx, node, coll, key, io):  # as if looked up just before the winner committed
        if coll == "resources" and key == "RACE" and ctx.method == "PUT":
            return None
        return real_find(ctx, node, coll, key, io)

    assert admin.put(f"/data/experiments/{eid}/resources/RACE/files/a.txt?inbody=true", data=b"a").status_code == 200
    monkeypatch.setattr(archive, "find_child", stale_find)
    r = admin.put(f"/data/experiments/{eid}/resources/RACE/files/b.txt?inbody=true", data=b"b")
    assert r.status_code == 200, r.text
    monkeypatch.undo()
    rows = admin.rows(f"/data/experiments/{eid}/resources")
    assert [(x["label"], x["file_count"]) for x in rows] == [("RACE", "2")]
    # the explicit create still refuses an existing resource
    assert admin.put(f"/data/experiments/{eid}/resources/RACE").status_code == 409


# -- 7. durability switch -------------------------------------------------------------
def test_uploads_skip_fsync_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    for durable, expected in ((False, 0), (True, 1)):
        synced.clear()
        with XNATApp(data_dir=tmp_path / str(durable), users=USERS, durable=durable) as app:
            api = Api(app, ("admin", "admin"))
            assert api.put("/data/projects/P1").status_code == 201
            assert api.put("/data/projects/P1/resources/R/files/a.txt?inbody=true", data=b"x").status_code == 200
            assert app.files.durable is durable and len(synced) == expected
    with XNATApp(data_dir=tmp_path / "default", users=USERS) as app:
        assert app.files.durable is False
        mode = app.store.one("PRAGMA journal_mode")[0]
        assert mode == "wal" and app.store.one("PRAGMA synchronous")[0] == 1  # NORMAL


# -- 8. custom variable definitions (studyProtocol) -------------------------------------
PROTOCOL_DOC = b"""<?xml version="1.0"?>
<xnat:Project ID="P1" xmlns:xnat="http://nrg.wustl.edu/xnat" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <xnat:name>First</xnat:name>
  <xnat:studyProtocol ID="P1_xnat_subjectData" data-type="xnat:subjectData" xsi:type="xnat:datatypeProtocol">
    <xnat:definitions>
      <xnat:definition ID="clinical" data-type="xnat:subjectData" project-specific="1">
        <xnat:fields>
          <xnat:field name="weight" datatype="integer" type="custom"/>
          <xnat:field name="arm" datatype="string" type="custom">
            <xnat:possibleValues><xnat:possibleValue display="A">a</xnat:possibleValue>
              <xnat:possibleValue>b</xnat:possibleValue></xnat:possibleValues>
          </xnat:field>
        </xnat:fields>
      </xnat:definition>
    </xnat:definitions>
  </xnat:studyProtocol>
</xnat:Project>"""


def test_project_keeps_its_study_protocol(admin: Api) -> None:
    assert admin.put("/data/projects/P1", data=PROTOCOL_DOC, content_type="text/xml").status_code == 201
    assert admin.put("/data/projects/P1?description=later").status_code == 200  # no document: kept
    item = _item(admin, "/data/projects/P1")
    protocol = next(c for c in item["children"] if c["field"] == "studyProtocol")["items"][0]
    assert protocol["meta"]["xsi:type"] == "xnat:datatypeProtocol"
    assert protocol["data_fields"]["data-type"] == "xnat:subjectData"
    definition = protocol["children"][0]["items"][0]
    assert (protocol["children"][0]["field"], definition["data_fields"]["ID"]) == ("definitions/definition", "clinical")
    fields = {f["data_fields"]["name"]: f for f in definition["children"][0]["items"]}
    assert fields["weight"]["data_fields"]["datatype"] == "integer"
    values = fields["arm"]["children"][0]["items"]
    assert [v["data_fields"]["possibleValue"] for v in values] == ["a", "b"]
    xml = admin.get("/data/projects/P1?format=xml").text
    assert '<xnat:possibleValue display="A">a</xnat:possibleValue>' in xml
    bad = PROTOCOL_DOC.replace(b' xsi:type="xnat:datatypeProtocol"', b"")  # abstract: no definitions
    assert admin.put("/data/projects/P1", data=bad, content_type="text/xml").status_code == 422


def test_client_types_custom_variables_from_served_definitions(served: tuple[str, XNATApp]) -> None:
    import xnat

    url, app = served
    api = Api(app, ("admin", "admin"))
    assert api.put("/data/projects/P1", data=PROTOCOL_DOC, content_type="text/xml").status_code == 201
    assert api.put("/data/projects/P1/subjects/S1").status_code == 201
    with xnat.connect(url, user="admin", password="admin") as session:
        subject = session.projects["P1"].subjects["S1"]
        clinical = subject.custom_variables["clinical"]
        clinical["weight"] = 70
        subject.clearcache()
        assert subject.custom_variables["clinical"]["weight"] == 70
        with pytest.raises(XNATValueError, match="arm"):
            clinical["arm"] = "c"


def test_null_clears_project_fields(admin: Api) -> None:
    assert admin.put("/data/projects/P1?description=temp&keywords=k&xnat:projectData/PI/lastname=NULL").status_code == 201
    assert admin.put("/data/projects/P1?xnat:projectData/description=NULL&keywords=NULL").status_code == 200
    data = _item(admin, "/data/projects/P1")["data_fields"]
    assert "description" not in data and "keywords" not in data
    assert admin.rows("/data/projects")[0]["description"] == ""
    r = admin.put("/data/projects/P1?xnat:projectData/name=NULL")
    assert r.status_code == 400 and "cannot be cleared" in r.text


def test_resource_attributes_given_as_xpaths_are_kept(tmp_path) -> None:
    """A client creating ``xnat:resourceCatalog`` with xpath parameters (as xnatpy does)."""
    from werkzeug.test import Client

    from xnat.testing.app import XNATApp

    app = XNATApp(data_dir=tmp_path, users=["admin:admin:admin"])
    try:
        client = Client(app)
        auth = {"Authorization": "Basic YWRtaW46YWRtaW4="}
        assert client.put("/data/projects/P", headers=auth).status_code in (200, 201)
        created = client.put("/data/projects/P/resources/NIFTI?xsiType=xnat:resourceCatalog&req_format=qs"
                             "&xnat:resourceCatalog/format=NIFTI&xnat:resourceCatalog/content=RAW", headers=auth)
        assert created.status_code in (200, 201)
        row = client.get("/data/projects/P/resources?format=json", headers=auth).json["ResultSet"]["Result"][0]
        assert (row["format"], row["content"]) == ("NIFTI", "RAW")
    finally:
        app.close()
