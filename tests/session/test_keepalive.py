"""The keep-alive thread, driven by a fake session (no server, no sleeps to assert on)."""

from __future__ import annotations

import gc
import logging
import threading
import time

import pytest

from xnat.keepalive import DEFAULT_INTERVAL, KeepAlive, interval_for_timeout


class FakeSession:
    """A session whose heartbeat fails while ``failing`` is set."""

    def __init__(self, failures: int = 0) -> None:
        self.failures_left = failures
        self.calls = 0
        self.lock = threading.Lock()

    def heartbeat(self) -> None:
        with self.lock:
            self.calls += 1
            if self.failures_left:
                self.failures_left -= 1
                raise ConnectionError("server down")


def wait_for(condition, limit: float = 10.0) -> bool:
    """Poll ``condition`` until true; the limit only stops a broken test from hanging."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_interval_is_half_the_server_timeout():
    assert interval_for_timeout(900) == 450
    assert interval_for_timeout(2) == 1
    assert interval_for_timeout(None) == DEFAULT_INTERVAL
    assert interval_for_timeout(0) == DEFAULT_INTERVAL


def test_beats_and_survives_failures_then_carries_on(caplog):
    session = FakeSession(failures=3)
    keepalive = KeepAlive(session, interval=0.05, retry_interval=0.05)
    with caplog.at_level(logging.WARNING, logger="xnat.keepalive"):
        keepalive.start()
        try:
            assert wait_for(lambda: keepalive.beats >= 2)
            assert keepalive.running
        finally:
            keepalive.stop()
    assert keepalive.failures == 3
    assert keepalive.consecutive_failures == 0
    assert session.calls >= 5
    failed = [r for r in caplog.records if "heartbeat failed" in r.getMessage()]
    assert [r.getMessage().split("(")[1].split(" ")[0] for r in failed] == ["1", "2", "3"]


def test_beat_never_raises_and_counts():
    session = FakeSession(failures=1)
    keepalive = KeepAlive(session, interval=100)
    assert keepalive.beat() is False
    assert keepalive.last_error == "server down"
    assert keepalive.beat() is True
    assert (keepalive.beats, keepalive.failures, keepalive.last_error) == (1, 1, None)


def test_stop_ends_the_thread_promptly_even_with_a_long_interval():
    keepalive = KeepAlive(FakeSession(), interval=3600)
    keepalive.start()
    assert keepalive.running
    keepalive.stop(timeout=5)
    assert not keepalive.running
    keepalive.stop()  # idempotent
    keepalive.start()  # a stopped keep-alive does not come back
    assert not keepalive.running


def test_holds_only_a_weak_reference_and_ends_when_the_session_is_gone():
    session = FakeSession()
    keepalive = KeepAlive(session, interval=0.05)
    keepalive.start()
    assert wait_for(lambda: keepalive.beats >= 1)
    del session
    gc.collect()
    assert wait_for(lambda: not keepalive.running)
    keepalive.stop()


def test_disabled_keepalive_sends_nothing_and_trigger_sends_now():
    session = FakeSession()
    keepalive = KeepAlive(session, interval=0.02)
    keepalive.enabled = False
    keepalive.start()
    try:
        time.sleep(0.1)
        assert session.calls == 0
        keepalive.enabled = True
        keepalive.interval = 3600
        keepalive.trigger()
        assert wait_for(lambda: session.calls == 1)
    finally:
        keepalive.stop()


def test_retry_interval_defaults_to_a_quarter_capped_at_a_minute():
    assert KeepAlive(FakeSession(), interval=40).retry_interval == 10
    assert KeepAlive(FakeSession(), interval=900).retry_interval == 60
    assert KeepAlive(FakeSession(), interval=40, retry_interval=2).retry_interval == 2


@pytest.mark.parametrize("bad", [0, -1])
def test_bad_interval_is_refused(bad):
    with pytest.raises(ValueError):
        KeepAlive(FakeSession(), interval=bad)


def test_thread_is_a_daemon_and_never_blocks_exit():
    keepalive = KeepAlive(FakeSession(), interval=3600)
    keepalive.start()
    try:
        assert keepalive._thread.daemon
    finally:
        keepalive.stop()
