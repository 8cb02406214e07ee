"""import-handler=XAR with the other documents XNAT's XarImporter takes: scans, reconstructions or
image assessors of one existing session, with their files; one kind and one session per XAR;
a session the user may not read is one that does not exist; anything refused leaves nothing."""

from __future__ import annotations

import io
import zipfile

import pytest

from xnat.testing.app import XNATApp

from .conftest import Api

NS = ('xmlns:xnat="http://nrg.wustl.edu/xnat" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')
XAR = "/data/services/import?import-handler=XAR"


def _xar(documents: dict[str, str], files: dict[str, bytes]) -> bytes:
    """A XAR: documents at the top, files in one container folder (as GET .../XAR lays it out)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in documents.items():
            archive.writestr(name, text)
        for name, data in files.items():
            archive.writestr(f"content/{name}", data)
    return buffer.getvalue()


def _scan(scan_id: str, session: str, scan_type: str = "T2", resource: str = "DICOM") -> str:
    return (f'<xnat:MRScan {NS} ID="{scan_id}" type="{scan_type}"><xnat:image_session_ID>{session}'
            f'</xnat:image_session_ID><xnat:file xsi:type="xnat:resourceCatalog" label="{resource}"'
            f' URI="{scan_id}/{resource}/{resource}_catalog.xml"/></xnat:MRScan>')


def _assessor(label: str, session: str, project: str = "P1") -> str:
    project_attr = f' project="{project}"' if project else ""
    return (f'<xnat:QCAssessment {NS} label="{label}"{project_attr}><xnat:resources><xnat:resource'
            f' xsi:type="xnat:resourceCatalog" label="QC" URI="{label}/QC/QC_catalog.xml"/></xnat:resources>'
            f'<xnat:imageSession_ID>{session}</xnat:imageSession_ID></xnat:QCAssessment>')


def _reconstruction(recon_id: str, session: str) -> str:
    return (f'<xnat:ReconstructedImage {NS} ID="{recon_id}" type="MPR"><xnat:out><xnat:file'
            f' xsi:type="xnat:resourceCatalog" label="NII" URI="{recon_id}/NII/NII_catalog.xml"/></xnat:out>'
            f'<xnat:image_session_ID>{session}</xnat:image_session_ID></xnat:ReconstructedImage>')


@pytest.fixture
def eid(session_tree: dict[str, str], admin: Api) -> str:
    assert admin.put("/data/projects/P1/users/Members/alice").status_code == 200
    return session_tree["experiment"]


def _scan_ids(admin: Api, eid: str) -> list[str]:
    return sorted(r["ID"] for r in admin.rows(f"/data/experiments/{eid}/scans"))


def test_scans_of_a_session(app: XNATApp, admin: Api, alice: Api, eid: str) -> None:
    body = _xar({"5.xml": _scan("5", eid), "6.xml": _scan("6", eid, "DWI")},
                {"5/DICOM/a.dcm": b"five", "5/DICOM/DICOM_catalog.xml": b"<catalog/>", "6/DICOM/b.dcm": b"six"})
    r = alice.post(XAR, data=body, headers={"Content-Type": "application/zip"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_data(as_text=True).split("\r\n") == [f"/data/archive/experiments/{eid}/scans/5",
                                                      f"/data/archive/experiments/{eid}/scans/6"]
    assert _scan_ids(admin, eid) == ["1", "5", "6"]
    assert admin.get(f"/data/experiments/{eid}/scans/6?format=json").json["items"][0]["data_fields"]["type"] == "DWI"
    assert admin.get(f"/data/experiments/{eid}/scans/5/resources/DICOM/files/a.dcm").get_data() == b"five"
    assert [f["Name"] for f in admin.rows(f"/data/experiments/{eid}/scans/5/resources/DICOM/files")] == ["a.dcm"]
    # again, with a DICOM resource for scan 5, which has one: XNAT would keep two of one label,
    # this server holds one; refused before anything is written, and nothing of the XAR stays
    again = _xar({"7.xml": _scan("7", eid), "5.xml": _scan("5", eid, "CHANGED")}, {"5/DICOM/a.dcm": b"new"})
    r = alice.post(XAR, data=again)
    assert r.status_code == 409 and "Scan 5 of session" in r.get_data(as_text=True)
    assert "already has resource DICOM" in r.get_data(as_text=True)
    assert _scan_ids(admin, eid) == ["1", "5", "6"]
    assert _scan_type(admin, eid, "5") == "T2"
    assert admin.get(f"/data/experiments/{eid}/scans/5/resources/DICOM/files/a.dcm").get_data() == b"five"


def _scan_type(admin: Api, eid: str, scan_id: str) -> str:
    return str(admin.get(f"/data/experiments/{eid}/scans/{scan_id}?format=json").json["items"][0]["data_fields"]["type"])


def _resources(admin: Api, eid: str, scan_id: str) -> list[str]:
    return sorted(r["label"] for r in admin.rows(f"/data/experiments/{eid}/scans/{scan_id}/resources"))


def test_a_scan_the_session_has_is_updated_and_gets_the_new_resources(admin: Api, alice: Api, eid: str) -> None:
    # XNAT's XarImporter saves each scan document as an item: one whose ID the session has is
    # saved over the stored one (its fields replaced, its resources added), not refused
    first = _xar({"5.xml": _scan("5", eid)}, {"5/DICOM/a.dcm": b"five"})
    assert alice.post(XAR, data=first).status_code == 200
    again = _xar({"5.xml": _scan("5", eid, "CHANGED", "NIFTI"), "7.xml": _scan("7", eid)},
                 {"5/NIFTI/a.nii": b"nii", "7/DICOM/c.dcm": b"seven"})
    r = alice.post(XAR, data=again)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_data(as_text=True).split("\r\n") == [f"/data/archive/experiments/{eid}/scans/5",
                                                      f"/data/archive/experiments/{eid}/scans/7"]
    assert _scan_ids(admin, eid) == ["1", "5", "7"]
    assert _scan_type(admin, eid, "5") == "CHANGED"
    assert _resources(admin, eid, "5") == ["DICOM", "NIFTI"]
    assert admin.get(f"/data/experiments/{eid}/scans/5/resources/DICOM/files/a.dcm").get_data() == b"five"
    assert admin.get(f"/data/experiments/{eid}/scans/5/resources/NIFTI/files/a.nii").get_data() == b"nii"


def test_a_failed_update_puts_the_scan_back(admin: Api, alice: Api, eid: str) -> None:
    first = _xar({"5.xml": _scan("5", eid)}, {"5/DICOM/a.dcm": b"five"})
    assert alice.post(XAR, data=first).status_code == 200
    no_id = _scan("", eid).replace(' ID=""', "")
    bad = _xar({"a.xml": _scan("5", eid, "CHANGED", "NIFTI"), "b.xml": no_id}, {"5/NIFTI/a.nii": b"nii"})
    r = alice.post(XAR, data=bad)
    assert r.status_code == 400 and "has no ID" in r.get_data(as_text=True)
    assert _scan_type(admin, eid, "5") == "T2"
    assert _resources(admin, eid, "5") == ["DICOM"]
    assert _scan_ids(admin, eid) == ["1", "5"]


def test_updating_a_scan_needs_edit_rights(app: XNATApp, admin: Api, alice: Api, bob: Api, eid: str) -> None:
    assert alice.post(XAR, data=_xar({"5.xml": _scan("5", eid)}, {})).status_code == 200
    r = bob.post(XAR, data=_xar({"5.xml": _scan("5", eid, "CHANGED", "NIFTI")}, {"5/NIFTI/a.nii": b"x"}))
    assert r.status_code in (400, 403)  # a session bob may not read does not exist for him
    assert _scan_type(admin, eid, "5") == "T2"


def test_a_reconstruction_and_an_assessor(admin: Api, alice: Api, eid: str) -> None:
    r = alice.post(XAR, data=_xar({"R9.xml": _reconstruction("R9", eid)}, {"R9/NII/x.nii": b"nii"}))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_data(as_text=True) == f"/data/archive/experiments/{eid}/reconstructions/R9"
    assert admin.get(f"/data/experiments/{eid}/reconstructions/R9/out/resources/NII/files/x.nii").get_data() == b"nii"
    r = alice.post(XAR, data=_xar({"qc.xml": _assessor("QC9", eid)}, {"QC9/QC/report.txt": b"ok"}))
    assert r.status_code == 200, r.get_data(as_text=True)
    assessor = r.get_data(as_text=True).rsplit("/", 1)[1]
    row = admin.get(f"/data/experiments/{eid}/assessors/{assessor}?format=json").json["items"][0]["data_fields"]
    assert (row["label"], row["project"], row["imageSession_ID"]) == ("QC9", "P1", eid)
    assert admin.get(f"/data/experiments/{eid}/assessors/{assessor}/resources/QC/files/report.txt").get_data() == b"ok"
    assert alice.post(XAR, data=_xar({"qc.xml": _assessor("QC9", eid)}, {})).status_code == 409  # label in use


@pytest.mark.parametrize(("documents", "status", "reason"), [
    ({"5.xml": "scan", "q.xml": "assessor"}, 400, "Multiple data types cannot share a single XAR"),
    ({"5.xml": "scan", "6.xml": "scan elsewhere"}, 400, "only include data for one imaging session"),
    ({"5.xml": "scan nowhere"}, 400, "must reference a valid Imaging Session"),
    ({"q.xml": "assessor without project"}, 400, "Invalid project tag"),
    ({"5.xml": "scan", "6.xml": "scan without ID"}, 400, "has no ID"),
])
def test_what_is_refused_leaves_nothing(admin: Api, alice: Api, eid: str, documents: dict[str, str], status: int,
                                        reason: str) -> None:
    other = admin.put("/data/projects/P1/subjects/S1/experiments/E2?xsiType=xnat:mrSessionData").text
    made = {"scan": _scan("5", eid), "assessor": _assessor("Q1", eid), "scan elsewhere": _scan("6", other),
            "scan nowhere": _scan("5", "NO_SUCH_SESSION"), "assessor without project": _assessor("Q1", eid, ""),
            "scan without ID": _scan("", eid)}
    r = alice.post(XAR, data=_xar({name: made[what] for name, what in documents.items()}, {"5/DICOM/a.dcm": b"x"}))
    assert r.status_code == status and reason in r.get_data(as_text=True), r.get_data(as_text=True)
    assert _scan_ids(admin, eid) == ["1"] and admin.rows(f"/data/experiments/{eid}/assessors") == []


def test_a_session_the_user_may_not_read_does_not_exist(admin: Api, bob: Api, eid: str) -> None:
    hidden = bob.post(XAR, data=_xar({"5.xml": _scan("5", eid)}, {}))
    missing = bob.post(XAR, data=_xar({"5.xml": _scan("5", "NO_SUCH_SESSION")}, {}))
    assert hidden.status_code == missing.status_code == 400
    assert hidden.get_data(as_text=True) == missing.get_data(as_text=True)
    assert admin.put("/data/projects/P1/users/Collaborators/bob").status_code == 200  # reads, may not edit
    assert bob.post(XAR, data=_xar({"5.xml": _scan("5", eid)}, {})).status_code == 403
    assert bob.post(XAR, data=_xar({"q.xml": _assessor("Q1", eid)}, {})).status_code == 403
    assert _scan_ids(admin, eid) == ["1"]
