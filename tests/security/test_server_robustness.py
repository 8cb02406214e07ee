"""The embedded server under hostile input: searches, archives, a full disk, bad IDs, sessions.

Each test keeps one hole from the attack report closed: a LIKE search that froze the
server, zip bombs, a full disk, IDs ending in a newline or too long, impossible dates,
a session table that grew without bound, temp files a crash left, over-long request
lines, an expired alias token, and a symlink into a sibling of the archive root.
"""

from __future__ import annotations

import errno
import gc
import hashlib
import io
import shutil
import socket
import sqlite3
import subprocess
import tarfile
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from werkzeug.test import Client, TestResponse

from xnat.testing import auth as auth_module
from xnat.testing.app import XNATApp
from xnat.testing.filestore import ExtractLimits, FileStore, UnsafePath
from xnat.testing.handlers.search_run import like
from xnat.testing.runner import XNATServer

ADMIN = ("admin", "admin")
NS = 'xmlns:xdat="http://nrg.wustl.edu/security"'
RES = "/data/projects/P/resources/R/files"


class Api:
    """Requests into an app in-process, as the admin unless told otherwise."""

    def __init__(self, app: XNATApp, auth: tuple[str, str] | None = ADMIN) -> None:
        self.client = Client(app)
        self.auth = auth

    def __call__(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        if self.auth is not None:
            kwargs.setdefault("auth", self.auth)
        return self.client.open(url, method=method, **kwargs)


def _new_app(data_dir: Path, **options: Any) -> XNATApp:
    options.setdefault("users", ("admin:admin:admin",))
    return XNATApp(data_dir=data_dir, **options)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[XNATApp]:
    application = _new_app(tmp_path / "data")
    yield application
    application.close()


@pytest.fixture
def api(app: XNATApp) -> Api:
    call = Api(app)
    assert call("PUT", "/data/projects/P").status_code == 201
    return call


def _label_search(value: str) -> bytes:
    return (f"<xdat:bundle {NS}><xdat:root_element_name>xnat:subjectData</xdat:root_element_name>"
            "<xdat:search_field><xdat:element_name>xnat:subjectData</xdat:element_name>"
            "<xdat:field_ID>xnat:subjectData/label</xdat:field_ID><xdat:sequence>0</xdat:sequence>"
            "</xdat:search_field><xdat:search_where method=\"AND\"><xdat:criteria>"
            "<xdat:schema_field>xnat:subjectData/label</xdat:schema_field>"
            f"<xdat:comparison_type>LIKE</xdat:comparison_type><xdat:value>{value}</xdat:value>"
            "</xdat:criteria></xdat:search_where></xdat:bundle>").encode()


# -- 2: searches -------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "pattern", "expected"), [
    ("abc", "a%c", True), ("abc", "%", True), ("", "%", True), ("", "_", False), ("abc", "___", True),
    ("abc", "__", False), ("ABC", "abc", True), ("abab", "ab%ab", True), ("aba", "ab%ba", False),
    ("mississippi", "m%iss%pi", True), ("mississippi", "%ss%ss%", True), ("a\nc", "a_c", True),
    ("x" * 200, "%%%%%%%x", True), ("x" * 200 + "y", "%%%%%%%x", False), ("a.c", "a.c", True),
])
def test_like_is_sql_like(value: str, pattern: str, expected: bool) -> None:
    assert like(value, pattern) is expected


def test_redos_search_is_quick_and_the_server_keeps_serving(tmp_path: Path) -> None:
    with XNATServer(data_dir=tmp_path / "data", users=["admin:admin:admin"]) as server:
        http = requests.Session()
        http.auth = ADMIN
        assert http.put(f"{server.url}/data/projects/P", timeout=30).status_code == 201
        assert http.put(f"{server.url}/data/projects/P/subjects/{'a' * 200}", timeout=30).status_code == 201
        answers: list[requests.Response] = []
        search = threading.Thread(target=lambda: answers.append(requests.post(
            f"{server.url}/data/search?format=json", data=_label_search("%%%%%%%x"), auth=ADMIN, timeout=60)))
        started = time.monotonic()
        search.start()
        other = requests.get(f"{server.url}/data/projects?format=json", auth=ADMIN, timeout=30)
        # A bounded wait for liveness, not a benchmark: the backtracking matcher ran for
        # minutes; the issue asks for an answer within 1 s of the search being sent (it takes ms).
        search.join(timeout=max(0.0, started + 1.0 - time.monotonic()))
        assert not search.is_alive(), "the LIKE search did not come back within 1 s"
        assert other.status_code == 200
        assert answers[0].status_code == 200 and answers[0].json()["ResultSet"]["Result"] == []


def test_search_past_its_time_bound_is_stopped_with_a_reason(tmp_path: Path) -> None:
    app = _new_app(tmp_path / "data", search_timeout=0)
    try:
        call = Api(app)
        call("PUT", "/data/projects/P")
        call("PUT", "/data/projects/P/subjects/S1")
        r = call("POST", "/data/search?format=json", data=_label_search("S%"))
        assert r.status_code == 503 and "longer than" in r.text
    finally:
        app.close()


# -- 6: archives and a full disk ---------------------------------------------------------------
def _zip(members: dict[str, int]) -> bytes:
    """A deflated zip of zero-filled members of the given sizes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, size in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as out:
                chunk = bytes(1 << 20)
                for offset in range(0, size, len(chunk)):
                    out.write(chunk[:size - offset])
    return buffer.getvalue()


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_zip_bomb_is_refused_before_anything_is_unpacked(app: XNATApp, api: Api,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _zip({"bomb.bin": 1 << 30})  # 1 GiB of zeros in about 1 MB
    assert len(bomb) < 2 << 20

    def never(*args: object) -> None:
        raise AssertionError("a member was unpacked")

    monkeypatch.setattr(FileStore, "_unpack_one", never)
    r = api("PUT", f"{RES}/bomb.zip?extract=true", data=bomb)
    assert r.status_code == 413 and "expands to 1073741824 bytes" in r.text
    assert _tree_bytes(app.data_dir / "archive") < 100 << 20
    assert app.files.list_files(app.data_dir / "archive") == []
    assert api("GET", f"{RES}?format=json").json["ResultSet"]["Result"] == []


def test_archive_bounds_are_options(tmp_path: Path) -> None:
    app = _new_app(tmp_path / "data", extract_max_files=3, extract_max_bytes=1000)
    try:
        call = Api(app)
        call("PUT", "/data/projects/P")
        r = call("PUT", f"{RES}/many.zip?extract=true", data=_zip({f"f{i}": 1 for i in range(4)}))
        assert r.status_code == 413 and "4 files" in r.text
        r = call("PUT", f"{RES}/big.zip?extract=true", data=_zip({"big": 1001}))
        assert r.status_code == 413
        assert call("PUT", f"{RES}/fits.zip?extract=true", data=_zip({"a": 10, "b": 10})).status_code == 200
    finally:
        app.close()


def _tgz(members: dict[str, int], declared: dict[str, int] | None = None) -> bytes:
    """A tar.gz of zero-filled members of the given sizes, compressed as it is framed (a
    gzip bomb costs its compressed size in memory, not its expanded one); ``declared``
    overrides a header's size (the data then follows the real size: a lying header)."""
    out, squeeze = io.BytesIO(), zlib.compressobj(9, zlib.DEFLATED, 31)
    for name, size in members.items():
        info = tarfile.TarInfo(name)
        info.size = (declared or {}).get(name, size)
        out.write(squeeze.compress(info.tobuf(tarfile.PAX_FORMAT)))
        chunk = bytes(1 << 20)
        for offset in range(0, size, len(chunk)):
            out.write(squeeze.compress(chunk[:size - offset]))
        out.write(squeeze.compress(bytes(-size % tarfile.BLOCKSIZE)))
    out.write(squeeze.compress(bytes(2 * tarfile.BLOCKSIZE)) + squeeze.flush())
    return out.getvalue()


def test_tar_gz_bomb_is_refused_while_it_unpacks(app: XNATApp, api: Api) -> None:
    """A tar is unpacked as it arrives: its expansion is held to the bytes read so far."""
    bomb = _tgz({"bomb.bin": 256 << 20})  # 256 MiB of zeros in about 256 kB
    assert len(bomb) < 1 << 20
    r = api("PUT", f"{RES}/bomb.tar.gz?extract=true", data=bomb)
    assert r.status_code == 413 and "expand to more than" in r.text
    assert _tree_bytes(app.data_dir / "archive") == 0  # the staging folder is gone
    assert [p for p in (app.data_dir / "archive").rglob("*") if p.name.startswith(".upload-")] == []
    assert api("GET", f"{RES}?format=json").json["ResultSet"]["Result"] == []


def test_tar_bounds_hold_as_each_header_arrives(tmp_path: Path) -> None:
    app = _new_app(tmp_path / "data", extract_max_files=3, extract_max_bytes=1000)
    try:
        call = Api(app)
        call("PUT", "/data/projects/P")
        r = call("PUT", f"{RES}/many.tgz?extract=true", data=_tgz({f"f{i}": 1 for i in range(4)}))
        assert r.status_code == 413 and "4 files" in r.text
        r = call("PUT", f"{RES}/big.tgz?extract=true", data=_tgz({"small": 1, "big": 10}, {"big": 1 << 40}))
        assert r.status_code == 413 and "more than 1000 bytes" in r.text  # refused on the header alone
        assert call("PUT", f"{RES}/fits.tgz?extract=true", data=_tgz({"a": 10, "b": 10})).status_code == 200
        assert sorted(row["Name"] for row in call("GET", f"{RES}?format=json").json["ResultSet"]["Result"]) == \
            ["a", "b"]
    finally:
        app.close()


def test_disk_full_while_a_tar_unpacks_is_507_and_keeps_nothing(app: XNATApp, api: Api,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    stage, staged = FileStore._stage, []

    def full_after_two(self: FileStore, *args: Any) -> object:
        if len(staged) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        staged.append(args)
        return stage(self, *args)

    monkeypatch.setattr(FileStore, "_stage", full_after_two)
    r = api("PUT", f"{RES}/up.tgz?extract=true", data=_tgz({f"d/f{i}": 100 for i in range(5)}))
    assert r.status_code == 507 and "disk is full" in r.text
    monkeypatch.undo()
    assert list((app.data_dir / "archive").rglob("f*")) == []
    assert api("GET", f"{RES}?format=json").json["ResultSet"]["Result"] == []
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=1000, used=900, free=100))
    r = api("PUT", f"{RES}/up.tgz?extract=true", data=_tgz({"a": 60, "b": 60}))  # declared past the free space
    assert r.status_code == 507 and "disk is full" in r.text
    assert list((app.data_dir / "archive").rglob("*.upload-*")) == []


def test_a_small_archive_may_expand_past_the_ratio() -> None:
    ExtractLimits().check(1000, 10 << 20, 5)  # 10 MiB from 1 kB: well-compressed text, allowed
    with pytest.raises(ValueError, match="expands"):
        ExtractLimits().check(1000, 17 << 20, 5)


def test_disk_full_on_upload_is_507_and_keeps_nothing(app: XNATApp, api: Api,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object) -> None:  # the fault injected at the file layer
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileStore, "_spool", full)
    r = api("PUT", f"{RES}/a.bin", data=b"x" * 1000)
    assert r.status_code == 507 and "disk is full" in r.text
    monkeypatch.undo()
    assert api("GET", f"{RES}?format=json").json["ResultSet"]["Result"] == []


def test_file_delete_frees_the_file_before_writing_the_catalogue(app: XNATApp, api: Api,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert api("PUT", f"{RES}/a.bin", data=b"x" * 1000).status_code == 200
    path = app.data_dir / "archive"
    [stored] = list(path.rglob("a.bin"))
    seen: list[bool] = []
    uncatalogue = app.backend.resources.uncatalogue

    def spy(pk: int, relpath: str) -> bool:
        seen.append(stored.exists())
        return uncatalogue(pk, relpath)

    monkeypatch.setattr(app.backend.resources, "uncatalogue", spy)
    assert api("DELETE", f"{RES}/a.bin").status_code == 200
    assert seen == [False]  # the space was free when the catalogue was written
    assert api("DELETE", f"{RES}/a.bin").status_code == 404


def test_a_delete_on_a_full_disk_spends_the_reserve(app: XNATApp, api: Api,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert api("PUT", f"{RES}/a.bin", data=b"x").status_code == 200
    assert app.store.reserve.exists()
    uncatalogue, calls = app.backend.resources.uncatalogue, []

    def full_once(pk: int, relpath: str) -> bool:  # SQLite's answer on a full disk, the first time
        calls.append(relpath)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database or disk is full")
        return uncatalogue(pk, relpath)

    monkeypatch.setattr(app.backend.resources, "uncatalogue", full_once)
    assert api("DELETE", f"{RES}/a.bin").status_code == 200
    assert len(calls) == 2 and app.store.reserve.exists()  # spent on the retry, laid again after
    assert api("GET", f"{RES}?format=json").json["ResultSet"]["Result"] == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 20 MB tmpfs where the machine lets us mount one (root on Linux), else a skip."""
    where = tmp_path / "small"
    where.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(where)],
                                 capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        mounted = False
    if not mounted:
        pytest.skip("cannot mount a small tmpfs here; the fault-injection tests cover a full disk")
    try:
        yield where
    finally:
        gc.collect()  # files the test left to the collector keep the mount busy
        if subprocess.run(["umount", str(where)], capture_output=True, timeout=30).returncode != 0:
            # still busy: detach it now (the kernel frees it once the last file closes), never leak it
            subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def _fill(folder: Path, name: str = "filler") -> None:
    with open(folder / name, "wb") as handle:
        try:
            while True:
                handle.write(bytes(1 << 16))
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        try:
            handle.close()
        except OSError:
            pass


def test_full_disk_507_delete_and_restart(small_disk: Path) -> None:
    data = small_disk / "data"
    app = _new_app(data)
    call = Api(app)
    call("PUT", "/data/projects/P")
    assert call("PUT", f"{RES}/a.bin", data=b"x" * (2 << 20)).status_code == 200
    assert call("PUT", "/data/projects/P/resources/OTHER/files/b.bin", data=b"x" * (2 << 20)).status_code == 200
    app.close()
    _fill(small_disk)
    app = _new_app(data)  # restarts on the full disk
    try:
        call = Api(app)
        assert call("GET", "/data/projects/P").status_code == 200
        r = call("PUT", f"{RES}/c.bin", data=b"y" * (1 << 20))
        assert r.status_code == 507 and "disk is full" in r.text
        assert call("DELETE", f"{RES}/a.bin").status_code == 200  # a file
        assert call("GET", f"{RES}?format=json").json["ResultSet"]["Result"] == []
        _fill(small_disk, "filler2")
        assert call("DELETE", "/data/projects/P/resources/OTHER").status_code == 200  # a whole resource
        assert call("GET", "/data/projects/P/resources/OTHER/files?format=json").status_code == 404
    finally:
        app.close()


def test_startup_on_an_unchanged_folder_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _new_app(data).close()
    _new_app(data).close()  # the reserve is laid down by now

    def snapshot() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.iterdir() if p.is_file()
                and not p.name.endswith("-shm")}  # the shared-memory index is not data

    before = snapshot()
    app = _new_app(data)
    try:
        wal = data / "xnat.db-wal"
        assert not wal.exists() or wal.stat().st_size == 0
    finally:
        app.close()
    assert snapshot() == before


# -- 7, 8: IDs, labels, paths, dates -----------------------------------------------------------
def test_id_ending_in_a_newline_is_refused(api: Api) -> None:
    r = api("PUT", "/data/projects/Q%0A")
    assert r.status_code in (400, 417) and "Invalid character" in r.text
    # the archive routes do not match a newline at all: 404, nothing created
    assert api("PUT", "/data/projects/P/subjects/S%0A").status_code in (400, 404, 417)
    assert api("GET", "/data/projects/P/subjects?format=json").json["ResultSet"]["Result"] == []
    assert api("GET", "/data/projects/Q%0A").status_code == 404


@pytest.mark.parametrize("url", [
    "/data/projects/" + "Q" * 256,
    "/data/projects/P/subjects/" + "S" * 256,
    "/data/projects/P/subjects/" + "S" * 10_000,
    "/data/projects/P/resources/" + "R" * 300,
])
def test_over_long_ids_and_labels_are_400(api: Api, url: str) -> None:
    r = api("PUT", url)
    assert r.status_code == 400 and "longer than 255 bytes" in r.text


def test_label_of_255_bytes_is_fine(api: Api) -> None:
    assert api("PUT", "/data/projects/P/subjects/" + "S" * 255).status_code == 201


def test_very_deep_path_is_400(api: Api) -> None:
    r = api("PUT", f"{RES}/{'d/' * 3000}f.txt", data=b"x")
    assert r.status_code == 400
    assert api("GET", f"{RES}/{'d/' * 3000}f.txt").status_code in (400, 404)


@pytest.mark.parametrize("date", ["2020-13-45", "2020-02-30", "0000-00-00", "13/45/2020", "2020-1-1"])
def test_impossible_dates_are_refused(api: Api, date: str) -> None:
    api("PUT", "/data/projects/P/subjects/S1")
    r = api("PUT", f"/data/projects/P/subjects/S1/experiments/E1?xsiType=xnat:mrSessionData&date={date}")
    assert r.status_code == 400 and "date" in r.text


def test_real_dates_are_kept(api: Api) -> None:
    api("PUT", "/data/projects/P/subjects/S1")
    r = api("PUT", "/data/projects/P/subjects/S1/experiments/E1?xsiType=xnat:mrSessionData&date=2020-02-29")
    assert r.status_code == 201


# -- 9: the session table ----------------------------------------------------------------------
def test_cookieless_basic_auth_holds_a_bounded_number_of_sessions(tmp_path: Path) -> None:
    app = _new_app(tmp_path / "data", max_sessions_per_user=5)
    try:
        for _ in range(30):
            assert Client(app).get("/data/auth", auth=ADMIN).status_code == 200  # a new client each time
        assert app.auth.session_count == 5
    finally:
        app.close()


def test_anonymous_jsession_requests_hold_a_bounded_number(tmp_path: Path) -> None:
    app = _new_app(tmp_path / "data", max_sessions_per_user=4, allow_anonymous=True)
    try:
        for _ in range(30):
            assert Client(app).get("/data/JSESSION").status_code == 200
        assert app.auth.session_count == 4
    finally:
        app.close()


def test_the_session_in_use_survives_the_bound(tmp_path: Path) -> None:
    app = _new_app(tmp_path / "data", max_sessions_per_user=3)
    try:
        mine = Client(app)
        sid = mine.get("/data/JSESSION", auth=ADMIN).text
        for _ in range(10):
            Client(app).get("/data/auth", auth=ADMIN)
            assert mine.get("/data/JSESSION").text == sid  # the cookie alone: still logged in
    finally:
        app.close()


def test_expired_sessions_are_dropped_when_a_new_one_opens(tmp_path: Path) -> None:
    app = _new_app(tmp_path / "data", session_timeout=0.05)
    try:
        for _ in range(20):
            Client(app).get("/data/auth", auth=ADMIN)
        time.sleep(0.1)
        Client(app).get("/data/auth", auth=ADMIN)
        assert app.auth.session_count == 1
    finally:
        app.close()


# -- 10: temp files a crash left ---------------------------------------------------------------
def test_upload_temp_files_are_swept_at_startup(tmp_path: Path) -> None:
    data = tmp_path / "data"
    app = _new_app(data)
    call = Api(app)
    call("PUT", "/data/projects/P")
    assert call("PUT", f"{RES}/keep/a.txt", data=b"kept").status_code == 200
    [kept] = list((data / "archive").rglob("a.txt"))
    app.close()
    (kept.parent / ".upload-abc123").write_bytes(b"half a file")
    (kept.parent / ".upload-staging").mkdir()
    (kept.parent / ".upload-staging" / "member").write_bytes(b"x")
    app = _new_app(data)
    try:
        assert sorted(p.name for p in kept.parent.iterdir()) == ["a.txt"]
        assert Api(app)("GET", f"{RES}/keep/a.txt").data == b"kept"
    finally:
        app.close()


# -- 11: over-long request lines ---------------------------------------------------------------
def test_request_line_over_64k_is_answered_414(tmp_path: Path) -> None:
    with XNATServer(data_dir=tmp_path / "data", users=["admin:admin:admin"]) as server, \
            socket.create_connection((server.host, server.port), timeout=30) as conn:
        conn.sendall(b"GET /data/projects?x=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.1 414")


# -- 12: checks that must hold -----------------------------------------------------------------
def test_expired_alias_token_does_not_log_in(app: XNATApp, monkeypatch: pytest.MonkeyPatch) -> None:
    alias, secret = app.add_token("admin")
    assert Client(app).get("/data/auth", auth=(alias, secret)).status_code == 200
    later = time.time() + auth_module.TOKEN_LIFETIME + 60
    monkeypatch.setattr(auth_module, "time", SimpleNamespace(time=lambda: later))
    assert Client(app).get("/data/auth", auth=(alias, secret)).status_code == 401
    assert app.auth.validate_token(alias, secret) is None


def test_a_sibling_named_like_the_root_is_outside(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "archive", durable=False)
    sibling = tmp_path / "archive-evil"  # the root's path plus a suffix: a bare prefix compare lets it in
    sibling.mkdir()
    (sibling / "secret.txt").write_text("not yours")
    (tmp_path / "archive" / "link").symlink_to(sibling)
    with pytest.raises(UnsafePath):
        store.path_of(tmp_path / "archive", "link/secret.txt")
    with pytest.raises(UnsafePath):
        store.resource_dir("link")
    with pytest.raises(UnsafePath):
        store.path_of(tmp_path / "archive" / "link", "secret.txt")


def test_the_bounds_are_server_options(tmp_path: Path) -> None:
    server = XNATServer(data_dir=tmp_path / "data", extract_max_bytes=10, extract_max_ratio=2.0,
                        extract_max_files=1, search_timeout=1.0, max_sessions_per_user=2)
    with server:
        assert server.app is not None and server.app.files.limits.max_files == 1
        assert server.app.search_timeout == 1.0 and server.app.auth.max_sessions_per_user == 2
