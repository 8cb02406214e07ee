"""Projects: create/update/delete, listing, accessibility, roles and what outsiders get."""

from __future__ import annotations

from .conftest import Api


def test_put_creates_then_updates(admin: Api) -> None:
    r = admin.put("/data/projects/P1?name=First&description=d1&secondary_ID=F1&pi_lastname=Curie")
    assert (r.status_code, r.text) == (201, "P1")
    r = admin.put("/data/projects/P1?description=d2")
    assert (r.status_code, r.text) == (200, "P1")
    row = admin.rows("/data/projects")[0]
    assert row == {"ID": "P1", "secondary_ID": "F1", "name": "First", "description": "d2",
                   "pi_firstname": "", "pi_lastname": "Curie", "URI": "/data/projects/P1"}
    item = admin.get("/data/projects/P1?format=json").json["items"][0]
    assert item["data_fields"]["ID"] == "P1" and item["meta"]["xsi:type"] == "xnat:projectData"


def test_post_xml_creates_project(admin: Api) -> None:
    body = (b'<xnat:Project xmlns:xnat="http://nrg.wustl.edu/xnat" ID="PX" secondary_ID="PX2">'
            b"<xnat:name>From XML</xnat:name></xnat:Project>")
    r = admin.post("/data/projects", data=body, content_type="text/xml")
    assert r.status_code == 200 and r.text == "/data/projects/PX"
    assert admin.rows("/data/projects?ID=PX")[0]["name"] == "From XML"
    assert admin.post("/data/projects", data=body, content_type="text/xml").status_code == 409


def test_malformed_xml_is_422_and_writes_nothing(admin: Api) -> None:
    r = admin.put("/data/projects/PBAD", data=b"<xnat:Project <<", content_type="text/xml")
    assert r.status_code == 422
    assert admin.rows("/data/projects") == []


def test_project_id_mismatch_and_bad_characters(admin: Api) -> None:
    body = b'<xnat:Project xmlns:xnat="http://nrg.wustl.edu/xnat" ID="OTHER"/>'
    assert admin.put("/data/projects/P1", data=body, content_type="text/xml").status_code == 417
    assert admin.put("/data/projects/bad%20id").status_code == 417


def test_name_clash_is_409_and_deleted_id_is_403(admin: Api) -> None:
    admin.put("/data/projects/P1?name=Same")
    assert admin.put("/data/projects/P2?name=Same").status_code == 409
    assert admin.delete("/data/projects/P1").status_code == 200
    assert admin.get("/data/projects/P1?format=json").status_code == 404
    assert admin.put("/data/projects/P1").status_code == 403


def test_aliases_address_the_project(admin: Api) -> None:
    admin.put("/data/projects/P1?alias=ONE")
    assert admin.get("/data/projects/ONE?format=json").json["items"][0]["data_fields"]["ID"] == "P1"
    assert admin.put("/data/projects/P2?alias=ONE").status_code == 409


def test_listing_formats_sort_and_paging(admin: Api) -> None:
    for pid in ("PB", "PA", "PC"):
        admin.put(f"/data/projects/{pid}")
    assert [r["ID"] for r in admin.rows("/data/projects?sortBy=ID&sortOrder=DESC")] == ["PC", "PB", "PA"]
    assert [r["ID"] for r in admin.rows("/data/projects?sortBy=ID&limit=2&offset=1")] == ["PB", "PC"]
    assert [r["ID"] for r in admin.rows("/data/projects?ID=P*&columns=ID&sortBy=ID")] == ["PA", "PB", "PC"]
    csv = admin.get("/data/projects?format=csv&columns=ID,name&sortBy=ID")
    assert csv.mimetype == "text/csv"
    assert csv.text.splitlines()[0] == "ID,name,URI"
    xml = admin.get("/data/projects?format=xml")
    assert xml.status_code == 200 and b"<ResultSet" in xml.data
    assert admin.get("/data/projects?format=html").mimetype == "text/html"


def test_bad_listing_parameters_are_400(admin: Api) -> None:
    admin.put("/data/projects/P1")
    assert admin.get("/data/projects?format=pdf").status_code == 400
    assert admin.get("/data/projects?limit=abc").status_code == 400
    assert admin.get("/data/projects?offset=-1").status_code == 400
    # an unknown column alias is dropped, as XNAT does
    assert admin.rows("/data/projects?columns=ID,nonsense") == [{"ID": "P1", "URI": "/data/projects/P1"}]


def test_private_project_hidden_and_refused(admin: Api, alice: Api) -> None:
    admin.put("/data/projects/PRIV")
    admin.put("/data/projects/PRIV/subjects/S1")
    assert alice.rows("/data/projects") == []
    assert alice.get("/data/projects/PRIV?format=json").status_code == 404
    assert alice.get("/data/projects/PRIV/subjects").status_code == 404
    assert alice.put("/data/projects/PRIV/subjects/S2").status_code == 404


def test_protected_project_listed_but_data_refused(admin: Api, alice: Api) -> None:
    admin.put("/data/projects/PROT?accessibility=protected")
    admin.put("/data/projects/PROT/subjects/S1")
    assert [r["ID"] for r in alice.rows("/data/projects")] == ["PROT"]
    assert alice.get("/data/projects/PROT/subjects").status_code == 403
    assert alice.get("/data/projects/PROT?format=json").status_code == 200  # the description only
    sid = admin.rows("/data/projects/PROT/subjects")[0]["ID"]
    assert alice.get(f"/data/subjects/{sid}?format=json").status_code == 403
    assert alice.rows("/data/subjects") == []


def test_public_project_readable_not_writable(admin: Api, alice: Api) -> None:
    admin.put("/data/projects/PUB?accessibility=public")
    admin.put("/data/projects/PUB/subjects/S1")
    assert len(alice.rows("/data/projects/PUB/subjects")) == 1
    assert alice.put("/data/projects/PUB/subjects/S2").status_code == 403
    assert alice.delete("/data/projects/PUB/subjects/S1").status_code == 403


def test_roles_owner_member_collaborator(admin: Api, alice: Api, bob: Api) -> None:
    assert alice.put("/data/projects/AP").status_code == 201  # the creator owns it
    assert admin.get("/data/projects/AP/accessibility").text == "private"
    assert bob.get("/data/projects/AP?format=json").status_code == 404
    assert alice.put("/data/projects/AP/users/Collaborators/bob").status_code == 200
    assert bob.rows("/data/projects/AP/subjects") == []
    assert bob.put("/data/projects/AP/subjects/S1").status_code == 403
    assert alice.put("/data/projects/AP/users/Members/bob").status_code == 200
    assert bob.put("/data/projects/AP/subjects/S1").status_code == 201
    assert bob.put("/data/projects/AP?name=mine").status_code == 403  # only owners edit the project
    assert bob.put("/data/projects/AP/users/Owners/bob").status_code == 403
    roles = {r["login"]: r["role"] for r in alice.rows("/data/projects/AP/users")}
    assert roles == {"alice": "owner", "bob": "member"}
    assert alice.delete("/data/projects/AP/users/Members/bob").status_code == 200
    assert bob.get("/data/projects/AP/subjects").status_code == 404
    assert alice.put("/data/projects/AP/users/Wizards/bob").status_code == 404
    assert alice.put("/data/projects/AP/users/Members/ghost").status_code == 404


def test_accessibility_routes(admin: Api, alice: Api) -> None:
    admin.put("/data/projects/P1")
    assert admin.put("/data/projects/P1/accessibility/public").text == "public"
    assert alice.get("/data/projects/P1/accessibility").text == "public"
    assert admin.put("/data/projects/P1/accessibility/secret").status_code == 400
    assert alice.put("/data/projects/P1/accessibility/private").status_code == 403
    assert admin.put("/data/projects/P2?accessibility=nonsense").status_code == 400


def test_owner_filters(admin: Api, alice: Api) -> None:
    alice.put("/data/projects/MINE")
    admin.put("/data/projects/OTHER?accessibility=public")
    assert [r["ID"] for r in alice.rows("/data/projects?owner=true")] == ["MINE"]
    assert sorted(r["ID"] for r in alice.rows("/data/projects?accessible=true")) == ["MINE", "OTHER"]


def test_set_project_access_api(app, admin: Api, bob: Api) -> None:
    admin.put("/data/projects/P1")
    app.set_project_access("P1", "bob", "member")
    assert bob.put("/data/projects/P1/subjects/S1").status_code == 201
    app.set_project_access("P1", "bob", None)
    assert bob.get("/data/projects/P1/subjects").status_code == 404
    import pytest

    with pytest.raises(ValueError):
        app.set_project_access("P1", "bob", "king")


def test_project_settings(admin: Api, alice: Api) -> None:
    admin.put("/data/projects/P1?accessibility=public")
    assert admin.get("/data/projects/P1/prearchive_code").text == "0"
    assert admin.put("/data/projects/P1/prearchive_code/4").status_code == 200
    assert alice.get("/data/projects/P1/prearchive_code").text == "4"
    assert admin.put("/data/projects/P1/prearchive_code/9").status_code == 400
    assert alice.put("/data/projects/P1/quarantine_code/1").status_code == 403
    assert admin.get("/data/projects/P1/current_arc").text == "arc001"
