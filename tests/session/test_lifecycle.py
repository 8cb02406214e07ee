"""Keep-alive over an outage and a restart, session expiry, and one session shared by 8 threads."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import requests

import xnat

from .conftest import wait_for


def connect(server, **kwargs):
    kwargs.setdefault("no_parse_model", True)
    return xnat.connect(server.url, **kwargs)


def test_keepalive_survives_three_failures_and_a_restart_then_logs_in_again(xnat_server_factory, caplog):
    caplog.set_level(logging.INFO, logger="xnat")
    server = xnat_server_factory(users=["alice:alice-pw"])
    session = connect(server, user="alice", password="alice-pw", keepalive=False)
    try:
        session.keepalive = 0.1
        keepalive = session.keepalive_thread
        assert wait_for(lambda: keepalive.beats >= 1)
        first = session.jsession

        server.stop()
        # the thread counts a failure, then logs it: wait for the log line, not the count
        assert wait_for(lambda: "Keep-alive heartbeat failed (3 in a row)" in caplog.text)
        assert keepalive.failures >= 3 and keepalive.running and session.keepalive

        server.restart()  # same port and data; the server forgot every session
        assert wait_for(lambda: session.logins == 2 and keepalive.consecutive_failures == 0)
        assert session.jsession != first
        assert session.logged_in_user == "alice"
        assert "expired; logging in again as 'alice'" in caplog.text
        assert session.get_json("/data/projects")["ResultSet"]["totalRecords"] == "0"
        beats = keepalive.beats
        assert wait_for(lambda: keepalive.beats > beats)  # and it carries on
    finally:
        session.disconnect()
    assert not session.keepalive_thread.running
    assert "alice-pw" not in caplog.text


def test_expired_session_logs_in_again_on_the_next_request(xnat_server_factory):
    server = xnat_server_factory(users=["alice:alice-pw"], session_timeout=0.5)
    with connect(server, user="alice", password="alice-pw", keepalive=False) as session:
        first = session.jsession
        time.sleep(0.8)  # let the server-side session expire
        assert session.get_json("/data/projects")["ResultSet"]["totalRecords"] == "0"
        assert session.logins == 2 and session.jsession != first


def test_eight_threads_share_one_session(server):
    with connect(server, user="alice", password="alice-pw") as session:
        def work(index: int) -> tuple[int, str | None]:
            for _ in range(8):
                assert session.get_json("/data/projects")["ResultSet"]["totalRecords"] == "0"
                assert session.get("/data/auth").text == "User 'alice' is logged in"
                session.heartbeat()
            return index, session.logged_in_user

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(work, range(8)))
        assert results == [(i, "alice") for i in range(8)]
        assert session.logins == 1


def test_eight_threads_meeting_an_expired_session_log_in_once(server):
    with connect(server, user="alice", password="alice-pw", keepalive=False) as session:
        # log the session out behind the client's back, over HTTP
        requests.delete(f"{server.url}/data/JSESSION", cookies={"JSESSIONID": session.jsession}, timeout=10)

        def work(_: int) -> str:
            return session.get_json("/data/projects")["ResultSet"]["totalRecords"]

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(work, range(8))) == ["0"] * 8
        assert session.logins == 2


def test_disconnect_from_another_thread_stops_everything(server):
    session = connect(server, user="alice", password="alice-pw")
    with ThreadPoolExecutor(1) as pool:
        pool.submit(session.disconnect).result(timeout=30)
    assert not session.connected and not session.keepalive
    assert not session.keepalive_thread.running


def test_an_abandoned_session_is_collected_and_its_keepalive_ends(server):
    import gc
    import weakref

    session = connect(server, user="alice", password="alice-pw")
    session.keepalive = 0.05
    keepalive = session.keepalive_thread
    assert wait_for(lambda: keepalive.beats >= 1)
    ref = weakref.ref(session)
    del session
    gc.collect()
    assert wait_for(lambda: gc.collect() >= 0 and ref() is None and not keepalive.running)
