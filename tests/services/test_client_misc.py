"""Client tokens, users, inspect, plugins, queries and the resumable map against the embedded server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import xnat
from xnat.exceptions import XNATKeyError, XNATLoginFailedError, XNATResponseError, XNATValueError
from xnat.inspect import Inspect
from xnat.services import Services
from xnat.services.mapping import MappedFunctionFailed, batch_download, create_filter_funcs, map_objects, search
from xnat.services.plugins import Plugins
from xnat.services.search_classes import install_search
from xnat.users import Users


@pytest.fixture(scope="module")
def archived(connection: Any, case001_zip: bytes) -> str:
    """Case001 in project MAPPED (subject Case001) and its scan 4 alone as a second session."""
    connection.put("/data/projects/MAPPED")
    services = Services(connection)
    services.import_(data=case001_zip, project="MAPPED", content_type="application/zip")
    services.import_(data=case001_zip, project="MAPPED", subject="Other", experiment="Second",
                     content_type="application/zip")
    return "MAPPED"


def test_token_login(server: Any, connection: Any) -> None:
    token = Services(connection).issue_token()
    with xnat.connect(server.url, user=token.alias, password=token.secret) as by_token:
        assert by_token.logged_in_user == "admin"
        assert by_token.get_json("/data/projects")["ResultSet"]["Result"] is not None
    connection.get(f"/data/services/tokens/invalidate/{token.alias}/{token.secret}")
    with pytest.raises(XNATLoginFailedError):
        xnat.connect(server.url, user=token.alias, password=token.secret)


def test_token_for_another_user(server: Any, connection: Any) -> None:
    token = Services(connection).issue_token("alice")
    with xnat.connect(server.url, user=token.alias, password=token.secret) as alice:
        assert alice.logged_in_user == "alice"
        with pytest.raises(XNATResponseError, match="403"):
            Services(alice).issue_token("admin")


def test_users(connection: Any, archived: str) -> None:
    users = Users(connection)
    assert {"admin", "alice"} <= set(users)
    assert users["alice"].login == "alice" and users["alice"].id
    with pytest.raises(XNATKeyError, match="nobody"):
        users["nobody"]
    connection.put(f"/data/projects/{archived}/users/Members/alice")
    members = Users(connection, f"/data/projects/{archived}/users")
    assert members["alice"].access_level == "Members" and str(members["alice"]) == "alice (Members)"
    with pytest.raises(XNATResponseError, match="404"):
        len(Users(connection, "/data/projects/NO_SUCH/users"))


def test_inspect(connection: Any, archived: str) -> None:
    inspect = Inspect(connection)
    assert "xnat:mrSessionData" in inspect.datatypes("xnat:mr*")
    fields = inspect.datafields("xnat:mrSessionData")
    assert {"xnat:mrSessionData/PROJECT", "xnat:mrSessionData/INSERT_DATE", "xnat:mrSessionData/LABEL"} <= set(fields)
    assert "INSERT_DATE" in inspect.datafields("xnat:mrSessionData", "INSERT*", prepend_type=False)
    assert "xnat:mrSessionData/PROJECT" in inspect.datatypes("xnat:mrSession*", "PROJ*")
    with pytest.raises(XNATResponseError, match="404"):
        inspect.datafields("xnat:noSuchType")


def test_plugins(connection: Any) -> None:
    plugins = Plugins(connection)
    assert len(plugins) == 0 and list(plugins) == []
    with pytest.raises(XNATKeyError, match="no plugin"):
        plugins["batchLaunchPlugin"]


def test_query_finds_case001(connection: Any, archived: str) -> None:
    install_search(connection)
    MrSessionData = connection.classes.MrSessionData
    found = MrSessionData.query().filter(archived == MrSessionData.PROJECT).all()
    assert sorted(e.label for e in found) == ["Case001", "Second"]
    one = MrSessionData.query(archived == MrSessionData.PROJECT, MrSessionData.LABEL.like("Case%")).one()
    assert one.label == "Case001" and one.project == archived
    rows = (MrSessionData.query().filter(MrSessionData.LABEL == "Second")
            .view(MrSessionData.PROJECT, MrSessionData.INSERT_DATE).tabulate_dict())
    assert [(r["project"], bool(r["insert_date"])) for r in rows] == [(archived, True)]
    with pytest.raises(XNATValueError, match="exactly one"):
        MrSessionData.query().filter(archived == MrSessionData.PROJECT).one()
    assert MrSessionData.query().filter(MrSessionData.PROJECT == "NOTHING").one_or_none() is None
    subjects = connection.classes.SubjectData.query().filter(archived == connection.classes.SubjectData.PROJECT).all()
    assert sorted(s.label for s in subjects) == ["Case001", "Other"]


def test_malformed_query_is_a_clear_error(connection: Any, archived: str) -> None:
    install_search(connection)
    MrSessionData = connection.classes.MrSessionData
    from xnat.search import SearchField

    bad = MrSessionData.query().filter(SearchField("xnat:mrSessionData", "xnat:mrSessionData/nonsense") == "x")
    with pytest.raises(XNATResponseError, match="422.*Unknown search field"):
        bad.tabulate_dict()


def test_map_with_resumable_log(connection: Any, archived: str, tmp_path: Path) -> None:
    project = connection.projects[archived]
    log = tmp_path / "map.jsonl"
    calls: list[str] = []

    def series(scan: Any) -> str:
        calls.append(scan.id)
        if scan.id == "9":
            raise RuntimeError("scan 9 is unlucky")
        return scan.series_description

    results = map_objects(project, series, "scan", logfile=log)
    assert len(results) == 6 and len(calls) == 6
    failed = [v for v in results.values() if isinstance(v, MappedFunctionFailed)]
    assert len(failed) == 2 and "unlucky" in failed[0].reason
    assert sorted(v for v in results.values() if isinstance(v, str)) == [
        "SAG LOCALIZER", "SAG LOCALIZER", "T1 SPIN ECHO", "T1 SPIN ECHO"]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 6 and {line["success"] for line in lines} == {True, False}
    calls.clear()
    again = map_objects(project, series, "scan", logfile=log)  # resumes: only the failures run again
    assert sorted(calls) == ["9", "9"]
    assert {k: v for k, v in again.items() if isinstance(v, str)} == \
        {k: v for k, v in results.items() if isinstance(v, str)}
    with log.open("a") as handle:
        handle.write('{"uri": "cut off')  # a crash mid-line does not spoil the log
    calls.clear()
    map_objects(project, series, "scan", logfile=log)
    assert sorted(calls) == ["9", "9"]


def test_map_levels_filters_and_errors(connection: Any, archived: str, tmp_path: Path) -> None:
    project = connection.projects[archived]
    labels = map_objects(project, lambda e: e.label, "experiment")
    assert sorted(labels.values()) == ["Case001", "Second"]
    resources = map_objects(project, lambda r: r.label, "scan_resource",
                            filter_function=create_filter_funcs(experiment="Second"))
    assert sorted(resources.values()) == ["DICOM", "DICOM", "DICOM"]
    with pytest.raises(XNATValueError, match="unknown level"):
        map_objects(project, str, "galaxy")
    with pytest.raises(XNATValueError, match="cannot map at level project"):
        map_objects(project.subjects["Case001"], str, "project")
    with pytest.raises(TypeError, match="JSON"):
        map_objects(project, lambda e: object(), "experiment", logfile=tmp_path / "x.jsonl")
    with pytest.raises(XNATValueError, match="regular expression"):
        search(project, experiment="(", use_regex=True)


def test_search_and_batch_download(connection: Any, archived: str, tmp_path: Path) -> None:
    found = search(connection, project=archived, scan="T1*")
    assert sorted(s.series_description for s in found) == ["T1 SPIN ECHO", "T1 SPIN ECHO"]
    by_regex = search(connection, project=archived, experiment=r"Sec.nd", scan=r"[49]", use_regex=True)
    assert sorted(s.id for s in by_regex) == ["4", "9"]
    by_callable = search(connection, project=archived, experiment=lambda e: e.label == "Case001", level="experiment")
    assert [e.label for e in by_callable] == ["Case001"]
    written = batch_download(connection, tmp_path / "out", project=archived, experiment="Second", scan="SAG*")
    assert len(written) == 1
    assert len([p for p in (tmp_path / "out").rglob("*") if p.is_file()]) == 3


def test_pyxnat_searches_the_embedded_server(server: Any, archived: str) -> None:
    pyxnat = pytest.importorskip("pyxnat")
    interface = pyxnat.Interface(server.url, "admin", "admin")
    table = interface.select("xnat:mrSessionData", ["xnat:mrSessionData/LABEL", "xnat:mrSessionData/PROJECT"]).where(
        [("xnat:mrSessionData/PROJECT", "=", archived), "AND"])
    assert sorted(row["label"] for row in table) == ["Case001", "Second"]
    scans = interface.select("xnat:mrScanData", ["xnat:mrScanData/ID", "xnat:mrScanData/TYPE"]).where(
        [("xnat:mrScanData/TYPE", "LIKE", "%SPIN%"), ("xnat:mrScanData/PROJECT", "=", archived), "AND"])
    assert sorted(row["type"] for row in scans) == ["T1 SPIN ECHO", "T1 SPIN ECHO"]
    assert "xnat:mrSessionData" in interface.inspect.datatypes("xnat:mr*")


def test_default_query_bundles_are_xnatpys_bytes(connection: Any, archived: str, reference: Path) -> None:
    import datetime

    install_search(connection)
    MrSessionData = connection.classes.MrSessionData
    recorded = reference / "responses/recorded/xnatpy-tests"
    start, end = datetime.date(2026, 4, 8), datetime.date(2026, 4, 10)
    query2 = MrSessionData.query().filter(MrSessionData.PROJECT == "xnatpy_test_data",
                                          start <= MrSessionData.INSERT_DATE, end >= MrSessionData.INSERT_DATE)
    assert query2.to_string() == (recorded / "POST_data_search.request-body.query2.xml").read_bytes()
    query3 = (MrSessionData.query().filter(MrSessionData.PROJECT == "xnatpy_test_data",
                                           start <= MrSessionData.INSERT_DATE)
              .filter(end >= MrSessionData.INSERT_DATE))
    assert query3.to_string() == (recorded / "POST_data_search.request-body.query3.xml").read_bytes()
    assert query2.all() == [] and query3.tabulate_dict() == []
    today = MrSessionData.query().filter(archived == MrSessionData.PROJECT,
                                         datetime.date.today() - datetime.timedelta(days=1) <= MrSessionData.INSERT_DATE)
    assert sorted(e.label for e in today.all()) == ["Case001", "Second"]
