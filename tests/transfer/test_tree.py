"""Directory trees: upload_tree with every method, download_tree back, byte for byte."""

from __future__ import annotations

import os
import random

import pytest

from xnat.exceptions import XNATIOError, XNATResponseError, XNATUploadError
from xnat.transfer import UPLOAD_METHODS, DownloadJob

from .conftest import RES


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """300 files in nested folders, one of them empty."""
    root = tmp_path_factory.mktemp("tree")
    rng = random.Random(6)
    expected = {}
    for index in range(300):
        depth = index % 4
        folder = "/".join(f"d{(index // (7 ** level)) % 5}" for level in range(depth))
        relpath = (folder + "/" if folder else "") + f"file {index}.dat"
        data = b"" if index == 150 else rng.randbytes(rng.randint(1, 3000))
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expected[relpath] = data
    return root, expected


def read_tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("method", UPLOAD_METHODS)
def test_round_trip(transferer, server, tree, tmp_path, method):
    root, expected = tree
    files_url = f"/data/projects/P/resources/{method}/files"
    uploaded = transferer.upload_tree(files_url, root, method=method, verify=True)
    assert len(uploaded) == 300
    assert server.app.files[files_url[:-6]] == expected
    results = transferer.download_tree(files_url, tmp_path / "back", workers=4)
    assert len(results) == 300
    assert read_tree(tmp_path / "back") == expected  # the empty file included
    if method == "per_file":
        assert sum(1 for m, _, _ in server.faults.log if m == "PUT") == 300
    else:
        puts = [p for m, p, _ in server.faults.log if m == "PUT"]
        assert len(puts) == 1 and "extract=true" in puts[0]


def test_round_trip_through_streamed_zip(transferer, server, tree, tmp_path):
    root, expected = tree
    transferer.upload_tree(f"{RES}/files", root, method="tgz_memory")
    transferer.extract_zip(f"{RES}/files", tmp_path, rename=lambda name: name.split("/files/", 1)[1])
    assert read_tree(tmp_path) == expected


def test_upload_tree_bad_input(transferer, server, tmp_path):
    with pytest.raises(XNATUploadError, match="no such directory"):
        transferer.upload_tree(f"{RES}/files", tmp_path / "missing")
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(XNATUploadError, match="not a directory"):
        transferer.upload_tree(f"{RES}/files", tmp_path / "f")
    (tmp_path / "empty").mkdir()
    with pytest.raises(XNATUploadError, match="holds no files"):
        transferer.upload_tree(f"{RES}/files", tmp_path / "empty")
    with pytest.raises(XNATUploadError, match="Unknown upload method"):
        transferer.upload_tree(f"{RES}/files", tmp_path, method="zip_cloud")
    assert server.faults.log == []


def test_symlinked_directory_not_followed(transferer, server, tmp_path):
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "a.txt").write_bytes(b"a")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"s")
    os.symlink(tmp_path / "outside", tmp_path / "up" / "link")
    transferer.upload_tree(f"{RES}/files", tmp_path / "up")
    assert server.app.files[RES] == {"a.txt": b"a"}


def test_per_file_existing_without_overwrite_names_the_files(transferer, server, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"new")
    (tmp_path / "b.txt").write_bytes(b"new")
    server.app.files[RES] = {"a.txt": b"old"}
    with pytest.raises(XNATUploadError) as caught:
        transferer.upload_tree(f"{RES}/files", tmp_path, workers=1)
    assert "a.txt" in str(caught.value)
    assert server.app.files[RES]["a.txt"] == b"old"
    transferer.upload_tree(f"{RES}/files", tmp_path, overwrite=True)
    assert server.app.files[RES] == {"a.txt": b"new", "b.txt": b"new"}


def test_download_many_first_error_cancels_and_reports(transferer, server, tmp_path):
    server.app.files[RES] = {f"f{i}.bin": os.urandom(200_000) for i in range(30)}
    jobs = [DownloadJob(f"{RES}/files/f{i}.bin", tmp_path / f"f{i}.bin") for i in range(30)]
    jobs.insert(3, DownloadJob(f"{RES}/files/missing.bin", tmp_path / "missing.bin"))
    with pytest.raises(XNATResponseError) as caught:
        transferer.download_many(jobs, workers=2)
    error = caught.value
    assert list(error.failures) == [str(tmp_path / "missing.bin")]
    assert "1 of 31 downloads failed" in str(error)
    assert "were stopped or not started" in str(error)
    assert len(error.completed) < 30
    names = {p.name for p in tmp_path.iterdir()}
    assert not any(name.endswith(".part") for name in names)  # cancelled transfers cleaned up
    assert names == {result.path.name for result in error.completed}


def test_download_many_checks_targets_first(transferer, server, tmp_path):
    server.app.files[RES] = {"a": b"a"}
    (tmp_path / "b").write_bytes(b"keep")
    jobs = [DownloadJob(f"{RES}/files/a", tmp_path / "a"), DownloadJob(f"{RES}/files/a", tmp_path / "b")]
    with pytest.raises(XNATIOError, match="already exists"):
        transferer.download_many(jobs)
    with pytest.raises(XNATIOError, match="same target"):
        transferer.download_many([jobs[0], jobs[0]])
    assert server.faults.log == []
    with pytest.raises(XNATIOError, match="workers"):
        transferer.download_many(jobs[:1], workers=0)


def test_download_tree_verifies_against_digest(transferer, server, tmp_path):
    server.app.files[RES] = {"a.bin": os.urandom(10_000), "b/c.bin": os.urandom(10_000)}
    server.faults.add("flip", "c.bin", at=100)
    transferer.download_tree(f"{RES}/files", tmp_path)
    assert read_tree(tmp_path) == server.app.files[RES]


def test_download_tree_one_progress(transferer, server, tmp_path):
    server.app.files[RES] = {f"{i}.txt": b"x" * 100 for i in range(10)}
    calls = []
    transferer.download_tree(f"{RES}/files", tmp_path, update_func=lambda *args: calls.append(args))
    assert calls[0] == (0, 1000, False)
    assert calls[-1] == (1000, 1000, True)
    assert sum(1 for call in calls if call[2]) == 1


def test_download_tree_refuses_escaping_names(transferer, server, tmp_path, monkeypatch):
    import json

    from werkzeug.wrappers import Response

    rows = [{"Name": "x", "Size": "1", "URI": f"{RES}/files/../../evil", "digest": ""}]
    monkeypatch.setattr(server.app, "listing",
                        lambda resource: Response(json.dumps({"ResultSet": {"Result": rows}}), 200))
    with pytest.raises(XNATIOError, match="Refused"):
        transferer.download_tree(f"{RES}/files", tmp_path / "t")
    assert not (tmp_path / "evil").exists()


def test_tgz_archives_are_packed_at_the_fastest_level_and_hashed_only_when_verified(tree):
    import io

    from xnat.transfer import tree as tree_module

    root, expected = tree
    files = tree_module.list_tree(root)
    archive = io.BytesIO()
    sent = tree_module._pack(archive, files, compressed=True, digests=False)
    header = archive.getvalue()[:10]
    assert header[:2] == b"\x1f\x8b" and header[8] == 4  # gzip's XFL byte: 4 = fastest compression
    assert set(sent) == set(expected) and {digest for _, digest in sent.values()} == {""}
    hashed = tree_module._pack(io.BytesIO(), files, compressed=False, digests=True)
    assert all(len(digest) == 32 for _, digest in hashed.values())


def test_tgz_file_is_sent_as_it_is_packed_with_no_archive_on_disk(transferer, server, tree, monkeypatch):
    from xnat.transfer import tree as tree_module

    def no_temp_file():  # the streamed path packs into the request body, not a file
        raise AssertionError("tgz_file packed into a temporary file")

    monkeypatch.setattr(tree_module.tempfile, "TemporaryFile", no_temp_file)
    root, expected = tree
    sent = transferer.upload_tree(f"{RES}/files", root, method="tgz_file", verify=True)
    assert len(sent) == 300
    assert server.app.files[RES] == expected


def test_a_streamed_tgz_that_fails_is_packed_again_and_retried(transferer, server, tree, monkeypatch):
    from xnat.transfer import tree as tree_module

    checked = []
    real_verify = tree_module.verify_uploads
    monkeypatch.setattr(tree_module, "verify_uploads", lambda conn, url, sent: checked.append(sent)
                        or real_verify(conn, url, sent))
    root, expected = tree
    server.faults.add("503", "upload.tar.gz")
    transferer.upload_tree(f"{RES}/files", root, method="tgz_file", verify=True)
    assert set(checked[0]) == set(expected)  # every file of the retried archive is checked
    puts = [p for m, p, _ in server.faults.log if m == "PUT"]
    assert len(puts) == 2  # the stream, then the archive packed again into a temporary file
    assert server.app.files[RES] == expected


def test_a_file_that_cannot_be_read_while_streaming_fails_and_stores_nothing(transferer, server, tree, monkeypatch):
    from xnat.transfer import tree as tree_module

    root, _ = tree
    listed = tree_module.list_tree(root)
    gone = tree_module.LocalFile("zz/gone.dat", root / "zz-gone.dat", 10)  # listed, then removed
    monkeypatch.setattr(tree_module, "list_tree", lambda directory: [*listed, gone])
    with pytest.raises(XNATUploadError, match="zz-gone.dat"):
        transferer.upload_tree(f"{RES}/files", root, method="tgz_file")
    assert not server.app.files.get(RES)  # the cut archive was refused whole


def test_a_refused_streamed_tgz_reports_the_server_answer(transferer, server, tree):
    root, _ = tree
    transferer.upload_tree(f"{RES}/files", root, method="tgz_file")
    with pytest.raises(XNATUploadError, match="already has file 0.dat"):
        transferer.upload_tree(f"{RES}/files", root, method="tgz_file")


def test_a_stream_cut_part_way_is_packed_whole_again_and_checked_whole(transferer, tree, monkeypatch):
    import tarfile

    from xnat.transfer import tree as tree_module

    root, expected = tree
    packed_again, checked = [], []

    def first_try_fails_early(conn, url, body, reopen, **options):
        body.read(10)  # a few bytes sent, then the connection drops: the pack is not finished
        with tarfile.open(fileobj=reopen(), mode="r:gz") as archive:
            packed_again.append({m.name for m in archive.getmembers() if m.isfile()})

    monkeypatch.setattr(tree_module, "upload_source", first_try_fails_early)
    monkeypatch.setattr(tree_module, "verify_uploads", lambda conn, url, sent: checked.append(sent))
    transferer.upload_tree(f"{RES}/files", root, method="tgz_file", verify=True)
    assert packed_again == [set(expected)]
    assert set(checked[0]) == set(expected) and all(len(md5) == 32 for _, md5 in checked[0].values())
