"""Authentication of the embedded server: Basic, sessions, expiry, tokens, anonymous access."""

from __future__ import annotations

import re
import time
from pathlib import Path

from werkzeug.test import Client

from xnat.testing.app import XNATApp

from .conftest import Api


def _cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_jsession_returns_session_id_and_cookies(admin: Api) -> None:
    r = admin.get("/data/JSESSION")
    assert r.status_code == 200
    assert r.mimetype == "text/plain"
    assert re.fullmatch(r"[0-9A-F]{32}", r.text)
    cookies = _cookies(r)
    assert any(c.startswith(f"JSESSIONID={r.text};") for c in cookies)
    expiry = next(c for c in cookies if c.startswith("SESSION_EXPIRATION_TIME="))
    stamp, timeout = re.match(r'SESSION_EXPIRATION_TIME="(\d+),(\d+)"', expiry).groups()
    assert int(timeout) == 900_000 and int(stamp) > 1_600_000_000_000


def test_session_cookie_alone_authenticates_and_logout_ends_it(app: XNATApp) -> None:
    client = Client(app)
    sid = client.get("/data/JSESSION", auth=("alice", "alice")).text
    # no credentials now: the cookie carries the session
    r = client.get("/data/auth")
    assert r.status_code == 200 and r.text == "User 'alice' is logged in"
    assert client.get("/data/JSESSION").text == sid
    assert client.delete("/data/JSESSION").status_code == 200
    assert client.get("/data/auth").status_code == 401


def test_csrf_flag_appends_token(admin: Api) -> None:
    r = admin.get("/data/JSESSION?CSRF=true")
    assert re.fullmatch(r"[0-9A-F]{32}; XNAT_CSRF=[0-9a-f-]{36}", r.text)


def test_wrong_password_is_401_with_challenge_and_no_session(app: XNATApp) -> None:
    client = Client(app)
    r = client.get("/data/JSESSION", auth=("alice", "wrong"))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert not any(c.startswith("JSESSIONID=") for c in _cookies(r))
    assert app.auth._sessions == {}


def test_unknown_user_and_missing_credentials_are_401(app: XNATApp) -> None:
    client = Client(app)
    assert client.get("/data/projects", auth=("nobody", "x")).status_code == 401
    r = client.get("/data/projects")
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers


def test_session_expires_after_timeout(tmp_path: Path) -> None:
    app = XNATApp(data_dir=tmp_path, users=["u:p"], session_timeout=0.2)
    try:
        client = Client(app)
        client.get("/data/JSESSION", auth=("u", "p"))
        assert client.get("/data/auth").status_code == 200
        time.sleep(0.3)
        assert client.get("/data/auth").status_code == 401
    finally:
        app.close()


def test_expired_cookie_falls_back_to_basic(tmp_path: Path) -> None:
    app = XNATApp(data_dir=tmp_path, users=["u:p"], session_timeout=0.1)
    try:
        client = Client(app)
        first = client.get("/data/JSESSION", auth=("u", "p")).text
        time.sleep(0.2)
        second = client.get("/data/JSESSION", auth=("u", "p")).text
        assert second != first
    finally:
        app.close()


def test_services_auth_form_login(app: XNATApp) -> None:
    client = Client(app)
    r = client.put("/data/services/auth", data={"username": "bob", "password": "bob"})
    assert r.status_code == 200 and re.fullmatch(r"[0-9A-F]{32}", r.text)
    assert client.get("/data/auth").text == "User 'bob' is logged in"


def test_services_auth_wrong_password_and_missing_fields(app: XNATApp) -> None:
    client = Client(app)
    r = client.put("/data/services/auth", data={"username": "bob", "password": "nope"})
    assert r.status_code == 401
    assert client.put("/data/services/auth", data={"username": "bob"}).status_code == 400
    assert client.get("/data/services/auth").status_code == 405
    assert app.auth._sessions == {}


def test_anonymous_refused_unless_allowed(tmp_path: Path) -> None:
    closed = XNATApp(data_dir=tmp_path / "a", users=["admin:admin:admin"])
    opened = XNATApp(data_dir=tmp_path / "b", users=["admin:admin:admin"], allow_anonymous=True)
    try:
        assert Client(closed).get("/data/projects").status_code == 401
        client = Client(opened)
        assert client.get("/data/auth").text == "User 'guest' is logged in"
        admin = Api(opened, ("admin", "admin"))
        admin.put("/data/projects/PUB?accessibility=public")
        admin.put("/data/projects/PRIV")
        ids = [r["ID"] for r in client.get("/data/projects").json["ResultSet"]["Result"]]
        assert ids == ["PUB"]
        # a guest cannot write anything
        assert client.put("/data/projects/NEW").status_code == 403
        assert client.put("/data/projects/PUB/subjects/S1").status_code == 403
    finally:
        closed.close()
        opened.close()


def test_alias_token_issue_login_validate_invalidate(app: XNATApp, alice: Api, admin: Api) -> None:
    token = alice.get("/data/services/tokens/issue").json
    assert {"alias", "secret", "xdatUserId", "estimatedExpirationTime", "enabled"} <= set(token)
    as_token = Api(app, (token["alias"], token["secret"]))
    assert as_token.get("/data/auth").text == "User 'alice' is logged in"
    r = admin.get(f"/data/services/tokens/validate/{token['alias']}/{token['secret']}")
    assert r.json == {"valid": "alice"}
    assert admin.get(f"/data/services/tokens/validate/{token['alias']}/wrong").json == {}
    r = alice.get(f"/data/services/tokens/invalidate/{token['alias']}/{token['secret']}")
    assert r.json == {"result": "OK"}
    assert Api(app, (token["alias"], token["secret"])).get("/data/auth").status_code == 401


def test_token_for_other_user_needs_admin(alice: Api, admin: Api) -> None:
    assert alice.get("/data/services/tokens/issue/user/bob").status_code == 403
    r = admin.get("/data/services/tokens/issue/user/bob")
    assert r.status_code == 200 and r.json["xdatUserId"] == "bob"
    assert admin.get("/data/services/tokens/issue/user/ghost").status_code == 404


def test_guest_cannot_issue_tokens(tmp_path: Path) -> None:
    app = XNATApp(data_dir=tmp_path, users=[], allow_anonymous=True)
    try:
        assert Client(app).get("/data/services/tokens/issue").status_code == 403
    finally:
        app.close()


def test_users_persist_across_restart(tmp_path: Path) -> None:
    first = XNATApp(data_dir=tmp_path, users=["admin:admin:admin"])
    first.add_user("carol", "secret", firstname="Carol")
    first.close()
    second = XNATApp(data_dir=tmp_path, users=[])
    try:
        assert Api(second, ("carol", "secret")).get("/data/auth").status_code == 200
        assert Api(second, ("carol", "bad")).get("/data/auth").status_code == 401
    finally:
        second.close()


def test_invalid_login_names_rejected(app: XNATApp) -> None:
    import pytest

    for bad in ("", "a:b", "guest"):
        with pytest.raises(ValueError):
            app.add_user(bad, "x")


def test_refused_upload_keeps_connection_usable(served) -> None:
    import requests

    url, _ = served
    http = requests.Session()
    r = http.put(f"{url}/data/projects/P1/subjects/S1/resources/R/files/x.bin?inbody=true",
                 data=b"z" * 5000, auth=("admin", "wrong"))
    assert r.status_code == 401
    # the same kept-alive connection answers the next request correctly
    assert http.get(f"{url}/data/auth", auth=("admin", "admin")).text == "User 'admin' is logged in"
    http.cookies.clear()  # else the session cookie, checked first, would let the upload in
    big = http.put(f"{url}/data/projects/P1/resources/R/files/y.bin?inbody=true",
                   data=b"z" * (3 << 20), auth=("admin", "wrong"))
    assert big.status_code == 401
    assert http.get(f"{url}/data/auth", auth=("admin", "admin")).status_code == 200


def test_unknown_route_without_credentials_is_401(app: XNATApp) -> None:
    assert Client(app).get("/data/nothing/here").status_code == 401
    assert Api(app, ("admin", "admin")).get("/data/nothing/here").status_code == 404


def test_user_entries_parse() -> None:
    import pytest

    from xnat.testing.app import parse_user

    assert parse_user("a:b") == ("a", "b", False)
    assert parse_user("a:b:admin") == ("a", "b", True)
    assert parse_user("a:b:c") == ("a", "b:c", False)
    assert parse_user("a:p:w:ADMIN") == ("a", "p:w", True)
    for bad in ("nopassword", ":x"):
        with pytest.raises(ValueError):
            parse_user(bad)


def test_app_is_a_context_manager() -> None:
    with XNATApp(users=["u:p:w"]) as app:
        folder = app.data_dir
        assert Api(app, ("u", "p:w")).get("/data/auth").status_code == 200
    assert not folder.exists()
