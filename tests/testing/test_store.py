"""The SQLite store: WAL, transactions, counters across threads, persistence across restarts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from xnat.testing.app import XNATApp
from xnat.testing.store import Store

from .conftest import Api


def test_wal_and_integrity(tmp_path: Path) -> None:
    store = Store(tmp_path / "x.db")
    try:
        assert store.one("PRAGMA journal_mode")[0] == "wal"
        assert store.integrity_check() == "ok"
    finally:
        store.close()


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "x.db")
    try:
        with pytest.raises(RuntimeError):
            with store.transaction() as conn:
                store.next_value(conn, "subject")
                conn.execute("INSERT INTO deleted_projects(id) VALUES('X')")
                raise RuntimeError("boom")
        assert store.one("SELECT COUNT(*) FROM deleted_projects")[0] == 0
        assert store.one("SELECT COUNT(*) FROM counters")[0] == 0
    finally:
        store.close()


def test_counters_unique_across_threads(tmp_path: Path) -> None:
    store = Store(tmp_path / "x.db")
    got: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(50):
            with store.transaction() as conn:
                value = store.next_value(conn, "experiment")
            with lock:
                got.append(value)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sorted(got) == list(range(1, 201))
    finally:
        store.close()


def test_archive_survives_restart(tmp_path: Path) -> None:
    first = XNATApp(data_dir=tmp_path, users=["admin:admin:admin"])
    api = Api(first, ("admin", "admin"))
    api.put("/data/projects/P1")
    api.put("/data/projects/P1/subjects/S1")
    api.put("/data/projects/P1/subjects/S1/resources/R/files/f.txt?inbody=true", data=b"kept")
    first.close()
    assert (tmp_path / "xnat.db").exists()  # a given data_dir is never removed

    second = XNATApp(data_dir=tmp_path, users=["admin:admin:admin"])
    try:
        api = Api(second, ("admin", "admin"))
        assert [r["label"] for r in api.rows("/data/projects/P1/subjects")] == ["S1"]
        assert api.get("/data/projects/P1/subjects/S1/resources/R/files/f.txt").data == b"kept"
        # IDs continue after the restart instead of colliding
        assert api.put("/data/projects/P1/subjects/S2").text == "XNAT_S00002"
    finally:
        second.close()


def test_temporary_data_dir_removed_on_close() -> None:
    app = XNATApp()
    folder = app.data_dir
    assert folder.exists()
    app.close()
    assert not folder.exists()


def test_site_id_prefixes_ids(tmp_path: Path) -> None:
    app = XNATApp(data_dir=tmp_path, site_id="CENTRAL")
    try:
        api = Api(app, ("admin", "admin"))
        api.put("/data/projects/P1")
        assert api.put("/data/projects/P1/subjects/S1").text == "CENTRAL_S00001"
    finally:
        app.close()


def test_thread_per_request_does_not_leak_connections(app: XNATApp) -> None:
    api = Api(app, ("admin", "admin"))
    api.put("/data/projects/P1")

    def one_request() -> None:
        assert api.get("/data/projects").status_code == 200

    for _ in range(60):  # a new thread per request, as a threaded HTTP server does
        t = threading.Thread(target=one_request)
        t.start()
        t.join()
    assert app.store.open_connections <= app.store.pool_size + 1


def test_pool_reuses_connections_across_threads(tmp_path: Path) -> None:
    store = Store(tmp_path / "x.db", pool_size=2)
    seen = []

    def use() -> None:
        seen.append(id(store.connection()))
        store.release()

    try:
        for _ in range(5):
            t = threading.Thread(target=use)
            t.start()
            t.join()
        assert len(set(seen)) == 1
    finally:
        store.close()
