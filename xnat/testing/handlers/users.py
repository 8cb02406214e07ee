"""Users: ``/data/users`` (table) and ``/xapi/users`` (JSON list of logins)."""

from __future__ import annotations

from werkzeug.wrappers import Response

from .base import Ctx, HTTPError, forbidden, json_response
from .listing import table

USER_DEFAULTS = ["xdat_user_id", "login", "firstname", "lastname", "email"]


def user_list(ctx: Ctx) -> Response:
    """``GET /data/users``: enabled users (its ``title`` is literally "Projects", as in XNAT)."""
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    rows = [{"xdat_user_id": str(r["xdat_user_id"]), "login": r["login"], "firstname": r["firstname"],
             "lastname": r["lastname"], "email": r["email"]}
            for r in ctx.app.store.all("SELECT * FROM users WHERE enabled=1 ORDER BY xdat_user_id")]
    return table(ctx, rows, USER_DEFAULTS, "Projects", always=())


def xapi_user_list(ctx: Ctx) -> Response:
    """``GET /xapi/users``: login names (admins only see them all; others only themselves)."""
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    if not ctx.user.admin:
        raise forbidden()
    return json_response([r["login"] for r in ctx.app.store.all("SELECT login FROM users ORDER BY login")])
