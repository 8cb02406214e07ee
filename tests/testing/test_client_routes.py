"""Issue 15 item 9 (the rest): routes real clients call, answered as XNAT answers them.

Sources are cited per test; see also the docstrings of the handler modules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xnat.testing.app import XNATApp

from .conftest import USERS, Api

SESSION = "/data/projects/P1/subjects/S1/experiments/E1"


def _tree(admin: Api) -> str:
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    return str(admin.put(f"{SESSION}?xsiType=xnat:mrSessionData").get_data(as_text=True))


# -- experiment status: ExperimentResource.represent (".../status"), postSaveManageStatus ------
def test_status_activate_and_quarantine_as_xnatpy_sends_them(admin: Api, alice: Api, bob: Api) -> None:
    eid = _tree(admin)
    assert admin.put("/data/projects/P1/users/Members/alice").status_code == 200
    status = admin.get(f"{SESSION}/status")
    assert (status.status_code, status.get_data(as_text=True)) == (200, "active")
    assert admin.put(f"{SESSION}?quarantine=true").status_code == 200
    assert admin.get(f"/data/experiments/{eid}/status").get_data(as_text=True) == "quarantine"
    assert alice.get(f"{SESSION}/status").get_data(as_text=True) == "quarantine"
    # only owners change a status (canActivate); the refusal saves nothing, not even the note
    r = alice.put(f"{SESSION}?activate=true&note=changed")
    assert r.status_code == 403 and "activation" in r.get_data(as_text=True)
    assert "note" not in admin.get(f"{SESSION}?format=json").json["items"][0]["data_fields"]
    assert bob.get(f"{SESSION}/status").status_code == 404  # a private project, not told
    assert admin.put(f"{SESSION}?activate=maybe").status_code == 400
    assert admin.put(f"{SESSION}?activate=true").status_code == 200
    assert admin.get(f"{SESSION}/status").get_data(as_text=True) == "active"
    # locked and obsolete need activation too: XNAT answers "quarantine" for any status but active
    assert admin.put(f"{SESSION}?_lock=true").status_code == 200
    assert admin.get(f"{SESSION}/status").get_data(as_text=True) == "quarantine"
    assert admin.put(f"{SESSION}?_unlock=true").status_code == 200
    assert admin.get(f"{SESSION}/status").get_data(as_text=True) == "active"
    assert admin.put(f"{SESSION}/status").status_code == 405
    assert admin.get("/data/projects/P1/subjects/S1/status").status_code == 404  # subjects have none


def test_status_shows_in_search_rows(admin: Api) -> None:
    _tree(admin)
    assert admin.put(f"{SESSION}?quarantine=true").status_code == 200
    bundle = ('<xdat:bundle xmlns:xdat="http://nrg.wustl.edu/security" ID="x" '
              'brief-description="x"><xdat:root_element_name>xnat:mrSessionData</xdat:root_element_name>'
              '<xdat:search_field><xdat:element_name>xnat:mrSessionData</xdat:element_name>'
              '<xdat:field_ID>LABEL</xdat:field_ID><xdat:sequence>0</xdat:sequence></xdat:search_field>'
              '</xdat:bundle>')
    r = admin.post("/data/search?format=json", data=bundle, content_type="text/xml")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert [row["quarantine_status"] for row in r.json["ResultSet"]["Result"]] == ["quarantine"]


def test_a_project_quarantine_code_quarantines_what_is_saved(admin: Api) -> None:
    """ExperimentResource.handlePut: quarantine code 1 quarantines each saved experiment;
    activate=true in the same request is applied after it (postSaveManageStatus)."""
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    assert admin.put("/data/projects/P1/quarantine_code/1").status_code == 200
    assert admin.get("/data/projects/P1/quarantine_code").get_data(as_text=True) == "1"
    _tree(admin)
    assert admin.get(f"{SESSION}/status").get_data(as_text=True) == "quarantine"
    assert admin.put(f"{SESSION}?activate=true").status_code == 200
    assert admin.get(f"{SESSION}/status").get_data(as_text=True) == "active"
    assert admin.put(f"{SESSION}?note=edited").status_code == 200  # saved again: quarantined again
    assert admin.get(f"{SESSION}/status").get_data(as_text=True) == "quarantine"


def test_status_survives_a_restart_and_older_stores(tmp_path: Path) -> None:
    app = XNATApp(data_dir=tmp_path / "d", users=USERS)
    admin = Api(app, ("admin", "admin"))
    _tree(admin)
    assert admin.put(f"{SESSION}?quarantine=true").status_code == 200
    app.close()
    again = XNATApp(data_dir=tmp_path / "d", users=USERS)
    try:
        assert Api(again, ("admin", "admin")).get(f"{SESSION}/status").get_data(as_text=True) == "quarantine"
    finally:
        again.close()


@pytest.mark.parametrize("value", ["active", "quarantined"])
def test_client_status_property(served: tuple[str, XNATApp], value: str) -> None:
    """``experiment.status`` with xnatpy's names (our client sends what xnatpy 0.8.1 sends)."""
    import xnat
    url, app = served
    _tree(Api(app, ("admin", "admin")))
    with xnat.connect(url, user="admin", password="admin") as session:
        experiment = session.projects["P1"].experiments["E1"]
        assert experiment.status == "active"
        experiment.status = value
        assert experiment.status == ("active" if value == "active" else "quarantine")


# -- /xapi/siteConfig: SiteConfigApi; XNAT keeps preferences in its database ------------------
def test_site_config_values_survive_a_restart(tmp_path: Path) -> None:
    app = XNATApp(data_dir=tmp_path / "d", users=USERS)
    admin = Api(app, ("admin", "admin"))
    assert admin.post("/xapi/siteConfig", json={"adminEmail": "a@site.org", "siteDescriptionType": "Text"}) \
        .status_code == 200
    assert admin.post("/xapi/siteConfig/siteHome", data='"/home"', content_type="application/json").status_code == 200
    app.close()
    again = XNATApp(data_dir=tmp_path / "d", users=USERS)
    try:
        api = Api(again, ("alice", "alice"))
        config = api.get("/xapi/siteConfig").json
        assert (config["adminEmail"], config["siteDescriptionType"], config["siteHome"]) == \
            ("a@site.org", "Text", "/home")
        assert api.get("/xapi/siteConfig/adminEmail").get_data(as_text=True) == "a@site.org"
        # a refused write (one unknown key) sets none of the others
        assert Api(again, ("admin", "admin")).post(
            "/xapi/siteConfig", json={"adminEmail": "b@site.org", "siteId": "X"}).status_code == 400
        assert api.get("/xapi/siteConfig/adminEmail").get_data(as_text=True) == "a@site.org"
    finally:
        again.close()


def test_project_settings_survive_a_restart(tmp_path: Path) -> None:
    """ProjectResource: ``PUT /data/projects/P/prearchive_code/{0|4|5}``, ``/quarantine_code/{0|1}``."""
    app = XNATApp(data_dir=tmp_path / "d", users=USERS)
    admin = Api(app, ("admin", "admin"))
    assert admin.put("/data/projects/P1").status_code == 201
    assert admin.get("/data/projects/P1/prearchive_code").get_data(as_text=True) == "0"
    assert admin.put("/data/projects/P1/prearchive_code/4").status_code == 200
    assert admin.put("/data/projects/P1/quarantine_code/1").status_code == 200
    assert admin.put("/data/projects/P1/prearchive_code/9").status_code == 400
    app.close()
    again = XNATApp(data_dir=tmp_path / "d", users=USERS)
    try:
        api = Api(again, ("admin", "admin"))
        assert api.get("/data/projects/P1/prearchive_code").get_data(as_text=True) == "4"
        assert api.get("/data/projects/P1/quarantine_code").get_data(as_text=True) == "1"
    finally:
        again.close()


# -- /xapi/users: XNAT's UsersApi (NrgXnat/xnat-web src/main/java/org/nrg/xapi/rest/users) -----
def test_a_user_updates_its_own_account(app: XNATApp, alice: Api, bob: Api) -> None:
    """UsersApi.update: e-mail, and the password only with the current one; names are ignored."""
    r = alice.put("/xapi/users/update", json={"email": "alice@x.org", "firstName": "Ignored"})
    assert r.status_code == 200 and (r.json["email"], r.json["firstName"]) == ("alice@x.org", "")
    assert alice.put("/xapi/users/update", json={"firstName": "Still ignored"}).status_code == 304
    assert alice.put("/xapi/users/update", json={"password": "new"}).status_code == 400
    assert alice.put("/xapi/users/update", json={"password": "new", "currentPassword": "wrong"}).status_code == 400
    assert Api(app, ("alice", "alice")).get("/data/auth").status_code == 200  # refused: nothing changed
    assert alice.put("/xapi/users/update", json={"password": "new", "currentPassword": "alice"}).status_code == 200
    assert Api(app, ("alice", "new")).get("/data/auth").status_code == 200
    assert bob.put("/xapi/users/update", json={"email": "not-an-email"}).status_code == 400
    assert Api(app, None).put("/xapi/users/update", json={"email": "x@y.z"}).status_code == 401


def test_profiles_username_roles_and_groups(admin: Api, alice: Api, bob: Api) -> None:
    assert admin.put("/data/projects/P1").status_code == 201
    assert admin.put("/data/projects/P1/users/Members/alice").status_code == 200
    profiles = admin.get("/xapi/users/profiles").json
    assert {p["username"] for p in profiles} == {"admin", "alice", "bob"}
    assert all(p["verified"] and p["enabled"] for p in profiles)
    assert alice.get("/xapi/users/profiles").status_code == 403
    assert alice.get("/xapi/users/profile").json["username"] == "alice"
    assert alice.get("/xapi/users/profile/bob").status_code == 403
    assert admin.get("/xapi/users/profile/bob").json["username"] == "bob"
    assert bob.get("/xapi/users/username").get_data(as_text=True) == "bob"
    assert admin.get("/xapi/users/roles").json == ["Administrator"]
    assert admin.get("/xapi/users/rolemap").json == {"Administrator": ["admin"]}
    assert alice.get("/xapi/users/roles").status_code == 403
    assert admin.get("/xapi/users/admin/roles").json == ["Administrator"]
    assert alice.get("/xapi/users/alice/roles").json == []
    assert alice.get("/xapi/users/alice/groups").json == ["P1_member"]
    assert admin.get("/xapi/users/admin/groups").json == ["P1_owner"]  # the creator owns P1
    assert bob.get("/xapi/users/alice/groups").status_code == 403  # another user's groups
    assert admin.get("/xapi/users/ghost/groups").status_code == 404


def test_an_unverified_account_does_not_sign_in(app: XNATApp, admin: Api, bob: Api) -> None:
    assert admin.get("/xapi/users/bob/verified").json is True
    assert bob.put("/xapi/users/bob/verified/false").status_code == 403
    assert admin.put("/xapi/users/bob/verified/no").status_code == 400
    assert admin.put("/xapi/users/bob/verified/false").status_code == 200
    assert admin.get("/xapi/users/bob/verified").json is False
    assert Api(app, ("bob", "bob")).get("/data/auth").status_code == 401
    assert admin.put("/xapi/users/bob/verified/true").status_code == 200
    assert Api(app, ("bob", "bob")).get("/data/auth").status_code == 200
    r = admin.post("/xapi/users", json={"username": "carol", "password": "c", "verified": False})
    assert r.status_code == 201 and r.json["verified"] is False
    assert Api(app, ("carol", "c")).get("/data/auth").status_code == 401


# -- HEAD: Restlet's handleHead and Spring's implicit HEAD answer as the GET, without a body ----
HEAD_URLS = ["/data/projects", "/data/projects/P1", "/data/projects/P1/subjects", "/data/projects/P1/accessibility",
             "/data/projects/P1/prearchive_code", "/data/projects/P1/users", f"{SESSION}", f"{SESSION}/status",
             f"{SESSION}/scans/1", f"{SESSION}/scans/1/resources/R", f"{SESSION}/scans/1/resources/R/files",
             f"{SESSION}/scans/1/resources/R/files/a.txt", "/data/experiments", "/data/users", "/xapi/siteConfig",
             "/xapi/users/admin", "/xapi/users/profiles", "/data/search/elements", "/data/JSESSION"]


def test_head_answers_as_get_without_a_body(admin: Api, bob: Api) -> None:
    _tree(admin)
    assert admin.put(f"{SESSION}/scans/1?xsiType=xnat:mrScanData").status_code == 201
    assert admin.put(f"{SESSION}/scans/1/resources/R/files/a.txt?inbody=true", data=b"hello").status_code == 200
    for url in HEAD_URLS:
        get, head = admin.get(url), admin.request("HEAD", url)
        assert (head.status_code, head.get_data()) == (get.status_code, b""), url
        assert get.status_code == 200, url
    assert bob.request("HEAD", SESSION).status_code == 404  # a private project: not told, as GET
    assert admin.request("HEAD", f"{SESSION}/scans/9").status_code == 404


# -- issue 15 item 2: round-trip leftovers ----------------------------------------------------
def test_an_alias_keeps_its_source(admin: Api) -> None:
    """xnat.xsd: ``projectData/aliases/alias`` has a ``source`` attribute; an XML round trip keeps it."""
    assert admin.put("/data/projects/P1?alias=A1").status_code == 201
    xml = admin.get("/data/projects/P1?format=xml").get_data(as_text=True)
    assert "<xnat:alias>A1</xnat:alias>" in xml  # none given: none written
    sent = xml.replace("<xnat:alias>A1</xnat:alias>", '<xnat:alias source="legacy">A1</xnat:alias>')
    assert admin.put("/data/projects/P1", data=sent, content_type="text/xml").status_code == 200
    assert admin.get("/data/projects/P1?format=xml").get_data(as_text=True) == sent
    assert admin.put("/data/projects/P1?alias=A1").status_code == 200  # the alias again, no source: kept
    assert 'source="legacy"' in admin.get("/data/projects/P1?format=xml").get_data(as_text=True)
    item = admin.get("/data/projects/A1?format=json").json["items"][0]  # still reached by the alias
    assert item["children"][0]["items"][0]["data_fields"] == {"alias": "A1", "source": "legacy"}


def test_a_project_last_modified_follows_changes(app: XNATApp, admin: Api) -> None:
    assert admin.put("/data/projects/P1").status_code == 201
    row = admin.rows("/data/projects?columns=last_modified,insert_date")[0]
    assert row["last_modified"] == row["insert_date"]  # never changed: the insert date
    for change in ("/data/projects/P1?description=changed", "/data/projects/P1/accessibility/public",
                   "/data/projects/P1/prearchive_code/4"):
        app.backend.store.connection().execute("UPDATE projects SET last_modified=NULL")
        assert admin.put(change).status_code == 200
        stored = app.backend.projects.get("P1")["last_modified"]  # type: ignore[index]
        assert stored and admin.rows("/data/projects?columns=last_modified")[0]["last_modified"] == stored, change


# -- issue 15 item 10: locator= and structure= (FileList.handleMultipleCatalogs, representTable) --
def _files_tree(admin: Api) -> None:
    _tree(admin)
    assert admin.put(f"{SESSION}/scans/1?xsiType=xnat:mrScanData&type=T1/MPRAGE").status_code == 201
    assert admin.put(f"{SESSION}/scans/1/resources/DICOM/files/a/b.dcm?inbody=true", data=b"x").status_code == 200
    assert admin.put(f"{SESSION}/resources/NOTES/files/n.txt?inbody=true", data=b"n").status_code == 200


def test_file_listing_locators(app: XNATApp, admin: Api) -> None:
    _files_tree(admin)
    by_uri = admin.rows(f"{SESSION}/files")
    assert by_uri[0]["URI"].endswith("/files/n.txt") and "absolutePath" not in by_uri[0]
    absolute = admin.rows(f"{SESSION}/files?locator=absolutePath")[0]
    assert "URI" not in absolute and Path(absolute["absolutePath"]).read_bytes() == b"n"
    project = admin.rows(f"{SESSION}/scans/1/resources/DICOM/files?locator=projectPath")[0]["projectPath"]
    assert project.startswith("P1/arc001/") and project.endswith("/a/b.dcm")
    assert (app.files.root / project).read_bytes() == b"x"
    header = admin.get(f"{SESSION}/files?locator=projectPath&format=csv").get_data(as_text=True).splitlines()[0]
    assert header.split(",")[2] == "projectPath"
    assert admin.get(f"{SESSION}/files?locator=nowhere").status_code == 400


def _names(api: Api, url: str) -> list[str]:
    import io
    import tarfile
    import zipfile
    r = api.get(url)
    assert r.status_code == 200, r.get_data(as_text=True)
    if "format=zip" in url:
        return sorted(zipfile.ZipFile(io.BytesIO(r.get_data())).namelist())
    return sorted(tarfile.open(fileobj=io.BytesIO(r.get_data())).getnames())


def test_archive_structures(admin: Api) -> None:
    _files_tree(admin)
    eid = admin.rows("/data/experiments")[0]["ID"]
    scans = f"{SESSION}/scans/ALL/files?format=zip"
    assert _names(admin, scans) == ["E1/scans/1/resources/DICOM/files/a/b.dcm"]
    assert _names(admin, scans + "&structure=default") == ["E1/scans/1/resources/DICOM/files/a/b.dcm"]
    assert _names(admin, scans + "&structure=simplified") == ["E1/scans/1/DICOM/a/b.dcm"]
    # getImprovedPath: the scan's folder carries its type, with file-name-unsafe characters as _
    assert _names(admin, scans + "&structure=improved") == ["scans/1_T1_MPRAGE/DICOM/a/b.dcm"]
    assert _names(admin, f"{SESSION}/scans/ALL/files?format=tar.gz&structure=improved") == \
        ["scans/1/DICOM/a/b.dcm"]  # tar names stay short: no type
    scan_pk = admin.rows(f"{SESSION}/scans")[0]["xnat_imagescandata_id"]  # this server's scan folder
    assert _names(admin, scans + "&structure=legacy") == [f"{eid}/SCANS/{scan_pk}/DICOM/a/b.dcm"]
    assert _names(admin, f"{SESSION}/files?format=zip&structure=improved") == ["resources/NOTES/n.txt"]
    assert admin.get(scans + "&structure=flat").status_code == 400


# -- /DIR and /XAR: DIRResource -----------------------------------------------------------------
def test_session_folder_dir_and_xar(app: XNATApp, admin: Api, bob: Api) -> None:
    import io
    import zipfile
    _files_tree(admin)
    eid = admin.rows("/data/experiments")[0]["ID"]
    top = admin.rows(f"/data/experiments/{eid}/DIR")
    assert [(r["Name"], r["DIR"]) for r in top] == [("RESOURCES/", "true"), ("SCANS/", "true")]
    assert top[0]["URI"] == f"/data/experiments/{eid}/DIR/RESOURCES/"
    every = admin.rows("/data/projects/P1/experiments/E1/DIR?recursive=true")
    assert [r["Name"] for r in every] == ["RESOURCES/NOTES/n.txt", f"SCANS/{_scan_pk(admin)}/DICOM/a/b.dcm"]
    assert [r["Name"] for r in admin.rows(f"/data/experiments/{eid}/DIR/SCANS/*/DICOM")] == ["a/"]
    assert admin.get(f"/data/experiments/{eid}/DIR/RESOURCES/NOTES/n.txt").get_data() == b"n"
    assert admin.get(f"/data/experiments/{eid}/DIR/RESOURCES/%2E%2E/x").status_code == 400
    assert admin.get(f"/data/experiments/{eid}/DIR/nothing*").status_code == 404
    zipped = zipfile.ZipFile(io.BytesIO(admin.get(f"/data/experiments/{eid}/DIR/RESOURCES?format=zip").get_data()))
    assert zipped.namelist() == ["E1/RESOURCES/NOTES/n.txt"]
    before = set(Path(tempfile_dir()).glob(".xar-*.xml"))
    xar = admin.get(f"/data/experiments/{eid}/XAR")
    assert xar.headers["Content-Disposition"] == 'attachment; filename="E1.xar"'
    names = zipfile.ZipFile(io.BytesIO(xar.get_data())).namelist()
    assert names[0] == f"{eid}.xml" and sorted(names[1:]) == ["E1/RESOURCES/NOTES/n.txt",
                                                              f"E1/SCANS/{_scan_pk(admin)}/DICOM/a/b.dcm"]
    assert b"<xnat:MRSession" in zipfile.ZipFile(io.BytesIO(xar.get_data())).read(f"{eid}.xml")
    assert bob.get(f"/data/experiments/{eid}/DIR").status_code == 404  # a private project, not told
    assert admin.put(f"/data/experiments/{eid}/DIR").status_code == 405
    assert admin.put(f"{SESSION}/assessors/QC?xsiType=xnat:qcAssessmentData").status_code == 201
    assert admin.get(f"{SESSION}/assessors/QC/DIR").status_code == 400  # subject assessors only
    assert set(Path(tempfile_dir()).glob(".xar-*.xml")) <= before  # the XAR's document was removed


def _scan_pk(admin: Api) -> str:
    return admin.rows(f"{SESSION}/scans")[0]["xnat_imagescandata_id"]


def tempfile_dir() -> str:
    import tempfile
    return tempfile.gettempdir()


# -- imports that name no project: the Unassigned prearchive (PrearcUtils.COMMON) --------------
@pytest.fixture(scope="module")
def case001_zip(reference: Path) -> bytes:
    from tests.services.conftest import zip_folder
    return zip_folder(reference / "dicom" / "Case001")


def test_an_import_with_no_project_lands_in_the_unassigned_prearchive(admin: Api, alice: Api,
                                                                      case001_zip: bytes) -> None:
    assert admin.put("/data/projects/P1").status_code == 201
    assert admin.put("/data/projects/P1/users/Members/alice").status_code == 200
    r = alice.post("/data/services/import", data=case001_zip, headers={"Content-Type": "application/zip"})
    assert r.status_code == 200, r.get_data(as_text=True)
    uri = r.get_data(as_text=True).strip()
    assert uri.startswith("/data/prearchive/projects/Unassigned/") and uri.endswith("/Case001")
    assert alice.rows("/data/prearchive/projects") == []  # only admins see the Unassigned prearchive
    assert alice.get("/data/prearchive/projects/Unassigned").status_code == 404
    assert alice.get(uri + "?format=json").status_code == 404
    rows = admin.rows("/data/prearchive/projects/Unassigned")
    assert [(row["project"], row["name"], row["status"]) for row in rows] == [("Unassigned", "Case001", "READY")]
    # an admin moves it into a project, where its members archive it
    src = uri.removeprefix("/data")
    assert admin.post(f"/data/services/prearchive/move?src={src}&newProject=P1&async=false").status_code == 200
    moved = alice.rows("/data/prearchive/projects/P1")
    assert len(moved) == 1 and admin.rows("/data/prearchive/projects/Unassigned") == []
    r = alice.post(f"/data/services/archive?src={moved[0]['url']}")
    assert r.status_code == 200 and "/projects/P1/" in r.get_data(as_text=True)


# -- CSRF: SecureAction.isCsrfTokenOk (REST-NOTES §3) ----------------------------------------------
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}


def test_csrf_token_on_browser_writes_that_ride_a_session(app: XNATApp, admin: Api) -> None:
    from werkzeug.test import Client
    assert admin.put("/data/projects/P1").status_code == 201
    browser = Client(app)
    login = browser.post("/login", data={"username": "admin", "password": "admin"})
    assert login.status_code == 302
    sid, token = browser.get("/data/JSESSION?CSRF=true").get_data(as_text=True).split("; XNAT_CSRF=")
    assert browser.get("/data/JSESSION?CSRF=true").get_data(as_text=True) == f"{sid}; XNAT_CSRF={token}"
    refused = browser.put("/data/projects/P1?description=x", headers=BROWSER)
    assert refused.status_code == 403 and "XNAT_CSRF" in refused.get_data(as_text=True)
    assert browser.put("/data/projects/P1?description=x&XNAT_CSRF=wrong", headers=BROWSER).status_code == 403
    assert "description" not in admin.get("/data/projects/P1?format=json").json["items"][0]["data_fields"]
    assert browser.put(f"/data/projects/P1?description=x&XNAT_CSRF={token}", headers=BROWSER).status_code == 200
    assert browser.get("/data/projects/P1?format=json", headers=BROWSER).status_code == 200  # reads: no token
    # exempt: other clients riding the same session, a Java client, Basic credentials from a browser
    assert browser.put("/data/projects/P1?description=y", headers={"User-Agent": "python-requests/2.32"}) \
        .status_code == 200
    assert browser.put("/data/projects/P1?description=y", headers={"User-Agent": "Mozilla/5.0 Java/17"}) \
        .status_code == 200
    fresh = Api(app, ("admin", "admin"))  # no session yet: this write rides Basic credentials
    assert fresh.put("/data/projects/P1?description=z", headers=BROWSER).status_code == 200
    # the site setting turns it off
    assert admin.post("/xapi/siteConfig", json={"enableCsrfToken": False}).status_code == 200
    assert browser.put("/data/projects/P1?description=w", headers=BROWSER).status_code == 200


def test_real_clients_never_need_the_token(served: tuple[str, XNATApp]) -> None:
    """pyxnat and xnatpy ride a session after logging in; their User-Agents are not browsers."""
    import xnat
    url, _ = served
    with xnat.connect(url, user="admin", password="admin") as session:
        session.put("/data/projects/PC")
        assert "PC" in session.projects


# -- the user cache (UserCacheResource) and import src= (Importer.retrievePrestoreFile) -------------
CACHE = "/data/user/cache/resources"


def test_user_cache_is_each_users_own(admin: Api, alice: Api, bob: Api, anon: Api) -> None:
    assert alice.rows(CACHE) == []
    assert alice.put(f"{CACHE}/up").status_code == 200
    assert alice.put(f"{CACHE}/up").status_code == 412  # exists
    assert alice.put(f"{CACHE}/up/files/a/b.txt?inbody=true", data=b"hello").status_code == 200
    assert alice.put(f"{CACHE}/new/files/c.txt", data=b"c").status_code == 200  # the folder is made
    assert [r["Resource"] for r in alice.rows(CACHE)] == ["new", "up"]
    assert [(r["Name"], r["Size"], r["URI"]) for r in alice.rows(f"{CACHE}/up/files")] == \
        [("a/b.txt", "5", f"{CACHE}/up/files/a/b.txt")]
    assert alice.get(f"{CACHE}/up/files/a/b.txt").get_data() == b"hello"
    assert bob.rows(CACHE) == [] and bob.get(f"{CACHE}/up/files/a/b.txt").status_code == 404  # bob's own
    assert anon.get(CACHE).status_code == 401
    assert alice.put(f"{CACHE}/up/files/..%2F..%2Fx?inbody=true", data=b"x").status_code == 400
    assert alice.put(f"{CACHE}/up/files/empty.txt").status_code == 400
    assert alice.delete(f"{CACHE}/up/files/a/b.txt,nope.txt").status_code == 404  # all or nothing
    assert alice.get(f"{CACHE}/up/files/a/b.txt").status_code == 200
    assert alice.delete(f"{CACHE}/up/files/a/b.txt").status_code == 200
    assert alice.delete(f"{CACHE}/new").status_code == 200
    assert alice.get(f"{CACHE}/new").status_code == 404


def test_import_from_the_user_cache(admin: Api, alice: Api, bob: Api, case001_zip: bytes) -> None:
    assert admin.put("/data/projects/P1").status_code == 201
    assert admin.put("/data/projects/P1/users/Members/alice").status_code == 200
    assert alice.put(f"{CACHE}/upload/files/case.zip", data=case001_zip).status_code == 200
    r = alice.post("/data/services/import?project=P1&src=/user/cache/resources/upload/files/case.zip")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "/projects/P1/" in r.get_data(as_text=True)
    assert [e["label"] for e in alice.rows("/data/projects/P1/experiments")] == ["Case001"]
    # another user's cache is not reachable: the name resolves in the caller's own
    assert admin.put("/data/projects/P1/users/Members/bob").status_code == 200
    r = bob.post("/data/services/import?project=P1&src=/user/cache/resources/upload/files/case.zip")
    assert r.status_code == 404 and "Unknown src file" in r.get_data(as_text=True)
    assert alice.post("/data/services/import?project=P1&src=/elsewhere/case.zip").status_code == 400


# -- import-handler=inbox (DicomInboxImporter) and /xapi/dicom/{id} ------------------------------
def _inbox_copy(app: XNATApp, reference: Path, where: str) -> Path:
    import shutil
    target = app.data_dir / "inbox" / where
    shutil.copytree(reference / "dicom" / "Case001", target)
    return target


def test_inbox_import(app: XNATApp, admin: Api, alice: Api, bob: Api, reference: Path, tmp_path: Path) -> None:
    assert admin.put("/data/projects/P1").status_code == 201
    assert admin.put("/data/projects/P1/users/Members/alice").status_code == 200
    inbox = Path(admin.get("/xapi/siteConfig").json["inboxPath"])
    assert inbox == app.data_dir / "inbox"
    source = _inbox_copy(app, reference, "P1/case1")
    r = alice.post(f"/data/services/import?import-handler=inbox&path={source}&PROJECT_ID=P1&EXPT_LABEL=MR1"
                   "&cleanupAfterImport=false")
    assert r.status_code == 200, r.get_data(as_text=True)
    uri = r.get_data(as_text=True).strip()
    assert uri.startswith("/xapi/dicom/")
    request = alice.get(uri).json
    assert (request["status"], request["username"], request["sessionPath"]) == ("Completed", "alice", str(source))
    assert request["parameters"]["PROJECT_ID"] == "P1" and request["cleanupAfterImport"] is False
    assert [e["label"] for e in alice.rows("/data/projects/P1/experiments")] == ["MR1"]
    assert source.is_dir()  # cleanupAfterImport=false keeps it
    assert bob.get(uri).status_code == 403 and admin.get(uri).status_code == 200
    again = alice.post(f"/data/services/import?import-handler=inbox&path={source}&PROJECT_ID=P1&EXPT_LABEL=MR1")
    assert again.status_code == 409
    # the default removes the imported folder
    r = alice.post(f"/data/services/import?import-handler=inbox&path={source}&PROJECT_ID=P1&EXPT_LABEL=MR2")
    assert r.status_code == 200 and not source.exists()
    assert alice.get(r.get_data(as_text=True).strip()).json["status"] == "Completed"


def test_inbox_import_refuses_what_xnat_refuses(app: XNATApp, admin: Api, alice: Api, bob: Api, reference: Path,
                                                tmp_path: Path) -> None:
    assert admin.put("/data/projects/P1").status_code == 201
    assert admin.put("/data/projects/P2").status_code == 201
    assert admin.put("/data/projects/P1/users/Members/alice").status_code == 200
    source = _inbox_copy(app, reference, "P1/case1")
    outside = tmp_path / "outside"
    outside.mkdir()
    (app.data_dir / "inbox" / "P1" / "link").symlink_to(outside)
    base = "/data/services/import?import-handler=inbox"
    for query in ("", f"&path={outside}&PROJECT_ID=P1", f"&path={source}/../../../..&PROJECT_ID=P1",
                  f"&path={app.data_dir}/inbox/P1/link&PROJECT_ID=P1", f"&path={source}&PROJECT_ID=P2"):
        r = alice.post(base + query)
        assert r.status_code == 400, query
    assert bob.post(f"{base}&path={source}&PROJECT_ID=P1").status_code == 400  # bob edits neither project
    (source.parent / "notes.txt").write_text("x")
    r = alice.post(f"{base}&path={source.parent / 'notes.txt'}&PROJECT_ID=P1")
    assert r.status_code == 400 and "archive extension" in r.get_data(as_text=True)
    assert source.is_dir() and alice.rows("/data/projects/P1/experiments") == []  # nothing imported, nothing lost


# -- import-handler=XAR (XarImporter): what GET .../XAR makes goes back in --------------------------
def test_xar_round_trip(admin: Api, alice: Api, bob: Api) -> None:
    import io
    import zipfile
    _files_tree(admin)
    eid = admin.rows("/data/experiments")[0]["ID"]
    assert admin.put(f"{SESSION}?note=kept").status_code == 200
    xar = admin.get(f"/data/experiments/{eid}/XAR").get_data()
    document = zipfile.ZipFile(io.BytesIO(xar)).read(f"{eid}.xml").decode()
    assert 'URI="SCANS/' in document  # resource paths relative to the session folder, as XNAT writes them
    # back in under a new label (the label is the document's: rename it in the document)
    moved = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xar)) as source, zipfile.ZipFile(moved, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name.endswith(".xml"):
                data = data.replace(b'label="E1"', b'label="E1_COPY"')
            target.writestr(name, data)
    assert admin.put("/data/projects/P1/users/Members/alice").status_code == 200
    r = alice.post("/data/services/import?import-handler=XAR", data=moved.getvalue(),
                   headers={"Content-Type": "application/zip"})
    assert r.status_code == 200, r.get_data(as_text=True)
    new_id = r.get_data(as_text=True).strip().rsplit("/", 1)[1]
    assert new_id != eid  # the document's ID is taken here: a new one
    copy = admin.get(f"/data/experiments/{new_id}?format=json").json["items"][0]["data_fields"]
    assert (copy["label"], copy["note"], copy["project"]) == ("E1_COPY", "kept", "P1")
    assert admin.get(f"/data/experiments/{new_id}/scans/1/resources/DICOM/files/a/b.dcm").get_data() == b"x"
    assert admin.get(f"/data/experiments/{new_id}/resources/NOTES/files/n.txt").get_data() == b"n"
    # the same again: the label is in use, and nothing is left behind
    before = len(admin.rows("/data/experiments"))
    assert alice.post("/data/services/import?import-handler=XAR", data=moved.getvalue()).status_code == 409
    assert len(admin.rows("/data/experiments")) == before
    assert bob.post("/data/services/import?import-handler=XAR", data=moved.getvalue()).status_code == 404
    assert alice.post("/data/services/import?import-handler=XAR", data=b"not a zip").status_code == 400
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as target:
        target.writestr("E1/x.txt", b"x")
    r = alice.post("/data/services/import?import-handler=XAR", data=empty.getvalue())
    assert r.status_code == 400 and "xml document" in r.get_data(as_text=True)


# -- includeHistory / includeHeaders: ItemJSONBuilder.convert --------------------------------------
def test_include_history_and_headers(admin: Api) -> None:
    _tree(admin)
    assert admin.put(f"{SESSION}?note=first").status_code == 200
    assert admin.put(f"{SESSION}?note=first").status_code == 200  # no change: no version
    assert admin.put(f"{SESSION}?note=second&label=E1B").status_code == 200
    plain = admin.get("/data/projects/P1/experiments/E1B?format=json").json
    assert len(plain["items"]) == 1 and "headers" not in plain
    items = admin.get("/data/projects/P1/experiments/E1B?format=json&includeHistory=true").json["items"]
    assert [i["meta"]["isHistory"] for i in items] == [False, True, True]
    assert [(i["data_fields"]["label"], i["data_fields"].get("note")) for i in items] == \
        [("E1B", "second"), ("E1", "first"), ("E1", None)]  # newest first
    assert all(i["meta"]["start_date"] and i["meta"]["end_date"] for i in items[1:])
    with_headers = admin.get("/data/projects/P1/experiments/E1B?format=json&includeHeaders=true").json
    assert {"ID", "label", "note"} <= set(with_headers["headers"])
    assert all("headers" in child for child in with_headers["items"][0]["children"])
    assert admin.get("/data/projects/P1/experiments/E1B?format=json&includeHistory=maybe").status_code == 400
    assert admin.delete("/data/projects/P1/experiments/E1B").status_code == 200
    assert admin.put("/data/projects/P1/subjects/S1/experiments/E1B?xsiType=xnat:mrSessionData").status_code == 201
    again = admin.get("/data/projects/P1/experiments/E1B?format=json&includeHistory=true").json["items"]
    assert len(again) == 1  # a deleted item's versions went with it


def test_require_login_is_the_sites_setting(app: XNATApp, admin: Api, anon: Api) -> None:
    """XnatSecureGuard: no credentials are let in as the guest only when requireLogin is off."""
    assert admin.put("/data/projects/PUB?accessibility=public").status_code == 201
    assert admin.put("/data/projects/PRIV").status_code == 201
    assert anon.get("/data/projects").status_code == 401
    assert admin.post("/xapi/siteConfig", json={"requireLogin": False}).status_code == 200
    assert [r["ID"] for r in anon.rows("/data/projects")] == ["PUB"]  # the guest sees public data only
    assert anon.put("/data/projects/PUB?description=x").status_code in (401, 403)
    assert admin.post("/xapi/siteConfig/requireLogin", data="true").status_code == 200
    assert anon.get("/data/projects").status_code == 401
