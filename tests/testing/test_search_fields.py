"""Search fields are XNAT's display fields (issue 15 item 5): advertised from the display
documents, and every advertised field searchable, on the compact and the real schema set."""

from __future__ import annotations

import ast
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.testing.conftest import USERS, Api, bundle, crit
from xnat.testing.app import XNATApp
from xnat.testing.displayfields import SHIPPED_TABLE, evaluate, read_documents, shipped_text

REQ = "responses/request-bodies/xnat-rest-tests"


def search(api: Api, body: bytes) -> list[dict[str, str]]:
    r = api.post("/data/search?format=json", data=body)
    assert r.status_code == 200, r.text
    return r.json["ResultSet"]["Result"]


def populate(admin: Api) -> None:
    assert admin.put("/data/projects/P1?name=First").status_code == 201
    assert admin.put("/data/projects/P1/subjects/S1?gender=male&handedness=left&yob=1970&education=12"
                     "&ses=3").status_code == 201
    for label in ("E1", "E2"):
        r = admin.put(f"/data/projects/P1/subjects/S1/experiments/{label}?xsiType=xnat:mrSessionData"
                      "&date=2020-02-03")
        assert r.status_code == 201, r.text
    assert admin.put("/data/projects/P1/subjects/S2").status_code == 201


@pytest.fixture
def real_app(tmp_path: Path, reference_schemas: Path) -> Iterator[XNATApp]:
    application = XNATApp(data_dir=tmp_path / "data", users=USERS, site_id="XNAT", schemas_dir=reference_schemas)
    yield application
    application.close()


# -- the shipped table ---------------------------------------------------------------------------

def test_shipped_table_matches_the_display_documents(reference: Path) -> None:
    assert SHIPPED_TABLE.read_text(encoding="utf-8") == shipped_text(reference / "display"), \
        "regenerate with: python -m xnat.testing.displayfields $XNAT_REFERENCE/display"


def test_evaluate_understands_the_forms_the_documents_use() -> None:
    assert evaluate("'/archive/subjects/' || @Field1", {"Field1": "S1"}) == "/archive/subjects/S1"
    assert evaluate("COALESCE(@Field1, @Field2)", {"Field1": "", "Field2": "X"}) == "X"
    gender = "CASE @Field1 WHEN 'male' THEN 'M' WHEN 'female' THEN 'F' ELSE 'U' END"
    assert [evaluate(gender, {"Field1": v}) for v in ("male", "female", "")] == ["M", "F", "U"]
    hand = "CASE LOWER(@Field1) WHEN 'left' THEN 'L' WHEN 'right' THEN 'R' END"
    assert evaluate(hand, {"Field1": "Left"}) == "L" and evaluate(hand, {"Field1": "x"}) == ""
    assert evaluate("CAST(FLOOR(COALESCE(@Field1,EXTRACT(YEAR FROM @Field2))) AS INTEGER)",
                    {"Field1": "1970", "Field2": ""}) == "1970"


# -- the compact schema set ----------------------------------------------------------------------

def test_subject_fields_are_xnats(admin: Api) -> None:
    fields = {r["FIELD_ID"]: r for r in admin.rows("/data/search/elements/xnat:subjectData")}
    for wanted in ("DOB", "GENDER", "GENDER_TEXT", "HANDEDNESS", "EDUC", "SES", "MR_COUNT", "SUBJECT_LABEL"):
        assert wanted in fields
    assert fields["DOB"]["TYPE"] == "integer" and fields["DOB"]["HEADER"] == "YOB"
    assert "URI" not in fields  # searchable="false" in subjectData_display.xml
    assert "URI" in {r["FIELD_ID"] for r in admin.rows("/data/search/elements/xnat:subjectData?showAll=true")}


def test_project_fields_are_xnats(admin: Api) -> None:
    fields = {r["FIELD_ID"] for r in admin.rows("/data/search/elements/xnat:projectData")}
    assert {"PROJ_MR_COUNT", "PROJECT_OWNERS", "PROJECT_ACCESS", "ID", "NAME"} <= fields
    assert "TYPE" not in fields


def test_mr_session_fields_have_project_label_fields(admin: Api) -> None:
    populate(admin)
    rows = admin.rows("/data/search/elements/xnat:mrSessionData")
    assert "ACQUISITION_SITE" not in {r["FIELD_ID"] for r in rows}
    labels = [r for r in rows if r["SRC"] == "2"]
    assert [(r["FIELD_ID"], r["VALUE"]) for r in labels] == [("MR_PROJECT_IDENTIFIER=P1", "P1")]


def test_subject_display_values(admin: Api) -> None:
    populate(admin)
    rows = search(admin, bundle("xnat:subjectData", [("xnat:subjectData", f) for f in (
        "SUBJECT_LABEL", "GENDER", "GENDER_TEXT", "HANDEDNESS_TEXT", "DOB", "EDUC", "SES", "MR_COUNT",
        "PROJECTS", "URI")]))
    by_label = {r["subject_label"]: r for r in rows}
    assert by_label["S1"]["gender_text"] == "M" and by_label["S1"]["handedness_text"] == "L"
    assert by_label["S1"]["dob"] == "1970" and by_label["S1"]["mr_count"] == "2"
    assert by_label["S1"]["projects"] == ",<P1>" and by_label["S1"]["uri"].startswith("/archive/subjects/")
    assert by_label["S2"]["gender_text"] == "U" and by_label["S2"]["mr_count"] == ""


def test_criteria_on_display_fields(admin: Api) -> None:
    populate(admin)
    rows = search(admin, bundle("xnat:subjectData", [("xnat:subjectData", "SUBJECT_LABEL")],
                                crit("xnat:subjectData/GENDER_TEXT", "=", "M")))
    assert [r["subject_label"] for r in rows] == ["S1"]


def test_joined_element_field_in_an_mr_session_search(admin: Api) -> None:
    populate(admin)
    rows = search(admin, bundle("xnat:mrSessionData", [("xnat:mrSessionData", "LABEL"),
                                                       ("xnat:subjectData", "SUBJECT_LABEL")],
                                crit("xnat:subjectData/SUBJECT_LABEL", "=", "S1")))
    assert sorted((r["label"], r["xnat_subjectdata_subject_label"]) for r in rows) == [("E1", "S1"), ("E2", "S1")]


def test_project_display_values(admin: Api) -> None:
    populate(admin)
    rows = search(admin, bundle("xnat:projectData", [("xnat:projectData", f) for f in (
        "ID", "PROJ_MR_COUNT", "PROJECT_OWNERS", "PROJECT_ACCESS")]))
    assert rows[0]["id"] == "P1" and rows[0]["proj_mr_count"] == "2"
    assert rows[0]["project_access"] == "private"


def test_no_search_field_answers_the_listing_columns(admin: Api) -> None:
    populate(admin)
    r = admin.post("/data/search?format=json", data=bundle("xnat:subjectData", []))
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json["ResultSet"]["Columns"]] == [
        "SUBJECT_LABEL", "GENDER", "HANDEDNESS", "DOB", "EDUC", "SES", "MR_COUNT"]
    assert {row["subject_label"] for row in r.json["ResultSet"]["Result"]} == {"S1", "S2"}


@pytest.mark.parametrize("element", ["xnat:projectData", "xnat:subjectData", "xnat:mrSessionData",
                                     "xnat:ctSessionData", "xnat:mrScanData"])
def test_every_advertised_field_is_searchable_compact(admin: Api, element: str) -> None:
    populate(admin)
    _every_field_searchable(admin, element)


# -- the real schema set, one test per display document -------------------------------------------

def _every_field_searchable(api: Api, element: str) -> None:
    fields = [r["FIELD_ID"] for r in api.rows(f"/data/search/elements/{element}")]
    assert fields
    search(api, bundle(element, [(element, f) for f in fields]))
    for field in fields:
        search(api, bundle(element, [(element, fields[0])], crit(f"{element}/{field}", "LIKE", "%")))


def _documents() -> list[str]:
    location = os.environ.get("XNAT_REFERENCE")
    if not location or not (Path(location) / "display").is_dir():
        return []
    return sorted(read_documents(Path(location) / "display"))


@pytest.mark.reference
@pytest.mark.parametrize("element", _documents())
def test_every_advertised_field_is_searchable(real_app: XNATApp, element: str) -> None:
    admin = Api(real_app, ("admin", "admin"))
    populate(admin)
    if real_app.datatypes.canonical(element) is None:
        pytest.skip(f"{element} is not in the served schema set")
    if admin.get(f"/data/search/elements/{element}").status_code != 200:
        pytest.fail(f"/data/search/elements/{element} does not answer")
    fields = [r["FIELD_ID"] for r in admin.rows(f"/data/search/elements/{element}")]
    if not fields:
        pytest.skip(f"{element} advertises no searchable field")
    r = admin.post("/data/search?format=json", data=bundle(element, [(element, f) for f in fields]))
    if r.status_code == 422 and "cannot be searched here" in r.text:
        pytest.skip(f"{element} is not an archive level this server searches")
    assert r.status_code == 200, r.text
    for field in fields:
        search(admin, bundle(element, [(element, fields[0])], crit(f"{element}/{field}", "LIKE", "%")))


@pytest.mark.reference
@pytest.mark.parametrize("name", ["search_default_site_subject_search.xml",
                                  "search_default_project_mr_session_search.xml", "search_mrsession_search.xml"])
def test_xnats_default_bundles_run(real_app: XNATApp, reference: Path, name: str) -> None:
    admin = Api(real_app, ("admin", "admin"))
    populate(admin)
    body = (reference / REQ / name).read_bytes().replace(b"%PROJECT_ID%", b"P1")
    rows = search(admin, body)
    assert rows


# -- xnatpy 0.8.1 itself ---------------------------------------------------------------------------
XNATPY = Path(os.environ.get("XNATPY_PYTHON", "/root/.cache/xnat-bench/xnat-0.8.1/bin/python"))
TABULATE = """
import sys, xnat
with xnat.connect(sys.argv[1], user="admin", password="admin") as session:
    print(session.classes.SubjectData.query().tabulate_dict())
"""


@pytest.mark.slow
def test_xnatpy_tabulates_subjects_with_no_columns(served: tuple[str, XNATApp]) -> None:
    """xnatpy's query().tabulate_dict() sends no search_field: the answer has the listing columns."""
    if not XNATPY.is_file():
        pytest.skip(f"xnatpy 0.8.1's venv is not at {XNATPY} (set XNATPY_PYTHON)")
    url, app = served
    admin = Api(app, ("admin", "admin"))
    populate(admin)
    done = subprocess.run([str(XNATPY), "-I", "-c", TABULATE, url], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert {r["subject_label"]: r["mr_count"] for r in rows} == {"S1": "2", "S2": ""}
    assert list(rows[0]) == ["subject_label", "gender", "handedness", "dob", "educ", "ses", "mr_count"]
