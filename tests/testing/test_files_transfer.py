"""Files: uploads (raw, multipart, overwrite, extract), listings, downloads, archives, bad input."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile

from werkzeug.test import EnvironBuilder, run_wsgi_app

from .conftest import Api

RES = "/data/projects/P1/subjects/S1/experiments/E1/scans/1/resources/DICOM/files"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_raw_upload_listing_and_download(admin: Api, session_tree: dict[str, str]) -> None:
    data = bytes(range(256)) * 100
    r = admin.put(f"{RES}/deep/er/x.bin?inbody=true&format=BIN&content=RAW&tags=t1", data=data)
    assert r.status_code == 200 and r.text == ""
    listing = admin.get(RES).json["ResultSet"]
    assert listing["title"] == "Files" and listing["Columns"] == [{"key": "URI", "serverRoot": ""}]
    assert "totalRecords" not in listing
    row = next(x for x in listing["Result"] if x["Name"] == "x.bin")
    assert set(row) == {"Name", "Size", "URI", "collection", "file_tags", "file_format", "file_content",
                        "cat_ID", "digest"}
    assert (row["Size"], row["digest"]) == (str(len(data)), hashlib.md5(data).hexdigest())
    assert (row["file_format"], row["file_content"], row["file_tags"], row["collection"]) == \
        ("BIN", "RAW", "t1", "DICOM")
    assert row["URI"].endswith(f"/resources/{row['cat_ID']}/files/deep/er/x.bin")
    got = admin.get(row["URI"])
    assert got.data == data and got.headers["Content-Length"] == str(len(data))
    assert got.headers["ETag"].strip('"') == row["digest"]
    # by label too
    assert admin.get(f"{RES}/deep/er/x.bin").data == data


def test_range_and_conditional_requests(admin: Api, session_tree: dict[str, str]) -> None:
    admin.put(f"{RES}/r.bin?inbody=true", data=b"0123456789")
    r = admin.get(f"{RES}/r.bin", headers={"Range": "bytes=2-5"})
    assert r.status_code == 206 and r.data == b"2345"
    assert r.headers["Content-Range"] == "bytes 2-5/10"
    etag = admin.get(f"{RES}/r.bin").headers["ETag"]
    assert admin.get(f"{RES}/r.bin", headers={"If-None-Match": etag}).status_code == 304
    assert admin.get(f"{RES}/r.bin", headers={"Range": "bytes=50-60"}).status_code == 416


def test_duplicate_upload_answer_and_overwrite(admin: Api, session_tree: dict[str, str]) -> None:
    r = admin.put(f"{RES}/a/b.txt?inbody=true", data=b"changed")
    assert r.status_code == 200 and json.loads(r.text) == {"duplicates": ["a/b.txt"]}
    assert admin.get(f"{RES}/a/b.txt").data == b"hello"  # left untouched
    assert admin.put(f"{RES}/a/b.txt?inbody=true&overwrite=true", data=b"changed").status_code == 200
    assert admin.get(f"{RES}/a/b.txt").data == b"changed"
    assert len(admin.rows(RES)) == 1


def test_multipart_uploads(admin: Api, session_tree: dict[str, str]) -> None:
    files = {"file1": (io.BytesIO(b"one"), "one.txt"), "file2": (io.BytesIO(b"two"), "two.txt")}
    r = admin.post(RES, data=files, content_type="multipart/form-data")
    assert r.status_code == 200, r.text
    r = admin.put(f"{RES}/named.txt", data={"file": (io.BytesIO(b"three"), "whatever.txt")},
                  content_type="multipart/form-data")
    assert r.status_code == 200
    names = {x["Name"]: x["Size"] for x in admin.rows(RES)}
    assert names == {"b.txt": "5", "one.txt": "3", "two.txt": "3", "named.txt": "5"}


def test_extract_zip_and_tar_gz(admin: Api, session_tree: dict[str, str]) -> None:
    payload = _zip({"dir/x.dcm": b"x" * 10, "y.dcm": b"y"})
    assert admin.put(f"{RES}/up.zip?inbody=true&extract=true", data=payload).status_code == 200
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("t/z.dcm")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"zzz"))
    assert admin.put(f"{RES}/up.tar.gz?inbody=true&extract=true", data=buf.getvalue()).status_code == 200
    uris = sorted(x["URI"].split("/files/")[1] for x in admin.rows(RES))
    assert uris == ["a/b.txt", "dir/x.dcm", "t/z.dcm", "y.dcm"]
    # without extract an archive is just a file
    assert admin.put(f"{RES}/keep.zip?inbody=true", data=payload).status_code == 200
    assert "keep.zip" in {x["Name"] for x in admin.rows(RES)}


def test_extract_with_escaping_member_is_refused_whole(admin: Api, session_tree: dict[str, str]) -> None:
    payload = _zip({"ok.txt": b"fine", "../../escape.txt": b"evil"})
    r = admin.put(f"{RES}/bad.zip?inbody=true&extract=true", data=payload)
    assert r.status_code == 400
    assert {x["Name"] for x in admin.rows(RES)} == {"b.txt"}
    assert not list(admin.app.data_dir.rglob("escape.txt"))
    assert not list(admin.app.data_dir.rglob("ok.txt"))


def test_unsafe_paths_are_400(admin: Api, session_tree: dict[str, str]) -> None:
    for path in ("a/../../x.txt", "..", "/etc/passwd", "a//b.txt", "./x.txt", "a%5Cb.txt"):
        r = admin.put(f"{RES}/{path}?inbody=true", data=b"bad")
        assert r.status_code in (400, 404), (path, r.status_code)
        assert r.status_code == 400 or path == "..", path
    assert admin.get(f"{RES}/a/../../../xnat.db").status_code == 400
    assert {x["Name"] for x in admin.rows(RES)} == {"b.txt"}
    assert not (admin.app.data_dir.parent / "x.txt").exists()


def test_cut_off_upload_keeps_nothing(admin: Api, session_tree: dict[str, str]) -> None:
    builder = EnvironBuilder(path=f"{RES}/cut.bin", method="PUT", query_string="inbody=true",
                             input_stream=io.BytesIO(b"x" * 100),
                             headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    environ = builder.get_environ()
    environ["CONTENT_LENGTH"] = "10000"  # the client promised more than it sent
    _, status, _ = run_wsgi_app(admin.app, environ, buffered=True)
    assert status.startswith("400")
    assert {x["Name"] for x in admin.rows(RES)} == {"b.txt"}
    leftovers = [p.name for p in (admin.app.data_dir / "archive").rglob("*") if p.is_file()]
    assert leftovers == ["b.txt"]


def test_cut_off_multipart_keeps_nothing(admin: Api, session_tree: dict[str, str]) -> None:
    body = (b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + b"m" * 50)
    builder = EnvironBuilder(path=f"{RES}/m.bin", method="PUT", input_stream=io.BytesIO(body),
                             content_type="multipart/form-data; boundary=XYZ",
                             headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    environ = builder.get_environ()
    environ["CONTENT_LENGTH"] = str(len(body) + 5000)
    _, status, _ = run_wsgi_app(admin.app, environ, buffered=True)
    assert status.startswith("400")
    assert {x["Name"] for x in admin.rows(RES)} == {"b.txt"}


def test_empty_upload_is_400(admin: Api, session_tree: dict[str, str]) -> None:
    r = admin.put(f"{RES}/empty.txt")
    assert r.status_code == 400 and "inbody=true" in r.text
    assert admin.put(RES, data=b"no name", query_string="inbody=true").status_code == 400


def test_delete_file_and_missing_file(admin: Api, session_tree: dict[str, str]) -> None:
    assert admin.delete(f"{RES}/a/b.txt").status_code == 200
    assert admin.rows(RES) == []
    assert admin.delete(f"{RES}/a/b.txt").status_code == 404
    assert admin.get(f"{RES}/a/b.txt").status_code == 404
    assert admin.get(f"{RES}/a/b.txt?accept-not-found=true").status_code == 204


def test_zip_and_targz_downloads(admin: Api, session_tree: dict[str, str]) -> None:
    eid = session_tree["experiment"]
    admin.put(f"/data/experiments/{eid}/scans/2?xsiType=xnat:mrScanData")
    admin.put(f"/data/experiments/{eid}/scans/2/resources/NII/files/n.nii?inbody=true", data=b"nii")
    admin.put(f"/data/experiments/{eid}/resources/NOTES/files/n.txt?inbody=true", data=b"notes")
    r = admin.get(f"{RES}?format=zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.data)).namelist()
    assert names == ["E1/scans/1/resources/DICOM/files/a/b.txt"]
    every = zipfile.ZipFile(io.BytesIO(admin.get(f"/data/experiments/{eid}/scans/ALL/files?format=zip").data))
    assert sorted(n.split("/files/")[1] for n in every.namelist()) == ["a/b.txt", "n.nii"]
    some = zipfile.ZipFile(io.BytesIO(admin.get(f"/data/experiments/{eid}/scans/2/files?format=zip").data))
    assert [n.split("/files/")[1] for n in some.namelist()] == ["n.nii"]
    level = admin.get(f"/data/experiments/{eid}/files?format=tar.gz")
    assert level.mimetype == "application/x-gtar"
    with tarfile.open(fileobj=io.BytesIO(level.data), mode="r:gz") as tf:
        assert [m.name.split("/files/")[1] for m in tf.getmembers() if m.isfile()] == ["n.txt"]
    assert admin.get(f"/data/experiments/{eid}/scans/1,2/resources/NII/files?format=zip").status_code == 200


def test_resource_create_list_stats_and_conflict(admin: Api, session_tree: dict[str, str]) -> None:
    eid = session_tree["experiment"]
    url = f"/data/experiments/{eid}/resources/RAW"
    assert admin.put(f"{url}?format=DICOM&content=RAW&tags=a,b&description=d").status_code == 200
    r = admin.put(url)
    assert r.status_code == 409 and r.text == "Specified resource already exists"
    admin.put(f"{url}/files/one.txt?inbody=true", data=b"12345")
    rows = admin.get(f"/data/experiments/{eid}/resources").json["ResultSet"]
    assert rows["title"] == "Resources"
    row = rows["Result"][0]
    assert (row["label"], row["format"], row["content"], row["tags"]) == ("RAW", "DICOM", "RAW", "a,b")
    assert (row["file_count"], row["file_size"]) == ("1", "5")
    scan_res = admin.rows(f"/data/experiments/{eid}/scans/1/resources")[0]
    assert scan_res["label"] == "DICOM" and scan_res["file_count"] == "1"
    by_id = admin.get(f"/data/experiments/{eid}/resources/{row['xnat_abstractresource_id']}/files/one.txt")
    assert by_id.data == b"12345"
    assert admin.delete(f"{url}?removeFiles=true").status_code == 200
    assert admin.rows(f"/data/experiments/{eid}/resources") == []


def test_resources_at_project_and_subject_level(admin: Api, session_tree: dict[str, str]) -> None:
    assert admin.put("/data/projects/P1/resources/DOCS/files/readme.txt?inbody=true", data=b"r").status_code == 200
    assert admin.put("/data/projects/P1/subjects/S1/resources/S/files/s.txt?inbody=true", data=b"s").status_code == 200
    assert admin.get("/data/projects/P1/resources/DOCS/files/readme.txt").data == b"r"
    assert admin.rows("/data/projects/P1/files")[0]["Name"] == "readme.txt"
    assert admin.rows(f"/data/subjects/{session_tree['subject']}/files")[0]["Name"] == "s.txt"


def test_file_filters(admin: Api, session_tree: dict[str, str]) -> None:
    admin.put(f"{RES}/c.txt?inbody=true&format=TXT", data=b"c")
    assert [x["Name"] for x in admin.rows(f"{RES}?file_format=TXT")] == ["c.txt"]
    assert [x["Name"] for x in admin.rows(f"{RES}?file_format=NULL")] == ["b.txt"]


def test_extract_duplicates_corrupt_and_folder_clash(admin: Api, session_tree: dict[str, str]) -> None:
    payload = _zip({"a/b.txt": b"new"})
    r = admin.put(f"{RES}/dup.zip?inbody=true&extract=true", data=payload)
    assert r.status_code == 200 and json.loads(r.text) == {"duplicates": ["a/b.txt"]}
    assert admin.get(f"{RES}/a/b.txt").data == b"hello"
    assert admin.put(f"{RES}/dup.zip?inbody=true&extract=true&overwrite=true", data=payload).status_code == 200
    assert admin.get(f"{RES}/a/b.txt").data == b"new"
    assert admin.put(f"{RES}/junk.zip?inbody=true&extract=true", data=b"not a zip").status_code == 400
    r = admin.put(f"{RES}/a?inbody=true", data=b"file where a folder is")
    assert r.status_code in (400, 409)
    assert {x["URI"].split("/files/")[1] for x in admin.rows(RES)} == {"a/b.txt"}


def test_dot_labels_refused(admin: Api, session_tree: dict[str, str]) -> None:
    eid = session_tree["experiment"]
    for label in ("..", ".hidden"):
        assert admin.put(f"/data/experiments/{eid}/resources/{label}").status_code in (400, 404, 417)
    assert admin.put("/data/projects/.x").status_code == 417


def test_download_uses_wsgi_file_wrapper(admin: Api, session_tree: dict[str, str]) -> None:
    used = []

    class Wrapper:
        def __init__(self, handle, block_size=8192):
            used.append(handle)
            self.handle, self.block_size = handle, block_size

        def __iter__(self):
            while chunk := self.handle.read(self.block_size):
                yield chunk

        def close(self):
            self.handle.close()

    environ = EnvironBuilder(path=f"{RES}/a/b.txt", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}).get_environ()
    environ["wsgi.file_wrapper"] = Wrapper
    body, status, _ = run_wsgi_app(admin.app, environ, buffered=True)
    assert status.startswith("200") and b"".join(body) == b"hello"
    assert len(used) == 1  # the server handed the open file to the WSGI server, not bytes


def test_folder_path_lists_its_files(admin: Api, session_tree: dict[str, str]) -> None:
    admin.put(f"{RES}/a/c/d.txt?inbody=true", data=b"d")
    admin.put(f"{RES}/ab.txt?inbody=true", data=b"x")
    assert sorted(x["Name"] for x in admin.rows(f"{RES}/a")) == ["b.txt", "d.txt"]
    assert [x["Name"] for x in admin.rows(f"{RES}/a/c")] == ["d.txt"]
    names = zipfile.ZipFile(io.BytesIO(admin.get(f"{RES}/a/c?format=zip").data)).namelist()
    assert [n.split("/files/")[1] for n in names] == ["a/c/d.txt"]
