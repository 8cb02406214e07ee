"""Bad input through the pyxnat layer: a clear error (pyxnat's except clauses still catch
it), nothing lost; and the deliberate differences from pyxnat's silent empty answers."""

from __future__ import annotations

import json
import socket
import zipfile
from pathlib import Path

import pytest

from xnat.compat import errors
from xnat.compat.paths import parse_path
from xnat.compat.pyxnat import (
    DatabaseError,
    Interface,
    InterfaceError,
    JsonTable,
    NotSupportedError,
    OperationalError,
)
from xnat.compat.search import constraints_from
from xnat.compat.transfers import extract_zip_file
from xnat.exceptions import XNATError, XNATLoginFailedError, XNATResponseError
from xnat.testing import XNATServer


@pytest.fixture()
def x(server: XNATServer) -> Interface:
    interface = Interface(server=server.url, user="admin", password="admin")
    yield interface
    interface.disconnect()


def _dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_every_pyxnat_name_is_one_of_ours() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), XNATError)
    assert issubclass(XNATResponseError, DatabaseError)


def test_a_dead_server_is_an_error_at_once_not_an_empty_list() -> None:
    with pytest.raises(OperationalError, match="127.0.0.1"):
        Interface(server=_dead_url(), user="admin", password="admin", default_timeout=5, pilot_timeout=5)


def test_a_wrong_password_is_an_error_at_once(server: XNATServer) -> None:
    with pytest.raises(DatabaseError) as caught:
        Interface(server=server.url, user="admin", password="wrong")
    assert isinstance(caught.value, XNATLoginFailedError)
    assert "wrong" not in str(caught.value)


def test_exists_is_false_for_a_missing_object_but_listing_below_it_raises(x: Interface) -> None:
    missing = x.select.project("xnatDownload").subject("NOPE")
    assert missing.exists() is False
    with pytest.raises(DatabaseError, match="404.*NOPE"):
        missing.experiments().get()
    with pytest.raises(DatabaseError, match="NOPE"):
        missing.attrs.get("label")


def test_a_level_that_does_not_hang_there_is_a_clear_error(x: Interface) -> None:
    with pytest.raises(InterfaceError, match="scans do not hang below a subject"):
        x.select.project("xnatDownload").subject("sub-001").scans()
    with pytest.raises(InterfaceError, match="files do not hang below the top level"):
        x.select.files()


@pytest.mark.parametrize("path, message", [
    ("projects/P", "give a path that starts with '/'"),
    ("///files", "starts with '/'"),
    ("/projects/P/scans", "scans cannot come here"),
    ("/projects/P/widgets", "'widgets' is not a level"),
])
def test_bad_paths_say_what_is_wrong(x: Interface, path: str, message: str) -> None:
    with pytest.raises(InterfaceError, match=message):
        x.select(path)


def test_paths_read_as_pyxnat_reads_them() -> None:
    assert parse_path("/project/subject/experiment") == [("projects", "*"), ("subjects", "*"), ("experiments", "*")]
    assert parse_path("/projects/P/subjects/S/experiments/E/assessors/A/out/resources/R/files") == [
        ("projects", "P"), ("subjects", "S"), ("experiments", "E"), ("assessors", "A"), ("out_resources", "R"),
        ("files", "*")]


def test_a_path_to_one_object_gives_the_object(x: Interface) -> None:
    scan = x.select("/project/xnatDownload/subject/sub-001/experiment/sub-001_ses-01/scan/3")
    assert scan.attrs.get("xnat:mrScanData/type") == "T1w"
    assert x.select("/project/xnatDownload/subjects").get("label") == ["sub-001"]


@pytest.mark.parametrize("spec, message", [
    ([("a", "~", "1"), "AND"], "unknown operator"),
    ([("a", "=")], r"is \(field, operator, value\)"),
    ([("a", "=", "1"), "XOR"], "joins with 'AND' or 'OR'"),
    (["AND"], "holds no constraint"),
    ("a = 1", "does not end with AND or OR"),  # an RPN string
    (42, "list of"),
])
def test_bad_constraints_say_what_is_wrong(spec: object, message: str) -> None:
    with pytest.raises(InterfaceError, match=message):
        constraints_from(spec)


def test_saved_searches_that_do_not_exist_raise_database_error(x: Interface) -> None:
    for call in (lambda: x.manage.search.get("nothing"), lambda: x.manage.search.delete("nothing"),
                 lambda: x.select("xnat:mrSessionData", ["xnat:mrSessionData/LABEL"]).where(query="nothing"),
                 lambda: x.manage.search.save("s", "xnat:mrSessionData", [], [("a", "=", "1")], sharing="friends")):
        with pytest.raises(DatabaseError, match="not found|not valid"):
            call()


def test_an_anonymous_interface_reads_public_data_and_has_no_config_to_save(tmp_path: Path) -> None:
    with XNATServer(users=["admin:admin:admin"], allow_anonymous=True) as server:
        anonymous = Interface(server=server.url, anonymous=True)
        assert anonymous.select.projects().get() == []
        with pytest.raises(InterfaceError, match="anonymous"):
            anonymous.save_config(str(tmp_path / "a.cfg"))
        anonymous.disconnect()
    assert not (tmp_path / "a.cfg").exists()


def test_a_broken_config_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cfg"
    bad.write_text("{not json")
    with pytest.raises(InterfaceError, match="bad.cfg is not valid JSON"):
        Interface(config=str(bad))
    with pytest.raises(InterfaceError, match="does not exist"):
        Interface(config=str(tmp_path / "missing.cfg"))


def test_a_download_into_a_missing_folder_is_refused_and_nothing_is_written(x: Interface, tmp_path: Path) -> None:
    f = x.select("/project/xnatDownload/subject/sub-001/experiment/sub-001_ses-01/scan/3/resource/DICOM/file/0001.dcm")
    with pytest.raises(DatabaseError, match="does not exist"):
        f.get(dest=str(tmp_path / "nope" / "0001.dcm"))
    assert list(tmp_path.iterdir()) == []


def test_an_upload_of_a_missing_file_is_refused(x: Interface, tmp_path: Path) -> None:
    resource = x.select.project("xnatDownload").subject("sub-001").resource("EMPTY")
    with pytest.raises(DatabaseError, match="no such file"):
        resource.put_zip(str(tmp_path / "missing.zip"))
    assert resource.exists() is False


def test_a_zip_entry_outside_the_folder_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../escape.txt", "x")
    (tmp_path / "out").mkdir()
    with pytest.raises(DatabaseError, match="outside"):
        extract_zip_file(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_jsontable_helpers() -> None:
    table = JsonTable([{"label": "A", "date": "1"}, {"label": "B", "date": "2"}])
    assert table["label"] == ["A", "B"]
    assert table.where(label="B").items() == [("B", "2")]
    assert table.get("label", "A") == ["A"]  # pyxnat: a list unless the table has one row
    assert table.where(label="B")["date"] == "2" and table.where(label="B").get("date", always_list=True) == ["2"]
    assert table.where(label="C")["date"] == []
    assert table.select(["date"]).as_list() == [["date"], ["1"], ["2"]]
    assert table.dumps_csv().splitlines() == ["label,date", "A,1", "B,2"]
    assert json.loads(table.dumps_json()) == table.data


def test_raw_calls_return_the_response_whatever_its_status(x: Interface) -> None:
    assert x.get("/data/projects/NOPE?format=json").status_code == 404
    assert x._get_json("/data/projects")[0]["ID"] == "xnatDownload"


def test_a_proxy_argument_says_to_use_the_environment(server: XNATServer) -> None:
    with pytest.raises(NotSupportedError, match="HTTPS_PROXY"):
        Interface(server=server.url, user="admin", password="admin", proxy="http://proxy.example:3128")


def test_cachedir_is_accepted_and_unused(server: XNATServer, tmp_path: Path) -> None:
    interface = Interface(server=server.url, user="admin", password="admin", cachedir=str(tmp_path))
    assert interface.select.projects().get() == ["xnatDownload"]
    interface.disconnect()
    assert list(tmp_path.iterdir()) == []


def test_tags_say_they_are_not_offered_and_why(x: Interface) -> None:
    for call in (lambda: x.select.projects().tag("mine"), lambda: x.select.project("xnatDownload").tag("mine"),
                 lambda: x.select.project("xnatDownload").untag("mine"), lambda: x.select.tags(),
                 lambda: x.select("/tags"), lambda: x.select.tag("mine")):
        with pytest.raises(NotSupportedError, match="tags are not offered: pyxnat 1.6.4's own do not work"):
            call()
