"""The rest of the pyxnat surface on our core: assessors and their in/out resources,
reconstructions, cross-level chains, collection downloads, folders, demographics."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from xnat.compat.pyxnat import DatabaseError, Interface, InterfaceError, OperationalError
from xnat.testing import XNATServer


@pytest.fixture()
def x(server: XNATServer) -> Iterator[Interface]:
    interface = Interface(server=server.url, user="admin", password="admin")
    yield interface
    interface.disconnect()


def test_create_makes_missing_parents_with_the_types_asked_for(x: Interface) -> None:
    scan = x.select("/project/MADE/subject/S/experiment/PET1/scan/1")
    scan.create(experiments="xnat:petSessionData", scans="xnat:petScanData", **{"xnat:petScanData/type": "FDG"})
    assert x.select.project("MADE").exists()
    assert x.select.project("MADE").subject("S").experiment("PET1").datatype() == "xnat:petSessionData"
    assert scan.datatype() == "xnat:petScanData"
    assert scan.attrs.get("type") == "FDG"


def test_subject_demographics_by_xpath(x: Interface) -> None:
    subject = x.select.project("DEMO").subject("S1")
    subject.insert()
    subject.attrs.set("xnat:subjectData/demographics[@xsi:type=xnat:demographicData]/gender", "female")
    assert subject.attrs.get("xnat:subjectData/demographics[@xsi:type=xnat:demographicData]/gender") == "female"
    assert subject.attrs.mget(["label", "gender"]) == ["S1", "female"]


def test_chains_across_levels_and_top_level_selects(x: Interface) -> None:
    for label in ("A", "B"):
        x.select.project("CHAIN").subject(label).experiment(f"{label}_MR").create()
    chained = x.select.projects("CHAIN").subjects().experiments()
    assert sorted(e.label() for e in chained) == ["A_MR", "B_MR"]
    assert len(chained) == 2 and chained[1].label() in ("A_MR", "B_MR")
    assert [e.label() for e in chained[0:1]] == [chained.first().label()]
    experiment_id = chained.first().id()
    top = x.select.experiment(experiment_id)
    assert top.exists() and top.label() == chained.first().label()
    assert x.select.experiments(experiment_id).get("label") == [chained.first().label()]
    assert x.select.project("CHAIN").subjects().get("id", "label")[0][1] in ("A", "B")


def test_assessor_with_in_and_out_resources(x: Interface, tmp_path: Path) -> None:
    experiment = x.select.project("ASSESS").subject("S").experiment("MR")
    experiment.create()
    assessor = experiment.assessor("QC")
    assessor.create(assessors="xnat:qcAssessmentData")
    assert assessor.datatype() == "xnat:qcAssessmentData"
    assert experiment.assessors().get("label") == ["QC"]
    source = tmp_path / "report.txt"
    source.write_text("ok")
    assessor.out_resource("REPORT").file("report.txt").put(str(source))
    assert assessor.out_resources().get("label") == ["REPORT"]
    assert assessor.out_resource("REPORT").files().get() == ["report.txt"]
    paths = x.select("/project/ASSESS/subject/S/experiment/MR/assessor/QC/out/resource/REPORT/files").get()
    assert paths == ["report.txt"]


def test_resource_folder_upload_and_collection_downloads(x: Interface, tmp_path: Path) -> None:
    scan = x.select.project("FILES").subject("S").experiment("MR").scan("1")
    scan.create()
    folder = tmp_path / "src"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.txt").write_text("B")
    scan.resource("DIR").put_dir(str(folder))
    scan.resource("LIST").put([str(folder / "a.txt")])
    assert sorted(scan.resource("DIR").files().get()) == ["a.txt", "b.txt"]
    out = tmp_path / "out"
    out.mkdir()
    paths = scan.resource("LIST").files().download(str(out))
    assert [Path(p).read_text() for p in paths] == ["A"]
    zipped = x.select.project("FILES").subject("S").experiment("MR").scans().download(str(out))
    with zipfile.ZipFile(zipped) as archive:
        assert sorted(name.rpartition("/")[2] for name in archive.namelist()) == ["a.txt", "a.txt", "b.txt"]
    f = scan.resource("LIST").file("a.txt")
    assert f.exists() and f.size() == "1"
    f.delete()
    assert not f.exists()


def test_delete_keeps_what_it_should_not_touch(x: Interface) -> None:
    project = x.select.project("DEL")
    project.subject("KEEP").create()
    project.subject("GO").create()
    project.subject("GO").delete()
    assert project.subjects().get("label") == ["KEEP"]
    with pytest.raises(DatabaseError, match="404"):
        project.subject("GO").delete()


def test_project_accessibility(x: Interface) -> None:
    project = x.select.project("ACCESS")
    project.create()
    project.set_accessibility("public")
    assert project.accessibility() == "public"


def test_xpath_children_and_shares(x: Interface) -> None:
    subject = x.select.project("XP").subject("S")
    subject.experiment("MR").create()
    x.select.project("XP2").create()
    assert subject.xpath("/xnat:Subject/@label") == ["S"]
    assert subject.xpath("count(/xnat:Subject)") == [1.0]
    assert subject.children(show_names=False) == ["experiments", "resources"]
    assert subject.children()["experiments"] == [subject.experiment("MR").id()]
    subject.share("XP2", label="S_IN_XP2")
    assert sorted(subject.shares().get()) == ["XP", "XP2"]


def test_raw_calls_pass_requests_arguments(x: Interface) -> None:
    response = x.get("/data/projects", params={"format": "json"})
    assert response.json()["ResultSet"]["Result"]


def test_a_server_that_went_away_is_an_error_even_for_exists() -> None:
    with XNATServer(users=["admin:admin:admin"]) as server:
        interface = Interface(server=server.url, user="admin", password="admin")
        project = interface.select.project("GONE")
        project.create()
        server.stop()
        with pytest.raises(OperationalError, match="could not connect"):
            project.exists()
        with pytest.raises(OperationalError):
            interface.select.projects().get()
        interface.disconnect()


def test_files_in_folders_keep_their_path(x: Interface, tmp_path: Path) -> None:
    resource = x.select.project("NEST").subject("S").resource("R")
    resource.file("sub/deep b.txt").put("nested content")
    listed = resource.files().first()
    assert listed.label() == "deep b.txt"
    assert listed.get(str(tmp_path / "got.txt")) == str(tmp_path / "got.txt")
    assert (tmp_path / "got.txt").read_text() == "nested content"
    assert resource.file("sub/deep b.txt").exists()
    assert resource.file("sub/deep b.txt").size() == "14"
    with pytest.raises(InterfaceError, match="not a valid file"):
        resource.file("../escape.txt")
