"""Issue 15: the embedded server as real clients see XNAT (key columns, project owners,
archives clients make, implicit subjects, routes clients call)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from urllib.parse import quote

from xnat.testing.app import XNATApp

from .conftest import Api


def _csv_header(api: Api, url: str) -> list[str]:
    r = api.get(url)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.get_data(as_text=True).splitlines()[0].split(",")


# -- 1. key columns always present -------------------------------------------------------
def test_columns_keep_the_key_columns(admin: Api) -> None:
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    assert admin.put("/data/projects/P1/subjects/S1").status_code == 201
    assert admin.put("/data/projects/P1/subjects/S1/experiments/E1?xsiType=xnat:mrSessionData").status_code == 201
    assert _csv_header(admin, "/data/projects?columns=alias&format=csv") == ["ID", "alias", "URI"]
    assert _csv_header(admin, "/data/projects/P1/subjects?columns=last_modified&format=csv") == \
        ["ID", "project", "last_modified", "URI"]
    assert _csv_header(admin, "/data/projects/P1/experiments?columns=label&format=csv") == \
        ["ID", "project", "label", "URI"]
    rows = admin.rows("/data/projects/P1/subjects?columns=last_modified,insert_date")
    assert rows[0]["last_modified"] and rows[0]["insert_date"]
    rows = admin.rows("/data/experiments?columns=last_modified")
    assert rows[0]["ID"] and rows[0]["project"] == "P1" and rows[0]["last_modified"]


# -- 2. the creator of a project is its owner --------------------------------------------
def test_the_creator_of_a_project_is_its_owner(admin: Api, alice: Api) -> None:
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    assert alice.put("/data/projects/P2").status_code in (200, 201)
    assert [(r["login"], r["role"]) for r in admin.rows("/data/projects/P1/users")] == [("admin", "owner")]
    assert [(r["login"], r["role"]) for r in alice.rows("/data/projects/P2/users")] == [("alice", "owner")]


# -- 8. archives real clients make -------------------------------------------------------
def test_xnatpy_upload_dir_archive_is_accepted(admin: Api, tmp_path: Path) -> None:
    """xnatpy's default upload_dir (tgz_file) tars the folder under the name '' and extracts it."""
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "a.txt").write_bytes(b"a")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(tmp_path / "d", arcname="")
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    r = admin.put("/data/projects/P1/resources/R/files/upload.tar.gz?extract=true", data=buf.getvalue())
    assert r.status_code in (200, 201), r.text
    assert [row["Name"] for row in admin.rows("/data/projects/P1/resources/R/files")] == ["a.txt"]
    assert [row["URI"].split("/files/")[1] for row in admin.rows("/data/projects/P1/resources/R/files")] == \
        ["sub/a.txt"]


# -- 4. a new experiment under a new subject; IDs given at creation -----------------------
def test_an_experiment_under_a_new_subject_creates_the_subject(admin: Api, alice: Api) -> None:
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    r = admin.put("/data/projects/P1/subjects/NEW/experiments/E1?xsiType=xnat:mrSessionData")
    assert r.status_code == 201, r.text
    eid = r.get_data(as_text=True)
    subjects = admin.rows("/data/projects/P1/subjects")
    assert [s["label"] for s in subjects] == ["NEW"]
    assert admin.rows(f"/data/experiments?ID={eid}&columns=subject_ID")[0]["subject_ID"] == subjects[0]["ID"]
    xml = ('<xnat:MRSession xmlns:xnat="http://nrg.wustl.edu/xnat" label="E2">'
           '<xnat:date>2020-01-02</xnat:date></xnat:MRSession>')
    r = admin.put("/data/projects/P1/subjects/NEW2/experiments/E2", data=xml, content_type="text/xml")
    assert r.status_code == 201, r.text
    assert {s["label"] for s in admin.rows("/data/projects/P1/subjects")} == {"NEW", "NEW2"}
    # no subject is left behind by a refused experiment, and no one without rights creates one
    assert admin.put("/data/projects/P1/subjects/NEW3/experiments/E1?xsiType=xnat:mrSessionData").status_code == 409
    assert alice.put("/data/projects/P1/subjects/NEW4/experiments/E4?xsiType=xnat:mrSessionData").status_code in \
        (403, 404)
    assert {s["label"] for s in admin.rows("/data/projects/P1/subjects")} == {"NEW", "NEW2"}


def test_an_id_given_at_creation_is_used_when_free(admin: Api) -> None:
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    assert admin.put("/data/projects/P1/subjects/S1").status_code == 201
    r = admin.put("/data/projects/P1/subjects/S1/experiments/E1?xsiType=xnat:mrSessionData"
                  "&xnat:mrSessionData/ID=MY_E1")
    assert (r.status_code, r.get_data(as_text=True)) == (201, "MY_E1")
    xml = ('<xnat:MRSession xmlns:xnat="http://nrg.wustl.edu/xnat" ID="MY_E2" label="E2"/>')
    r = admin.put("/data/projects/P1/subjects/S1/experiments/E2", data=xml, content_type="text/xml")
    assert (r.status_code, r.get_data(as_text=True)) == (201, "MY_E2")
    r = admin.put("/data/projects/P1/subjects/S1/experiments/E3?xsiType=xnat:mrSessionData"
                  "&xnat:mrSessionData/ID=MY_E1")
    assert r.status_code == 409 and "MY_E1" in r.get_data(as_text=True)
    r = admin.put("/data/projects/P1/subjects/S2?xnat:subjectData/ID=MY_S2")
    assert (r.status_code, r.get_data(as_text=True)) == (201, "MY_S2")
    # generated IDs step over the ones given
    r = admin.put("/data/projects/P1/subjects/S1/experiments/XNAT_E00002?xsiType=xnat:mrSessionData"
                  "&xnat:mrSessionData/ID=XNAT_E00001")
    assert r.get_data(as_text=True) == "XNAT_E00001"
    r = admin.put("/data/projects/P1/subjects/S1/experiments/E5?xsiType=xnat:mrSessionData")
    assert r.status_code == 201 and r.get_data(as_text=True) not in ("XNAT_E00001", "MY_E1", "MY_E2")


# -- 7. values as XNAT formats them -------------------------------------------------------
SESSION = "/data/projects/P1/subjects/S1/experiments/E1"


def _session(admin: Api) -> None:
    for url in ("/data/projects/P1", "/data/projects/P1/subjects/S1", f"{SESSION}?xsiType=xnat:mrSessionData"):
        assert admin.put(url).status_code in (200, 201)


def test_floats_read_back_as_xnat_writes_them(admin: Api) -> None:
    _session(admin)
    assert admin.put(f"{SESSION}?xnat:mrSessionData/dcmPatientWeight=42").status_code == 200
    assert admin.put(f"{SESSION}/scans/1?xsiType=xnat:mrScanData&xnat:mrScanData/parameters/tr=2.5").status_code == 201
    row = admin.rows("/data/experiments?columns=xnat:mrSessionData/dcmPatientWeight,xnat:mrSessionData/label")[0]
    assert row["xnat:mrsessiondata/dcmpatientweight"] == "42.0" and row["xnat:mrsessiondata/label"] == "E1"
    assert admin.get(f"{SESSION}?format=json").json["items"][0]["data_fields"]["dcmPatientWeight"] == 42.0
    assert "<xnat:dcmPatientWeight>42.0</xnat:dcmPatientWeight>" in admin.get(f"{SESSION}?format=xml").get_data(
        as_text=True)


def test_scan_parameters_are_written_as_xnat_writes_them_in_the_order_set(admin: Api) -> None:
    _session(admin)
    keys = [("b", "1"), ("a", "2"), ("c", "3")]
    query = "&".join(f"{quote(f'xnat:mrScanData/parameters/addParam[name={k}]/addField', safe=':/')}={v}"
                     for k, v in keys)
    assert admin.put(f"{SESSION}/scans/1?xsiType=xnat:mrScanData&{query}").status_code == 201
    again = quote("xnat:mrScanData/parameters/addParam[name=a]/addField", safe=":/")
    assert admin.put(f"{SESSION}/scans/1?{again}=5").status_code == 200  # keeps its place
    xml = admin.get(f"{SESSION}/scans/1?format=xml").get_data(as_text=True)
    assert '<xnat:addParam name="b">1</xnat:addParam>' in xml and "addField" not in xml
    assert [xml.index(f'name="{k}"') for k in "bac"] == sorted(xml.index(f'name="{k}"') for k in "bac")
    assert 'name="a">5<' in xml
    back = admin.put(f"{SESSION}/scans/1", data=xml, content_type="text/xml")
    assert back.status_code == 200 and admin.get(f"{SESSION}/scans/1?format=xml").get_data(as_text=True) == xml


# -- 9. routes clients call ---------------------------------------------------------------
def test_form_login_starts_a_session(app: XNATApp) -> None:
    from werkzeug.test import Client
    client = Client(app)
    r = client.post("/login", data={"username": "alice", "password": "alice"})
    assert r.status_code == 302 and r.headers["Location"] == f"{app.site_url}/"
    assert client.get("/data/auth").get_data(as_text=True) == "User 'alice' is logged in"
    assert Client(app).post("/login", data={"username": "alice", "password": "nope"}).status_code == 401
    assert Client(app).get("/login").status_code == 405


def test_site_config_and_a_settable_admin_email(admin: Api, alice: Api, anon: Api) -> None:
    config = admin.get("/xapi/siteConfig").json
    assert config["siteId"] == "XNAT" and config["adminEmail"] == ""
    assert alice.post("/xapi/siteConfig", json={"adminEmail": "x@y.z"}).status_code == 403
    assert admin.post("/xapi/siteConfig", json={"adminEmail": "admin@site.org"}).status_code == 200
    assert alice.get("/xapi/siteConfig/adminEmail").get_data(as_text=True) == "admin@site.org"
    assert admin.post("/xapi/siteConfig", json={"siteId": "OTHER"}).status_code == 400  # the server's own
    assert admin.post("/xapi/siteConfig", data="[", content_type="application/json").status_code == 400
    assert admin.get("/xapi/siteConfig/nope").status_code == 404
    assert admin.get("/xapi/siteConfig/siteId").get_data(as_text=True) == "XNAT"
    assert anon.get("/xapi/siteConfig").status_code == 401


def test_the_built_in_admin_is_admin_admin(admin: Api) -> None:
    user = admin.get("/xapi/users/admin").json
    assert (user["firstName"], user["lastName"]) == ("Admin", "Admin")


def test_pipelines_and_head(admin: Api, bob: Api) -> None:
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    r = admin.get("/data/projects/P1/pipelines?format=json")
    assert r.status_code == 200 and r.json["ResultSet"]["Result"] == []
    assert bob.get("/data/projects/P1/pipelines").status_code == 404  # a private project, not told
    assert admin.request("HEAD", "/data/projects/P1").status_code == 200
    assert bob.request("HEAD", "/data/projects/P1").status_code == 404


def test_xapi_user_update(app: XNATApp, admin: Api, alice: Api, bob: Api) -> None:
    """UsersApi.updateUser (``PUT /xapi/users/{name}``) is for admins; a user changes its own
    account through ``PUT /xapi/users/update`` (see test_client_routes)."""
    r = admin.put("/xapi/users/alice", json={"firstName": "Alice", "email": "a@x.org"})
    assert r.status_code == 200 and (r.json["firstName"], r.json["email"]) == ("Alice", "a@x.org")
    assert admin.put("/xapi/users/alice", json={"firstName": "Alice"}).status_code == 304  # nothing changed
    assert alice.put("/xapi/users/alice", json={"firstName": "B"}).status_code == 403
    assert bob.put("/xapi/users/alice", json={"firstName": "B"}).status_code == 403
    assert admin.put("/xapi/users/alice", json={"username": "eve"}).status_code == 400
    assert admin.put("/xapi/users/alice", json={"nope": 1}).status_code == 400
    assert admin.put("/xapi/users/alice", data="[", content_type="application/json").status_code == 400
    assert admin.put("/xapi/users/ghost", json={"firstName": "G"}).status_code == 404
    assert admin.put("/xapi/users/alice", json={"password": "new"}).status_code == 200
    assert Api(app, ("alice", "new")).get("/data/auth").status_code == 200
    assert Api(app, ("alice", "alice")).get("/data/auth").status_code == 401
    assert admin.get("/xapi/users/bob/enabled").json is True
    assert bob.put("/xapi/users/bob/enabled/false").status_code == 403
    assert admin.put("/xapi/users/bob/enabled/maybe").status_code == 400
    assert admin.put("/xapi/users/bob/enabled/false").status_code == 200
    assert admin.get("/xapi/users/bob/enabled").json is False
    assert bob.get("/data/auth").status_code == 401


def test_configuration_service(admin: Api, alice: Api, bob: Api, anon: Api) -> None:
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    assert admin.put("/data/projects/P1/users/Members/alice").status_code == 200
    assert alice.put("/data/projects/P1/config/anon/script?inbody=true", data=b"x").status_code == 403  # owners
    assert admin.put("/data/projects/P1/config/anon/script?inbody=true&reason=first", data=b"one").status_code == 201
    assert admin.put("/data/projects/P1/config/anon/script?inbody=true", data=b"two").status_code == 200
    rows = alice.rows("/data/projects/P1/config/anon/script")
    assert [(r["contents"], r["version"], r["user"], r["status"]) for r in rows] == [("two", "2", "admin", "enabled")]
    assert alice.get("/data/projects/P1/config/anon/script?contents=true&version=1").get_data(as_text=True) == "one"
    assert bob.get("/data/projects/P1/config/anon/script").status_code == 404  # a private project, not told
    assert admin.get("/data/projects/P1/config/nope/x").status_code == 404
    assert admin.get("/data/projects/P1/config/anon/script?version=x").status_code == 400
    assert alice.put("/data/config/site/x?inbody=true", data=b"s").status_code == 403  # admins
    assert admin.put("/data/config/site/x?inbody=true", data=b"s").status_code == 201
    assert alice.get("/data/config/site/x?contents=true").get_data(as_text=True) == "s"
    assert [r["tool"] for r in alice.rows("/data/config")] == ["site"]
    assert anon.get("/data/config").status_code == 401
    assert admin.put("/data/config/site/x?status=disabled").status_code == 200
    assert admin.rows("/data/config/site/x")[0]["status"] == "disabled"
    assert admin.put("/data/config/site/x?status=maybe").status_code == 400
    assert admin.put("/data/config/site/none?status=enabled").status_code == 404


def test_last_modified_follows_changes(app: XNATApp, admin: Api) -> None:
    _session(admin)
    def stored(table: str) -> str | None:
        archive = app.backend.archive
        rows = archive.subject_rows(None) if table == "subjects" else archive.experiment_rows()
        return rows[0]["last_modified"]  # type: ignore[no-any-return]
    row = admin.rows("/data/projects/P1/subjects?columns=last_modified,insert_date")[0]
    assert stored("subjects") is None and row["last_modified"] == row["insert_date"]  # never modified
    assert admin.put("/data/projects/P1/subjects/S1?gender=female").status_code == 200
    assert admin.put(f"{SESSION}?note=changed").status_code == 200
    changed = stored("subjects")
    assert changed is not None and admin.rows("/data/projects/P1/subjects")[0]["ID"]
    assert admin.rows("/data/projects/P1/subjects?columns=last_modified")[0]["last_modified"] == changed
    assert admin.rows("/data/experiments?columns=last_modified")[0]["last_modified"] == stored("experiments")
