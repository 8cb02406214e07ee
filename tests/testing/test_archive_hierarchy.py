"""The archive hierarchy: addressing by ID or label, listings, columns, filters, items."""

from __future__ import annotations

import time

from xnat.testing.app import XNATApp

from .conftest import Api


def test_server_made_ids_and_labels(admin: Api, session_tree: dict[str, str]) -> None:
    assert session_tree["subject"] == "XNAT_S00001"
    assert session_tree["experiment"] == "XNAT_E00001"
    sid, eid = session_tree["subject"], session_tree["experiment"]
    # the same objects by label under the project, by ID anywhere
    for url in ("/data/projects/P1/subjects/S1", f"/data/projects/P1/subjects/{sid}", f"/data/subjects/{sid}"):
        assert admin.get(url + "?format=json").json["items"][0]["data_fields"]["ID"] == sid
    for url in ("/data/projects/P1/subjects/S1/experiments/E1", "/data/projects/P1/experiments/E1",
                f"/data/projects/P1/experiments/{eid}", f"/data/experiments/{eid}"):
        assert admin.get(url + "?format=json").json["items"][0]["data_fields"]["ID"] == eid
    # labels are project-specific: not usable globally
    assert admin.get("/data/experiments/E1?format=json").status_code == 404
    assert admin.get("/data/subjects/S1?format=json").status_code == 404



def test_an_id_wins_over_a_label_and_a_foreign_id_falls_back_to_the_label(app: XNATApp, admin: Api) -> None:
    """In a project URL the key is an ID when an object of the project (or shared into it) has it,
    else a label of the project (issue 16 made the two look-ups one statement)."""
    for project in ("P1", "P2"):
        assert admin.put(f"/data/projects/{project}").status_code < 300
    assert admin.put("/data/projects/P1/subjects/XNAT_S00002").status_code < 300  # XNAT_S00001, labelled an ID
    assert admin.put("/data/projects/P2/subjects/OTHER").status_code < 300  # XNAT_S00002, in P2 only
    find = app.backend.archive.find
    assert find("subject", "XNAT_S00001", "P1")["label"] == "XNAT_S00002"  # by its ID
    assert find("subject", "XNAT_S00002", "P1")["id"] == "XNAT_S00001"  # a foreign ID: the label decides
    assert find("subject", "XNAT_S00002", "P2")["label"] == "OTHER"
    assert find("subject", "XNAT_S00002", None)["label"] == "OTHER"
    assert find("subject", "NOPE", "P1") is None
    assert admin.put("/data/projects/P2/subjects/OTHER/projects/P1?label=SHARED").status_code < 300
    assert find("subject", "XNAT_S00002", "P1")["label"] == "OTHER"  # shared in: the ID wins
    assert find("subject", "SHARED", "P1")["id"] == "XNAT_S00002"

def test_subject_listing_default_columns(admin: Api, session_tree: dict[str, str]) -> None:
    rows = admin.rows("/data/projects/P1/subjects")
    assert len(rows) == 1
    assert set(rows[0]) == {"ID", "project", "label", "insert_date", "insert_user", "URI"}
    assert rows[0]["URI"] == f"/data/subjects/{session_tree['subject']}"
    assert rows[0]["insert_user"] == "admin"
    assert all(isinstance(v, str) for v in rows[0].values())
    assert admin.get("/data/projects/P1/subjects").json["ResultSet"]["title"] == "Project Subjects"
    assert admin.rows("/data/subjects")[0]["ID"] == session_tree["subject"]


def test_experiment_listings(admin: Api, session_tree: dict[str, str]) -> None:
    eid = session_tree["experiment"]
    row = admin.rows("/data/projects/P1/subjects/S1/experiments")[0]
    assert row["xnat:subjectassessordata/id"] == eid
    assert row["xsiType"] == "xnat:mrSessionData" and row["date"] == "2020-02-03"
    assert row["URI"] == f"/data/experiments/{eid}"
    glob = admin.get("/data/experiments").json["ResultSet"]
    assert glob["title"] == "Matching experiments" and glob["totalRecords"] == "1"
    assert set(glob["Result"][0]) == {"ID", "project", "date", "xsiType", "label", "insert_date", "URI"}
    assert admin.rows("/data/experiments?columns=ID,subject_label")[0]["subject_label"] == "S1"


def test_xsitype_filter_wildcards_and_xpath_columns(admin: Api) -> None:
    admin.put("/data/projects/P1")
    admin.put("/data/projects/P1/subjects/S1")
    admin.put("/data/projects/P1/subjects/S1/experiments/MR_A?xsiType=xnat:mrSessionData"
              "&xnat:mrSessionData/fieldStrength=3T")
    admin.put("/data/projects/P1/subjects/S1/experiments/CT_A?xsiType=xnat:ctSessionData")
    admin.put("/data/projects/P1/subjects/S1/experiments/MR_B?xsiType=xnat:mrSessionData")
    url = "/data/experiments"
    assert {r["label"] for r in admin.rows(f"{url}?xsiType=xnat:mrSessionData")} == {"MR_A", "MR_B"}
    assert {r["label"] for r in admin.rows(f"{url}?xsiType=xnat:imageSessionData")} == {"MR_A", "MR_B", "CT_A"}
    assert {r["label"] for r in admin.rows(f"{url}?label=MR_*")} == {"MR_A", "MR_B"}
    assert {r["label"] for r in admin.rows(f"{url}?label=mr_a,CT_A")} == {"MR_A", "CT_A"}
    rows = admin.rows(f"{url}?columns=label,xnat:mrSessionData/fieldStrength&sortBy=label")
    assert [(r["label"], r["xnat:mrsessiondata/fieldstrength"]) for r in rows] == \
        [("CT_A", ""), ("MR_A", "3T"), ("MR_B", "")]
    assert [r["label"] for r in admin.rows(f"{url}?xnat:mrSessionData/fieldStrength=3*")] == ["MR_A"]


def test_scans_listing_and_item(admin: Api, session_tree: dict[str, str]) -> None:
    eid = session_tree["experiment"]
    rows = admin.rows(f"/data/experiments/{eid}/scans")
    assert set(rows[0]) == {"xnat_imagescandata_id", "ID", "type", "quality", "xsiType", "note",
                            "series_description", "URI"}
    assert rows[0]["URI"] == f"/data/experiments/{eid}/scans/1" and rows[0]["type"] == "T1"
    item = admin.get(f"/data/experiments/{eid}/scans/1?format=json").json["items"][0]
    assert item["meta"]["xsi:type"] == "xnat:mrScanData" and item["meta"]["isHistory"] is False
    assert isinstance(item["data_fields"]["xnat_imagescandata_id"], int)
    assert item["children"][0]["field"] == "file"
    assert item["children"][0]["items"][0]["data_fields"]["file_count"] == 1
    assert admin.get(f"/data/experiments/{eid}/scans/99?format=json").status_code == 404


def test_item_json_and_xml_of_session(admin: Api, session_tree: dict[str, str]) -> None:
    eid = session_tree["experiment"]
    item = admin.get(f"/data/experiments/{eid}?format=json").json["items"][0]
    fields = [c["field"] for c in item["children"]]
    assert "scans/scan" in fields
    assert item["data_fields"]["subject_ID"] == session_tree["subject"]
    xml = admin.get(f"/data/experiments/{eid}?format=xml")
    assert xml.mimetype == "text/xml"
    assert b"xnat:MRSession" in xml.data and b"xsi:schemaLocation" in xml.data
    page = admin.get(f"/data/experiments/{eid}")
    assert page.mimetype == "text/html"
    assert admin.get(f"/data/experiments/{eid}?format=yaml").status_code == 400


def test_assessors_and_reconstructions(admin: Api, session_tree: dict[str, str]) -> None:
    eid = session_tree["experiment"]
    base = "/data/projects/P1/subjects/S1/experiments/E1"
    r = admin.put(f"{base}/assessors/QC1?xsiType=xnat:qcAssessmentData")
    assert r.status_code == 201 and r.text.startswith("XNAT_E")
    rows = admin.rows(f"{base}/assessors")
    assert [x["label"] for x in rows] == ["QC1"] and rows[0]["session_ID"] == eid
    assert admin.rows(f"/data/experiments/{eid}/assessors")[0]["ID"] == r.text
    # assessors are not subject-level experiments
    assert [x["label"] for x in admin.rows("/data/projects/P1/experiments")] == ["E1"]
    assert admin.put(f"{base}/assessors/QC1/out/resources/OUT/files/r.txt?inbody=true", data=b"x").status_code == 200
    assert admin.rows(f"{base}/assessors/QC1/out/resources")[0]["label"] == "OUT"
    assert admin.rows(f"{base}/assessors/QC1/in/resources") == []
    assert admin.put(f"{base}/reconstructions/R1?xsiType=xnat:reconstructedImageData&type=FS").status_code == 201
    assert admin.rows(f"{base}/reconstructions")[0]["type"] == "FS"
    assert admin.put(f"{base}/reconstructions/R1/in/resources/IN").status_code == 200
    assert admin.get(f"{base}/assessors/QC1/sideways/resources").status_code == 404


def test_unknown_objects_are_404(admin: Api, session_tree: dict[str, str]) -> None:
    for url in ("/data/projects/NOPE/subjects", "/data/projects/P1/subjects/NOPE",
                "/data/projects/P1/subjects/S1/experiments/NOPE/scans",
                "/data/experiments/XNAT_E99999", "/data/subjects/XNAT_S99999/experiments",
                "/data/projects/P1/subjects/S1/experiments/E1/scans/1/resources/NOPE/files",
                "/data/projects/P1/subjects/S1/experiments/E1/scans/1/resources/DICOM/files/nope.txt"):
        r = admin.get(url)
        assert r.status_code == 404, url
        assert r.mimetype == "text/plain"


def test_resource_path_needs_files_segment(admin: Api, session_tree: dict[str, str]) -> None:
    r = admin.get(f"/data/experiments/{session_tree['experiment']}/scans/1/resources/DICOM/a/b.txt")
    assert r.status_code == 400 and "catalog level" in r.text


def test_populate_is_fast_and_listable(tmp_path) -> None:
    app = XNATApp(data_dir=tmp_path)
    try:
        start = time.perf_counter()
        app.populate("projects=2,subjects=250,experiments=100")  # 50,000 sessions
        elapsed = time.perf_counter() - start
        assert app.store.one("SELECT COUNT(*) FROM experiments")[0] == 50_000
        api = Api(app, ("admin", "admin"))
        rows = api.rows("/data/projects/PROJ001/subjects/PROJ001_S00001/experiments")
        assert len(rows) == 100 and rows[0]["label"] == "PROJ001_S00001_MR001"
        assert elapsed < 60  # a sanity bound, not a benchmark: per-request creation would take hours
    finally:
        app.close()


def test_populate_rejects_bad_specs(app: XNATApp) -> None:
    import pytest

    for spec in ("projects", "projects=x", "planets=2", {"projects": -1}):
        with pytest.raises(ValueError):
            app.populate(spec)


def test_scan_and_subject_xpaths_join(admin: Api, session_tree: dict[str, str]) -> None:
    eid = session_tree["experiment"]
    admin.put(f"/data/experiments/{eid}/scans/2?xsiType=xnat:mrScanData&type=T2")
    admin.put("/data/projects/P1/subjects/S1/experiments/EMPTY?xsiType=xnat:mrSessionData")
    rows = admin.rows("/data/experiments?xsiType=xnat:mrSessionData&columns=ID,label,xnat:mrScanData/ID,"
                      "xnat:mrScanData/type&sortBy=label")
    got = [(r["label"], r["xnat:mrscandata/id"], r["xnat:mrscandata/type"]) for r in rows]
    assert got == [("E1", "1", "T1"), ("E1", "2", "T2"), ("EMPTY", "", "")]
    assert [r["label"] for r in admin.rows("/data/experiments?xnat:subjectData/label=S1")] == ["E1", "EMPTY"]
    assert admin.rows("/data/experiments?xnat:subjectData/label=NOBODY") == []
