"""Writes in the archive: 201/200, fields, XML bodies, relabel, share, custom variables, DELETE."""

from __future__ import annotations

from .conftest import Api

MR = ("<xnat:MRSession xmlns:xnat=\"http://nrg.wustl.edu/xnat\" label=\"XMR\">"
      "<xnat:date>2021-05-06</xnat:date><xnat:fieldStrength>7T</xnat:fieldStrength></xnat:MRSession>")


def _setup(admin: Api) -> None:
    assert admin.put("/data/projects/P1").status_code == 201
    assert admin.put("/data/projects/P1/subjects/S1").status_code == 201


def test_create_201_then_update_200_with_id_body(admin: Api) -> None:
    _setup(admin)
    r = admin.put("/data/projects/P1/subjects/S1?gender=female")
    assert (r.status_code, r.text) == (200, "XNAT_S00001")
    demographics = admin.get("/data/subjects/XNAT_S00001?format=json").json["items"][0]["children"][0]
    assert demographics["field"] == "demographics"
    assert demographics["items"][0]["data_fields"]["gender"] == "female"
    url = "/data/projects/P1/subjects/S1/experiments/E1"
    assert admin.put(f"{url}?xsiType=xnat:mrSessionData").status_code == 201
    r = admin.put(f"{url}?xnat:mrSessionData/fieldStrength=1.5&req_format=qs")
    assert (r.status_code, r.text) == (200, "XNAT_E00001")
    assert admin.rows("/data/experiments?columns=xnat:mrSessionData/fieldStrength")[0][
        "xnat:mrsessiondata/fieldstrength"] == "1.5"


def test_experiment_from_xml_body(admin: Api) -> None:
    _setup(admin)
    r = admin.put("/data/projects/P1/subjects/S1/experiments/XMR", data=MR.encode(), content_type="text/xml")
    assert r.status_code == 201
    row = admin.rows("/data/experiments?columns=ID,label,date,xnat:mrSessionData/fieldStrength")[0]
    assert (row["label"], row["date"], row["xnat:mrsessiondata/fieldstrength"]) == ("XMR", "2021-05-06", "7T")
    # query parameters override the body
    r = admin.put("/data/projects/P1/subjects/S1/experiments/XMR?xnat:mrSessionData/fieldStrength=3T",
                  data=MR.encode(), content_type="application/xml")
    assert r.status_code == 200
    assert admin.rows("/data/experiments?columns=xnat:mrSessionData/fieldStrength")[0][
        "xnat:mrsessiondata/fieldstrength"] == "3T"


def test_malformed_xml_body_is_422(admin: Api) -> None:
    _setup(admin)
    r = admin.put("/data/projects/P1/subjects/S1/experiments/BAD", data=b"<xnat:MRSession", content_type="text/xml")
    assert r.status_code == 422 and r.mimetype == "text/plain"
    evil = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<xnat:MRSession xmlns:xnat="http://nrg.wustl.edu/xnat" label="&e;"/>')
    assert admin.put("/data/projects/P1/subjects/S1/experiments/BAD", data=evil,
                     content_type="text/xml").status_code == 422
    assert admin.rows("/data/experiments") == []


def test_missing_type_bad_type_bad_field_bad_value(admin: Api) -> None:
    _setup(admin)
    url = "/data/projects/P1/subjects/S1/experiments/E1"
    assert admin.put(url).status_code == 417  # no type resolvable
    assert admin.put(f"{url}?xsiType=xnat:nothingData").status_code == 400
    assert admin.put(f"{url}?xsiType=xnat:subjectData").status_code == 400  # not an experiment
    assert admin.put(f"{url}?xsiType=xnat:mrSessionData&xnat:mrSessionData/noSuchField=1").status_code == 400
    assert admin.put(f"{url}?xsiType=xnat:mrSessionData&date=not-a-date").status_code == 400
    assert admin.put("/data/projects/P1/subjects/S1/experiments/bad%20label?xsiType=xnat:mrSessionData").status_code == 417
    assert admin.rows("/data/experiments") == []


def test_scan_type_change_is_409_and_id_change_400(admin: Api) -> None:
    _setup(admin)
    base = "/data/projects/P1/subjects/S1/experiments/E1"
    eid = admin.put(f"{base}?xsiType=xnat:mrSessionData").text
    assert admin.put(f"{base}/scans/1?xsiType=xnat:mrScanData").status_code == 201
    assert admin.put(f"{base}/scans/1?xsiType=xnat:mrScanData&type=T2").status_code == 200
    r = admin.put(f"{base}/scans/1?xsiType=xnat:ctScanData")
    assert r.status_code == 409 and "differs" in r.text
    assert admin.put(f"{base}?xnat:mrSessionData/ID=OTHER").status_code == 400
    assert admin.put(f"{base}?xnat:mrSessionData/project=P9").status_code == 400
    assert admin.get(f"/data/experiments/{eid}?format=json").status_code == 200


def test_relabel_and_label_clash(admin: Api) -> None:
    _setup(admin)
    admin.put("/data/projects/P1/subjects/S2")
    r = admin.put("/data/projects/P1/subjects/S1?label=S1_NEW")
    assert r.status_code == 200
    assert {x["label"] for x in admin.rows("/data/projects/P1/subjects")} == {"S1_NEW", "S2"}
    r = admin.put("/data/projects/P1/subjects/S1_NEW?label=S2")
    assert r.status_code == 409 and r.text == "Specified label is already in use."


def test_experiment_under_project_needs_subject(admin: Api) -> None:
    _setup(admin)
    assert admin.put("/data/projects/P1/experiments/E9?xsiType=xnat:mrSessionData").status_code == 422
    r = admin.put("/data/projects/P1/experiments/E9?xsiType=xnat:mrSessionData&xnat:mrSessionData/subject_ID=S1")
    assert r.status_code == 201
    assert admin.rows("/data/experiments?columns=ID,subject_ID")[0]["subject_ID"] == "XNAT_S00001"
    r = admin.put("/data/projects/P1/experiments/E10?xsiType=xnat:mrSessionData&xnat:mrSessionData/subject_ID=NOPE")
    assert r.status_code == 404


def test_share_subject_and_experiment(admin: Api) -> None:
    _setup(admin)
    admin.put("/data/projects/P2")
    eid = admin.put("/data/projects/P1/subjects/S1/experiments/E1?xsiType=xnat:mrSessionData").text
    r = admin.put("/data/projects/P1/subjects/S1/projects/P2?label=S1_IN_P2")
    assert r.status_code == 200
    assert admin.rows("/data/projects/P2/subjects")[0]["label"] == "S1_IN_P2"
    assert admin.get("/data/projects/P2/subjects/S1_IN_P2?format=json").status_code == 200
    assert admin.put("/data/projects/P1/subjects/S1/projects/P2").status_code == 409  # already shared
    assert admin.put("/data/projects/P1/subjects/S1/projects/P1").status_code == 409
    # share by PUT of the ID under the other project
    assert admin.put(f"/data/projects/P2/experiments/{eid}?label=E1_P2").status_code == 200
    assert [x["label"] for x in admin.rows("/data/projects/P2/experiments")] == ["E1_P2"]
    item = admin.get(f"/data/experiments/{eid}?format=json").json["items"][0]
    shares = next(c for c in item["children"] if c["field"] == "sharing/share")["items"]
    assert shares[0]["data_fields"] == {"label": "E1_P2", "project": "P2"}
    # DELETE through the shared project only unshares
    assert admin.delete("/data/projects/P2/experiments/E1_P2").status_code == 200
    assert admin.rows("/data/projects/P2/experiments") == []
    assert len(admin.rows("/data/projects/P1/experiments")) == 1
    assert admin.delete("/data/projects/P1/subjects/S1/projects/P2").status_code == 200
    assert admin.rows("/data/projects/P2/subjects") == []
    assert admin.delete("/data/projects/P1/subjects/S1/projects/P2").status_code == 404


def test_share_needs_write_access_to_target(admin: Api, alice: Api) -> None:
    alice.put("/data/projects/AP")
    alice.put("/data/projects/AP/subjects/S1")
    admin.put("/data/projects/ADMINS")
    assert alice.put("/data/projects/AP/subjects/S1/projects/ADMINS").status_code == 404


def test_primary_share_moves_ownership(admin: Api) -> None:
    _setup(admin)
    admin.put("/data/projects/P2")
    eid = admin.put("/data/projects/P1/subjects/S1/experiments/E1?xsiType=xnat:mrSessionData").text
    r = admin.put("/data/projects/P1/subjects/S1/experiments/E1/projects/P2?primary=true&label=MOVED")
    assert r.status_code == 200
    assert admin.rows(f"/data/experiments?ID={eid}&columns=ID,project")[0]["project"] == "P2"


def test_custom_variables(admin: Api) -> None:
    _setup(admin)
    url = "/data/projects/P1/subjects/S1/experiments/E1"
    admin.put(f"{url}?xsiType=xnat:mrSessionData")
    r = admin.put(f"{url}?xnat:mrSessionData/fields/field[name%3Dsite]/field=Leiden")  # as requests encodes it
    assert r.status_code == 200
    item = admin.get(f"{url}?format=json").json["items"][0]
    custom = next(c for c in item["children"] if c["field"] == "fields/field")["items"]
    assert custom[0]["data_fields"] == {"field": "Leiden", "name": "site"}


def test_delete_cascades_and_404_after(admin: Api, session_tree: dict[str, str]) -> None:
    eid = session_tree["experiment"]
    assert admin.delete("/data/projects/P1/subjects/S1?removeFiles=true").status_code == 200
    assert admin.get(f"/data/experiments/{eid}?format=json").status_code == 404
    assert admin.rows("/data/experiments") == []
    assert admin.app.store.one("SELECT COUNT(*) FROM files")[0] == 0
    assert not list((admin.app.data_dir / "archive").rglob("b.txt"))
    assert admin.delete("/data/projects/P1/subjects/S1").status_code == 404


def test_delete_without_remove_files_keeps_disk(admin: Api, session_tree: dict[str, str]) -> None:
    assert admin.delete(f"/data/experiments/{session_tree['experiment']}/scans/1").status_code == 200
    assert admin.app.store.one("SELECT COUNT(*) FROM files")[0] == 0
    assert list((admin.app.data_dir / "archive").rglob("b.txt"))
    assert admin.delete(f"/data/experiments/{session_tree['experiment']}?removeFiles=maybe").status_code == 400


def test_member_writes_collaborator_cannot(admin: Api, alice: Api, bob: Api) -> None:
    alice.put("/data/projects/AP")
    alice.put("/data/projects/AP/users/Collaborators/bob")
    alice.put("/data/projects/AP/subjects/S1")
    assert bob.put("/data/projects/AP/subjects/S1?gender=male").status_code == 403
    assert bob.delete("/data/projects/AP/subjects/S1").status_code == 403
    assert bob.put("/data/projects/AP/subjects/S1/resources/R").status_code == 403
    assert len(bob.rows("/data/projects/AP/subjects")) == 1


def test_global_put_of_unknown_id_is_refused(admin: Api) -> None:
    assert admin.put("/data/subjects/NEW?xsiType=xnat:subjectData").status_code == 400
    assert admin.put("/data/experiments/NEW?xsiType=xnat:mrSessionData").status_code == 400


def test_subtype_predicate_in_xpath_is_understood(admin: Api) -> None:
    _setup(admin)
    key = "xnat:subjectData/demographics[@xsi:type%3Dxnat:demographicData]/gender"
    assert admin.put(f"/data/projects/P1/subjects/S1?{key}=female").status_code == 200
    assert admin.rows("/data/projects/P1/subjects?columns=ID,gender")[0]["gender"] == "female"


def test_xml_document_with_children(admin: Api) -> None:
    _setup(admin)
    subject = (b'<xnat:Subject xmlns:xnat="http://nrg.wustl.edu/xnat" '
               b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" label="S9">'
               b'<xnat:demographics xsi:type="xnat:demographicData"><xnat:gender>male</xnat:gender>'
               b"</xnat:demographics></xnat:Subject>")
    assert admin.put("/data/projects/P1/subjects/S9", data=subject, content_type="text/xml").status_code == 201
    assert admin.rows("/data/projects/P1/subjects?label=S9&columns=gender")[0]["gender"] == "male"
    session = (b'<xnat:MRSession xmlns:xnat="http://nrg.wustl.edu/xnat" '
               b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" label="M">'
               b'<xnat:fields><xnat:field name="site">A</xnat:field></xnat:fields>'
               b'<xnat:scans><xnat:scan ID="3" type="T1" xsi:type="xnat:mrScanData">'
               b"<xnat:quality>usable</xnat:quality></xnat:scan></xnat:scans></xnat:MRSession>")
    url = "/data/projects/P1/subjects/S9/experiments/M"
    assert admin.put(f"{url}?inbody=true", data=session).status_code == 201
    scans = admin.rows(f"{url}/scans")
    assert [(s["ID"], s["type"], s["quality"]) for s in scans] == [("3", "T1", "usable")]
    item = admin.get(f"{url}?format=json").json["items"][0]
    custom = next(c for c in item["children"] if c["field"] == "fields/field")["items"]
    assert custom[0]["data_fields"] == {"field": "A", "name": "site"}
    changed = session.replace(b"xnat:mrScanData", b"xnat:ctScanData")
    assert admin.put(f"{url}?inbody=true", data=changed).status_code == 409
    assert admin.rows(f"{url}/scans")[0]["xsiType"] == "xnat:mrScanData"  # nothing half-applied


def test_member_of_share_project_adds_experiment_to_shared_subject(admin: Api, bob: Api) -> None:
    _setup(admin)
    admin.put("/data/projects/P2")
    admin.put("/data/projects/P2/users/Members/bob")
    admin.put("/data/projects/P1/subjects/S1/projects/P2?label=S1_P2")
    r = bob.put("/data/projects/P2/subjects/S1_P2/experiments/MINE?xsiType=xnat:mrSessionData")
    assert r.status_code == 201
    assert [x["project"] for x in bob.rows("/data/projects/P2/experiments")] == ["P2"]
    assert bob.put("/data/projects/P2/subjects/S1_P2?gender=male").status_code == 403  # owned by P1
