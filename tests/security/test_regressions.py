"""One test per access hole found under attack, so that none of them comes back.

Each test names the hole it closes. The world is the one of ``conftest.py``: users owner,
member, collab, outsider (and the guest) with their roles in PRIV, PROT and PUB; SRC is a
private project of the admin's; ``D_<user>`` a private project that user owns.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from .conftest import MR, World

QC = "xnat:qcAssessmentData"


def _rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, (response.status_code, response.text)
    return list(response.json["ResultSet"]["Result"])


# -- taking objects by ID ----------------------------------------------------------------------
def test_an_id_from_a_private_project_cannot_be_shared_in(world: World) -> None:
    victim = world.tree("PRIV")
    outsider = world.callers["outsider"]
    r = outsider.put(f"/data/projects/D_outsider/subjects/{victim.subject}")
    # the subject is not there for the outsider: the PUT made a new subject under that label
    assert r.status_code == 201 and r.text != victim.subject
    assert not world.app.backend.archive.is_shared("subject", victim.subject, "D_outsider")
    assert outsider.get(f"/data/subjects/{victim.subject}?format=json").status_code == 404


def test_an_id_from_a_private_project_cannot_be_moved_in_with_primary(world: World) -> None:
    victim = world.tree("PRIV")
    outsider = world.callers["outsider"]
    outsider.put(f"/data/projects/D_outsider/experiments/{victim.session}?primary=true")
    assert world.app.backend.archive.find("experiment", victim.session, None)["project"] == "PRIV"
    url = f"/data/experiments/{victim.session}/scans/1/resources/DICOM/files/a.txt"
    assert outsider.get(url).status_code == 404
    assert outsider.delete(f"/data/experiments/{victim.session}").status_code == 404
    assert world.callers["owner"].get(url).data == b"scan data"  # the real owner still has it


def test_sharing_needs_create_rights_in_the_destination(world: World) -> None:
    tree = world.tree("PUB")
    member = world.callers["member"]
    assert member.put(f"/data/projects/PUB/subjects/{tree.subject}/projects/D_outsider").status_code == 404
    assert member.put(f"/data/projects/PUB/subjects/{tree.subject}/projects/PROT").status_code == 200  # a member there
    assert world.callers["collab"].put(f"/data/projects/PUB/subjects/{tree.subject}/projects/D_collab").status_code == 200


# -- collaborators read only ---------------------------------------------------------------------
def test_a_collaborator_cannot_move_then_delete(world: World) -> None:
    tree = world.tree("PRIV")
    collab = world.callers["collab"]
    r = collab.put(f"/data/projects/PRIV/experiments/{tree.session}/projects/D_collab?primary=true")
    assert r.status_code == 403
    assert world.app.backend.archive.find("experiment", tree.session, None)["project"] == "PRIV"
    assert collab.delete(f"/data/projects/PRIV/experiments/{tree.session}").status_code == 403
    assert world.exists(f"/data/experiments/{tree.session}")


def test_a_collaborator_cannot_share_private_data_into_a_public_project_it_owns(fresh_world: World) -> None:
    w = fresh_world
    tree = w.tree("PRIV")
    w.ok(w.admin.put("/data/projects/D_collab/accessibility/public"))
    collab, guest = w.callers["collab"], w.callers["guest"]
    assert collab.put(f"/data/projects/PRIV/subjects/{tree.subject}/projects/D_collab").status_code == 403
    assert collab.put(f"/data/projects/PRIV/experiments/{tree.session}/projects/D_collab").status_code == 403
    assert collab.put(f"/data/projects/D_collab/experiments/{tree.session}").status_code == 403  # by ID
    url = f"/data/projects/D_collab/experiments/{tree.session}/scans/1/resources/DICOM/files/a.txt"
    assert guest.get(url).status_code == 404


# -- listings filter by access ---------------------------------------------------------------------
def _spread(w: World) -> tuple[str, str, str, str]:
    """A public subject and session, with an experiment and an assessor that live in SRC (private)."""
    tree = w.tree("PUB")
    w.ok(w.admin.put(f"/data/projects/PUB/subjects/{tree.subject}/projects/SRC"))
    w.ok(w.admin.put(f"/data/projects/PUB/experiments/{tree.session}/projects/SRC"))
    n = w.next()
    hidden_exp = w.ok(w.admin.put(f"/data/projects/SRC/subjects/{tree.subject}/experiments/H{n}?xsiType={MR}")).text
    hidden_qc = w.ok(w.admin.put(f"/data/projects/SRC/experiments/{tree.session}/assessors/HQC{n}?xsiType={QC}")).text
    return tree.subject, tree.session, hidden_exp, hidden_qc


def test_a_subjects_experiments_leave_out_private_projects(world: World) -> None:
    subject, _, hidden, _ = _spread(world)
    for role in ("outsider", "guest", "collab"):
        caller = world.callers[role]
        listing = caller.get(f"/data/projects/PUB/subjects/{subject}/experiments").text
        item = caller.get(f"/data/subjects/{subject}?format=json").text
        everything = caller.get("/data/experiments").text
        assert hidden not in listing and hidden not in item and hidden not in everything, role
    assert hidden in world.admin.get(f"/data/projects/PUB/subjects/{subject}/experiments").text


def test_a_sessions_assessors_leave_out_private_projects(world: World) -> None:
    _, session, _, hidden = _spread(world)
    for role in ("outsider", "guest"):
        caller = world.callers[role]
        assert hidden not in caller.get(f"/data/projects/PUB/experiments/{session}/assessors").text
        assert hidden not in caller.get(f"/data/experiments/{session}?format=json").text
    assert hidden in world.admin.get(f"/data/experiments/{session}/assessors").text


def test_share_listings_and_sharing_blocks_do_not_name_private_projects(world: World) -> None:
    subject, session, _, _ = _spread(world)
    outsider = world.callers["outsider"]
    for url in (f"/data/projects/PUB/subjects/{subject}/projects", f"/data/subjects/{subject}?format=json",
                f"/data/experiments/{session}?format=json", f"/data/experiments/{session}?format=xml"):
        assert "SRC" not in outsider.get(url).text, url
    assert "SRC" in world.admin.get(f"/data/projects/PUB/subjects/{subject}/projects").text


def test_search_element_counts_count_only_readable_rows(fresh_world: World) -> None:
    def count(role: str, element: str) -> int:
        rows = _rows(fresh_world.callers[role].get("/data/search/elements?format=json"))
        return int(next(r["COUNT"] for r in rows if r["ELEMENT_NAME"] == element))
    # one session per project: PRIV, PROT, PUB; the admin reads all, a guest PUB only
    assert count("admin", MR) == 3 and count("owner", MR) == 3
    assert count("outsider", MR) == 1 and count("guest", MR) == 1
    assert count("guest", "xnat:subjectData") == 1 and count("guest", "xnat:mrScanData") == 1


def test_a_protected_projects_item_hides_its_resources_from_outsiders(world: World) -> None:
    outsider = world.callers["outsider"]
    r = outsider.get("/data/projects/PROT?format=json")
    assert r.status_code == 200 and '"PR"' not in r.text and "PROT/resources" not in r.text
    assert outsider.get("/data/projects/PROT/resources").status_code == 403
    assert '"PR"' in world.callers["collab"].get("/data/projects/PROT?format=json").text


def test_refreshing_the_catalog_of_a_shared_subject_needs_edit_rights_in_its_own_project(world: World) -> None:
    tree = world.shared_tree("PRIV")  # SRC's subject, shared into PRIV where member edits
    member = world.callers["member"]
    r = member.post(f"/data/services/refresh/catalog?resource=/archive/projects/PRIV/subjects/{tree.subject}")
    assert r.status_code == 403
    own = world.trees["PRIV"]
    r = member.post(f"/data/services/refresh/catalog?resource=/archive/projects/PRIV/subjects/{own.subject}")
    assert r.status_code == 200


def test_a_new_experiment_under_a_shared_subject_belongs_to_the_urls_project(world: World) -> None:
    tree = world.shared_tree("PRIV")
    member = world.callers["member"]
    r = member.put(f"/data/projects/PRIV/subjects/{tree.subject}/experiments/MINE{world.next()}?xsiType={MR}")
    assert r.status_code == 201
    assert world.app.backend.archive.find("experiment", r.text, None)["project"] == "PRIV"
    collab = world.callers["collab"]  # read only in PRIV
    assert collab.put(f"/data/projects/PRIV/subjects/{tree.subject}/experiments/C1?xsiType={MR}").status_code == 403


# -- members do not delete -----------------------------------------------------------------------
def test_members_create_and_edit_but_do_not_delete(world: World) -> None:
    member = world.callers["member"]
    for project in ("PRIV", "PROT", "PUB"):
        tree = world.tree(project)
        assert member.put(f"/data/projects/{project}/subjects/{tree.subject}?gender=male").status_code == 200
        files = f"/data/experiments/{tree.session}/scans/1/resources/DICOM/files/a.txt"
        for url in (files, f"/data/experiments/{tree.session}/scans/1",
                    f"/data/projects/{project}/experiments/{tree.session}",
                    f"/data/projects/{project}/subjects/{tree.subject}"):
            assert member.delete(url).status_code == 403, url
            assert world.exists(url), url
        assert world.callers["owner"].delete(f"/data/projects/{project}/subjects/{tree.subject}").status_code == 200


# -- projects: aliases and answers that do not tell existence ---------------------------------------
def test_an_alias_cannot_take_another_projects_id_nor_the_reverse(fresh_world: World) -> None:
    w = fresh_world
    owner = w.callers["owner"]
    assert owner.put("/data/projects/NEWP?alias=PRIV").status_code == 409  # an existing ID
    w.ok(owner.put("/data/projects/AP?alias=FUTURE"))
    assert owner.put("/data/projects/BP?alias=FUTURE").status_code == 409  # an alias in use
    body = "<xnat:Project xmlns:xnat='http://nrg.wustl.edu/xnat' ID='FUTURE'/>"
    assert owner.post("/data/projects", data=body, content_type="text/xml").status_code == 409  # ID = alias
    outsider = w.callers["outsider"]
    assert outsider.put("/data/projects/FUTURE?description=mine").status_code == 404  # AP is private to it
    assert w.admin.get("/data/projects/AP?format=json").json["items"][0]["data_fields"].get("description", "") == ""


def test_put_on_a_hidden_project_answers_as_get_does(world: World) -> None:
    for role in ("outsider", "guest"):
        caller = world.callers[role]
        assert caller.get("/data/projects/PRIV").status_code == 404
        assert caller.put("/data/projects/PRIV?description=x").status_code == 404
        assert caller.delete("/data/projects/PRIV").status_code == 404
        assert caller.put("/data/projects/PRIV/accessibility/public").status_code == 404
    assert world.callers["outsider"].put("/data/projects/PROT?description=x").status_code == 403  # seen, not owned


# -- refused where XNAT allows ------------------------------------------------------------------------
def test_an_assessor_on_a_session_shared_into_your_project(world: World) -> None:
    tree = world.shared_tree("PRIV")
    member = world.callers["member"]
    r = member.put(f"/data/projects/PRIV/experiments/{tree.session}/assessors/QC{world.next()}?xsiType={QC}")
    assert r.status_code == 201
    assert world.app.backend.archive.find("experiment", r.text, None)["project"] == "PRIV"
    assert r.text in member.get(f"/data/projects/PRIV/experiments/{tree.session}/assessors").text


def test_relabelling_a_shared_subject_in_the_project_it_is_shared_into(world: World) -> None:
    tree = world.shared_tree("PRIV")
    member = world.callers["member"]
    assert member.put(f"/data/projects/PRIV/subjects/{tree.subject}?label=THERE").status_code == 200
    assert world.app.backend.archive.share_label("subject", tree.subject, "PRIV") == "THERE"
    assert world.app.backend.archive.find("subject", tree.subject, None)["label"] == tree.subject_label  # own stays
    # the share route relabels too, as XNAT's does
    r = member.put(f"/data/projects/SRC/subjects/{tree.subject}/projects/PRIV?label=AGAIN")
    assert r.status_code == 404  # SRC is private to the member: it reaches the subject through PRIV only
    r = member.put(f"/data/projects/PRIV/subjects/{tree.subject}/projects/PRIV?label=AGAIN")
    assert r.status_code == 200 and world.app.backend.archive.share_label("subject", tree.subject, "PRIV") == "AGAIN"
    # its fields stay the owner's to edit
    assert member.put(f"/data/projects/PRIV/subjects/{tree.subject}?gender=male").status_code == 403
    assert world.callers["collab"].put(f"/data/projects/PRIV/subjects/{tree.subject}?label=NOPE").status_code == 403


def test_the_share_route_relabels_an_existing_share(world: World) -> None:
    tree = world.shared_tree("PRIV")
    r = world.callers["owner"].put(f"/data/subjects/{tree.subject}/projects/PRIV?label=BYSHARE")
    assert r.status_code == 200, r.text
    assert world.app.backend.archive.share_label("subject", tree.subject, "PRIV") == "BYSHARE"


def test_a_guest_searches_public_data(world: World) -> None:
    from .test_grid import SEARCH
    guest = world.callers["guest"]
    r = guest.post("/data/search?format=json", data=SEARCH, content_type="text/xml")
    found = {row["subjectid"] for row in _rows(r)}
    assert world.trees["PUB"].subject in found
    assert not found & {world.trees["PRIV"].subject, world.trees["PROT"].subject}


def test_import_with_overwrite_delete_needs_delete_rights(world: World, reference: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((reference / "dicom" / "Case001").rglob("*")):
            if path.is_file():
                archive.write(path, path.name)
    body, query = buffer.getvalue(), "project=PRIV&subject=IMP&session=IMP_MR"
    headers = {"Content-Type": "application/zip"}
    member = world.callers["member"]
    assert member.post(f"/data/services/import?{query}", data=body, headers=headers).status_code == 200
    r = member.post(f"/data/services/import?{query}&overwrite=delete", data=body, headers=headers)
    assert r.status_code == 403, r.text  # it would drop the session's scans
    r = world.callers["owner"].post(f"/data/services/import?{query}&overwrite=delete", data=body, headers=headers)
    assert r.status_code == 200, r.text


# -- what a share makes readable, and nothing more -------------------------------------------------
def test_objects_shared_into_a_readable_project_are_listed_and_others_are_not(world: World) -> None:
    tree = world.shared_tree("PRIV")  # SRC (private, no roles) shared into PRIV
    for role, expected in (("collab", True), ("member", True), ("outsider", False), ("guest", False)):
        caller = world.callers[role]
        for url, key in (("/data/subjects", tree.subject), ("/data/experiments", tree.session),
                         (f"/data/projects/PRIV/subjects/{tree.subject}/experiments", tree.session),
                         (f"/data/subjects/{tree.subject}?format=json", tree.session)):
            r = caller.get(url)
            assert (r.status_code == 200 and key in r.text) is expected, (role, url)
    counts = {r["ELEMENT_NAME"]: int(r["COUNT"])
              for r in _rows(world.callers["collab"].get("/data/search/elements?format=json"))}
    assert counts[MR] >= 4  # PRIV, PROT, PUB's sessions and SRC's, shared into PRIV


def test_sharing_blocks_name_the_projects_the_caller_sees(world: World) -> None:
    tree = world.tree("PUB")
    for project in ("PROT", "SRC"):
        world.ok(world.admin.put(f"/data/projects/PUB/subjects/{tree.subject}/projects/{project}"))
    outsider = world.callers["outsider"]
    for url in (f"/data/projects/PUB/subjects/{tree.subject}/projects", f"/data/subjects/{tree.subject}?format=json"):
        text = outsider.get(url).text
        assert "PROT" in text and "SRC" not in text, url  # protected projects are seen by all
