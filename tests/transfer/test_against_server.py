"""The transfer engine against the embedded XNAT server (xnat.testing), over real HTTP and in-process."""

from __future__ import annotations

import hashlib
import os
import random
import threading

import pytest
import requests
from werkzeug.serving import make_server

from xnat.exceptions import XNATUploadError
from xnat.testing.adapter import mount
from xnat.testing.app import XNATApp
from xnat.transfer import Transferer

from .conftest import Faults

FILES = "/data/projects/P1/resources/{label}/files"


@pytest.fixture(scope="module")
def xnat_server(tmp_path_factory):
    """The embedded server on a loopback port, behind the fault-injection layer."""
    import logging

    werkzeug_logger = logging.getLogger("werkzeug")
    level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.CRITICAL)
    app = XNATApp(data_dir=tmp_path_factory.mktemp("xnat"))
    faults = Faults(app)  # type: ignore[arg-type]
    server = make_server("127.0.0.1", 0, faults, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    with requests.Session() as http:
        http.auth = ("admin", "admin")
        assert http.put(f"{url}/data/projects/P1").status_code in (200, 201)
    yield url, app, faults
    server.shutdown()
    server.server_close()
    app.close()
    werkzeug_logger.setLevel(level)


@pytest.fixture
def transferer(xnat_server):
    url, _, faults = xnat_server
    faults.queue.clear()
    faults.log.clear()
    with requests.Session() as http:
        http.auth = ("admin", "admin")
        yield Transferer(http, url, timeout=30, backoff=0.01)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree")
    rng = random.Random(8)
    expected = {}
    for index in range(60):
        relpath = "/".join(f"d{index % (k + 2)}" for k in range(index % 3)) + f"/f{index}.bin"
        relpath = relpath.lstrip("/")
        data = b"" if index == 7 else rng.randbytes(rng.randint(1, 5000))
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(data)
        expected[relpath] = data
    return root, expected


def read_tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("method", ["per_file", "tgz_file", "tar_memory"])
def test_tree_round_trip(transferer, tree, tmp_path, method):
    root, expected = tree
    files_url = FILES.format(label=f"T_{method}")
    transferer.upload_tree(files_url, root, method=method, verify=True)
    listing = transferer.list_files(files_url)
    assert {name: size for name, (size, _) in listing.items()} == {k: len(v) for k, v in expected.items()}
    assert all(digest == hashlib.md5(expected[name]).hexdigest() for name, (_, digest) in listing.items())
    transferer.download_tree(files_url, tmp_path / "back")
    assert read_tree(tmp_path / "back") == expected


def test_zip_streams_into_a_folder(transferer, tree, tmp_path):
    root, expected = tree
    files_url = FILES.format(label="Z")
    transferer.upload_tree(files_url, root, method="tgz_memory")
    transferer.extract_zip(files_url, tmp_path, rename=lambda name: name.split("/files/", 1)[1])
    assert read_tree(tmp_path) == expected


def test_download_resumes_after_cut_on_the_real_server(transferer, xnat_server, tmp_path):
    _, _, faults = xnat_server
    data = os.urandom(3 * 1024 * 1024)
    url = FILES.format(label="B") + "/big.bin"
    transferer.upload(url, data, verify=True)
    digest = transferer.list_files(FILES.format(label="B"))["big.bin"][1]
    faults.add("cut", "big.bin", at=1_500_000)
    result = transferer.download(url, tmp_path / "big.bin", expected_md5=digest)
    assert (tmp_path / "big.bin").read_bytes() == data and result.attempts == 2
    assert faults.ranges("big.bin")[-1].startswith("bytes=")


def test_flipped_byte_repaired_on_the_real_server(transferer, xnat_server, tmp_path):
    _, _, faults = xnat_server
    data = os.urandom(100_000)
    url = FILES.format(label="F") + "/f.bin"
    transferer.upload(url, data)
    faults.add("flip", "f.bin", at=50_000)
    transferer.download(url, tmp_path / "f.bin", expected_md5=hashlib.md5(data).hexdigest())
    assert (tmp_path / "f.bin").read_bytes() == data


def test_duplicate_refused_then_overwritten(transferer):
    url = FILES.format(label="D") + "/a.txt"
    transferer.upload_data(url, "one")
    with pytest.raises(XNATUploadError, match="overwrite=True"):
        transferer.upload_data(url, "two")
    transferer.upload_data(url, "two", overwrite=True, verify=True)


def test_remote_file_ranges(transferer):
    data = os.urandom(2 * 1024 * 1024)
    url = FILES.format(label="O") + "/o.bin"
    transferer.upload(url, data)
    with transferer.open(url) as remote:
        remote.seek(1_500_000)
        assert remote.read(100) == data[1_500_000:1_500_100]
        assert remote.requests == 2  # HEAD for the size, one range


def test_in_process_adapter(tmp_path):
    app = XNATApp(data_dir=tmp_path / "xnat")
    try:
        with requests.Session() as http:
            mount(http, app, "http://xnat.test")
            http.auth = ("admin", "admin")
            http.put("http://xnat.test/data/projects/P2")
            transferer = Transferer(http, "http://xnat.test")
            transferer.upload("/data/projects/P2/resources/R/files/x/y.txt", b"payload", verify=True)
            transferer.download("/data/projects/P2/resources/R/files/x/y.txt", tmp_path / "y.txt",
                                expected_md5=hashlib.md5(b"payload").hexdigest())
        assert (tmp_path / "y.txt").read_bytes() == b"payload"
    finally:
        app.close()


def test_a_streamed_tgz_cut_by_an_unreadable_file_stores_nothing_on_the_real_server(transferer, tree, monkeypatch):
    from xnat.transfer import tree as tree_module

    root, _ = tree
    listed = tree_module.list_tree(root)
    gone = tree_module.LocalFile("zz/gone.dat", root / "zz-gone.dat", 10)  # listed, then removed
    monkeypatch.setattr(tree_module, "list_tree", lambda directory: [*listed, gone])
    files_url = FILES.format(label="CUT")
    with pytest.raises(XNATUploadError, match="zz-gone.dat"):
        transferer.upload_tree(files_url, root, method="tgz_file")
    assert transferer.list_files(files_url) == {}  # the cut request stored nothing
