"""Site routes, URL aliases, schema publishing and unknown routes."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from xnat.testing.app import XNATApp, normalise_path

from .conftest import Api


def test_build_info_reports_version(admin: Api) -> None:
    r = admin.get("/xapi/siteConfig/buildInfo")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.json["version"] == "1.8.10"
    assert all(isinstance(v, str) for v in r.json.values())
    assert admin.get("/xapi/siteConfig/buildInfo/version").text == "1.8.10"
    assert admin.get("/xapi/siteConfig/buildInfo/nothing").status_code == 404


def test_version_is_configurable(tmp_path: Path) -> None:
    app = XNATApp(data_dir=tmp_path, version="1.9.1")
    try:
        assert Api(app, ("admin", "admin")).get("/xapi/siteConfig/buildInfo").json["version"] == "1.9.1"
    finally:
        app.close()


def test_data_version_is_not_routed_on_17_plus(admin: Api) -> None:
    # xnatpy/pyxnat try /data/version first and fall back to buildInfo on an error
    assert admin.get("/data/version").status_code == 404


@pytest.mark.parametrize("path, expected", [
    ("/REST/projects", "/data/projects"),
    ("/data/archive/projects/P/subjects", "/data/projects/P/subjects"),
    ("/REST/archive/experiments/E/", "/data/experiments/E"),
    ("/data/projects/", "/data/projects"),
])
def test_path_aliases_fold(path: str, expected: str) -> None:
    assert normalise_path(path) == expected


def test_aliases_serve_same_listing(admin: Api) -> None:
    admin.put("/data/projects/P1")
    for url in ("/data/projects", "/REST/projects", "/data/archive/projects", "/REST/archive/projects"):
        assert [r["ID"] for r in admin.rows(url)] == ["P1"]


@pytest.mark.parametrize("url", ["/data/nothing", "/xapi/nothing", "/data/projects/P1/nothing",
                                 "/data/services/unknown", "/favicon.ico"])
def test_unknown_routes_are_404(admin: Api, url: str) -> None:
    admin.put("/data/projects/P1")
    r = admin.get(url)
    assert r.status_code == 404 and r.mimetype == "text/plain" and len(r.text) < 200


def test_default_schema_set_is_published(admin: Api) -> None:
    entries = admin.get("/xapi/schemas").json
    assert "xnat" in entries
    doc = admin.get("/xapi/schemas/xnat")
    assert doc.status_code == 200
    assert etree.fromstring(doc.data).tag.endswith("schema")
    assert admin.get("/schemas/xnat/xnat.xsd").data == doc.data
    assert admin.get("/xapi/schemas/nothing").status_code == 404
    assert admin.get("/schemas/nothing/nothing.xsd").status_code == 404
    assert "xnat:mrSessionData" in admin.get("/xapi/schemas/datatypes").json


def test_real_schema_set_is_served(tmp_path: Path, reference_schemas: Path) -> None:
    app = XNATApp(data_dir=tmp_path, schemas_dir=reference_schemas)
    try:
        api = Api(app, ("admin", "admin"))
        entries = api.get("/xapi/schemas").json
        assert {"xnat", "xdat", "catalog", "xdat/display"} <= set(entries)
        display = api.get("/xapi/schemas/xdat/display")
        assert display.status_code == 200
        assert display.data == (reference_schemas / "xdat" / "display.xsd").read_bytes()
    finally:
        app.close()


def test_uptime(admin: Api) -> None:
    assert set(admin.get("/xapi/siteConfig/uptime").json) == {"seconds", "minutes", "hours", "days"}


def test_users_listing_and_xapi_users(admin: Api, alice: Api) -> None:
    rows = admin.rows("/data/users")
    assert {r["login"] for r in rows} == {"admin", "alice", "bob"}
    assert set(rows[0]) == {"xdat_user_id", "login", "firstname", "lastname", "email"}
    assert sorted(admin.get("/xapi/users").json) == ["admin", "alice", "bob"]
    assert alice.get("/xapi/users").status_code == 403


def test_search_elements_for_xnatpy_connect(admin: Api, session_tree: dict[str, str]) -> None:
    rows = admin.rows("/data/search/elements")
    counts = {r["ELEMENT_NAME"]: r["COUNT"] for r in rows}
    assert counts["xnat:mrSessionData"] == "1" and counts["xnat:subjectData"] == "1"
    assert "xnat:mrScanData" in counts and "cat:catalog" not in counts
    fields = [r["FIELD_ID"] for r in admin.rows("/data/search/elements/xnat:mrSessionData")]
    assert "LABEL" in fields and "DATE" in fields
    assert admin.get("/data/search/elements/xnat:nothingData").status_code == 404


def test_xapi_user_create_and_get(app, admin: Api, alice: Api) -> None:
    r = admin.post("/xapi/users", json={"username": "dave", "password": "pw", "firstName": "Dave"})
    assert r.status_code == 201 and r.json["username"] == "dave" and r.json["enabled"] is True
    assert Api(app, ("dave", "pw")).get("/data/auth").status_code == 200
    assert admin.post("/xapi/users", json={"username": "dave", "password": "x"}).status_code == 409
    assert admin.post("/xapi/users", data=b"{not json", content_type="application/json").status_code == 400
    assert admin.post("/xapi/users", json={"username": "x"}).status_code == 400
    assert admin.post("/xapi/users", json={"username": "a:b", "password": "x"}).status_code == 400
    assert alice.post("/xapi/users", json={"username": "eve", "password": "x"}).status_code == 403
    assert alice.get("/xapi/users/alice").json["username"] == "alice"
    assert alice.get("/xapi/users/dave").status_code == 403
    assert admin.get("/xapi/users/ghost").status_code == 404
