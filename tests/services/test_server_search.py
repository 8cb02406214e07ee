"""``POST /data/search`` on the embedded server: recorded shapes, criteria, access, bad bundles."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testing.conftest import NS, Api, bundle, crit
from xnat.testing.app import XNATApp
from xnat.testing.handlers.search_run import java_hashmap_order

REC = "responses/recorded/xnatpy-tests"
@pytest.fixture
def sandbox(admin: Api) -> str:
    """Project ``sandbox`` with subject S1 and the MR session ``test``, as in the recording."""
    assert admin.put("/data/projects/sandbox").status_code == 201
    assert admin.put("/data/projects/sandbox/subjects/S1").status_code == 201
    r = admin.put("/data/projects/sandbox/subjects/S1/experiments/test?xsiType=xnat:mrSessionData"
                  "&date=2020-02-03")
    assert r.status_code == 201
    return r.text


def test_recorded_json_reproduced_byte_for_byte(admin: Api, sandbox: str, reference: Path) -> None:
    body = (reference / REC / "POST_data_search.request-body.query1.xml").read_bytes()
    r = admin.post("/data/search?format=json", data=body)
    assert r.status_code == 200
    assert r.data == (reference / REC / "POST_data_search_format-json.response.json").read_bytes()


def test_recorded_csv_reproduced_byte_for_byte(admin: Api, sandbox: str, reference: Path) -> None:
    body = (reference / REC / "POST_data_search.request-body.query1.xml").read_bytes()
    r = admin.post("/data/search?format=csv", data=body)
    assert r.status_code == 200
    assert r.data == (reference / REC / "POST_data_search_format-csv.response.csv").read_bytes()


@pytest.mark.parametrize("query", ["query2", "query3"])
def test_recorded_insert_date_ranges(app: XNATApp, admin: Api, reference: Path, query: str) -> None:
    assert admin.put("/data/projects/xnatpy_test_data").status_code == 201
    assert admin.put("/data/projects/xnatpy_test_data/subjects/S").status_code == 201
    ids = [admin.put(f"/data/projects/xnatpy_test_data/subjects/S/experiments/E{i}?xsiType=xnat:mrSessionData").text
           for i in range(3)]
    body = (reference / REC / f"POST_data_search.request-body.{query}.xml").read_bytes()
    assert admin.post("/data/search?format=json", data=body).json["ResultSet"]["Result"] == []
    with app.store.transaction() as conn:  # back-date two sessions into the searched window
        conn.execute("UPDATE experiments SET insert_date='2026-04-08 00:00:01.000' WHERE id=?", (ids[0],))
        conn.execute("UPDATE experiments SET insert_date='2026-04-10 23:59:59.000' WHERE id=?", (ids[2],))
    rows = admin.post("/data/search?format=json", data=body).json["ResultSet"]["Result"]
    # ID, project and subject_ID come back under their display-field names, which is what
    # xnatpy's FROM_SEARCH_URI ({project}/subjects/{subject_id}/experiments/{session_id}) needs
    assert sorted(r["session_id"] for r in rows) == sorted([ids[0], ids[2]])
    assert all(r["project"] == "xnatpy_test_data" and r["subject_id"].startswith("XNAT_S") for r in rows)
    assert set(rows[0]) == {"session_id", "project", "subject_id", "quarantine_status"}


def test_search_finds_imported_case001(alice: Api, case001_zip: bytes) -> None:
    uri = alice.post("/data/services/import?project=P1", data=case001_zip,
                     headers={"Content-Type": "application/zip"}).text
    body = bundle("xnat:mrSessionData", [("xnat:mrSessionData", "xnat:mrSessionData/ID"),
                                         ("xnat:mrSessionData", "SUBJECT_LABEL")],
                  crit("xnat:mrSessionData/UID", "=", "1.2.840.113654.2.45.2.108105"))
    rows = alice.post("/data/search?format=json", data=body).json["ResultSet"]["Result"]
    assert rows == [{"session_id": uri.rsplit("/", 1)[1], "subject_label": "Case001",
                     "quarantine_status": "active"}]
    scans = bundle("xnat:mrScanData", [("xnat:mrScanData", "xnat:mrScanData/ID")],
                   crit("xnat:mrScanData/series_description", "LIKE", "%spin%"))
    assert [r["xnat_col_mrscandataid"] for r in alice.post("/data/search?format=json", data=scans)
            .json["ResultSet"]["Result"]] == ["2"]


def test_or_groups_comparisons_and_subject_fields(admin: Api) -> None:
    assert admin.put("/data/projects/P").status_code == 201
    for subject, label, date in (("A", "E1", "2020-01-01"), ("B", "E2", "2021-06-01"), ("B", "E3", "")):
        admin.put(f"/data/projects/P/subjects/{subject}")
        admin.put(f"/data/projects/P/subjects/{subject}/experiments/{label}?xsiType=xnat:mrSessionData&date={date}")
    cols = [("xnat:mrSessionData", "xnat:mrSessionData/label")]

    def labels(where: str) -> list[str]:
        r = admin.post("/data/search?format=json", data=bundle("xnat:mrSessionData", cols, where))
        assert r.status_code == 200, r.text
        return sorted(row["xnat_col_mrsessiondatalabel"] for row in r.json["ResultSet"]["Result"])

    assert labels("") == ["E1", "E2", "E3"]
    assert labels(crit("xnat:mrSessionData/date", ">", "06/01/2020")) == ["E2"]
    assert labels(crit("xnat:mrSessionData/date", "<=", "2020-01-01")) == ["E1"]
    assert labels(crit("xnat:subjectData/label", "=", "B")) == ["E2", "E3"]
    assert labels(crit("xnat:mrSessionData/date", "IS", "NULL")) == ["E3"]
    assert labels(crit("xnat:mrSessionData/label", "IN", "E1,E3")) == ["E1", "E3"]
    assert labels(crit("xnat:mrSessionData/label", "NOT LIKE", "e%")) == []
    either = ('<xdat:child_set method="OR">' + crit("xnat:mrSessionData/label", "=", "E1")
              + crit("xnat:mrSessionData/label", "=", "E3") + "</xdat:child_set>")
    assert labels(either) == ["E1", "E3"]
    assert labels(either + crit("xnat:subjectData/label", "=", "B")) == ["E3"]


def test_access_is_respected(app: XNATApp, admin: Api, bob: Api, sandbox: str) -> None:
    body = bundle("xnat:mrSessionData", [("xnat:mrSessionData", "PROJECT")])
    assert len(admin.post("/data/search?format=json", data=body).json["ResultSet"]["Result"]) == 1
    assert bob.post("/data/search?format=json", data=body).json["ResultSet"]["Result"] == []
    app.set_project_access("sandbox", "bob", "collaborator")
    assert len(bob.post("/data/search?format=json", data=body).json["ResultSet"]["Result"]) == 1


@pytest.mark.parametrize("body, words", [
    (b"", "empty"),
    (b"<not-closed", "well-formed"),
    (b"<bundle/>", "namespace"),
    (bundle("xnat:noSuchData", [("xnat:noSuchData", "ID")]), "Unknown data type"),
    (bundle("xnat:mrSessionData", [("xnat:mrSessionData", "xnat:mrSessionData/nonsense")]), "Unknown search field"),
    (bundle("xnat:mrSessionData", [], crit("xnat:mrSessionData/label", "~", "x")), "comparison"),
    (b'<!DOCTYPE x [<!ENTITY e "boom">]><xdat:bundle ' + NS.encode() + b"/>", "DTD"),
    (bundle("xnat:mrSessionData", [], crit("xnat:ctScanData/ID", "=", "1")), "cannot be used"),
])
def test_malformed_search_is_422(admin: Api, sandbox: str, body: bytes, words: str) -> None:
    r = admin.post("/data/search?format=json", data=body)
    assert r.status_code == 422
    assert words in r.text


def test_wrong_method_format_and_guest(app: XNATApp, admin: Api) -> None:
    assert admin.get("/data/search").status_code == 405
    body = bundle("xnat:mrSessionData", [("xnat:mrSessionData", "PROJECT")])
    assert admin.post("/data/search?format=pdf", data=body).status_code == 400
    assert Api(app, None).post("/data/search", data=body).status_code == 401


def test_java_hashmap_order() -> None:
    # the order in the real recording, and a map that has grown past 12 keys
    assert java_hashmap_order(["project", "xnat_col_mrsessiondatalabel", "quarantine_status"]) == [
        "quarantine_status", "project", "xnat_col_mrsessiondatalabel"]
    many = [f"k{i}" for i in range(20)]
    assert sorted(java_hashmap_order(many)) == sorted(many)
    assert java_hashmap_order(["b", "a"]) == ["a", "b"]
