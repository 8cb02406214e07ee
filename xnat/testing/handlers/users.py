"""Users: ``/data/users`` (table) and ``/xapi/users`` (JSON list of logins, one user, its flags)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from werkzeug.wrappers import Response

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


# JSON names of UsersApi's user object -> account fields; the last two are the admins' to set.
_JSON_FIELDS = {"firstName": "firstname", "lastName": "lastname", "email": "email", "enabled": "enabled",
                "admin": "admin"}
_ADMIN_ONLY = {"enabled", "admin"}


def xapi_user(ctx: Ctx, login: str) -> Response:
    """``GET /xapi/users/{login}``: the user as JSON; ``PUT`` a JSON object of the fields to
    change (``firstName``, ``lastName``, ``email``, ``password``; ``enabled`` and ``admin`` by
    admins only), as XNAT's UsersApi.updateUser. Admins, or the user itself."""
    if ctx.method not in ("GET", "PUT"):
        raise HTTPError(405, "Method Not Allowed")
    if not ctx.backend.access.may_view_user(ctx.user, login):
        raise forbidden()
    row = ctx.app.auth.user_row(login)
    if row is None:
        raise HTTPError(404, f"Unable to find user {login}")
    if ctx.method == "PUT":
        _update(ctx, login)
        row = ctx.app.auth.user_row(login)
        assert row is not None  # it was there
    return json_response(_user_json(row))


def _update(ctx: Ctx, login: str) -> None:
    data = _json_object(ctx, "The user must be sent as a JSON object")
    unknown = sorted(set(data) - set(_JSON_FIELDS) - {"password", "username", "id"})
    if unknown or data.get("username", login) != login:
        raise HTTPError(400, f"Cannot change these user fields: {', '.join(unknown) or 'username'}")
    fields = {_JSON_FIELDS[k]: v for k, v in data.items() if k in _JSON_FIELDS}
    if _ADMIN_ONLY & set(fields) and not ctx.backend.access.manages_users(ctx.user):
        raise forbidden()
    password = data.get("password")
    if password is not None and not isinstance(password, str):
        raise HTTPError(400, "The password must be a string")
    ctx.app.auth.update_user(login, password, **fields)


def xapi_user_enabled(ctx: Ctx, login: str, flag: str | None = None) -> Response:
    """``GET /xapi/users/{login}/enabled`` (true/false); ``PUT .../enabled/{true|false}`` (admins)."""
    if flag is None and ctx.method == "GET":
        if not ctx.backend.access.may_view_user(ctx.user, login):
            raise forbidden()
        row = ctx.app.auth.user_row(login)
        if row is None:
            raise HTTPError(404, f"Unable to find user {login}")
        return json_response(bool(row["enabled"]))
    if flag is None or ctx.method != "PUT":
        raise HTTPError(405, "Method Not Allowed")
    if not ctx.backend.access.manages_users(ctx.user):
        raise forbidden()
    if flag not in ("true", "false"):
        raise HTTPError(400, f"enabled is true or false, not {flag!r}")
    try:
        ctx.app.auth.update_user(login, enabled=flag == "true")
    except KeyError:
        raise HTTPError(404, f"Unable to find user {login}") from None
    return text("")


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
            "admin": bool(row["admin"])}


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
    row = ctx.app.auth.user_row(data["username"])
    assert row is not None  # just made
    return json_response(_user_json(row), status=201)
