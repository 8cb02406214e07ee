"""xnatpy 0.8 behaviours a script leans on, against the embedded server: the prearchive's
objects, flags that must be bools, ``xnat.xnatbases`` as bases, ``session.upload``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import xnat.xnatbases
from xnat.exceptions import XNATIOError, XNATValueError


@pytest.fixture
def staged(connection: Any, project: str, case001_file: Path) -> Any:
    """Case001 imported into the project's prearchive, as a PrearchiveSession."""
    return connection.services.import_(case001_file, destination=f"/prearchive/projects/{project}")


def test_prearchive_scans_are_a_listing(staged: Any) -> None:
    scans = staged.scans
    assert scans["2"].series_description == "T1 SPIN ECHO"
    assert scans["T1 SPIN ECHO"] is scans["2"] and "4" in scans and "5" not in scans
    assert sorted(scans.keys()) == ["2", "4", "9"] and len(scans) == 3
    assert [scan.id for scan in scans] == scans.keys() and scans[0] is next(iter(scans))
    with pytest.raises(KeyError):
        scans["5"]
    resources = scans["9"].resources
    assert "DICOM" in resources and resources["DICOM"].file_count == 32
    assert scans["4"].files[0].xpath == "xnatpy:prearchiveFile"


def test_prearchive_fields_as_xnatpy_gives_them(staged: Any, tmp_path: Path) -> None:
    assert staged.prevent_anon in ("true", "false") and staged.prevent_auto_commit in ("true", "false")
    assert staged.xpath == "xnatpy:prearchiveSession" and staged.scans["2"].xpath == "xnatpy:prearchiveScan"
    target = tmp_path / "session.zip"
    assert staged.download(target) is target and target.stat().st_size > 0
    file_ = staged.scans["4"].files[0]
    assert file_.download(str(tmp_path / "one.dcm")) == str(tmp_path / "one.dcm")
    assert (tmp_path / "one.dcm").stat().st_size == file_.size


def test_prearchive_caching_off_makes_fresh_objects(connection: Any, staged: Any, project: str) -> None:
    prearchive = connection.prearchive
    assert prearchive.sessions(project)[0] is prearchive.sessions(project)[0]
    prearchive.caching = False
    try:
        first, second = prearchive.sessions(project)[0], prearchive.sessions(project)[0]
        assert first is not second and first == second
    finally:
        del prearchive.caching
    assert prearchive.caching is True
    with pytest.raises(TypeError):
        prearchive.caching = "no"


@pytest.mark.parametrize("flag", ["quarantine", "trigger_pipelines"])
def test_archive_flags_must_be_bools(staged: Any, flag: str) -> None:
    with pytest.raises(TypeError, match=f"{flag} should be a bool"):
        staged.archive(**{flag: "true"})
    assert staged.status == "READY"  # nothing was sent: the session is still there


@pytest.mark.parametrize("action", ["delete", "rebuild"])
def test_asynchronous_must_be_a_bool(staged: Any, action: str) -> None:
    with pytest.raises(TypeError, match="asynchronous should be a bool"):
        getattr(staged, action)(asynchronous=1)
    staged.refresh()
    assert staged.status == "READY"


def test_prearchive_session_takes_xnatpys_constructor(connection: Any, staged: Any) -> None:
    from xnat.prearchive import PrearchiveSession

    again = PrearchiveSession(staged.uri, connection, datafields=dict(staged.data))
    assert again == staged and again.name == staged.name
    with pytest.raises(XNATValueError, match="unexpected arguments: colour"):
        PrearchiveSession(staged.uri, connection, colour="red")


def test_xnatbases_are_bases_of_generated_classes(connection: Any, project: str) -> None:
    connection.clearcache()  # the shared session's project listing predates the project
    subject = connection.classes.SubjectData(parent=connection.projects[project], label="S1")
    session = connection.classes.MrSessionData(parent=subject, label="S1_MR")
    scan = connection.classes.MrScanData(parent=session, id="1", type="T1")
    resource = connection.classes.ResourceCatalog(parent=scan, label="NIFTI")
    assert isinstance(connection.projects[project], xnat.xnatbases.ProjectData)
    assert isinstance(subject, xnat.xnatbases.SubjectData) and not isinstance(subject, xnat.xnatbases.ExperimentData)
    for base in ("ExperimentData", "SubjectAssessorData", "ImageSessionData"):
        assert isinstance(session, getattr(xnat.xnatbases, base))
    assert not isinstance(session, xnat.xnatbases.DerivedData)
    assert issubclass(connection.classes.MrScanData, xnat.xnatbases.ImageScanData)
    assert isinstance(resource, xnat.xnatbases.AbstractResource) and not isinstance(resource, str)


def test_a_resource_made_with_a_data_dir_holds_its_files(connection: Any, project: str, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "sub" / "b.txt").write_text("bb")
    connection.clearcache()
    owner = connection.projects[project]
    resource = connection.classes.ResourceCatalog(parent=owner, label="DIR", data_dir=str(tmp_path),
                                                  upload_method="per_file")
    assert sorted(resource.files.keys()) == ["a.txt", "sub/b.txt"]
    with pytest.raises(XNATIOError, match="not a directory"):
        connection.classes.ResourceCatalog(parent=owner, label="NONE", data_dir=str(tmp_path / "nope"))
    assert "NONE" not in owner.resources  # refused before anything was created


def test_session_upload_takes_a_path_data_or_a_file(connection: Any, project: str, tmp_path: Path) -> None:
    base = f"/data/projects/{project}/resources/UP/files"
    path = tmp_path / "from_path.txt"
    path.write_bytes(b"on disk")
    connection.upload(f"{base}/from_path.txt", str(path))
    connection.upload(f"{base}/from_text.txt", "not a path, the data itself")
    connection.upload(f"{base}/from_bytes.bin", b"\x00\x01")
    with path.open("rb") as handle:
        connection.upload(f"{base}/from_handle.txt", handle)
    assert connection.get(f"{base}/from_path.txt").content == b"on disk"
    assert connection.get(f"{base}/from_text.txt").content == b"not a path, the data itself"
    assert connection.get(f"{base}/from_bytes.bin").content == b"\x00\x01"
    assert connection.get(f"{base}/from_handle.txt").content == b"on disk"
    with pytest.raises(XNATValueError, match="not int"):
        connection.upload(f"{base}/x", 42)


@pytest.mark.parametrize("flag", ["quarantine", "trigger_pipelines", "ignore_unparsable", "direct_archive"])
def test_import_flags_must_be_bools(connection: Any, project: str, case001_file: Path, flag: str) -> None:
    with pytest.raises(TypeError, match=f"{flag} should be a bool"):
        connection.services.import_(case001_file, project=project, **{flag: "yes"})
    assert connection.prearchive.sessions(project) == [] and connection.get_json(
        f"/data/projects/{project}/experiments")["ResultSet"]["Result"] == []


def test_refresh_catalog_of_a_resource_object(connection: Any, project: str) -> None:
    connection.clearcache()
    owner = connection.projects[project]
    resource = connection.classes.ResourceCatalog(parent=owner, label="CAT")
    resource.upload_data(b"abc", "a.txt")
    connection.clearcache()
    resource = connection.projects[project].resources["CAT"]  # as listed: by its numeric ID
    assert resource.uri.rsplit("/", 1)[1] != "CAT"  # the object's URI holds the numeric ID
    seen: list[str] = []
    connection.interface.hooks["response"].append(lambda r, *a, **k: seen.append(r.request.url))
    try:
        resource.refresh_catalog()
        connection.services.refresh_catalog(resource, checksum=True)
    finally:
        connection.interface.hooks["response"].pop()
    assert len(seen) == 2 and all(f"resource=/archive/projects/{project}/resources/CAT" in url for url in seen), seen
    assert resource.files["a.txt"].size == 3


class _Recorder:
    """Stands in for a session: records the POST, answers with an archive URI."""

    def __init__(self) -> None:
        self.query: dict[str, str] = {}

    def post(self, path: str, query: dict[str, str], **kwargs: Any) -> Any:
        self.query = dict(query)
        return type("Answer", (), {"text": "/data/archive/projects/P/subjects/S/experiments/E1\r\n"})()

    def create_object(self, uri: str) -> str:
        return uri


def test_import_dicom_inbox_sends_what_xnat_reads() -> None:
    from xnat.services import Services

    session = _Recorder()
    found = Services(session).import_dicom_inbox("/inbox/case1", project="P", subject="S", experiment="E1")
    assert found == "/data/archive/projects/P/subjects/S/experiments/E1"
    assert session.query == {"import-handler": "inbox", "path": "/inbox/case1", "cleanupAfterImport": "false",
                             "PROJECT_ID": "P", "SUBJECT_ID": "S", "EXPT_LABEL": "E1"}
    with pytest.raises(TypeError, match="cleanup should be a bool"):
        Services(session).import_dicom_inbox("/inbox/case1", cleanup="yes")


def _subject_and_session(connection: Any, project: str) -> tuple[Any, Any]:
    connection.clearcache()
    subject = connection.classes.SubjectData(parent=connection.projects[project], label="SUB")
    experiment = connection.classes.MrSessionData(parent=subject, label="SUB_MR")
    return subject, experiment


def test_unshare_leaves_the_shared_project_and_refuses_the_own_one(connection: Any, project: str) -> None:
    subject, experiment = _subject_and_session(connection, project)
    other = f"{project}X"
    connection.put(f"/data/projects/{other}")
    subject.share(other, label="SUB_THERE")
    experiment.share(other, label="MR_THERE")
    connection.clearcache()
    assert len(connection.projects[other].subjects) == 1 and len(connection.projects[other].experiments) == 1
    experiment.unshare(other)
    subject.unshare(other)
    connection.clearcache()
    assert len(connection.projects[other].subjects) == 0 and len(connection.projects[other].experiments) == 0
    for obj in (subject, experiment):
        with pytest.raises(XNATValueError, match="unshare leaves only projects it is shared into"):
            obj.unshare(project)
    assert connection.projects[project].subjects["SUB"].experiments["SUB_MR"].id == experiment.id  # nothing lost


def test_experiment_status_activate_quarantine(connection: Any, project: str, monkeypatch: Any) -> None:
    _, experiment = _subject_and_session(connection, project)
    sent: list[tuple[str, dict[str, str]]] = []
    monkeypatch.setattr(connection, "put", lambda path, query=None, **kw: sent.append((path, query)))
    experiment.quarantine()
    experiment.activate()
    experiment.status = "quarantined"
    experiment.status = "active"
    assert [q for _, q in sent] == [{"quarantine": "true"}, {"activate": "true"}] * 2
    assert all(path == experiment.fulluri for path, _ in sent)
    with pytest.raises(XNATValueError, match="'active' or 'quarantined'"):
        experiment.status = "locked"
    answer = type("Answer", (), {"text": "quarantine\n"})()
    monkeypatch.setattr(connection, "get", lambda path, **kw: answer if path == f"{experiment.fulluri}/status" else None)
    assert experiment.status == "quarantine"


def test_insert_date_and_is_history(connection: Any, project: str) -> None:
    _subject_and_session(connection, project)
    connection.clearcache()
    listed = connection.projects[project].subjects["SUB"]
    assert listed.insert_date is not None and listed.insert_date.year >= 2020
    assert listed.is_history is False


def test_project_access(connection: Any, project: str) -> None:
    connection.clearcache()
    owned = connection.projects[project]
    owned.set_access("alice", "member")
    assert owned.users["alice"].access_level == "Members"
    owned.set_access("alice", "Collaborators")
    assert owned.users["alice"].access_level == "Collaborators"
    with pytest.raises(XNATValueError, match="one of Owners, Members, Collaborators, not 'boss'"):
        owned.set_access("alice", "boss")
    assert owned.users["alice"].access_level == "Collaborators"  # the bad call changed nothing
    owned.remove_access(owned.users["alice"])
    assert "alice" not in owned.users
    with pytest.raises(XNATValueError, match="no user with login or email 'alice'"):
        owned.remove_access("alice")


def test_access_levels_read_xnats_route(connection: Any, project: str, monkeypatch: Any) -> None:
    connection.clearcache()
    owned = connection.projects[project]
    monkeypatch.setattr(connection, "get_json", lambda path, **kw: [{"ID": project, "role": "owner"}, {"ID": "X"}]
                        if path == "/xapi/access/projects" else {})
    monkeypatch.setattr(connection, "check_version", lambda *a, **k: True)
    assert connection.access_levels == {project: "owner"}
    assert owned.access_level == "owner"
    monkeypatch.setattr(connection, "check_version", lambda *a, **k: False)
    assert connection.access_levels == {} and owned.access_level == "No access"


def test_objects_show_in_jupyter_without_a_request(connection: Any, project: str, staged: Any) -> None:
    _subject_and_session(connection, project)
    connection.clearcache()
    listed = connection.projects[project].subjects["SUB"]
    sent: list[str] = []
    connection.interface.hooks["response"].append(lambda r, *a, **k: sent.append(r.request.url))
    try:
        shown = listed._repr_html_()
        assert "<table>" in shown and "SUB" in shown and "experiments" not in shown
        repr(listed), repr(staged), staged._repr_html_()
        local = connection.classes.MrSessionData(label="LOCAL")._repr_html_()
        assert "LOCAL" in local
        assert sent == []  # no repr asks the server
        _ = listed.experiments.keys()  # loads the child listing (a request)
        sent.clear()
        assert "<th>experiments</th><td>1 entries</td>" in listed._repr_html_() and sent == []
        _ = staged.status  # reads the session's row (a request)
        sent.clear()
        assert "READY" in staged._repr_html_() and sent == []
    finally:
        connection.interface.hooks["response"].pop()
