"""Login, logout and alias tokens: ``/data/JSESSION``, ``/data/auth``, ``/data/services/auth|tokens``."""

from __future__ import annotations

from werkzeug.wrappers import Response

from .base import Ctx, HTTPError, forbidden, json_response, text

_401 = {"WWW-Authenticate": 'Basic realm="XNAT"'}


def jsession(ctx: Ctx) -> Response:
    """GET/POST/PUT: the session id as text (``?CSRF=true`` appends a token); DELETE: log out."""
    if ctx.method == "DELETE":
        if ctx.session_id:
            ctx.app.auth.end_session(ctx.session_id)
        ctx.ended_session = True
        response = text("")
        response.delete_cookie("JSESSIONID", path="/")
        return response
    if ctx.method not in ("GET", "POST", "PUT", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    sid = ctx.session_id
    if sid is None:  # anonymous guests get a session too, as in XNAT
        sid = ctx.new_session = ctx.app.auth.new_session(ctx.user)
    body = sid
    if ctx.flag("CSRF"):  # the session's own token, the one its browser writes must carry
        body += f"; XNAT_CSRF={ctx.app.auth.csrf_token(sid)}"
    return text(body)


def whoami(ctx: Ctx) -> Response:
    """``GET /data/auth``: ``User '<name>' is logged in``."""
    return text(f"User '{ctx.user.login}' is logged in")


def services_auth(ctx: Ctx) -> Response:
    """``PUT|POST /data/services/auth`` with form ``username``/``password``: body = new session id."""
    if ctx.method not in ("PUT", "POST"):
        raise HTTPError(405, "Method Not Allowed")
    username, password = ctx.param("username"), ctx.param("password")
    if not username or password is None:
        raise HTTPError(400, "You must specify both a username and password")
    user = ctx.app.auth.check_password(username, password)
    if user is None:
        raise HTTPError(401, "Login attempt failed. Please try again.", _401)
    sid = ctx.new_session = ctx.app.auth.new_session(user)
    return text(sid)


def form_login(ctx: Ctx) -> Response:
    """``POST /login`` with form ``username``/``password`` (XNAT's Spring Security login form).

    XNAT answers a sign-in with a redirect to the site and a new ``JSESSIONID``; a failed one
    redirects back to the login page. Here a failed one answers 401 (a client following the
    redirect would otherwise take the login page for success): the one difference, written down.
    """
    if ctx.method != "POST":
        raise HTTPError(405, "Method Not Allowed")
    username, password = ctx.param("username"), ctx.param("password")
    user = ctx.app.auth.check_password(username, password) if username and password is not None else None
    if user is None:
        raise HTTPError(401, "Login attempt failed. Please try again.", _401)
    ctx.new_session = ctx.app.auth.new_session(user)
    return Response("", status=302, headers={"Location": f"{ctx.app.site_url}/"})


def token_issue(ctx: Ctx) -> Response:
    """``GET /data/services/tokens/issue``: a new alias token for the caller."""
    ctx.require_login()
    return json_response(ctx.app.auth.issue_token(ctx.user.login))


def token_issue_for(ctx: Ctx, login: str) -> Response:
    """``GET /data/services/tokens/issue/user/{login}``: admins only."""
    if not ctx.backend.access.manages_users(ctx.user):
        raise forbidden()
    if ctx.app.auth.user(login) is None:
        raise HTTPError(404, f"Unable to find user {login}")
    return json_response(ctx.app.auth.issue_token(login))


def token_validate(ctx: Ctx, alias: str, secret: str) -> Response:
    """``/data/services/tokens/validate/{alias}/{secret}``: ``{"valid": login}`` or ``{}``."""
    ctx.require_login()
    owner = ctx.app.auth.validate_token(alias, secret)
    return json_response({"valid": owner} if owner else {})


def token_invalidate(ctx: Ctx, alias: str, secret: str) -> Response:
    """``/data/services/tokens/invalidate/{alias}/{secret}``: ``{"result": "OK"}``."""
    ctx.require_login()
    if not ctx.app.auth.invalidate_token(alias, secret):
        raise HTTPError(404, "No valid token with that alias and secret")
    return json_response({"result": "OK"})
