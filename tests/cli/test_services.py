"""``xnat import`` and ``xnat prearchive`` on the real Case001 DICOM (needs XNAT_REFERENCE)."""

from __future__ import annotations

import csv
import io
import json
import tarfile

import pytest

pytest.importorskip("pydicom")

CASE = "dicom/Case001"


@pytest.fixture()
def projects(cli, as_admin):
    """Fresh projects for one test (the module's server is shared)."""
    import uuid

    names = [f"P{uuid.uuid4().hex[:6].upper()}" for _ in range(2)]
    for name in names:
        assert cli("rest", "put", f"/data/projects/{name}").code == 0
    return names


def _prearchive_rows(cli, project: str) -> list[dict[str, str]]:
    result = cli("prearchive", "ls", "--project", project, "--format", "csv")
    assert result.code == 0, result.err
    return list(csv.DictReader(io.StringIO(result.out)))


def test_import_a_folder_straight_into_the_archive(cli, projects, reference):
    project = projects[0]
    result = cli("import", str(reference / CASE), "--project", project, "--subject", "C001",
                 "--experiment", "C001_MR1")
    assert result.code == 0, result.err
    assert result.out.strip().startswith(f"/data/projects/{project}/subjects/")
    assert "session C001_MR1" in result.err
    scans = json.loads(cli("ls", f"{project}/C001/C001_MR1", "--format", "json").out)
    assert sorted(scan["ID"] for scan in scans) == ["2", "4", "9"]
    files = cli("ls", f"{project}/C001/C001_MR1/4/DICOM", "-c", "Name", "--no-header").out.split()
    assert files and all(name for name in files)


def test_import_a_tarball_to_the_prearchive_then_move_and_archive(cli, projects, reference, tmp_path):
    first, second = projects
    tarball = tmp_path / "case.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(reference / CASE, arcname="Case001")
    result = cli("import", str(tarball), "--project", first, "--destination", "prearchive",
                 "--subject", "S2", "--experiment", "S2_MR")
    assert result.code == 0, result.err
    name = result.out.strip()
    rows = _prearchive_rows(cli, first)
    assert [(r["session"], r["subject"], r["name"], r["status"]) for r in rows] == [(name, "S2", "S2_MR", "READY")]

    moved = cli("prearchive", "move", name, second)
    assert moved.code == 0, moved.err
    new_name = moved.out.strip()
    assert new_name.startswith(f"{second}/") and not _prearchive_rows(cli, first)
    assert [r["session"] for r in _prearchive_rows(cli, second)] == [new_name]

    archived = cli("prearchive", "archive", new_name, "--experiment", "S2_MR_A")
    assert archived.code == 0, archived.err
    assert not _prearchive_rows(cli, second)
    assert cli("ls", f"{second}/S2", "-c", "label", "--no-header").out.split() == ["S2_MR_A"]


def test_prearchive_delete_and_status_filter(cli, projects, reference):
    project = projects[0]
    name = cli("import", str(reference / CASE), "--project", project, "--destination", "prearchive").out.strip()
    assert cli("prearchive", "ls", "--project", project, "--status", "error", "--format", "json").out.strip() == "[]"
    assert cli("prearchive", "delete", name).code == 0
    assert not _prearchive_rows(cli, project)
    again = cli("prearchive", "delete", name)
    assert again.code == 1 and "no prearchive session" in again.err


@pytest.mark.parametrize("argv, fragment", [
    (("prearchive", "archive", "P1/only-two"), "expected PROJECT/TIMESTAMP/FOLDER"),
    (("prearchive",), "prearchive needs an action"),
    (("import", "/no/such.zip", "--project", "X"), "/no/such.zip: no such file or folder"),
])
def test_bad_prearchive_and_import_input(cli, as_admin, argv, fragment):
    result = cli(*argv)
    assert result.code == 1 and len(result.err_lines) == 1
    assert fragment in result.err


def test_importing_something_that_is_not_dicom(cli, projects, tmp_path):
    junk = tmp_path / "notes.zip"
    import zipfile

    with zipfile.ZipFile(junk, "w") as archive:
        archive.writestr("notes.txt", "not an image")
    result = cli("import", str(junk), "--project", projects[0])
    assert result.code == 1 and len(result.err_lines) == 1
    assert "returned 400" in result.err and "DICOM" in result.err
    assert cli("ls", projects[0], "--format", "json").out.strip() == "[]"


def test_importing_into_a_project_that_does_not_exist(cli, as_admin, reference):
    result = cli("import", str(reference / CASE), "--project", "NO_SUCH_PROJECT")
    assert result.code == 1 and "returned 404" in result.err
