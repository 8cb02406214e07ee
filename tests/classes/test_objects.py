"""Objects and listings against the embedded server: reads, writes, identity, reprs, errors."""

from __future__ import annotations

import datetime
import gc
import threading

import pytest

import xnat
from xnat.exceptions import (
    XNATKeyError,
    XNATObjectAlreadyExistsError,
    XNATObjectDestroyedError,
    XNATValueError,
)

from .conftest import RequestCounter


@pytest.fixture()
def big(xnat_server_factory):
    return xnat_server_factory(users=["admin:admin:admin"], populate="projects=1,subjects=10,experiments=100")


def test_label_date_and_type_over_1000_experiments_cost_at_most_3_requests(big) -> None:
    with xnat.connect(big.url, user="admin", password="admin") as session:
        counter = RequestCounter().attach(session)
        experiments = session.projects["PROJ001"].experiments
        values = [(e.label, e.date, e.__xsi_type__) for e in experiments]
        assert len(values) == 1000
        assert values[0] == ("PROJ001_S00001_MR001", datetime.date(2020, 1, 1), "xnat:mrSessionData")
        assert counter.count <= 3, counter.requests
        measured = counter.count
        # The site-wide listing, by ID and by label, the same way.
        counter.reset()
        everything = session.experiments
        assert sum(1 for e in everything if e.label and e.date and e.__xsi_type__) == 1000
        assert everything["PROJ001_S00010_MR100"].id == everything[-1].id
        assert counter.count == 1, counter.requests
    assert measured == 2  # /data/projects, then /data/projects/PROJ001/experiments


def test_objects_are_identity_mapped_without_keeping_everything_alive(big) -> None:
    with xnat.connect(big.url, user="admin", password="admin") as session:
        project = session.projects["PROJ001"]
        assert project is session.projects[0]
        subject = project.subjects["PROJ001_S00001"]
        assert subject is session.subjects[subject.id]
        experiment = subject.experiments[0]
        assert experiment is session.experiments[experiment.id] is project.experiments[experiment.label]
        assert session.create_object(f"/data/experiments/{experiment.id}") is experiment
        assert session.create_object(f"/data/archive/projects/PROJ001/subjects/{subject.id}") is subject
        for item in session.experiments:
            item.label
        del item
        gc.collect()
        # The listing's cached rows hold the objects made for them...
        assert len(session._layer.identity) >= 1000
        # ...until they are forgotten: then only the recently used few stay, and those this test holds.
        session.experiments.clearcache()
        project.experiments.clearcache()
        subject.experiments.clearcache()
        gc.collect()
        alive = len(session._layer.identity)
        assert alive <= 512 + 10, alive
        assert session.experiments[experiment.id] is experiment    # refetched rows find it again


def test_identity_map_is_thread_safe(session) -> None:
    listing = session.experiments
    len(listing)
    session._layer.identity.clear()
    gc.collect()
    found: list[object] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        found.append(listing["PROJ001_S00002_MR002"])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and all(obj is found[0] for obj in found)


def test_reprs_dir_and_completion_make_no_request(session, counter) -> None:
    project = session.projects["PROJ001"]
    experiments = project.experiments
    counter.reset()
    assert repr(experiments) == ("<XNATListing /data/projects/PROJ001/experiments "
                                 "(not loaded: print() it, len() or a loop fetches it)>")
    assert "not loaded" in experiments._repr_html_()
    assert counter.count == 0
    experiment = experiments["PROJ001_S00001_MR001"]
    counter.reset()
    assert repr(experiment) == f"<MrSessionData {experiment.id} (PROJ001_S00001_MR001)>"
    names = dir(experiment)
    assert {"label", "date", "scans", "resources", "download_dir", "field_strength", "share"} <= set(names)
    assert not any(name.startswith("_") and name != "__xsi_type__" for name in names)
    assert counter.count == 0
    text = repr(experiments)
    assert text.startswith(f"<XNATListing ({experiments[0].id}, PROJ001_S00001_MR001): <MrSessionData ")
    assert "PROJ001_S00002_MR002" in experiments._ipython_key_completions_()
    assert experiment.id in experiments._ipython_key_completions_()
    assert "<td>PROJ001_S00001_MR001</td>" in experiments._repr_html_()
    assert counter.count == 0
    scans = experiment.scans
    counter.reset()
    repr(scans), repr(experiment.scans), str(experiment)
    assert counter.count == 0


def test_fields_missing_from_the_row_cost_one_request_then_are_cached(session, counter) -> None:
    scan = session.projects["PROJ001"].experiments["PROJ001_S00001_MR001"].scans["1"]
    counter.reset()
    assert scan.type == "T1w" and scan.id == "1"  # in the listing row
    assert counter.count == 0
    assert scan.image_session_id and scan.project == "PROJ001"  # from the item document
    assert scan.frames is None
    assert counter.count == 1
    assert scan.data["ID"] == "1" and scan.fulldata["meta"]["xsi:type"] == "xnat:mrScanData"
    assert counter.count == 1


def test_set_mset_delete_field_and_relabel(session, populated) -> None:
    project = session.projects["PROJ001"]
    experiment = project.experiments["PROJ001_S00001_MR001"]
    experiment.note = "first note"
    counter = RequestCounter().attach(session)
    experiment.mset(visit_id="V1", acquisition_site="Leiden")
    assert len(counter.requests) == 1 and counter.requests[0].startswith(f"PUT {experiment.uri}?xsiType=")
    assert experiment.subject is project.subjects["PROJ001_S00001"]
    experiment.field_strength = "3.0"
    subject = project.subjects["PROJ001_S00002"]
    subject.label = "renamed"
    with xnat.connect(populated.url, user="admin", password="admin") as other:
        again = other.experiments[experiment.id]
        assert (again.note, again.visit_id, again.acquisition_site, again.field_strength) == (
            "first note", "V1", "Leiden", "3.0")
        assert other.projects["PROJ001"].subjects["renamed"].id == subject.id
    assert experiment.note == "first note" and subject.label == "renamed"
    assert project.subjects["renamed"] is subject


def test_deleting_a_field_clears_it_on_the_server(session) -> None:
    experiment = session.projects["PROJ001"].experiments["PROJ001_S00001_MR001"]
    experiment.note = "temporary"
    del experiment.note
    experiment.clearcache()
    assert experiment.note is None
    subject = session.projects["PROJ001"].subjects["PROJ001_S00001"]
    subject.fields["weight"] = "70"
    del subject.fields["weight"]
    assert "weight" not in subject.fields


def test_nested_objects_and_custom_fields(session, populated) -> None:
    subject = session.projects["PROJ001"].subjects["PROJ001_S00001"]
    subject.demographics.gender = "female"
    subject.demographics.age = 42
    subject.fields["weight"] = "70"
    assert subject.custom_variables["default"]["weight"] == "70"
    with xnat.connect(populated.url, user="admin", password="admin") as other:
        again = other.subjects[subject.id]
        assert again.demographics.gender == "female" and again.demographics.age == 42
        assert dict(again.fields) == {"weight": "70"}
        assert repr(again.demographics).startswith("<DemographicData demographics of <SubjectData")
    with pytest.raises(XNATKeyError, match="no fields/field entry 'height'"):
        subject.fields["height"]


def test_filter_and_tables(session) -> None:
    experiments = session.projects["PROJ001"].experiments
    narrowed = experiments.filter(label="*_MR002")
    assert sorted(e.label for e in narrowed) == ["PROJ001_S00001_MR002", "PROJ001_S00002_MR002"]
    subject = session.projects["PROJ001"].subjects["PROJ001_S00001"]
    session.classes.MrSessionData(parent=subject, label="NEW_MR002")
    assert len(narrowed) == 3  # a filtered listing is refreshed after a create too
    assert len(experiments) == 5
    table = experiments.tabulate(columns=["ID", "label"])
    assert len(table) == 5 and table[0].label == "PROJ001_S00001_MR001"
    assert experiments.tabulate_csv(columns=["label"]).splitlines()[:2] == ["label", "PROJ001_S00001_MR001"]
    assert experiments.keys()[0] == experiments[0].id


def test_share_create_resource_create_assessor(session) -> None:
    session.put("/data/projects/OTHER")
    project = session.projects["PROJ001"]
    subject = project.subjects["PROJ001_S00001"]
    subject.share("OTHER", label="shared_one")
    assert session.create_object("/data/projects/OTHER").subjects["shared_one"].id == subject.id
    seen_in_other = session.create_object("/data/projects/OTHER").subjects["shared_one"]
    assert seen_in_other is not subject and seen_in_other.id == subject.id
    assert (seen_in_other.label, subject.label) == ("shared_one", "PROJ001_S00001")
    assert seen_in_other.uri == f"/data/projects/OTHER/subjects/{subject.id}"
    shares = subject.sharing  # a sub-listing of the subject's document
    assert len(shares) == 1 and shares[0].label == "shared_one" and shares["OTHER"].project == "OTHER"
    assert repr(shares) == "<XNATSubListing sharing/share: 1 items>"
    with pytest.raises(XNATKeyError, match="no entry 'NOPE' in sharing/share"):
        shares["NOPE"]
    experiment = subject.experiments[0]
    resource = experiment.create_resource("NOTES", format="TXT")
    resource.upload_data("some notes", "notes.txt")
    assert experiment.resources["NOTES"].files["notes.txt"].size == len("some notes")
    assessor = experiment.create_assessor("QC1", "xnat:qcAssessmentData")
    assert repr(assessor).startswith("<QcAssessmentData ") and experiment.assessors["QC1"].id == assessor.id


def test_caching_switches(session, counter) -> None:
    project = session.projects["PROJ001"]
    subjects = project.subjects
    len(subjects)
    counter.reset()
    len(subjects), len(project.subjects)
    assert counter.count == 0
    session.clearcache()
    len(project.subjects)
    assert counter.count == 1
    session.caching = False
    len(subjects), len(subjects)
    assert counter.count == 3
    session.caching = True
    subject = subjects[0]
    subject.caching = False
    subject.clearcache()
    counter.reset()
    subject.group, subject.group
    assert counter.count == 2


# --- bad input ------------------------------------------------------------------------------


def test_missing_key_is_a_clear_key_error(session) -> None:
    subjects = session.projects["PROJ001"].subjects
    with pytest.raises(XNATKeyError, match="no entry with ID or label 'PROJ001_S0001' .*did you mean 'PROJ001_S00001'"):
        subjects["PROJ001_S0001"]
    with pytest.raises(KeyError):
        session.projects["NOPE"]
    assert subjects.get("nope") is None
    with pytest.raises(IndexError, match="has 2 entries, no index 5"):
        subjects[5]


def test_a_label_two_objects_share_is_refused_naming_both_ids(session) -> None:
    session.put("/data/projects/P2")
    session.put("/data/projects/P2/subjects/s2")
    session.put("/data/projects/P2/subjects/s2/experiments/PROJ001_S00001_MR001", query={"xsiType": "xnat:mrSessionData"})
    first = session.projects["PROJ001"].experiments["PROJ001_S00001_MR001"].id
    with pytest.raises(XNATKeyError, match=f"several entries .*{first}.*use the ID"):
        session.experiments["PROJ001_S00001_MR001"]
    assert session.experiments[first].label == "PROJ001_S00001_MR001"


def test_values_the_schema_forbids_are_refused_before_any_request(session, counter) -> None:
    subject = session.projects["PROJ001"].subjects["PROJ001_S00001"]
    experiment = subject.experiments[0]
    demographics = subject.demographics
    counter.reset()
    with pytest.raises(XNATValueError, match="gender.*not one of the allowed values"):
        demographics.gender = "splendid"
    with pytest.raises(XNATValueError, match="date.*not a valid xs:date"):
        experiment.date = "yesterday"
    with pytest.raises(XNATValueError, match="has no field 'colour'"):
        experiment.mset(note="fine", colour="red")
    with pytest.raises(XNATValueError, match="label.*not a valid XNAT label"):
        subject.label = "../up"
    assert counter.count == 0


def test_creating_an_existing_label_asks_for_that_label_only_and_writes_nothing(session, counter) -> None:
    project = session.projects["PROJ001"]
    other_subject = project.subjects["PROJ001_S00002"]
    counter.reset()
    # The label belongs to an experiment of another subject in the same project.
    with pytest.raises(XNATObjectAlreadyExistsError, match="PROJ001_S00001_MR001.*already exists"):
        session.classes.MrSessionData(parent=other_subject, label="PROJ001_S00001_MR001")
    assert counter.requests == ["GET /data/projects/PROJ001/experiments/PROJ001_S00001_MR001?format=json"]
    with pytest.raises(XNATObjectAlreadyExistsError, match="subject named 'PROJ001_S00001'"):
        session.classes.SubjectData(parent=project, label="PROJ001_S00001")
    experiment = project.experiments["PROJ001_S00001_MR001"]
    session.classes.ResourceCatalog(parent=experiment, label="R1")
    with pytest.raises(XNATObjectAlreadyExistsError, match="resource labelled 'R1'"):
        session.classes.ResourceCatalog(parent=experiment, label="R1")
    assert not any(line.startswith("PUT") and "PROJ001_S00001_MR001?" in line for line in counter.requests)
    assert len(project.experiments) == 4


def test_bad_creations_send_nothing(session, counter) -> None:
    project = session.projects["PROJ001"]
    subject = project.subjects["PROJ001_S00001"]
    counter.reset()
    with pytest.raises(XNATValueError, match="MrScanData needs a parent that is an image session, not SubjectData"):
        session.classes.MrScanData(parent=subject, id="1", type="T1")
    with pytest.raises(XNATValueError, match="SubjectData needs a parent that is project"):
        session.classes.SubjectData(parent=subject, label="x")
    with pytest.raises(XNATValueError, match="needs label="):
        session.classes.SubjectData(parent=project)
    with pytest.raises(XNATValueError, match="has no field 'colour'"):
        session.classes.SubjectData(parent=project, label="new", colour="red")
    with pytest.raises(XNATValueError, match="date"):
        session.classes.MrSessionData(parent=subject, label="new_mr", date="not a date")
    with pytest.raises(XNATValueError, match="not stored on the server"):
        session.classes.MrSessionData(parent=session.classes.SubjectData(), label="x")
    assert counter.count == 0
    assert "new" not in project.subjects and "new_mr" not in project.experiments


def test_a_deleted_object_cannot_be_used(session, populated) -> None:
    project = session.projects["PROJ001"]
    experiment = project.experiments["PROJ001_S00002_MR002"]
    scan = experiment.scans["1"]
    experiment.delete()
    for action in (lambda: experiment.label, lambda: experiment.scans, lambda: experiment.note,
                   lambda: setattr(experiment, "note", "x"), experiment.delete, lambda: scan.resources):
        with pytest.raises(XNATObjectDestroyedError, match="was deleted"):
            action()
    assert "deleted" in repr(experiment)
    assert "PROJ001_S00002_MR002" not in project.experiments  # listings refreshed
    with xnat.connect(populated.url, user="admin", password="admin") as other:
        assert len(other.projects["PROJ001"].experiments) == 3


def test_create_object_refuses_collections_and_foreign_paths(session) -> None:
    with pytest.raises(XNATValueError, match="is a collection"):
        session.create_object("/data/projects")
    with pytest.raises(XNATValueError, match="REST path"):
        session.create_object("http://elsewhere/data/projects/P")


def test_server_answers_404_for_a_missing_resource(session) -> None:
    experiment = session.projects["PROJ001"].experiments["PROJ001_S00001_MR001"]
    response = session.get(f"{experiment.uri}/resources/NOPE", format="json", accepted_status=[404, 500])
    assert response.status_code == 404


def test_create_project_subject_via_listing_and_reconstruction(session) -> None:
    project = session.classes.ProjectData(parent=session, id="NEWP", name="New project")
    assert repr(project) == "<ProjectData NEWP (New project)>" and session.projects["New project"] is project
    subject = session.classes.SubjectData(parent=project.subjects, label="via_listing")
    assert subject.parent is project and project.subjects["via_listing"] is subject
    experiment = session.classes.MrSessionData(parent=subject, label="e1", date="2021-02-03")
    assert experiment.date == datetime.date(2021, 2, 3) and experiment.subject is subject
    reconstruction = session.classes.ReconstructedImageData(parent=experiment, id="rec1", type="T1")
    assert experiment.reconstructions["rec1"] is reconstruction and reconstruction.type == "T1"
    with pytest.raises(XNATObjectAlreadyExistsError, match="project named 'NEWP'"):
        session.classes.ProjectData(parent=session, id="NEWP")
    with pytest.raises(XNATValueError, match="cannot be changed"):
        experiment.id = "OTHER"


def test_local_objects_never_touch_the_network(session, counter) -> None:
    counter.reset()
    scan = session.classes.MrScanData(id="5", type="T2")
    assert (scan.id, scan.type, repr(scan)) == ("5", "T2", "<MrScanData (not stored)>")
    with pytest.raises(XNATValueError, match="not stored on a server"):
        scan.delete()
    assert counter.count == 0


def test_scan_parameters_are_a_simple_listing(session, counter) -> None:
    scan = session.projects["PROJ001"].experiments["PROJ001_S00001_MR001"].scans["1"]
    params = scan.parameters.add_param
    assert dict(params) == {}
    counter.reset()
    with pytest.raises(XNATValueError, match="cannot be the name of a field"):
        params["a/b"] = "1"
    assert counter.count == 0


def test_scan_parameters_round_trip(session) -> None:
    scan = session.projects["PROJ001"].experiments["PROJ001_S00001_MR001"].scans["1"]
    scan.parameters.add_param["te"] = "5"
    scan.clearcache()
    assert scan.parameters.add_param["te"] == "5"


def test_single_nested_parts_read_from_the_flattened_root(session) -> None:
    # XNAT writes a single nested part into its root's data_fields ("parameters/tr").
    scan = session.projects["PROJ001"].experiments["PROJ001_S00001_MR001"].scans["1"]
    session.put(scan.fulluri, query={"xsiType": "xnat:mrScanData", "xnat:mrScanData/parameters/tr": "2300.5"})
    scan.clearcache()
    assert scan.fulldata["data_fields"]["parameters/tr"] == 2300.5
    assert scan.parameters.tr == 2300.5


def test_values_make_the_same_objects_as_lookups_and_other_listings(big) -> None:
    with xnat.connect(big.url, user="admin", password="admin") as session:
        listed = session.projects["PROJ001"].experiments.values()
        site = session.experiments.values()
        assert len(listed) == 1000 and all(a is b for a, b in zip(listed, site))
        assert all(a is b for a, b in zip(listed, session.projects["PROJ001"].experiments))
        assert listed[5] is session.experiments[listed[5].id] is session.projects["PROJ001"].experiments[5]
        assert session.projects["PROJ001"].experiments[2:4] == listed[2:4]
        first = listed[0]
        del listed, site
        gc.collect()
        assert session.experiments[0] is first  # still held here: the same object


def test_values_of_a_listing_with_a_shared_row_keep_the_share_apart(session) -> None:
    session.put("/data/projects/OTHER")
    subject = session.projects["PROJ001"].subjects["PROJ001_S00001"]
    subject.share("OTHER", label="shared_one")
    other = session.create_object("/data/projects/OTHER").subjects.values()
    assert len(other) == 1 and other[0] is not subject and other[0].label == "shared_one"
    assert other[0].uri == f"/data/projects/OTHER/subjects/{subject.id}"
    assert session.projects["PROJ001"].subjects.values()[0] is subject


def test_listed_objects_are_small_and_take_a_scripts_own_attributes(big) -> None:
    import pickle

    with xnat.connect(big.url, user="admin", password="admin") as session:
        experiments = session.projects["PROJ001"].experiments.values()
        experiment = experiments[3]
        # slots all the way down the generated class
        assert all("__slots__" in vars(klass) for klass in type(experiment).__mro__ if klass is not object)
        assert vars(experiments[4]) == {}                      # the base's dict slot, empty until used
        experiment.my_note = "checked"                         # as on xnatpy's objects
        assert experiment.my_note == "checked" and not hasattr(experiments[4], "my_note")
        assert experiment.uri == f"/data/experiments/{experiment.id}"    # read from the listing row
        assert experiment._row["label"] == experiment.label and experiment.xnat_session is session
        assert type(experiment).xnat_session is session
        clone = pickle.loads(pickle.dumps(experiment))
        assert (clone.id, clone.label, clone.uri) == (experiment.id, experiment.label, experiment.uri)
        experiment.clearcache()                            # keeps ID, URI and type of the row
        assert experiment.uri == f"/data/experiments/{experiment.id}" and experiment.id == clone.id


def test_an_object_kept_from_a_freed_listing_stays_itself_and_the_rest_are_freed(big) -> None:
    with xnat.connect(big.url, user="admin", password="admin") as session:
        listing = session.projects["PROJ001"].experiments.filter(label="*")   # held by nothing but this test
        kept = listing.values()[7]
        del listing
        gc.collect()
        assert len(session._layer.identity) <= 512 + 10     # the recently used few, and kept
        assert session.experiments[kept.id] is kept
        assert session.experiments.values()[7] is kept
