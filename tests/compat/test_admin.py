"""pyxnat's project administration (users, roles, codes, accessibility, aliases, pipelines),
``manage.project``, ``manage.schemas``, ``array.scans`` and ``~/.xnatPass``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from xnat.compat.pyxnat import DatabaseError, Interface, InterfaceError
from xnat.compat.xnatpass import read_xnat_pass
from xnat.exceptions import XNATAuthError, XNATResponseError
from xnat.testing import XNATServer


@pytest.fixture(scope="module")
def admin_server() -> Iterator[XNATServer]:
    with XNATServer(users=["admin:admin:admin", "bob:bob", "carol:carol"]) as running:
        yield running


@pytest.fixture()
def x(admin_server: XNATServer) -> Iterator[Interface]:
    interface = Interface(server=admin_server.url, user="admin", password="admin")
    yield interface
    interface.disconnect()


def test_users_and_roles(x: Interface) -> None:
    project = x.select.project("ROLES")
    project.create()
    assert (project.users(), project.owners(), project.members(), project.collaborators()) == (
        ["admin"], ["admin"], [], [])
    project.add_user("bob", "collaborator")
    project.add_user("carol", "Members")  # pyxnat's group spelling is accepted
    assert sorted(project.users()) == ["admin", "bob", "carol"]
    assert (project.collaborators(), project.members()) == (["bob"], ["carol"])
    assert [project.user_role(name) for name in ("admin", "bob", "carol", "nobody")] == [
        "owner", "collaborator", "member", ""]
    project.remove_user("bob")
    assert sorted(project.users()) == ["admin", "carol"]
    assert x.manage.project("ROLES").members() == ["carol"]


def test_role_mistakes_are_clear_and_change_nothing(x: Interface) -> None:
    project = x.select.project("ROLES2")
    project.create()
    with pytest.raises(InterfaceError, match="'boss' is not a project role: use one of owner, member, collaborator"):
        project.add_user("bob", "boss")
    with pytest.raises(InterfaceError, match="'bob' has no role in project ROLES2; its users are admin"):
        project.remove_user("bob")
    with pytest.raises(DatabaseError, match="404"):
        project.add_user("nobody-at-all", "member")
    assert project.users() == ["admin"]


def test_a_member_may_not_change_roles(admin_server: XNATServer, x: Interface) -> None:
    project = x.select.project("ROLES3")
    project.create()
    project.add_user("bob", "member")
    bob = Interface(server=admin_server.url, user="bob", password="bob")
    with pytest.raises(XNATResponseError, match="403"):
        bob.select.project("ROLES3").add_user("carol", "owner")
    with pytest.raises(XNATResponseError, match="403"):
        bob.select.project("ROLES3").set_accessibility("public")
    bob.disconnect()
    assert sorted(project.users()) == ["admin", "bob"] and project.accessibility() == "private"


def test_codes_archive_folder_accessibility_and_aliases(x: Interface) -> None:
    x.put("/data/projects/CODES", params={"alias": "CODES_ALIAS"})
    project = x.select.project("CODES")
    assert (project.prearchive_code(), project.quarantine_code(), project.current_arc()) == (0, 0, "arc001")
    project.set_prearchive_code(4)
    project.set_quarantine_code(1)
    assert (project.prearchive_code(), project.quarantine_code()) == (4, 1)
    with pytest.raises(XNATResponseError, match="400"):
        project.set_prearchive_code(9)
    assert project.prearchive_code() == 4
    project.set_accessibility()
    assert project.accessibility() == "protected"  # pyxnat's default
    with pytest.raises(InterfaceError, match="'secret' is not an accessibility"):
        project.set_accessibility("secret")
    assert project.accessibility() == "protected"
    assert project.aliases() == ["CODES_ALIAS"]
    project.add_alias("CODES_TWO")
    assert sorted(project.aliases()) == ["CODES_ALIAS", "CODES_TWO"]
    assert x.select.project("CODES_TWO").id() == "CODES"
    with pytest.raises(InterfaceError, match="an alias is a non-empty name"):
        project.add_alias(" ")
    with pytest.raises(XNATResponseError, match="409|400"):
        x.select.project("ROLES").add_alias("CODES_TWO")  # another project's alias
    assert x.select.project("ROLES").aliases() == []
    assert x.select.project("ROLES").aliases() == []


def test_pipelines_and_last_modified(x: Interface) -> None:
    project = x.select.project("PIPES")
    project.subject("S1").create()
    assert project.pipelines.info() == []
    assert project.pipelines.pipeline("dcm2nii").exists() is False
    assert list(project.last_modified()) == [project.subject("S1").id()]


def test_manage_schemas_fetches_lists_and_forgets(x: Interface) -> None:
    assert x.manage.schemas() == []
    x.manage.schemas.add("/xapi/schemas/xnat")
    assert x.manage.schemas() == ["xnat"]
    assert x.manage.schemas.tree("xnat").tag.endswith("schema")
    x.manage.schemas.remove("xnat")
    x.manage.schemas.remove("never-added")
    assert x.manage.schemas() == []
    with pytest.raises(DatabaseError, match="404"):
        x.manage.schemas.add("/xapi/schemas/nothing-here")
    with pytest.raises(InterfaceError, match="no schema 'xnat' was added"):
        x.manage.schemas.tree("xnat")


def test_array_scans_and_experiments(x: Interface) -> None:
    experiment = x.select.project("ARRAY").subject("S1").experiment("MR1")
    experiment.create(experiments="xnat:mrSessionData")
    experiment.scan("1").create(scans="xnat:mrScanData")
    experiment.scan("2").create(scans="xnat:mrScanData")
    x.select.project("ARRAY").subject("S1").experiment("MR2").create(experiments="xnat:mrSessionData")
    scans = x.array.mrscans(project_id="ARRAY")
    assert sorted(row["xnat:mrscandata/id"] for row in scans) == ["1", "2"]
    assert sorted(x.array.experiments(project_id="ARRAY")["ID"]) == sorted(
        x.select.project("ARRAY").experiments().get())
    label = x.array.experiments(project_id="ARRAY", experiment_label="MR2", columns=["label"])
    assert label["label"] == "MR2"
    kept = x.array.mrsessions(project_id="ARRAY", constraints={"label": "MR1"})
    assert kept["label"] == "MR1"
    assert x.inspect.scan_values("xnat:mrSessionData", project="ARRAY") == ["1", "2"]
    assert x.inspect.scan_values("xnat:petSessionData") == []


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_xnat_pass_is_read_as_pyxnat_reads_it(tmp_path: Path) -> None:
    entry = read_xnat_pass(write(tmp_path / "pass", "# mine\n+alice@https://xnat.example.org = s=cr@t \n+other@x=y\n"))
    assert tuple(entry) == ("https://xnat.example.org", "alice", "s=cr@t")
    assert "s=cr@t" not in repr(entry)


@pytest.mark.parametrize("text, message", [
    ("alice@server=secret\n", "no line starting with '\\+'"),
    ("+alice-server=secret\n", "is not '\\+user@server=password'"),
    ("+alice@server\n", "is not '\\+user@server=password'"),
])
def test_a_malformed_xnat_pass_says_what_to_write(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InterfaceError, match=message) as caught:
        read_xnat_pass(write(tmp_path / "pass", text))
    assert "secret" not in str(caught.value)


def test_a_shared_or_missing_xnat_pass_is_refused(tmp_path: Path) -> None:
    with pytest.raises(XNATAuthError, match="chmod 600"):
        read_xnat_pass(write(tmp_path / "pass", "+a@b=c\n", 0o644))
    with pytest.raises(InterfaceError, match="no server given and there is no .*missing.*\\+user@server=password"):
        read_xnat_pass(tmp_path / "missing")


def test_interface_without_arguments_reads_home_xnat_pass(admin_server: XNATServer, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("XNAT_HOST", "XNATPY_HOST"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InterfaceError, match="no server given and there is no"):
        Interface()
    write(tmp_path / ".xnatPass", f"+bob@{admin_server.url}=bob\n")
    interface = Interface()
    assert interface.session.logged_in_user == "bob"
    interface.disconnect()


def test_types_in_use_at_each_level(x: Interface) -> None:
    experiment = x.select.project("TYPES").subject("S1").experiment("PET1")
    experiment.create(experiments="xnat:petSessionData")
    experiment.scan("1").create(scans="xnat:petScanData")
    experiment.assessor("QC").create(assessors="xnat:qcAssessmentData")
    assert "xnat:petSessionData" in x.inspect.experiment_types()
    assert "xnat:petScanData" in x.inspect.scan_types() and "xnat:petSessionData" not in x.inspect.scan_types()
    assert x.inspect.assessor_types() == ["xnat:qcAssessmentData"]
    assert "xnat:ctSessionData" not in x.inspect.experiment_types()  # a type with no items is not in use


def test_assessor_and_reconstruction_values_and_types(x: Interface) -> None:
    assert x.inspect.reconstruction_types() == []  # no reconstruction yet: the type is not in use
    x.select.project("DERIVED").create()
    first = x.select.project("DERIVED").subject("S1").experiment("MR1")
    first.create(experiments="xnat:mrSessionData")
    first.assessor("QC").create(assessors="xnat:qcAssessmentData")
    first.reconstruction("R1").create(reconstructions="xnat:reconstructedImageData")
    first.reconstruction("R2").create(reconstructions="xnat:reconstructedImageData")
    x.select.project("DERIVED").subject("S1").experiment("MR2").create(experiments="xnat:mrSessionData")
    pet = x.select.project("DERIVED").subject("S1").experiment("PET1")
    pet.create(experiments="xnat:petSessionData")
    pet.reconstruction("PR").create(reconstructions="xnat:reconstructedImageData")
    assessor_id = first.assessor("QC").id()
    assert x.inspect.assessor_values("xnat:mrSessionData", project="DERIVED") == [assessor_id]
    assert x.inspect.assessor_values("xnat:petSessionData", project="DERIVED") == []
    assert x.inspect.reconstruction_values("xnat:mrSessionData", project="DERIVED") == ["R1", "R2"]
    assert x.inspect.reconstruction_values("xnat:petSessionData", project="DERIVED") == ["PR"]
    assert x.inspect.reconstruction_values("xnat:mrSessionData", project="NOSUCH") == []
    assert x.inspect.reconstruction_types() == ["xnat:reconstructedImageData"]


def test_a_registered_callback_sees_every_element_a_collection_yields(x: Interface) -> None:
    project = x.select.project("CALLBACK")
    project.create()
    for label in ("S1", "S2"):
        project.subject(label).experiment(f"{label}_MR").create(experiments="xnat:mrSessionData")
    seen: list[tuple[str, str]] = []
    x.manage.register_callback(lambda collection, element: seen.append((collection._level, element.label())))
    labels = [experiment.label() for experiment in project.subjects().experiments()]
    assert labels == ["S1_MR", "S2_MR"]
    assert seen == [("subjects", "S1"), ("experiments", "S1_MR"), ("subjects", "S2"), ("experiments", "S2_MR")]
    x.manage.unregister_callback()
    project.subjects().get()
    assert len(seen) == 4
    with pytest.raises(ValueError, match="needs a callable"):
        x.manage.register_callback("print")  # type: ignore[arg-type]
