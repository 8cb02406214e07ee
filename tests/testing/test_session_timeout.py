"""The ``sessionTimeout`` site preference (``/xapi/siteConfig``): read in PostgreSQL's interval
notation as XNAT takes it, applied to sessions (they end after that much idle time), kept
across a restart, and a value that is not a duration refused with nothing changed (issue 15)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from werkzeug.test import Client

import xnat.testing.auth
from xnat.testing.app import XNATApp
from xnat.testing.intervals import interval_text, seconds_of

from .conftest import Api


class _Clock:
    """Stands in for the ``time`` module of :mod:`xnat.testing.auth`: time moves only when told."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock(1_000_000.0)
    monkeypatch.setattr(xnat.testing.auth, "time", types.SimpleNamespace(time=fake.time))
    return fake


@pytest.mark.parametrize(("text", "seconds"), [
    ("15 minutes", 900), ("1 hour", 3600), ("1 hour 30 minutes", 5400), ("2h", 7200), ("15 min", 900),
    ("00:30:00", 1800), ("1:05", 3900), ("900", 900), (" 1 Day ", 86400), ("1 week", 604800), (45, 45),
    ("1.5 hours", 5400),
])
def test_interval_notation(text: object, seconds: float) -> None:
    assert seconds_of(text) == seconds


@pytest.mark.parametrize("bad", ["", "soon", "15 fortnights", "minutes", "0 minutes", "-5", "1 hour soon", True, 0,
                                 "00:61:00"])
def test_not_a_duration(bad: object) -> None:
    with pytest.raises(ValueError, match="not a duration such as"):
        seconds_of(bad)


def test_interval_text() -> None:
    assert [interval_text(s) for s in (900, 3600, 7200, 86400, 90, 1, 0.5)] == \
        ["15 minutes", "1 hour", "2 hours", "1 day", "90 seconds", "1 second", "0.5 seconds"]


def test_session_timeout_is_applied_and_kept(tmp_path: Path, clock: _Clock) -> None:
    app = XNATApp(data_dir=tmp_path / "data", users=["admin:admin:admin", "u:p"])
    try:
        admin = Api(app, ("admin", "admin"))
        assert admin.get("/xapi/siteConfig").json["sessionTimeout"] == "15 minutes"  # XNAT's default
        assert admin.post("/xapi/siteConfig", json={"sessionTimeout": "2 minutes"}).status_code == 200
        assert admin.get("/xapi/siteConfig/sessionTimeout").get_data(as_text=True) == "2 minutes"
        user = Client(app)
        login = user.get("/data/JSESSION", auth=("u", "p"))
        assert any(c.startswith("SESSION_EXPIRATION_TIME=") and c.split(";")[0].endswith(',120000"')
                   for c in login.headers.getlist("Set-Cookie"))  # what XNAT's pages count down from
        clock.now += 110  # idle less than two minutes: still in, and the idle time starts again
        assert user.get("/data/auth").status_code == 200
        clock.now += 110
        assert user.get("/data/auth").status_code == 200
        clock.now += 121  # idle past two minutes: the session is over
        assert user.get("/data/auth").status_code == 401
    finally:
        app.close()
    again = XNATApp(data_dir=tmp_path / "data", users=["admin:admin:admin"])  # restarted on the same folder
    try:
        assert again.session_timeout == 120
        admin = Api(again, ("admin", "admin"))
        assert admin.put("/xapi/siteConfig/sessionTimeout", data="00:30:00").status_code == 200
        assert again.session_timeout == 1800
    finally:
        again.close()


def test_a_timeout_that_is_not_a_duration_changes_nothing(tmp_path: Path) -> None:
    app = XNATApp(data_dir=tmp_path / "data", users=["admin:admin:admin"])
    try:
        admin = Api(app, ("admin", "admin"))
        assert admin.post("/xapi/siteConfig", json={"sessionTimeout": "1 hour"}).status_code == 200
        for send in (lambda: admin.post("/xapi/siteConfig", json={"sessionTimeout": "soon", "adminEmail": "a@b.c"}),
                     lambda: admin.put("/xapi/siteConfig/sessionTimeout", data="0 minutes")):
            r = send()
            assert r.status_code == 400 and "sessionTimeout" in r.get_data(as_text=True)
        config = admin.get("/xapi/siteConfig").json
        assert (config["sessionTimeout"], config["adminEmail"], app.session_timeout) == ("1 hour", "", 3600)
    finally:
        app.close()
