"""Issue 15: the embedded server as real clients see XNAT (key columns, project owners,
archives clients make, implicit subjects, routes clients call)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from .conftest import Api


def _csv_header(api: Api, url: str) -> list[str]:
    r = api.get(url)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.get_data(as_text=True).splitlines()[0].split(",")


# -- 1. key columns always present -------------------------------------------------------
def test_columns_keep_the_key_columns(admin: Api) -> None:
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    assert admin.put("/data/projects/P1/subjects/S1").status_code == 201
    assert admin.put("/data/projects/P1/subjects/S1/experiments/E1?xsiType=xnat:mrSessionData").status_code == 201
    assert _csv_header(admin, "/data/projects?columns=alias&format=csv") == ["ID", "alias", "URI"]
    assert _csv_header(admin, "/data/projects/P1/subjects?columns=last_modified&format=csv") == \
        ["ID", "project", "last_modified", "URI"]
    assert _csv_header(admin, "/data/projects/P1/experiments?columns=label&format=csv") == \
        ["ID", "project", "label", "URI"]
    rows = admin.rows("/data/projects/P1/subjects?columns=last_modified,insert_date")
    assert rows[0]["last_modified"] and rows[0]["insert_date"]
    rows = admin.rows("/data/experiments?columns=last_modified")
    assert rows[0]["ID"] and rows[0]["project"] == "P1" and rows[0]["last_modified"]


# -- 2. the creator of a project is its owner --------------------------------------------
def test_the_creator_of_a_project_is_its_owner(admin: Api, alice: Api) -> None:
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    assert alice.put("/data/projects/P2").status_code in (200, 201)
    assert [(r["login"], r["role"]) for r in admin.rows("/data/projects/P1/users")] == [("admin", "owner")]
    assert [(r["login"], r["role"]) for r in alice.rows("/data/projects/P2/users")] == [("alice", "owner")]


# -- 8. archives real clients make -------------------------------------------------------
def test_xnatpy_upload_dir_archive_is_accepted(admin: Api, tmp_path: Path) -> None:
    """xnatpy's default upload_dir (tgz_file) tars the folder under the name '' and extracts it."""
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "a.txt").write_bytes(b"a")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(tmp_path / "d", arcname="")
    assert admin.put("/data/projects/P1").status_code in (200, 201)
    r = admin.put("/data/projects/P1/resources/R/files/upload.tar.gz?extract=true", data=buf.getvalue())
    assert r.status_code in (200, 201), r.text
    assert [row["Name"] for row in admin.rows("/data/projects/P1/resources/R/files")] == ["a.txt"]
    assert [row["URI"].split("/files/")[1] for row in admin.rows("/data/projects/P1/resources/R/files")] == \
        ["sub/a.txt"]
