"""Accounts on the embedded server: what changing one does to who may sign in, and as what.

The mutation run of ``xnat/testing/auth.py`` found ``update_user`` and the account listings
reached by no security test. Here: a disabled or unverified account signs in by no route
(password, its session, its alias token) until it is enabled again; a changed password
replaces the old one at once (also when the old one was just verified and remembered); the
admin flag given and taken; tokens past their expiry or invalidated sign nobody in; the
listings keep disabled accounts out where XNAT does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client

from xnat.testing import auth as auth_module
from xnat.testing.app import XNATApp

PRIVATE = "/data/projects/PRIV?format=json"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[XNATApp]:
    application = XNATApp(data_dir=tmp_path / "data", users=("admin:admin:admin", "ann:ann-password"))
    assert Client(application).put("/data/projects/PRIV", auth=("admin", "admin")).status_code == 201
    yield application
    application.close()


def signs_in(app: XNATApp, login: str, password: str) -> bool:
    return Client(app).get("/data/auth", auth=(login, password)).status_code == 200


@pytest.mark.parametrize("flag", ["enabled", "verified"])
def test_a_disabled_or_unverified_account_signs_in_by_no_route(app: XNATApp, flag: str) -> None:
    browser = Client(app)
    assert browser.get("/data/JSESSION", auth=("ann", "ann-password")).status_code == 200  # a session
    token = app.auth.issue_token("ann")
    alias, secret = str(token["alias"]), str(token["secret"])
    assert signs_in(app, alias, secret)

    app.auth.update_user("ann", **{flag: False})
    assert not signs_in(app, "ann", "ann-password")
    assert app.auth.check_password("ann", "ann-password") is None
    assert browser.get("/data/auth").status_code == 401  # its session no longer carries it
    assert not signs_in(app, alias, secret)  # nor its token
    assert app.auth.user("ann") is None

    app.auth.update_user("ann", **{flag: True})
    assert signs_in(app, "ann", "ann-password") and signs_in(app, alias, secret)


def test_a_changed_password_replaces_the_old_one_at_once(app: XNATApp) -> None:
    assert signs_in(app, "ann", "ann-password")  # verified, and remembered to spare pbkdf2
    app.auth.update_user("ann", password="new-password")
    assert not signs_in(app, "ann", "ann-password")
    assert signs_in(app, "ann", "new-password")
    app.auth.update_user("ann", firstname="Ann", lastname="Lee", email="ann@example.org")  # keeps the password
    row = app.auth.user_row("ann")
    assert row is not None and (row["firstname"], row["lastname"], row["email"]) == ("Ann", "Lee", "ann@example.org")
    assert signs_in(app, "ann", "new-password")


def test_re_adding_a_user_with_another_password_replaces_it(app: XNATApp) -> None:
    assert signs_in(app, "ann", "ann-password")
    app.auth.add_user("ann", "third-password")
    assert not signs_in(app, "ann", "ann-password") and signs_in(app, "ann", "third-password")


def test_the_admin_flag_given_and_taken(app: XNATApp) -> None:
    ann = ("ann", "ann-password")
    assert Client(app).get(PRIVATE, auth=ann).status_code == 404  # a private project it has no role in
    app.auth.update_user("ann", admin=True)
    assert app.auth.user("ann") is not None and app.auth.user("ann").admin  # type: ignore[union-attr]
    for _ in range(2):  # the password checked, then the remembered check: an admin both times
        assert Client(app).get(PRIVATE, auth=ann).status_code == 200
    app.auth.update_user("ann", admin=False)
    assert Client(app).get(PRIVATE, auth=ann).status_code == 404


def test_update_refuses_an_unknown_account_or_field(app: XNATApp) -> None:
    with pytest.raises(KeyError):
        app.auth.update_user("nobody", enabled=False)
    with pytest.raises(ValueError, match="not a user field"):
        app.auth.update_user("ann", pwhash="x")  # the SQL column of the password: never set this way
    assert signs_in(app, "ann", "ann-password")


def test_a_user_added_without_the_flag_is_no_admin(app: XNATApp) -> None:
    app.auth.add_user("carl", "carl-password")
    user = app.auth.check_password("carl", "carl-password")
    assert user is not None and not user.admin
    assert Client(app).get(PRIVATE, auth=("carl", "carl-password")).status_code == 404


def test_listings_of_accounts(app: XNATApp) -> None:
    app.auth.add_user("bob", "bob-password")
    app.auth.update_user("bob", enabled=False)
    assert [row["login"] for row in app.auth.user_rows()] == ["admin", "ann"]  # enabled, by user id
    assert [row["login"] for row in app.auth.user_rows(enabled_only=False)] == ["admin", "ann", "bob"]
    assert app.auth.logins() == ["admin", "ann", "bob"]
    assert app.auth.user_row("bob")["enabled"] == 0 and app.auth.user_row("nobody") is None  # type: ignore[index]
    listed = Client(app).get("/data/users?format=json", auth=("admin", "admin")).json
    assert [row["login"] for row in listed["ResultSet"]["Result"]] == ["admin", "ann"]


def test_a_token_signs_in_until_it_expires_or_is_invalidated(app: XNATApp, monkeypatch: pytest.MonkeyPatch) -> None:
    token = app.auth.issue_token("ann")
    alias, secret = str(token["alias"]), str(token["secret"])
    assert app.auth.validate_token(alias, secret) == "ann"
    assert app.auth.validate_token(alias, secret[:-1]) is None and app.auth.validate_token("other", secret) is None
    expires = float(token["estimatedExpirationTime"]) / 1000  # type: ignore[arg-type]
    real_time = auth_module.time.time
    monkeypatch.setattr(auth_module.time, "time", lambda: expires - 1)
    assert app.auth.validate_token(alias, secret) == "ann"  # a second before: still good
    monkeypatch.setattr(auth_module.time, "time", lambda: expires + 1)
    assert app.auth.validate_token(alias, secret) is None
    monkeypatch.setattr(auth_module.time, "time", real_time)
    assert not app.auth.invalidate_token(alias, "wrong secret")
    assert app.auth.validate_token(alias, secret) == "ann"  # a wrong secret invalidates nothing
    assert app.auth.invalidate_token(alias, secret)
    assert app.auth.validate_token(alias, secret) is None and not signs_in(app, alias, secret)
    assert not app.auth.invalidate_token(alias, secret)  # already gone


def test_a_session_ends_at_logout(app: XNATApp) -> None:
    browser = Client(app)
    sid = browser.get("/data/JSESSION", auth=("ann", "ann-password")).get_data(as_text=True).strip()
    assert app.auth.session_user(sid) is not None
    assert browser.get("/data/auth").status_code == 200  # the cookie alone signs in
    assert browser.delete("/data/JSESSION").status_code == 200
    assert browser.get("/data/auth").status_code == 401
    assert app.auth.session_user(sid) is None


def test_each_token_is_its_own_and_hard_to_guess(app: XNATApp) -> None:
    first, second = app.auth.issue_token("ann"), app.auth.issue_token("admin")
    assert first["alias"] != second["alias"]
    assert len(str(first["secret"])) >= 64  # 48 random bytes, URL-safe
    assert app.auth.validate_token(str(first["alias"]), str(first["secret"])) == "ann"
    assert app.auth.validate_token(str(second["alias"]), str(second["secret"])) == "admin"
    assert app.auth.validate_token(str(first["alias"]), str(second["secret"])) is None


def test_a_token_is_good_up_to_its_expiry_instant(app: XNATApp, monkeypatch: pytest.MonkeyPatch) -> None:
    token = app.auth.issue_token("ann")
    alias, secret = str(token["alias"]), str(token["secret"])
    row = app.auth.store.one("SELECT expires FROM tokens WHERE alias=?", (alias,))
    assert row is not None
    monkeypatch.setattr(auth_module.time, "time", lambda: row["expires"])
    assert app.auth.validate_token(alias, secret) == "ann"


def test_a_guest_session_never_counts_as_signed_in(tmp_path: Path) -> None:
    app = XNATApp(data_dir=tmp_path / "open", allow_anonymous=True)
    try:
        browser = Client(app)
        sid = browser.get("/data/JSESSION").get_data(as_text=True).strip()  # an anonymous session
        user = app.auth.session_user(sid)
        assert user is not None and user.is_guest
        for url in ("/data/users?format=json", "/xapi/siteConfig", "/data/services/tokens/issue"):
            assert browser.get(url).status_code in (401, 403), url  # with the guest's cookie
    finally:
        app.close()


def test_one_session_per_user_is_a_valid_bound_and_none_is_not(app: XNATApp) -> None:
    auth_module.Auth(app.store, max_sessions_per_user=1)
    with pytest.raises(ValueError, match="at least 1"):
        auth_module.Auth(app.store, max_sessions_per_user=0)
