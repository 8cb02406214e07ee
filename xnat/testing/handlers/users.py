"""Users: ``/data/users`` (table) and ``/xapi/users`` (XNAT's UsersApi: logins, profiles, one user,
its flags, site roles and project groups)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from werkzeug.wrappers import Response

from ..auth import User
from .base import Ctx, HTTPError, forbidden, json_response, text
from .listing import table

USER_DEFAULTS = ["xdat_user_id", "login", "firstname", "lastname", "email"]


def user_list(ctx: Ctx) -> Response:
    """``GET /data/users``: enabled users (its ``title`` is literally "Projects", as in XNAT)."""
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    rows = [{"xdat_user_id": str(r["xdat_user_id"]), "login": r["login"], "firstname": r["firstname"],
             "lastname": r["lastname"], "email": r["email"]}
            for r in ctx.app.auth.user_rows()]
    return table(ctx, rows, USER_DEFAULTS, "Projects", always=())


def xapi_user_list(ctx: Ctx) -> Response:
    """``GET /xapi/users``: login names; ``POST /xapi/users`` (JSON user): create. Admins only."""
    ctx.require_login()
    if not ctx.backend.access.manages_users(ctx.user):
        raise forbidden()
    if ctx.method == "POST":
        return _create(ctx)
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    return json_response(ctx.app.auth.logins())


# JSON names of UsersApi's user object -> account fields; the flags are the admins' to set.
_JSON_FIELDS = {"firstName": "firstname", "lastName": "lastname", "email": "email", "enabled": "enabled",
                "admin": "admin", "verified": "verified"}
_ADMIN_ONLY = {"enabled", "admin", "verified"}


def xapi_user(ctx: Ctx, login: str) -> Response:
    """``GET /xapi/users/{login}`` (admins, or the user itself): the user as JSON. ``PUT`` (admins;
    UsersApi.updateUser is ``restrictTo = Admin``): a JSON object of the fields to change; 304
    when nothing changes, as XNAT answers. A user changes its own account with ``PUT /xapi/users/update``."""
    if ctx.method not in ("GET", "PUT"):
        raise HTTPError(405, "Method Not Allowed")
    allowed = ctx.backend.access.manages_users(ctx.user) if ctx.method == "PUT" else \
        ctx.backend.access.may_view_user(ctx.user, login)
    if not allowed:
        raise forbidden()
    if ctx.method == "PUT":
        return _update(ctx, login, admin=True)
    return json_response(_user_json(_row(ctx, login)))


def xapi_user_update_own(ctx: Ctx) -> Response:
    """``PUT /xapi/users/update``: a signed-in user changes its own account (UsersApi.update): its
    e-mail, and its password when ``currentPassword`` is right; names and flags only when it is
    an admin (other fields are ignored, as XNAT ignores them)."""
    if ctx.method != "PUT":
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    return _update(ctx, ctx.user.login, admin=ctx.backend.access.manages_users(ctx.user))


def _row(ctx: Ctx, login: str) -> sqlite3.Row:
    row = ctx.app.auth.user_row(login)
    if row is None:
        raise HTTPError(404, f"Unable to find user {login}")
    return row


def _update(ctx: Ctx, login: str, admin: bool) -> Response:
    """Apply a user JSON object; 304 (nothing written) when no field changes."""
    row = _row(ctx, login)
    data = _json_object(ctx, "The user must be sent as a JSON object")
    unknown = sorted(set(data) - set(_JSON_FIELDS) - {"password", "currentPassword", "username", "id"})
    if unknown or data.get("username", login) not in (login, None, ""):
        raise HTTPError(400, f"Cannot change these user fields: {', '.join(unknown) or 'username'}")
    wanted = {_JSON_FIELDS[k]: v for k, v in data.items() if k in _JSON_FIELDS and v not in (None, "")}
    if not admin:  # updateUser(adminUpdate=false) reads only the e-mail and the password
        wanted = {k: v for k, v in wanted.items() if k == "email"}
    changed = {k: v for k, v in wanted.items()
               if (bool(v) != bool(row[k]) if k in _ADMIN_ONLY else str(v) != row[k])}
    password = data.get("password")
    if password is not None and not isinstance(password, str):
        raise HTTPError(400, "The password must be a string")
    if password and not admin:
        current = data.get("currentPassword")
        if not isinstance(current, str) or ctx.app.auth.check_password(login, current) is None:
            raise HTTPError(400, "Current password needed to update password")
    if "email" in changed and "@" not in str(changed["email"]):
        raise HTTPError(400, "Invalid email format")
    if not changed and not password:
        return Response(status=304)
    ctx.app.auth.update_user(login, password or None, **changed)
    return json_response(_user_json(_row(ctx, login)))


def xapi_user_verified(ctx: Ctx, login: str, flag: str | None = None) -> Response:
    """``GET /xapi/users/{login}/verified`` (true/false); ``PUT .../verified/{true|false}`` (admins).
    An unverified account does not sign in."""
    return _flag(ctx, login, "verified", flag)


def xapi_user_enabled(ctx: Ctx, login: str, flag: str | None = None) -> Response:
    """``GET /xapi/users/{login}/enabled`` (true/false); ``PUT .../enabled/{true|false}`` (admins)."""
    return _flag(ctx, login, "enabled", flag)


def _flag(ctx: Ctx, login: str, name: str, flag: str | None) -> Response:
    if flag is None and ctx.method == "GET":
        if not ctx.backend.access.may_view_user(ctx.user, login):
            raise forbidden()
        return json_response(bool(_row(ctx, login)[name]))
    if flag is None or ctx.method != "PUT":
        raise HTTPError(405, "Method Not Allowed")
    if not ctx.backend.access.manages_users(ctx.user):
        raise forbidden()
    if flag not in ("true", "false"):
        raise HTTPError(400, f"{name} is true or false, not {flag!r}")
    try:
        ctx.app.auth.update_user(login, None, **{name: flag == "true"})
    except KeyError:
        raise HTTPError(404, f"Unable to find user {login}") from None
    return text("")


def xapi_profiles(ctx: Ctx) -> Response:
    """``GET /xapi/users/profiles``: every user's profile (admins, as ``/xapi/users``)."""
    _get_only(ctx)
    if not ctx.backend.access.manages_users(ctx.user):
        raise forbidden()
    return json_response([_user_json(r) for r in ctx.app.auth.user_rows(enabled_only=False)])


def xapi_profile(ctx: Ctx, login: str | None = None) -> Response:
    """``GET /xapi/users/profile`` (the signed-in user) and ``/profile/{login}`` (admins, or itself)."""
    _get_only(ctx)
    ctx.require_login()
    login = login or ctx.user.login
    if not ctx.backend.access.may_view_user(ctx.user, login):
        raise forbidden()
    return json_response(_user_json(_row(ctx, login)))


def xapi_username(ctx: Ctx) -> Response:
    """``GET /xapi/users/username``: the signed-in user's login, as text."""
    _get_only(ctx)
    ctx.require_login()
    return text(ctx.user.login)


# XNAT's site role of administrators (UserRole.ROLE_ADMINISTRATOR); the only site role kept here.
ADMIN_ROLE = "Administrator"


def xapi_roles(ctx: Ctx) -> Response:
    """``GET /xapi/users/roles`` (the roles held on the site) and ``/rolemap`` (role -> logins); admins."""
    _get_only(ctx)
    if not ctx.backend.access.manages_users(ctx.user):
        raise forbidden()
    admins = [r["login"] for r in ctx.app.auth.user_rows(enabled_only=False) if r["admin"]]
    if ctx.path.endswith("/rolemap"):
        return json_response({ADMIN_ROLE: admins} if admins else {})
    return json_response([ADMIN_ROLE] if admins else [])


def xapi_user_roles(ctx: Ctx, login: str) -> Response:
    """``GET /xapi/users/{login}/roles``: the user's site roles (admins, or itself)."""
    _get_only(ctx)
    if not ctx.backend.access.may_view_user(ctx.user, login):
        raise forbidden()
    return json_response([ADMIN_ROLE] if _row(ctx, login)["admin"] else [])


def xapi_user_groups(ctx: Ctx, login: str) -> Response:
    """``GET /xapi/users/{login}/groups``: the project groups the user is in (``P1_owner``...), as
    XNAT names a project's groups (admins, or itself)."""
    _get_only(ctx)
    if not ctx.backend.access.may_view_user(ctx.user, login):
        raise forbidden()
    _row(ctx, login)
    roles = ctx.backend.access.roles(User(login))
    return json_response(sorted(f"{project}_{role}" for project, role in roles.items()))


def _get_only(ctx: Ctx) -> None:
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")


def _json_object(ctx: Ctx, message: str) -> dict[str, Any]:
    try:
        data = json.loads(ctx.request.get_data(cache=True) or b"null")
    except ValueError:
        raise HTTPError(400, message) from None
    if not isinstance(data, dict):
        raise HTTPError(400, message)
    return data


def _user_json(row: sqlite3.Row) -> dict[str, Any]:
    return {"username": row["login"], "id": row["xdat_user_id"], "firstName": row["firstname"],
            "lastName": row["lastname"], "email": row["email"], "enabled": bool(row["enabled"]),
            "verified": bool(row["verified"]), "admin": bool(row["admin"])}


def _create(ctx: Ctx) -> Response:
    try:
        data = json.loads(ctx.request.get_data(cache=True) or b"null")
    except ValueError:
        raise HTTPError(400, "The user must be sent as a JSON object") from None
    if not isinstance(data, dict) or not isinstance(data.get("username"), str) \
            or not isinstance(data.get("password"), str):
        raise HTTPError(400, "A user needs at least a username and a password")
    if ctx.app.auth.user(data["username"]) is not None:
        raise HTTPError(409, f"A user named {data['username']} already exists")
    try:
        ctx.app.auth.add_user(data["username"], data["password"], admin=bool(data.get("admin", False)),
                              firstname=str(data.get("firstName", "")), lastname=str(data.get("lastName", "")),
                              email=str(data.get("email", "")), enabled=bool(data.get("enabled", True)))
    except ValueError as exc:
        raise HTTPError(400, str(exc)) from None
    if data.get("verified") is False:  # createUser takes the model's verified flag
        ctx.app.auth.update_user(data["username"], verified=False)
    row = ctx.app.auth.user_row(data["username"])
    assert row is not None  # just made
    return json_response(_user_json(row), status=201)
